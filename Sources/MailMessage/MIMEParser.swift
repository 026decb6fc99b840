// Builds the MessagePart tree from raw bytes (RFC 2046 §5.1 multipart, §5.2 message).
//
// Implementation notes:
// - Never throws: missing final boundaries, broken Content-Types, headers
//   without a blank line and bare LFs all yield the best structure.
// - Boundary matching follows RFC 2046 §5.1.1 and Dovecot: a line starting
//   with "--" + a boundary of any enclosing multipart (longest match wins)
//   ends the current part; the line break before it belongs to the boundary.
//   A boundary of an outer multipart also closes every inner part.
// - Nesting deeper than `maxDepth` is kept as opaque leaves.

struct MIMEParser {
    let bytes: [UInt8]
    let maxDepth: Int
    private var stack: [(boundary: [UInt8], owner: Int)] = []
    private var nextOwner = 0

    enum Termination {
        case eof
        /// A boundary line of the multipart `owner` begins at `lineStart`
        /// (its "--"); the part before it ends at `cut`.
        case boundary(owner: Int, cut: Int, lineStart: Int, close: Bool)
    }

    init(bytes: [UInt8], maxDepth: Int = 100) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseMessage() -> MessagePart {
        parseEntity(start: 0, parentMultipart: false, parentDigest: false, depth: 0).part
    }

