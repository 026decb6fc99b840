// What `IMAPCommandParser` reports, and why a command line was rejected.
//
// Every `.error`, `.lineTooLong` and `.literalTooBig` means the session answers
// `tag BAD text` (or `* BAD text` when the tag is nil); the parser has already
// thrown the offending command away and is positioned at the next one. `command` is the
// command's name ("UID FETCH") when the line got that far: Dovecot names it in its answer
// (`BAD Error in IMAP command FETCH: Missing ')'`).

/// One result pulled from `IMAPCommandParser.next()`.
public enum IMAPParseEvent: Sendable, Hashable {
    /// A complete command.
    case command(IMAPCommand)
    /// A synchronizing literal `{n}` was announced and accepted: send
    /// `+ Ready for literal data\r\n` now. Reported exactly once per literal.
    case continuationNeeded
    /// The command was malformed and has been discarded.
    case error(tag: String?, command: String? = nil, response: IMAPParseError)
    /// The command line exceeded `maxLineLength`; the rest of it is being skipped.
    case lineTooLong(tag: String?, command: String? = nil)
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
    /// A `(` that is never closed.
    case missingCloseParenthesis
    /// A `)` with no `(` open.
    case unexpectedCloseParenthesis
    case nestingTooDeep
    case unterminatedQuotedString
    /// `\` followed by anything but `"` or `\`, or CR/LF/NUL inside quotes.
    case invalidQuotedString
    /// Malformed `{n}` or a literal announcement not at the end of the line.
    case invalidLiteral

    /// Human-readable text for the BAD response: Dovecot's imap-parser wording where Dovecot
    /// has the same error (sessions add "Error in IMAP command X: " and the final ".").
    public var message: String {
        switch self {
        case .emptyLine: return "Empty command line"
        case .invalidTag: return "Invalid tag"
        case .missingCommand, .invalidCommandName, .missingUIDCommand: return "Invalid command name"
        case .unexpectedCharacter(let byte):
            return byte >= 0x80 ? "8bit data in atom" : "Invalid characters in atom"
        case .missingSpace: return "Missing space between arguments"
        case .unexpectedSpace: return "Unexpected space"
        case .missingCloseParenthesis: return "Missing ')'"
        case .unexpectedCloseParenthesis: return "Unexpected ')'"
        case .nestingTooDeep: return "Lists nested too deeply"
        case .unterminatedQuotedString: return "Missing '\"'"
        case .invalidQuotedString: return "Invalid character or escape in quoted string"
        case .invalidLiteral: return "Invalid literal size"
        }
    }
}
