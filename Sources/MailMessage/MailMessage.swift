// A parsed RFC 5322 message: the original bytes plus a MessagePart tree of ranges.
//
// What it does: answers IMAP FETCH data (ENVELOPE, BODY, BODYSTRUCTURE,
// RFC822.SIZE, BODY[section]<partial>) without copying bodies until asked.
// What it never does: modify the bytes, throw on malformed input, or recurse
// deeper than `maxDepth` MIME levels.
// Output sections are CRLF-normalised (bare LF -> CRLF) and sizes are counted
// that way, as IMAP requires (RFC 3501 §2.3.4 RFC822.SIZE, §6.4.5).

#if canImport(Glibc)
import Glibc
#endif

public struct MailMessage: Sendable {
    public let bytes: [UInt8]
    public let root: MessagePart

    public init(bytes: [UInt8], maxDepth: Int = 100) {
        self.bytes = bytes
        var parser = MIMEParser(bytes: bytes, maxDepth: maxDepth)
        self.root = parser.parseMessage()
    }

    public init(_ text: String) { self.init(bytes: Array(text.utf8)) }

    /// BODY[] / RFC822 without parsing the MIME structure: the whole message with CRLF line
    /// ends, `partial` applied. Returns `bytes` itself (no copy) when it is already CRLF.
    public static func wholeMessage(_ bytes: [UInt8], partial: (offset: Int, count: Int)? = nil) -> [UInt8] {
        var hasBareLF = false
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            var i = 0
            while i < buf.count, let hit = memchr(base + i, Int32(asciiLF), buf.count - i) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if at == 0 || base[at - 1] != asciiCR { hasBareLF = true; return }
                i = at + 1
            }
        }
        let full = hasBareLF ? crlfNormalized(bytes, 0..<bytes.count) : bytes
        guard let partial else { return full }
        return Array(full[partialRange(partial, in: full.count)])
    }

    public var header: HeaderBlock { root.header }

    /// RFC822.SIZE: the size with CRLF line ends.
    public var rfc822Size: Int { crlfSize(bytes, 0..<bytes.count).size }

    public var envelope: Envelope { Envelope(header: root.header) }

    /// ENVELOPE as IMAP wire bytes.
    public func envelopeBytes() -> [UInt8] { envelope.imapBytes }

    /// BODY (extended: false) or BODYSTRUCTURE (extended: true) as IMAP wire bytes.
    public func bodyStructure(extended: Bool) -> [UInt8] { root.bodyStructure(extended: extended) }

    /// The part at a section path (RFC 3501 §6.4.5): "1.2" is `[1, 2]`. An empty path is the message.
    /// A non-multipart part is its own part 1 (only as the last number); a
    /// message/rfc822 part's numbering continues into the embedded message.
    public func part(at path: [Int]) -> MessagePart? {
        var part = root
        for (i, n) in path.enumerated() {
            let more = i < path.count - 1
            if part.isMultipart {
                let kids = part.children
                guard n >= 1, n <= kids.count else { return nil }
                part = kids[n - 1]
            } else if n != 1 || (more && !part.isMessageRFC822) {
                return nil
            }
            if more, case .message(let inner) = part.kind { part = inner }
        }
        return part
    }

    /// BODY[section]<partial> content, CRLF-normalised. Missing parts give empty bytes.
    public func section(_ spec: BodySection) -> [UInt8] {
        let full = sectionContent(spec)
        guard let partial = spec.partial else { return full }
        return Array(full[partialRange(partial, in: full.count)])
    }

    private func sectionContent(_ spec: BodySection) -> [UInt8] {
        guard let located = part(at: spec.path) else { return [] }
        guard let text = spec.text else {
            return spec.path.isEmpty ? crlfNormalized(bytes, 0..<bytes.count)
                                     : crlfNormalized(bytes, located.bodyRange)
        }
        if case .mime = text {
            return spec.path.isEmpty ? [] : crlfNormalized(bytes, located.header.range)
        }
        // HEADER/TEXT apply to a message: the top level or a message/rfc822 part.
        let message: MessagePart
        if spec.path.isEmpty {
            message = root
        } else if case .message(let inner) = located.kind {
            message = inner
        } else {
            return []
        }
        switch text {
        case .header:
            return crlfNormalized(bytes, message.header.range)
        case .text:
            return crlfNormalized(bytes, message.bodyRange)
        case .headerFields(let names):
            return headerFields(message.header, names: names, not: false)
        case .headerFieldsNot(let names):
            return headerFields(message.header, names: names, not: true)
        case .mime:
            return []
        }
    }

    private func headerFields(_ header: HeaderBlock, names: [String], not: Bool) -> [UInt8] {
        let wanted = names.map { Array($0.utf8) }
        var out: [UInt8] = []
        for f in header.fields {
            let hit = wanted.contains { bytes.equalsCaseInsensitive(f.nameRange, $0) }
            guard hit != not else { continue }
            out += crlfNormalized(bytes, f.lineRange)
            if out.last != asciiLF { out += [asciiCR, asciiLF] }
        }
        // Dovecot ends HEADER.FIELDS with CRLF always, HEADER.FIELDS.NOT only
        // when the header itself had its empty line.
        if !not || header.endsWithBlankLine { out += [asciiCR, asciiLF] }
        return out
    }
}

