// RFC 5322 §2.2 header fields over the original message bytes.
//
// A field keeps ranges into the message, never copies: the raw lines (for
// BODY[HEADER.FIELDS]), the name, and the value. Unfolding happens on demand.
// Broken input is kept, not rejected: a line without ":" becomes a field whose
// name is the whole line and which has no value (as Dovecot does).

public struct HeaderField: Sendable, Equatable {
    /// The whole field: first line, continuation lines and the final line break if any.
    public let lineRange: Range<Int>
    /// The field name, without whitespace before the colon.
    public let nameRange: Range<Int>
    /// After the colon and the leading whitespace, up to (not including) the final line break.
    /// Nil when the line had no colon.
    public let valueRange: Range<Int>?

    public init(lineRange: Range<Int>, nameRange: Range<Int>, valueRange: Range<Int>?) {
        self.lineRange = lineRange
        self.nameRange = nameRange
        self.valueRange = valueRange
    }
}

/// The header of a message or MIME part: its fields plus the byte range it covers
/// (including the empty line that ends it, when there is one).
public struct HeaderBlock: Sendable {
    public let bytes: [UInt8]
    public let range: Range<Int>
    public let fields: [HeaderField]
    /// False when the header ran into EOF or a boundary without its empty line.
    public let endsWithBlankLine: Bool

    public init(bytes: [UInt8], range: Range<Int>, fields: [HeaderField], endsWithBlankLine: Bool = true) {
        self.bytes = bytes
        self.range = range
        self.fields = fields
        self.endsWithBlankLine = endsWithBlankLine
    }

    /// Parses a standalone header (e.g. a message that is only a header).
    public init(parsing bytes: [UInt8]) {
        let scanner = HeaderScanner(bytes: bytes, start: 0, end: bytes.count)
        let result = scanner.scan(isBoundaryLine: { _ in false })
        self.init(bytes: bytes, range: 0..<result.end, fields: result.fields, endsWithBlankLine: result.blankLine)
    }

    public func name(of field: HeaderField) -> String {
        String(decoding: bytes[field.nameRange], as: UTF8.self)
    }

    /// Fields called `name` (ASCII case-insensitive), in message order.
    public func fields(named name: String) -> [HeaderField] {
        let n = Array(name.utf8)
        return fields.filter { bytes.equalsCaseInsensitive($0.nameRange, n) }
    }

    public func first(_ name: String) -> HeaderField? {
        let n = Array(name.utf8)
        return fields.first { bytes.equalsCaseInsensitive($0.nameRange, n) }
    }

    /// The value as Dovecot hands it to its parsers: CR dropped before each LF,
    /// folding LFs and the continuation whitespace kept.
    public func fullValue(_ field: HeaderField) -> [UInt8] {
        guard let r = field.valueRange else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        for i in r {
            let b = bytes[i]
            if b == asciiCR, i + 1 < r.upperBound, bytes[i + 1] == asciiLF { continue }
            out.append(b)
        }
        return out
    }

    /// RFC 5322 §2.2.3 unfolding: the value with every line break removed.
    public func unfoldedValue(_ field: HeaderField) -> [UInt8] {
        guard let r = field.valueRange else { return [] }
        return bytes[r].filter { $0 != asciiCR && $0 != asciiLF }
    }

    /// Unfolded value of the first field called `name`, as UTF-8 text (invalid bytes replaced).
    public func value(_ name: String) -> String? {
        first(name).map { String(decoding: unfoldedValue($0), as: UTF8.self) }
    }
}

/// Splits header lines into fields; stops at the empty line, at EOF, or before a
/// line the caller recognises as a MIME boundary (RFC 2046 §5.1.1).
struct HeaderScanner {
    let bytes: [UInt8]
    let start: Int
    let end: Int

    struct Result {
        var fields: [HeaderField]
        /// End of the header (after the empty line, or where it was cut short).
        var end: Int
        /// Where the body begins (same as `end` unless cut by a boundary).
        var bodyStart: Int
        /// Set when a boundary line cut the header: the position of its "--".
        var boundaryAt: Int?
        /// The header ended with its empty line (RFC 5322 §2.1).
        var blankLine: Bool
        /// Where the empty line starts (when `blankLine`).
        var blankLineStart: Int
    }

    init(bytes: [UInt8], start: Int, end: Int) {
        self.bytes = bytes
        self.start = start
        self.end = end
    }

    func scan(isBoundaryLine: (Int) -> Bool) -> Result {
        var fields: [HeaderField] = []
        var pos = start
        var prevNewline = 0
        while pos < end {
            let c = bytes[pos]
            if c == asciiLF || (c == asciiCR && pos + 1 < end && bytes[pos + 1] == asciiLF) {
                let after = pos + (c == asciiLF ? 1 : 2)
                return Result(fields: fields, end: after, bodyStart: after, boundaryAt: nil, blankLine: true,
                              blankLineStart: pos)
            }
            if c == UInt8(ascii: "-") && isBoundaryLine(pos) {
                // The line break before the boundary belongs to the boundary.
                let cut = pos - prevNewline
                return Result(fields: fields, end: cut, bodyStart: cut, boundaryAt: pos, blankLine: false,
                              blankLineStart: cut)
            }
            // One field: this line plus continuation lines.
            var colon: Int? = nil
            var i = pos
            while i < end, bytes[i] != asciiLF {
                if colon == nil, bytes[i] == UInt8(ascii: ":") { colon = i }
                i += 1
            }
            var lineEnd = i  // index of LF or end
            while lineEnd < end, lineEnd + 1 < end, isLWSP(bytes[lineEnd + 1]) {
                var j = lineEnd + 1
                while j < end, bytes[j] != asciiLF { j += 1 }
                lineEnd = j
            }
            let hasLF = lineEnd < end
            var contentEnd = lineEnd
            if hasLF, contentEnd > pos, bytes[contentEnd - 1] == asciiCR { contentEnd -= 1 }
            prevNewline = hasLF ? lineEnd - contentEnd + 1 : 0
            let fieldEnd = hasLF ? lineEnd + 1 : end
            let field: HeaderField
            if let colon {
                var nameEnd = colon
                while nameEnd > pos, isLWSP(bytes[nameEnd - 1]) { nameEnd -= 1 }
                var v = colon + 1
                while v < contentEnd, isLWSP(bytes[v]) { v += 1 }
                if v == contentEnd, colon + 1 < contentEnd { v = colon + 2 }  // all LWSP: skip only one
                field = HeaderField(lineRange: pos..<fieldEnd, nameRange: pos..<nameEnd, valueRange: v..<contentEnd)
            } else {
                field = HeaderField(lineRange: pos..<fieldEnd, nameRange: pos..<contentEnd, valueRange: nil)
            }
            fields.append(field)
            pos = fieldEnd
        }
        return Result(fields: fields, end: end, bodyStart: end, boundaryAt: nil, blankLine: false,
                      blankLineStart: end)
    }
}
