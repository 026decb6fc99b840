// Turns the lines of one command, and the literals between them, into an IMAPCommand.
//
// A command with literals arrives as segments: `a LOGIN {3}` · literal `bob` ·
// ` {3}` · literal `pwd` · `` (empty last line). `IMAPCommandParser` frames the
// segments and literals; this type lexes each segment once, when its line end has
// arrived, keeping just enough state (the list stack and what may come next) to carry
// on after a literal. Each byte is looked at once, so many literals cost no re-parsing.
//
// Grammar (RFC 3501 §9), read leniently where clients differ:
//   command  = tag SP name [SP "UID" ...] *(SP value)
//   value    = atom / quoted / literal / "(" [value *(SP value)] ")" / NIL
//   literal  = "{" number ["+"] "}" CRLF *OCTET      ; RFC 7888 LITERAL+
//            / "~{" number ["+"] "}" CRLF *OCTET     ; RFC 3516 literal8
// Atoms also take `%`, `*`, `\` and `]`, and a `[...]` part copied verbatim
// (FETCH `BODY[HEADER.FIELDS (FROM)]<0.10>`); a `[` that no `]` closes is an atom
// character like any other (RFC 3501 ATOM-CHAR: a keyword `foo[`, a mailbox `a[b`).

/// A literal announcement at the end of a command line.
struct LiteralAnnouncement: Sendable, Hashable {
    var size: Int
    /// `{n}`: the client waits for a continuation; `{n+}` does not.
    var synchronizing: Bool
}

struct IMAPCommandAssembler: Sendable {
    enum SegmentOutcome: Sendable {
        case complete(IMAPCommand)
        case literal(LiteralAnnouncement)
        case failure(IMAPParseError)
    }

    /// What may follow at the current position.
    private enum Expectation: Sendable {
        /// After an item: SP, `)` or end of line.
        case separator
        /// After SP: an item.
        case item
        /// After `(`: an item or `)`.
        case itemOrClose
    }

    /// Deeper lists are refused; deep recursion in a value tree is a stack risk.
    static let maxNesting = 100

    private(set) var tag: String?
    private var name: String?
    private var stack: [[IMAPValue]] = [[]]
    private var expectation = Expectation.separator
    /// Bytes of all segments so far (line ends excluded); counts against maxLineLength.
    private(set) var lineBytes = 0
    /// Bytes of all literals so far.
    private(set) var literalBytes = 0

    init() {}

    /// Lexes one line (without its line end) of the command.
    mutating func consume(segment: ArraySlice<UInt8>) -> SegmentOutcome {
        lineBytes += segment.count
        var index = segment.startIndex
        if name == nil {
            if let error = parseHeader(segment, &index) { return .failure(error) }
        }
        while index < segment.endIndex {
            let byte = segment[index]
            switch byte {
            case ASCII.space:
                guard expectation == .separator else { return .failure(.unexpectedSpace) }
                expectation = .item
                index += 1
            case ASCII.lparen:
                guard expectation != .separator else { return .failure(.missingSpace) }
                guard stack.count <= Self.maxNesting else { return .failure(.nestingTooDeep) }
                stack.append([])
                expectation = .itemOrClose
                index += 1
            case ASCII.rparen:
                guard stack.count > 1 else { return .failure(.unexpectedCloseParenthesis) }
                guard expectation != .item else { return .failure(.unexpectedSpace) }
                let items = stack.removeLast()
                add(.list(items))
                index += 1
            case ASCII.quote:
                guard expectation != .separator else { return .failure(.missingSpace) }
                switch Self.parseQuoted(segment, &index) {
                case .success(let bytes): add(.quoted(bytes))
                case .failure(let error): return .failure(error)
                }
            case ASCII.lbrace:
                guard expectation != .separator else { return .failure(.missingSpace) }
                return announcement(segment, from: index + 1)
            case ASCII.tilde where index + 1 < segment.endIndex && segment[index + 1] == ASCII.lbrace:
                guard expectation != .separator else { return .failure(.missingSpace) }
                return announcement(segment, from: index + 2)
            default:
                guard expectation != .separator else {
                    return .failure(byte.isIMAPArgumentAtomChar ? .missingSpace : .unexpectedCharacter(byte))
                }
                switch Self.parseAtom(segment, &index) {
                case .success(let value): add(value)
                case .failure(let error): return .failure(error)
                }
            }
        }
        guard stack.count == 1 else { return .failure(.missingCloseParenthesis) }
        guard expectation == .separator else { return .failure(.unexpectedSpace) }
        return .complete(IMAPCommand(tag: tag ?? "", name: name ?? "", arguments: stack[0]))
    }

