// RFC 5322 §3.4 address lists: mailboxes, groups, quoted local parts, comments,
// obsolete routes. IDN domains and 8-bit names are kept as written.
//
// The result is the IMAP ENVELOPE address model (RFC 3501 §7.4.2): a group
// opens with (NIL NIL "name" NIL) and closes with (NIL NIL NIL NIL). Broken
// addresses are kept with MISSING_MAILBOX / MISSING_DOMAIN fillers, as Dovecot does.

public struct MailAddress: Sendable, Equatable {
    public var name: [UInt8]?
    public var route: [UInt8]?
    public var mailbox: [UInt8]?
    public var domain: [UInt8]?
    public var invalidSyntax = false

    public init(name: [UInt8]? = nil, route: [UInt8]? = nil, mailbox: [UInt8]? = nil, domain: [UInt8]? = nil) {
        self.name = name
        self.route = route
        self.mailbox = mailbox
        self.domain = domain
    }

    public var isGroupStart: Bool { name == nil && route == nil && mailbox != nil && domain == nil }
    public var isGroupEnd: Bool { name == nil && route == nil && mailbox == nil && domain == nil }

    /// "mailbox@domain", or just the mailbox when there is no domain.
    public var addressString: String {
        let m = String(decoding: mailbox ?? [], as: UTF8.self)
        guard let domain else { return m }
        return m + "@" + String(decoding: domain, as: UTF8.self)
    }
    public var nameString: String? { name.map { String(decoding: $0, as: UTF8.self) } }
}

public enum AddressParser {
    /// Parses an address-list header value (unfolded or not).
    public static func parse(_ value: [UInt8], fillMissing: Bool = true) -> [MailAddress] {
        var p = Parser(lexer: RFC822Lexer(value), fillMissing: fillMissing)
        if p.lexer.skipCFWS() <= 0 { return [] }
        p.parseAddressList()
        return p.result
    }

    public static func parse(_ value: String) -> [MailAddress] { parse(Array(value.utf8)) }

    private struct Parser {
        var lexer: RFC822Lexer
        let fillMissing: Bool
        var result: [MailAddress] = []
        var addr = MailAddress()

        init(lexer: RFC822Lexer, fillMissing: Bool) {
            self.lexer = lexer
            self.fillMissing = fillMissing
        }

        var cur: UInt8? { lexer.current }

        mutating func add() {
            result.append(addr)
            addr = MailAddress()
        }

        mutating func addFixed() {
            if addr.mailbox == nil {
                addr.mailbox = fillMissing ? Array("MISSING_MAILBOX".utf8) : []
                addr.invalidSyntax = true
            }
            if addr.domain == nil {
                addr.domain = fillMissing ? Array("MISSING_DOMAIN".utf8) : []
                addr.invalidSyntax = true
            }
            add()
        }

        mutating func parseLocalPart() -> Int {
            var s: [UInt8] = []
            let r = cur == UInt8(ascii: "\"") ? lexer.parseQuotedString(into: &s) : lexer.parseDotAtom(into: &s)
            if r < 0 { return -1 }
            addr.mailbox = s
            return r
        }

        mutating func parseDomain() -> Int {
            var s: [UInt8] = []
            let r = lexer.parseDomain(into: &s)
            if r < 0 { return -1 }
            addr.domain = s
            return r
        }

        mutating func parseDomainList() -> Int {
            var s: [UInt8] = []
            while true {
                guard let c = cur else { return 0 }
                if c != UInt8(ascii: "@") { break }
                if !s.isEmpty { s.append(UInt8(ascii: ",")) }
                s.append(UInt8(ascii: "@"))
                var d: [UInt8] = []
                let r = lexer.parseDomain(into: &d)
                if r <= 0 { return r }
                s.append(contentsOf: d)
                while lexer.skipCFWS() > 0, cur == UInt8(ascii: ",") { lexer.pos += 1 }
            }
            addr.route = s
            return 1
        }

        mutating func parseAngleAddr() -> Int {
            lexer.pos += 1   // "<"
            var r = lexer.skipCFWS()
            if r <= 0 { return r }
            if cur == UInt8(ascii: ">") {   // "<>": null address, mailbox and domain get filled in
                lexer.pos += 1
                return lexer.skipCFWS()
            }
            if cur == UInt8(ascii: "@") {
                if parseDomainList() <= 0 || cur != UInt8(ascii: ":") {
                    addr.route = Array("INVALID_ROUTE".utf8)
                    return -1
                }
                lexer.pos += 1
                r = lexer.skipCFWS()
                if r <= 0 { return r }
            }
            r = parseLocalPart()
            if r <= 0 { return r }
            if cur == UInt8(ascii: "@") {
                r = parseDomain()
                if r <= 0 { return r }
            }
            guard cur == UInt8(ascii: ">") else { return -1 }
            lexer.pos += 1
            return lexer.skipCFWS()
        }

        mutating func parseNameAddr() -> Int {
            var phrase: [UInt8] = []
            if lexer.parsePhrase(into: &phrase) <= 0 || cur != UInt8(ascii: "<") { return -1 }
            addr.name = phrase.isEmpty ? nil : phrase
            if parseAngleAddr() < 0 {
                addr.domain = Array("SYNTAX_ERROR".utf8)
                addr.invalidSyntax = true
            }
            return lexer.atEnd ? 0 : 1
        }

        mutating func parseAddrSpec() -> Int {
            lexer.lastComment.removeAll()
            var r = parseLocalPart()
            if r != 0, cur == UInt8(ascii: "@") {
                let r2 = parseDomain()
                if r2 <= 0 { r = r2 }
            }
            if !lexer.lastComment.isEmpty { addr.name = lexer.lastComment }
            return r
        }

        mutating func parseMailbox() -> Int {
            let start = lexer.pos
            var r = parseNameAddr()
            if r < 0 {
                lexer.pos = start
                addr = MailAddress()
                r = parseAddrSpec()
            }
            if r < 0 { addr.invalidSyntax = true }
            addFixed()
            return r
        }

        mutating func parseGroup() -> Int {
            var phrase: [UInt8] = []
            if lexer.parsePhrase(into: &phrase) <= 0 || cur != UInt8(ascii: ":") { return -1 }
            lexer.pos += 1
            var r = lexer.skipCFWS()
            if r <= 0 { addr.invalidSyntax = true }
            addr.mailbox = phrase
            add()
            if r > 0, cur != UInt8(ascii: ";") {
                while true {
                    if parseMailbox() <= 0 { r = -1; break }
                    if cur != UInt8(ascii: ",") { break }
                    lexer.pos += 1
                    if lexer.skipCFWS() <= 0 { r = -1; break }
                }
            }
            if r >= 0 {
                if cur != UInt8(ascii: ";") {
                    r = -1
                } else {
                    lexer.pos += 1
                    r = lexer.skipCFWS()
                }
            }
            if r < 0 { addr.invalidSyntax = true }
            add()
            return r == 0 ? 0 : 1
        }

        mutating func parseAddress() -> Int {
            let start = lexer.pos
            var r = parseGroup()
            if r < 0 {
                lexer.pos = start
                addr = MailAddress()
                r = parseMailbox()
            }
            return r
        }

        mutating func parseAddressList() {
            while true {
                if parseAddress() == 0 { break }
                if cur != UInt8(ascii: ",") { break }
                lexer.pos += 1
                let r = lexer.skipCFWS()
                if r <= 0 {
                    if r < 0 { addFixed() }
                    break
                }
            }
        }
    }
}
