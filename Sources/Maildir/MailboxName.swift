// Mailbox names ↔ Maildir++ directory names. IMAP names use "/" between levels; on disk a
// folder is "." + levels joined by "." with each level in modified UTF-7 (`A/B` → `.A.B`).
// INBOX (any case) is the mail root itself. Validation is the security boundary for
// invariant 3: nothing a client names can become a path step outside the mail root.

public enum MailboxNameError: Error, Equatable, CustomStringConvertible, Sendable {
    case empty
    case invalidCharacter(String)
    /// "/x"
    case leadingSeparator
    /// "x/"
    case trailingSeparator
    /// "a//b"
    case adjacentSeparators
    case dotInName
    case tooLong
    /// "*" or "%"
    case wildcard(Character)

    public var description: String {
        switch self {
        case .empty: return "Mailbox name is empty"
        case .invalidCharacter(let c): return "Mailbox name contains an invalid character (\(c))"
        case .leadingSeparator: return "Mailbox name begins with \"/\""
        case .trailingSeparator: return "Mailbox name ends with \"/\""
        case .adjacentSeparators: return "Mailbox name has adjacent \"/\""
        case .dotInName: return "Mailbox name must not contain \".\""
        case .tooLong: return "Mailbox name is too long"
        case .wildcard(let c): return "Mailbox name must not contain \"\(c)\""
        }
    }
}

public enum MailboxName {
    public static let separator: Character = "/"
    /// A directory name is at most 255 bytes on Linux file systems.
    public static let maximumDiskLength = 255

    public static func isInbox(_ name: String) -> Bool { name.uppercased() == "INBOX" }

    /// "inbox" and "Inbox" mean INBOX (RFC 3501 §5.1); other names are case-sensitive.
    public static func normalized(_ name: String) -> String { isInbox(name) ? "INBOX" : name }

    /// The directory name under the mail root for a non-INBOX folder, after validation.
    /// `forCreation` also refuses IMAP wildcards; existing folders (e.g. made by Dovecot) may
    /// still be opened, renamed away and deleted.
    public static func directoryName(for name: String, forCreation: Bool = true) throws(MailboxNameError) -> String {
        try validate(name, forCreation: forCreation)
        let levels = name.split(separator: "/", omittingEmptySubsequences: false)
        let encoded = "." + levels.map { ModifiedUTF7.encode(String($0)) }.joined(separator: ".")
        guard encoded.utf8.count <= maximumDiskLength else { throw .tooLong }
        return encoded
    }

    /// Refuses names that are empty, have empty levels ("/x", "x/", "a//b"), contain NUL,
    /// control characters, ".", or IMAP wildcards. "." is the on-disk separator, so refusing it
    /// also refuses ".." steps and a leading "." on disk.
    public static func validate(_ name: String, forCreation: Bool = true) throws(MailboxNameError) {
        guard !name.isEmpty else { throw .empty }
        guard name.utf8.count <= maximumDiskLength else { throw .tooLong }
        for scalar in name.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || (scalar.value >= 0x80 && scalar.value < 0xa0) {
                throw .invalidCharacter(codePoint(scalar.value))
            }
            if scalar == "." { throw .dotInName }
            if forCreation && (scalar == "*" || scalar == "%") { throw .wildcard(Character(scalar)) }
        }
        if name.hasPrefix("/") { throw .leadingSeparator }
        if name.hasSuffix("/") { throw .trailingSeparator }
        if name.contains("//") { throw .adjacentSeparators }
    }

    /// Decodes a directory name found in the mail root ("." + encoded levels); nil when it is
    /// not a valid folder directory (no leading ".", empty levels, bad modified UTF-7).
    public static func name(forDirectory dir: String) -> String? {
        guard dir.hasPrefix("."), dir.count > 1 else { return nil }
        let levels = dir.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        var decoded: [String] = []
        for level in levels {
            guard !level.isEmpty, let d = ModifiedUTF7.decode(String(level)) else { return nil }
            guard !d.contains("/") else { return nil }
            decoded.append(d)
        }
        return decoded.joined(separator: "/")
    }
}

private func codePoint(_ value: UInt32) -> String {
    let hex = String(value, radix: 16, uppercase: true)
    return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}