    /// The command name, once the first line has been read.
    var commandName: String? { name }

    /// The arguments so far, when the parser is not inside a list.
    var topLevelArguments: [IMAPValue]? { stack.count == 1 ? stack[0] : nil }

    /// A literal whose bytes went elsewhere (streamed): an empty `.literal` stands in for it.
    mutating func appendStreamedLiteral(size: Int) {
        literalBytes += size
        add(.literal([]))
    }

    /// Adds the bytes of the literal announced by the last segment.
    mutating func appendLiteral(_ bytes: [UInt8]) {
        literalBytes += bytes.count
        add(.literal(bytes))
    }

    private mutating func add(_ value: IMAPValue) {
        stack[stack.count - 1].append(value)
        expectation = .separator
    }

    // MARK: Header: tag SP name

    private mutating func parseHeader(_ line: ArraySlice<UInt8>, _ index: inout Int) -> IMAPParseError? {
        guard !line.isEmpty else { return .emptyLine }
        let tagEnd = line[index...].firstIndex { !$0.isIMAPTagChar } ?? line.endIndex
        guard tagEnd > index, tagEnd == line.endIndex || line[tagEnd] == ASCII.space else { return .invalidTag }
        tag = String(decoding: line[index..<tagEnd], as: UTF8.self)
        index = tagEnd
        guard let first = Self.parseCommandName(line, &index) else { return .missingCommand }
        guard let word = first else { return .invalidCommandName }
        guard word == "UID" else {
            name = word
            return nil
        }
        guard let second = Self.parseCommandName(line, &index) else { return .missingUIDCommand }
        guard let subcommand = second else { return .invalidCommandName }
        name = "UID " + subcommand
        return nil
    }

    /// Reads `SP atom` and upper-cases the atom. Outer nil: nothing there; inner nil: bad bytes.
    private static func parseCommandName(_ line: ArraySlice<UInt8>, _ index: inout Int) -> String?? {
        guard index < line.endIndex, line[index] == ASCII.space,
              index + 1 < line.endIndex, line[index + 1] != ASCII.space else { return nil }
        let start = index + 1
        let end = line[start...].firstIndex { !$0.isIMAPAtomChar } ?? line.endIndex
        guard end > start, end == line.endIndex || line[end] == ASCII.space else { return .some(nil) }
        index = end
        return String(decoding: line[start..<end].map(\.asciiUppercased), as: UTF8.self)
    }

    // MARK: Items

    /// `"` ... `"` with `\"` and `\\` the only escapes; CR, LF and NUL refused, 8-bit kept
    /// (RFC 6855 lets UTF-8 through quoted strings).
    static func parseQuoted(_ line: ArraySlice<UInt8>, _ index: inout Int) -> Result<[UInt8], IMAPParseError> {
        var bytes: [UInt8] = []
        var position = index + 1
        while position < line.endIndex {
            let byte = line[position]
            switch byte {
            case ASCII.quote:
                index = position + 1
                return .success(bytes)
            case ASCII.backslash:
                position += 1
                guard position < line.endIndex else { return .failure(.unterminatedQuotedString) }
                let escaped = line[position]
                guard escaped == ASCII.quote || escaped == ASCII.backslash else {
                    return .failure(.invalidQuotedString)
                }
                bytes.append(escaped)
            case ASCII.cr, ASCII.lf, ASCII.nul:
                return .failure(.invalidQuotedString)
            default:
                bytes.append(byte)
            }
            position += 1
        }
        return .failure(.unterminatedQuotedString)
    }

