// What `IMAPCommandParser` reports, and why a command line was rejected.
//
// Every `.error`, `.lineTooLong` and `.literalTooBig` means the session answers
// `tag BAD text` (or `* BAD text` when the tag is nil); the parser has already
// thrown the offending command away and is positioned at the next one.

/// One result pulled from `IMAPCommandParser.next()`.
public enum IMAPParseEvent: Sendable, Hashable {
    /// A complete command.
    case command(IMAPCommand)
    /// A synchronizing literal `{n}` was announced and accepted: send
    /// `+ Ready for literal data\r\n` now. Reported exactly once per literal.
    case continuationNeeded
    /// The command was malformed and has been discarded.
    case error(tag: String?, response: IMAPParseError)
    /// The command line exceeded `maxLineLength`; the rest of it is being skipped.
    case lineTooLong(tag: String?)
    /// A literal exceeded `maxLiteralSize` (or the per-command total). For `{n}` no
    /// continuation was sent and the command is dropped; for `{n+}` the n bytes and
    /// the rest of the command are skipped.
    case literalTooBig(tag: String?, size: Int)
    /// A large literal of a streaming command (APPEND) was announced; `arguments` are the
    /// command's arguments before it. The session sends the continuation for `{n}` itself,
    /// or calls `refuseStreamedLiteral()`. Its bytes follow as `.literalData`.
    case literalStreamStarted(tag: String, command: String, arguments: [IMAPValue], size: Int, synchronizing: Bool)
    /// The next bytes of the streamed literal.
    case literalData([UInt8])
}

/// Result of `IMAPCommandParser.nextRawLine()`.
public enum RawLineResult: Sendable, Hashable {
    /// The line without its CRLF (or bare LF).
    case line([UInt8])
    /// The line exceeded `maxLineLength`; its remainder is being skipped.
    case tooLong
}

/// Why a command line is syntactically invalid (RFC 3501 §9).
public enum IMAPParseError: Error, Sendable, Hashable {
    case emptyLine
    case invalidTag
    case missingCommand
    case invalidCommandName
    /// `UID` with no command after it.
    case missingUIDCommand
    /// A byte that may not appear where it did.
    case unexpectedCharacter(UInt8)
    /// Two items without a space between them, e.g. `"a"b` or `(a)(b)`.
    case missingSpace
    /// A space where an item was expected: double space, `( a)`, trailing space.
    case unexpectedSpace
    case unbalancedParentheses
    case nestingTooDeep
    case unterminatedQuotedString
    /// `\` followed by anything but `"` or `\`, or CR/LF/NUL inside quotes.
    case invalidQuotedString
    case unterminatedSection
    /// Malformed `{n}` or a literal announcement not at the end of the line.
    case invalidLiteral

    /// Human-readable text for the BAD response.
    public var message: String {
        switch self {
        case .emptyLine: return "Empty command line"
        case .invalidTag: return "Invalid tag"
        case .missingCommand: return "Missing command name"
        case .invalidCommandName: return "Invalid command name"
        case .missingUIDCommand: return "Missing command after UID"
        case .unexpectedCharacter(let byte): return "Unexpected character 0x\(String(byte, radix: 16))"
        case .missingSpace: return "Missing space between arguments"
        case .unexpectedSpace: return "Unexpected space"
        case .unbalancedParentheses: return "Unbalanced parentheses"
        case .nestingTooDeep: return "Lists nested too deeply"
        case .unterminatedQuotedString: return "Unterminated quoted string"
        case .invalidQuotedString: return "Invalid character or escape in quoted string"
        case .unterminatedSection: return "Missing ']'"
        case .invalidLiteral: return "Invalid literal"
        }
    }
}