    /// If a boundary line of an enclosing multipart starts at `pos`, which one.
    private func boundaryMatch(at pos: Int) -> (index: Int, close: Bool)? {
        guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "-"), bytes[pos + 1] == UInt8(ascii: "-"),
              !stack.isEmpty else { return nil }
        let s = pos + 2
        var best: Int? = nil
        var i = stack.count - 1
        while i >= 0 {
            let b = stack[i].boundary
            if s + b.count <= bytes.count, best.map({ stack[$0].boundary.count < b.count }) ?? true {
                var same = true
                for k in 0..<b.count where bytes[s + k] != b[k] { same = false; break }
                if same { best = i }
            }
            i -= 1
        }
        guard let best else { return nil }
        let e = s + stack[best].boundary.count
        let close = e + 1 < bytes.count && bytes[e] == UInt8(ascii: "-") && bytes[e + 1] == UInt8(ascii: "-")
        return (best, close)
    }

    /// Scans line by line from `pos` (a line start) for the next boundary line.
    private func scanToBoundary(from pos: Int) -> Termination {
        guard !stack.isEmpty else { return .eof }
        var line = pos
        let end = bytes.count
        while line < end {
            if let m = boundaryMatch(at: line) {
                var cut = line
                if line > pos {
                    cut = line - 1
                    if cut > pos, bytes[cut - 1] == asciiCR { cut -= 1 }
                }
                return .boundary(owner: stack[m.index].owner, cut: cut, lineStart: line, close: m.close)
            }
            guard let lf = bytes.indexOfLF(from: line, end: end) else { break }
            line = lf + 1
        }
        return .eof
    }

    private func cutPoint(_ t: Termination) -> Int {
        switch t {
        case .eof: return bytes.count
        case .boundary(_, let cut, _, _): return cut
        }
    }

    private func part(header: HeaderBlock, body: Range<Int>, kind: MessagePart.Kind, content: ContentInfo,
                      isText: Bool, isMultipart: Bool, isMIME: Bool) -> MessagePart {
        let h = crlfSize(bytes, header.range)
        let b = crlfSize(bytes, body)
        return MessagePart(header: header, bodyRange: body, kind: kind, content: content, isText: isText,
                           isMultipart: isMultipart, isMIME: isMIME, headerSize: h.size,
                           bodySize: b.size, bodyLines: b.lines)
    }

    mutating func parseEntity(start: Int, parentMultipart: Bool, parentDigest: Bool,
                              depth: Int) -> (part: MessagePart, term: Termination) {
        let scanner = HeaderScanner(bytes: bytes, start: start, end: bytes.count)
        var h = scanner.scan(isBoundaryLine: { self.boundaryMatch(at: $0) != nil })

        // Kind of part, from the first Content-Type (RFC 2045 §5.2 defaults).
        var isMIME = parentMultipart
        var contentTypeField: HeaderField? = nil
        for f in h.fields {
            if bytes.equalsCaseInsensitive(f.nameRange, Array("mime-version".utf8)) { isMIME = true }
            if contentTypeField == nil, f.valueRange != nil,
               bytes.equalsCaseInsensitive(f.nameRange, Array("content-type".utf8)) {
                contentTypeField = f
                isMIME = true
            }
        }
        var isText = false, isMultipart = false, isMessage = false, isDigest = false
        var boundary: [UInt8]? = nil
        if let f = contentTypeField, isMIME {
            var lx = RFC822Lexer(HeaderBlock(bytes: bytes, range: start..<h.end, fields: h.fields).fullValue(f))
            let ct = lx.parseContentType()
            let type = ct.type
            if bytesEqualCaseInsensitive(type, Array("message".utf8)), let s = ct.subtype,
               bytesEqualCaseInsensitive(s, Array("rfc822".utf8)), ct.ok {
                isMessage = true
            } else if bytesEqualCaseInsensitive(type, Array("text".utf8)) {
                isText = true
            } else if bytesEqualCaseInsensitive(type, Array("multipart".utf8)), let s = ct.subtype {
                isMultipart = true
                isDigest = bytesEqualCaseInsensitive(s, Array("digest".utf8))
                if ct.ok {
                    boundary = lx.parseParameters()
                        .first { bytesEqualCaseInsensitive($0.name, Array("boundary".utf8)) }?.value
                }
            }
        } else if parentDigest {
            isMessage = true   // RFC 2046 §5.1.5: digest parts default to message/rfc822
        } else {
            isText = true
        }
        if depth >= maxDepth { isMessage = false; boundary = nil }
        // An empty line followed by an enclosing (not our own) boundary is that
        // boundary's line break: the part ends before it, without a body (Dovecot 2.3).
        var cutTerm: Termination? = nil
        if h.blankLine, h.end < bytes.count, bytes[h.end] == UInt8(ascii: "-") {
            if let boundary, isMultipart { stack.append((boundary, -1)) }
            if let m = boundaryMatch(at: h.end), stack[m.index].owner != -1 {
                cutTerm = .boundary(owner: stack[m.index].owner, cut: h.blankLineStart, lineStart: h.end,
                                    close: m.close)
                h.end = h.blankLineStart
                h.blankLine = false
            }
            if boundary != nil, isMultipart { stack.removeLast() }
        } else if let at = h.boundaryAt, let m = boundaryMatch(at: at) {
            // Header cut by a boundary line: the line break before it goes to the parent.
            cutTerm = .boundary(owner: stack[m.index].owner, cut: at, lineStart: at, close: m.close)
        }
        let header = HeaderBlock(bytes: bytes, range: start..<h.end, fields: h.fields, endsWithBlankLine: h.blankLine)
        let content = isMIME ? ContentInfo(header: header) : ContentInfo()

        if let term = cutTerm {
            // The header was cut by a boundary: no body at all.
            var kind = MessagePart.Kind.single
            if isMessage {
                let empty = HeaderBlock(bytes: bytes, range: h.end..<h.end, fields: [])
                kind = .message(part(header: empty, body: h.end..<h.end, kind: .single, content: ContentInfo(),
                                     isText: true, isMultipart: false, isMIME: false))
            } else if isMultipart {
                kind = .multipart([])
            }
            return (part(header: header, body: h.end..<h.end, kind: kind, content: content, isText: isText,
                         isMultipart: isMultipart, isMIME: isMIME), term)
        }

        let bodyStart = h.bodyStart
        if isMessage {
            let (child, term) = parseEntity(start: bodyStart, parentMultipart: false, parentDigest: false,
                                            depth: depth + 1)
            let body = bodyStart..<max(bodyStart, cutPoint(term))
            return (part(header: header, body: body, kind: .message(child), content: content, isText: false,
                         isMultipart: false, isMIME: isMIME), term)
        }
        if isMultipart, let boundary {
            let (children, term) = parseMultipartBody(from: bodyStart, boundary: boundary, digest: isDigest,
                                                      depth: depth)
            let body = bodyStart..<max(bodyStart, cutPoint(term))
            return (part(header: header, body: body, kind: .multipart(children), content: content,
                         isText: false, isMultipart: true, isMIME: isMIME), term)
        }
        let term = scanToBoundary(from: bodyStart)
        let body = bodyStart..<max(bodyStart, cutPoint(term))
        return (part(header: header, body: body, kind: isMultipart ? .multipart([]) : .single, content: content,
                     isText: isText, isMultipart: isMultipart, isMIME: isMIME), term)
    }

    private mutating func parseMultipartBody(from start: Int, boundary: [UInt8], digest: Bool,
                                             depth: Int) -> ([MessagePart], Termination) {
        let me = nextOwner
        nextOwner += 1
        stack.append((boundary, me))
        var children: [MessagePart] = []
        var term = scanToBoundary(from: start)   // preamble
        while case .boundary(let owner, _, let lineStart, let close) = term, owner == me {
            // Skip the rest of the boundary line (RFC 2046 §5.1.1 transport padding).
            let next = bytes.indexOfLF(from: lineStart, end: bytes.count).map { $0 + 1 } ?? bytes.count
            guard let idx = stack.lastIndex(where: { $0.owner == me }) else { break }
            if close {
                stack.removeSubrange(idx...)
                term = scanToBoundary(from: next)   // epilogue
                break
            }
            stack.removeSubrange((idx + 1)...)
            let (child, t) = parseEntity(start: next, parentMultipart: true, parentDigest: digest,
                                         depth: depth + 1)
            children.append(child)
            term = t
        }
        // At EOF drop our boundary; an outer boundary is left for its owner to trim.
        if case .eof = term, let idx = stack.lastIndex(where: { $0.owner == me }) {
            stack.removeSubrange(idx...)
        }
        return (children, term)
    }
}