    /// An atom, ending at SP, `)` or end of line; a `[` opens a section copied verbatim up to
    /// its `]` (quoted strings inside may hold `]`), or is just a character when none follows.
    static func parseAtom(_ line: ArraySlice<UInt8>, _ index: inout Int) -> Result<IMAPValue, IMAPParseError> {
        let start = index
        var position = index
        scan: while position < line.endIndex {
            let byte = line[position]
            switch byte {
            case ASCII.space, ASCII.rparen:
                break scan
            case ASCII.lbracket:
                position = sectionEnd(line, from: position + 1).map { $0 + 1 } ?? position + 1
            default:
                guard byte.isIMAPArgumentAtomChar else { return .failure(.unexpectedCharacter(byte)) }
                position += 1
            }
        }
        index = position
        let bytes = line[start..<position]
        if bytes.equalsCaseInsensitive("NIL") { return .success(.nil) }
        return .success(.atom(String(decoding: bytes, as: UTF8.self)))
    }

    private static func sectionEnd(_ line: ArraySlice<UInt8>, from start: Int) -> Int? {
        var quoted = false
        var position = start
        while position < line.endIndex {
            let byte = line[position]
            if byte.isIMAPControl || byte >= 0x80 { return nil }
            if quoted {
                if byte == ASCII.backslash { position += 1 } else if byte == ASCII.quote { quoted = false }
            } else if byte == ASCII.quote {
                quoted = true
            } else if byte == ASCII.rbracket {
                return position
            }
            position += 1
        }
        return nil
    }

    /// `number ["+"] "}"` which must end the line; `start` is just past the `{`.
    private func announcement(_ line: ArraySlice<UInt8>, from start: Int) -> SegmentOutcome {
        guard let literal = Self.parseAnnouncement(line[start...]) else { return .failure(.invalidLiteral) }
        return .literal(literal)
    }

    /// Parses `number ["+"] "}"` filling the whole slice.
    static func parseAnnouncement(_ bytes: ArraySlice<UInt8>) -> LiteralAnnouncement? {
        var size = 0
        var digits = 0
        var position = bytes.startIndex
        while position < bytes.endIndex, bytes[position].isASCIIDigit {
            size = size * 10 + Int(bytes[position] - ASCII.zero)
            digits += 1
            guard digits <= 18 else { return nil }
            position += 1
        }
        guard digits > 0, position < bytes.endIndex else { return nil }
        var synchronizing = true
        if bytes[position] == ASCII.plus {
            synchronizing = false
            position += 1
        }
        guard position + 1 == bytes.endIndex, bytes[position] == ASCII.rbrace else { return nil }
        return LiteralAnnouncement(size: size, synchronizing: synchronizing)
    }

    /// If `line` ends in a non-synchronizing announcement `{n+}`, its size: the client will send
    /// n bytes without waiting, and they must be skipped even when the line is rejected.
    static func trailingNonSynchronizingLiteral(_ line: ArraySlice<UInt8>) -> Int? {
        var tail = line
        if tail.last == ASCII.cr { tail = tail.dropLast() }
        guard tail.last == ASCII.rbrace,
              let open = tail.lastIndex(of: ASCII.lbrace),
              tail.endIndex - open <= 22,
              let literal = parseAnnouncement(tail[(open + 1)...]),
              !literal.synchronizing else { return nil }
        return literal.size
    }

    /// The command name ("UID FETCH") of a line that has one followed by a space.
    static func peekCommand(_ line: ArraySlice<UInt8>) -> String? {
        var probe = IMAPCommandAssembler()
        var index = line.startIndex
        guard probe.parseHeader(line, &index) == nil, index < line.endIndex else { return nil }
        return probe.name
    }

    /// The tag at the start of a line, if one is there followed by a space.
    static func peekTag(_ line: ArraySlice<UInt8>) -> String? {
        guard let end = line.firstIndex(where: { !$0.isIMAPTagChar }), end > line.startIndex,
              line[end] == ASCII.space else { return nil }
        return String(decoding: line[line.startIndex..<end], as: UTF8.self)
    }
}