/// A FETCH BODY[...] section specifier (RFC 3501 §6.4.5) with its optional partial.
public struct BodySection: Sendable, Equatable {
    public enum Text: Sendable, Equatable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        case mime
    }

    public var path: [Int]
    public var text: Text?
    public var partial: (offset: Int, count: Int)?

    public init(path: [Int] = [], text: Text? = nil, partial: (offset: Int, count: Int)? = nil) {
        self.path = path
        self.text = text
        self.partial = partial
    }

    public static func == (a: BodySection, b: BodySection) -> Bool {
        a.path == b.path && a.text == b.text && a.partial?.offset == b.partial?.offset
            && a.partial?.count == b.partial?.count
    }

    /// Parses the text between the brackets, e.g. "1.2.HEADER.FIELDS (FROM TO)", "TEXT", "3.MIME", "".
    /// Returns nil on syntax errors (MIME without a path, numbers of 0, unknown keywords).
    public static func parse(_ spec: String) -> BodySection? {
        var s = Substring(spec)
        var path: [Int] = []
        while let first = s.first, first.isASCII, first.isNumber {
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard let n = Int(digits), n > 0 else { return nil }
            path.append(n)
            s = s.dropFirst(digits.count)
            if s.first == "." { s = s.dropFirst() } else { break }
        }
        if s.isEmpty { return BodySection(path: path) }
        let upper = s.uppercased()
        if upper == "HEADER" { return BodySection(path: path, text: .header) }
        if upper == "TEXT" { return BodySection(path: path, text: .text) }
        if upper == "MIME" { return path.isEmpty ? nil : BodySection(path: path, text: .mime) }
        for (keyword, not) in [("HEADER.FIELDS.NOT", true), ("HEADER.FIELDS", false)] where upper.hasPrefix(keyword) {
            let rest = upper.dropFirst(keyword.count).trimmingSpaces()
            guard rest.hasPrefix("("), rest.hasSuffix(")") else { return nil }
            let names = rest.dropFirst().dropLast().split(separator: " ").map { String($0).trimmingQuotes() }
            guard !names.isEmpty else { return nil }
            return BodySection(path: path, text: not ? .headerFieldsNot(names) : .headerFields(names))
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }

    fileprivate func trimmingQuotes() -> String {
        if count >= 2, hasPrefix("\""), hasSuffix("\"") { return String(dropFirst().dropLast()) }
        return String(self)
    }
}

/// `<offset.count>` clamped to `0..<length`, whatever the numbers (no negative index, no overflow).
func partialRange(_ partial: (offset: Int, count: Int), in length: Int) -> Range<Int> {
    let start = min(max(0, partial.offset), length)
    let end = partial.count >= length - start ? length : start + max(0, partial.count)
    return start..<end
}
