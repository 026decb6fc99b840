/// What Roost's IMAP advertises. Only what works is listed (RFC 3501 §7.2.1): every entry here
/// has a handler behind it.
public enum IMAPCapabilities {
    /// Before login. `plaintextAllowed` false means LOGINDISABLED and no AUTH=PLAIN/LOGIN
    /// (RFC 3501 §6.2.3, RFC 2595 §3.2).
    public static func preLogin(mechanisms: [String], plaintextAllowed: Bool, startTLS: Bool) -> [String] {
        var caps = ["IMAP4rev1", "SASL-IR", "ID", "LITERAL+"]
        if startTLS { caps.append("STARTTLS") }
        if plaintextAllowed {
            caps += mechanisms.map { "AUTH=\($0.uppercased())" }
        } else {
            caps.append("LOGINDISABLED")
        }
        return caps
    }

    public static let postLogin = ["IMAP4rev1", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "CHILDREN", "UIDPLUS", "MOVE",
                                   "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "ESEARCH", "ESORT", "SEARCHRES", "SORT", "SORT=DISPLAY",
                                   "THREAD=REFERENCES", "THREAD=REFS", "THREAD=ORDEREDSUBJECT"]

    public static func line(_ caps: [String]) -> String {
        caps.joined(separator: " ")
    }
}
