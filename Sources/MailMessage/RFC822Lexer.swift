// Tokenizer for RFC 5322 structured header values and RFC 2045 MIME values.
//
// Mirrors the lenient rules Dovecot's rfc822-parser uses so that ENVELOPE and
// BODYSTRUCTURE answers match a Dovecot server byte for byte: comments and
// folding whitespace are skipped between tokens, 8-bit bytes count as atom
// text, and every parse function stops rather than throws on bad input.

struct RFC822Lexer {
    let bytes: [UInt8]
    var pos: Int
    let end: Int
    /// Text of the most recent comment skipped (RFC 5322 §3.2.2), for
    /// "addr-spec (Real Name)" style addresses.
    var lastComment: [UInt8] = []

    init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        self.pos = range?.lowerBound ?? 0
        self.end = range?.upperBound ?? bytes.count
    }

    var atEnd: Bool { pos >= end }
    var current: UInt8? { pos < end ? bytes[pos] : nil }

    static func isAtext(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
             UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"),
             UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return c >= 0x80
        }
    }

    /// RFC 2045 §5.1 token character: not SPACE, CTL or tspecial.
    static func isTokenChar(_ c: UInt8) -> Bool {
        if c <= 0x20 || c == 0x7F { return false }
        switch c {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"),
             UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"),
             UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "["),
             UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return false
        default:
            return true
        }
    }

    /// Skips whitespace, line breaks and (nested) comments.
    /// Returns -1 on an unterminated comment, 0 at the end, 1 when more follows.
    @discardableResult
    mutating func skipCFWS() -> Int {
        while pos < end {
            let c = bytes[pos]
            if c == asciiSP || c == asciiTAB || c == asciiCR || c == asciiLF {
                pos += 1
            } else if c == UInt8(ascii: "(") {
                if !skipComment() { return -1 }
            } else {
                return 1
            }
        }
        return 0
    }

    private mutating func skipComment() -> Bool {
        lastComment.removeAll(keepingCapacity: true)
        var depth = 0
        var start = pos + 1
        while pos < end {
            let c = bytes[pos]
            switch c {
            case UInt8(ascii: "("):
                if depth > 0 { lastComment.append(contentsOf: bytes[start..<pos + 1]) }
                depth += 1
                start = pos + 1
            case UInt8(ascii: ")"):
                depth -= 1
                lastComment.append(contentsOf: bytes[start..<pos])
                if depth == 0 { pos += 1; return true }
                lastComment.append(c)
                start = pos + 1
            case UInt8(ascii: "\\"):
                lastComment.append(contentsOf: bytes[start..<pos])
                pos += 1
                start = pos
            case asciiCR, asciiLF:
                lastComment.append(contentsOf: bytes[start..<pos])
                start = pos + 1
            default:
                break
            }
            pos += 1
        }
        return false
    }

    /// atom = 1*atext, then CFWS. Returns -1 if no atext here.
    mutating func parseAtom(into out: inout [UInt8]) -> Int {
        guard pos < end, Self.isAtext(bytes[pos]) else { return -1 }
        let start = pos
        while pos < end, Self.isAtext(bytes[pos]) { pos += 1 }
        out.append(contentsOf: bytes[start..<pos])
        return skipCFWS()
    }

    /// dot-atom (lenient: CFWS allowed around the dots).
    mutating func parseDotAtom(into out: inout [UInt8]) -> Int {
        guard pos < end, Self.isAtext(bytes[pos]) else { return -1 }
        var start = pos
        pos += 1
        while pos < end {
            if Self.isAtext(bytes[pos]) { pos += 1; continue }
            out.append(contentsOf: bytes[start..<pos])
            let r = skipCFWS()
            if r <= 0 { return r }
            if bytes[pos] != UInt8(ascii: ".") { return 1 }
            pos += 1
            out.append(UInt8(ascii: "."))
            let r2 = skipCFWS()
            if r2 <= 0 { return r2 }
            start = pos
        }
        out.append(contentsOf: bytes[start..<pos])
        return 0
    }

    /// quoted-string: appends the unescaped content, drops folding line breaks, then CFWS.
    mutating func parseQuotedString(into out: inout [UInt8]) -> Int {
        guard pos < end, bytes[pos] == UInt8(ascii: "\"") else { return -1 }
        pos += 1
        var start = pos
        while pos < end {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[start..<pos])
                pos += 1
                return skipCFWS()
            } else if c == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[start..<pos])
                pos += 1
                if pos >= end { return -1 }
                start = pos
            } else if c == asciiLF {
                var cut = pos
                if cut > start, bytes[cut - 1] == asciiCR { cut -= 1 }
                out.append(contentsOf: bytes[start..<cut])
                start = pos + 1
            }
            pos += 1
        }
        return -1
    }

    /// RFC 2045 token, then CFWS. Returns -1 if no token character is here.
    mutating func parseMIMEToken(into out: inout [UInt8]) -> Int {
        let start = pos
        while pos < end, Self.isTokenChar(bytes[pos]) { pos += 1 }
        if pos == start { return -1 }
        out.append(contentsOf: bytes[start..<pos])
        return skipCFWS()
    }

    /// phrase = 1*word / obs-phrase; words are joined by one space.
    mutating func parsePhrase(into out: inout [UInt8]) -> Int {
        guard pos < end else { return 0 }
        if bytes[pos] == UInt8(ascii: ".") { return -1 }
        while true {
            let r: Int
            if bytes[pos] == UInt8(ascii: "\"") {
                r = parseQuotedString(into: &out)
            } else {
                r = parseAtomOrDot(into: &out)
            }
            if r <= 0 { return r }
            let c = bytes[pos]
            if !Self.isAtext(c) && c != UInt8(ascii: "\"") && c != UInt8(ascii: ".") { break }
            out.append(asciiSP)
        }
        return skipCFWS()
    }

    private mutating func parseAtomOrDot(into out: inout [UInt8]) -> Int {
        let start = pos
        while pos < end, Self.isAtext(bytes[pos]) || bytes[pos] == UInt8(ascii: ".") { pos += 1 }
        out.append(contentsOf: bytes[start..<pos])
        return skipCFWS()   // an empty phrase is fine: "<addr>" has none
    }

    /// domain after "@": dot-atom or domain-literal.
    mutating func parseDomain(into out: inout [UInt8]) -> Int {
        guard pos < end, bytes[pos] == UInt8(ascii: "@") else { return -1 }
        pos += 1
        let r = skipCFWS()
        if r <= 0 { return -1 }
        if bytes[pos] == UInt8(ascii: "[") {
            let start = pos
            while pos < end, bytes[pos] != UInt8(ascii: "]") {
                if bytes[pos] == UInt8(ascii: "\\") { pos += 1 }
                pos += 1
            }
            if pos >= end { return -1 }
            pos += 1
            out.append(contentsOf: bytes[start..<pos])
            return skipCFWS()
        }
        return parseDotAtom(into: &out)
    }

    /// "type/subtype" as written (case kept). Returns (type, subtype, ok).
    mutating func parseContentType() -> (type: [UInt8], subtype: [UInt8]?, ok: Bool) {
        var type: [UInt8] = []
        if skipCFWS() <= 0 { return (type, nil, false) }
        if parseMIMEToken(into: &type) <= 0 { return (type, nil, false) }
        // Dovecot keeps a lone type only when nothing follows it ("text" vs "text; x=y").
        guard pos < end, bytes[pos] == UInt8(ascii: "/") else { return ([], nil, false) }
        pos += 1
        var sub: [UInt8] = []
        if skipCFWS() <= 0 { return (type, sub, false) }
        let r = parseMIMEToken(into: &sub)
        return (type, sub, r >= 0)
    }

    /// `; name=value` parameters (RFC 2045 §5.1) with RFC 2231 continuations
    /// merged; stops at the first malformed parameter.
    mutating func parseParameters() -> [MIMEParameter] {
        var plain: [MIMEParameter] = []
        var extended: [(base: [UInt8], index: Int, star: Bool, value: [UInt8])] = []
        while pos < end, bytes[pos] == UInt8(ascii: ";") {
            pos += 1
            if skipCFWS() <= 0 { break }
            var key: [UInt8] = []
            if parseMIMEToken(into: &key) <= 0 { break }
            guard pos < end, bytes[pos] == UInt8(ascii: "=") else { break }
            pos += 1
            if skipCFWS() <= 0 { break }
            var value: [UInt8] = []
            let r: Int
            if bytes[pos] == UInt8(ascii: "\"") {
                r = parseQuotedString(into: &value)
            } else if bytes[pos] == UInt8(ascii: "=") {
                // Broken but common: unquoted RFC 2047 word as a value.
                let start = pos
                while pos < end, bytes[pos] != UInt8(ascii: ";"), !isLWSP(bytes[pos]),
                      bytes[pos] != asciiCR, bytes[pos] != asciiLF { pos += 1 }
                value.append(contentsOf: bytes[start..<pos])
                r = skipCFWS()
            } else {
                r = parseMIMEToken(into: &value)
            }
            if r < 0 { break }
            if let star = key.firstIndex(of: UInt8(ascii: "*")) {
                let base = Array(key[..<star])
                let rest = key[(star + 1)...]
                if rest.isEmpty {
                    extended.append((base, 0, true, value))
                } else {
                    var digits = rest[...]
                    var isStar = false
                    if digits.last == UInt8(ascii: "*") { isStar = true; digits = digits.dropLast() }
                    if !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits.count < 6,
                       let n = Int(String(decoding: digits, as: UTF8.self)) {
                        extended.append((base, n, isStar, value))
                    } else {
                        plain.append(MIMEParameter(name: key, value: value))
                    }
                }
            } else {
                plain.append(MIMEParameter(name: key, value: value))
            }
        }
        guard !extended.isEmpty else { return plain }
        // RFC 2231 §3/§4: join continuations in index order, one entry per base name.
        var order: [[UInt8]] = []
        for e in extended where !order.contains(where: { bytesEqualCaseInsensitive($0, e.base) }) {
            order.append(e.base)
        }
        order.sort { $0.map(asciiLower).lexicographicallyPrecedes($1.map(asciiLower)) }   // as Dovecot
        for base in order {
            let segs = extended.filter { bytesEqualCaseInsensitive($0.base, base) }.sorted { $0.index < $1.index }
            var value: [UInt8] = []
            for s in segs { value.append(contentsOf: s.value) }
            let anyStar = segs.contains { $0.star }
            plain.append(MIMEParameter(name: anyStar ? base + [UInt8(ascii: "*")] : base, value: value))
        }
        return plain
    }
}

/// One Content-Type or Content-Disposition parameter, bytes as written.
public struct MIMEParameter: Sendable, Equatable {
    public var name: [UInt8]
    public var value: [UInt8]
    public init(name: [UInt8], value: [UInt8]) {
        self.name = name
        self.value = value
    }
    public var nameString: String { String(decoding: name, as: UTF8.self) }
    public var valueString: String { String(decoding: value, as: UTF8.self) }
}
