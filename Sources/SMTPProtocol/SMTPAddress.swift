/// Parsing of `MAIL FROM:<…> params` and `RCPT TO:<…> params` (RFC 5321 §4.1.2), tolerant
/// of a space after the colon, which real MTAs send.
public struct SMTPPath: Equatable, Sendable {
    /// The address without brackets; empty for the null sender `<>`.
    public var address: String
    /// ESMTP parameters, keys uppercased (`SIZE`, `BODY`, …).
    public var parameters: [String: String]

    public init(address: String, parameters: [String: String] = [:]) {
        self.address = address
        self.parameters = parameters
    }

    /// `argument` is what follows the command verb, e.g. `FROM:<a@b> SIZE=100`.
    public static func parse(_ argument: String, keyword: String) -> SMTPPath? {
        let upper = argument.uppercased()
        guard upper.hasPrefix(keyword + ":") else { return nil }
        var rest = argument.dropFirst(keyword.count + 1).drop { $0 == " " }
        // RFC 5321 §4.1.2: the path is in angle brackets (Dovecot and Postfix insist too).
        guard rest.first == "<", let close = rest.firstIndex(of: ">") else { return nil }
        var address = String(rest[rest.index(after: rest.startIndex)..<close])
        rest = rest[rest.index(after: close)...]
        // A source route (@a,@b:user@host) is ignored as RFC 5321 §4.1.2 allows.
        if address.hasPrefix("@"), let colon = address.firstIndex(of: ":") {
            address = String(address[address.index(after: colon)...])
        }
        guard !address.contains(" "), !address.contains("\0"), address.utf8.count <= 512 else { return nil }
        var params: [String: String] = [:]
        for word in rest.split(separator: " ") {
            let kv = word.split(separator: "=", maxSplits: 1)
            guard let key = kv.first, !key.isEmpty else { return nil }
            params[key.uppercased()] = kv.count == 2 ? String(kv[1]) : ""
        }
        return SMTPPath(address: address, parameters: params)
    }
}
