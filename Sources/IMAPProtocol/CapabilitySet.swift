// CapabilitySet: the capabilities a session advertises (RFC 3501 §6.1.1, §7.2.1).
//
// Ordered as inserted, `IMAP4rev1` first by default; names compare case-insensitively.
// Rendered both as the untagged response and as the `[CAPABILITY ...]` response code of
// the greeting and of the tagged OK after LOGIN/AUTHENTICATE.

public struct CapabilitySet: Sendable, Hashable {
    public private(set) var capabilities: [String]

    public init(_ capabilities: [String] = ["IMAP4rev1"]) {
        self.capabilities = []
        for capability in capabilities { insert(capability) }
    }

    public func contains(_ capability: String) -> Bool {
        capabilities.contains { $0.utf8.equalsCaseInsensitive(capability) }
    }

    /// Appends unless already present.
    public mutating func insert(_ capability: String) {
        guard !contains(capability) else { return }
        capabilities.append(capability)
    }

    public mutating func remove(_ capability: String) {
        capabilities.removeAll { $0.utf8.equalsCaseInsensitive(capability) }
    }

    /// `* CAPABILITY IMAP4rev1 ...` without the CRLF.
    public var line: String { "* " + responseCode }

    /// `CAPABILITY IMAP4rev1 ...`, for `[...]` response codes.
    public var responseCode: String { (["CAPABILITY"] + capabilities).joined(separator: " ") }

    public var response: IMAPResponse { .untagged(responseCode) }
}
