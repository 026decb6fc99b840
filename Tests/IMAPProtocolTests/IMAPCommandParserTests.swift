import Testing
@testable import IMAPProtocol

typealias EventRow = Row<String, [IMAPParseEvent]>

// MARK: Bucket 1: valid input → expected events

let validRows: [EventRow] = [
    EventRow("a NOOP\r\n", [command("a", "NOOP")]),
    EventRow("a noop\n", [command("a", "NOOP")]),
    EventRow("A1.x] Capability\r\n", [command("A1.x]", "CAPABILITY")]),
    EventRow("a NOOP\r\nb LOGOUT\r\n", [command("a", "NOOP"), command("b", "LOGOUT")]),
    EventRow("a LOGIN bob secret\r\n", [command("a", "LOGIN", atom("bob"), atom("secret"))]),
    EventRow(#"a LOGIN "bob" "p\"w\\d"\#r\#n"#, [command("a", "LOGIN", q("bob"), q(#"p"w\d"#))]),
    EventRow("a LOGIN \"\" \"\"\r\n", [command("a", "LOGIN", q(""), q(""))]),
    EventRow("a LOGIN {3}\r\nbob {3}\r\npwd\r\n",
             [.continuationNeeded, .continuationNeeded, command("a", "LOGIN", lit("bob"), lit("pwd"))]),
    EventRow("a LOGIN {3+}\r\nbob {3+}\r\npwd\r\n", [command("a", "LOGIN", lit("bob"), lit("pwd"))]),
    EventRow("a LOGIN \"bob\" {3}\r\npwd\r\n", [.continuationNeeded, command("a", "LOGIN", q("bob"), lit("pwd"))]),
    EventRow("a LOGIN {0}\r\n {0+}\r\n\r\n", [.continuationNeeded, command("a", "LOGIN", lit(""), lit(""))]),
    EventRow("a APPEND INBOX (\\Seen) {12}\r\nhello\r\nworld\r\n",
             [.continuationNeeded, command("a", "APPEND", atom("INBOX"), .list([atom("\\Seen")]), lit("hello\r\nworld"))]),
    EventRow("a APPEND INBOX ~{5}\r\nhe\0lo\r\n", [.continuationNeeded, command("a", "APPEND", atom("INBOX"), lit("he\0lo"))]),
    EventRow("a X ({1}\r\nz)\r\n", [.continuationNeeded, command("a", "X", .list([lit("z")]))]),
    EventRow("a X ({1+}\r\nz {1+}\r\ny) b\r\n", [command("a", "X", .list([lit("z"), lit("y")]), atom("b"))]),
    EventRow("a uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n",
             [command("a", "UID FETCH", atom("1:*"),
                      .list([atom("FLAGS"), atom("BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>")]))]),
    EventRow("a FETCH 5:3,7,* BODY[]\r\n", [command("a", "FETCH", atom("5:3,7,*"), atom("BODY[]"))]),
    // A "[" that no "]" closes is an ordinary atom character (RFC 3501 ATOM-CHAR).
    EventRow("a FETCH 1 BODY[HEADER\r\n", [command("a", "FETCH", atom("1"), atom("BODY[HEADER"))]),
    EventRow("a STORE 1 +FLAGS (foo[)\r\n", [command("a", "STORE", atom("1"), atom("+FLAGS"), .list([atom("foo[")]))]),
    EventRow(#"a FETCH 1 BODY[HEADER.FIELDS ("X]")]"#+"\r\n",
             [command("a", "FETCH", atom("1"), atom(#"BODY[HEADER.FIELDS ("X]")]"#))]),
    EventRow("a UID EXPUNGE 1:5\r\n", [command("a", "UID EXPUNGE", atom("1:5"))]),
    EventRow("a STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)\r\n",
             [command("a", "STORE", atom("1"), atom("+FLAGS.SILENT"), .list([atom("\\Seen"), atom("\\Deleted")]))]),
    EventRow("a LIST \"\" *\r\n", [command("a", "LIST", q(""), atom("*"))]),
    EventRow("a LIST \"\" INBOX.%\r\n", [command("a", "LIST", q(""), atom("INBOX.%"))]),
    EventRow("a SELECT NIL\r\n", [command("a", "SELECT", .nil)]),
    EventRow("a X nil Nil NILS\r\n", [command("a", "X", .nil, .nil, atom("NILS"))]),
    EventRow("a SEARCH (OR (SEEN) (FLAGGED)) ()\r\n",
             [command("a", "SEARCH", .list([atom("OR"), .list([atom("SEEN")]), .list([atom("FLAGGED")])]), .list([]))]),
    EventRow("a AUTHENTICATE PLAIN AGJvYgBwd2Q=\r\n", [command("a", "AUTHENTICATE", atom("PLAIN"), atom("AGJvYgBwd2Q="))]),
    EventRow("a AUTHENTICATE PLAIN =\r\n", [command("a", "AUTHENTICATE", atom("PLAIN"), atom("="))]),
    EventRow("a ID (\"name\" \"Thunderbird\" \"version\" NIL)\r\n",
             [command("a", "ID", .list([q("name"), q("Thunderbird"), q("version"), .nil]))]),
    EventRow("a SELECT \"Grün\"\r\n", [command("a", "SELECT", q("Grün"))]),
    EventRow("a ENABLE ~foo\r\n", [command("a", "ENABLE", atom("~foo"))]),
]

@Test("valid input parses", arguments: validRows)
func validInput(row: EventRow) {
    #expect(parseEvents(row.input) == row.expected, sourceLocation: row.location)
}

@Test("valid input fed one byte at a time gives the same events", arguments: validRows)
func validInputByteAtATime(row: EventRow) {
    let whole = parseEvents(row.input)
    #expect(parseEvents(row.input, chunkSize: 1) == whole, sourceLocation: row.location)
    for size in [2, 3, 7] {
        #expect(parseEvents(row.input, chunkSize: size) == whole, sourceLocation: row.location)
    }
}

// MARK: Bucket 2: syntax errors (each followed by a good command, which must still parse)

let errorRows: [EventRow] = [
    EventRow("\r\n", [.error(tag: nil, response: .emptyLine)]),
    EventRow("\n", [.error(tag: nil, response: .emptyLine)]),
    EventRow("a\r\n", [.error(tag: "a", response: .missingCommand)]),
    EventRow("a \r\n", [.error(tag: "a", response: .missingCommand)]),
    EventRow("a  NOOP\r\n", [.error(tag: "a", response: .missingCommand)]),
    EventRow("+ NOOP\r\n", [.error(tag: nil, response: .invalidTag)]),
    EventRow("* NOOP\r\n", [.error(tag: nil, response: .invalidTag)]),
    EventRow("a\"b NOOP\r\n", [.error(tag: nil, response: .invalidTag)]),
    EventRow(" NOOP\r\n", [.error(tag: nil, response: .invalidTag)]),
    EventRow("a {3}\r\n", [.error(tag: "a", response: .invalidCommandName)]),
    EventRow("a UID\r\n", [.error(tag: "a", response: .missingUIDCommand)]),
    EventRow("a UID \r\n", [.error(tag: "a", response: .missingUIDCommand)]),
    EventRow("a NOOP \r\n", [.error(tag: "a", command: "NOOP", response: .unexpectedSpace)]),
    EventRow("a X  b\r\n", [.error(tag: "a", command: "X", response: .unexpectedSpace)]),
    EventRow("a X ( b)\r\n", [.error(tag: "a", command: "X", response: .unexpectedSpace)]),
    EventRow("a X (b )\r\n", [.error(tag: "a", command: "X", response: .unexpectedSpace)]),
    EventRow("a LOGIN \"bob\r\n", [.error(tag: "a", command: "LOGIN", response: .unterminatedQuotedString)]),
    EventRow("a LOGIN \"bob\\\"\r\n", [.error(tag: "a", command: "LOGIN", response: .unterminatedQuotedString)]),
    EventRow("a LOGIN \"b\\ob\"\r\n", [.error(tag: "a", command: "LOGIN", response: .invalidQuotedString)]),
    EventRow("a LOGIN \"b\0b\"\r\n", [.error(tag: "a", command: "LOGIN", response: .invalidQuotedString)]),
    EventRow("a LOGIN \"b\rb\"\r\n", [.error(tag: "a", command: "LOGIN", response: .invalidQuotedString)]),
    EventRow("a X \"a\"b\r\n", [.error(tag: "a", command: "X", response: .missingSpace)]),
    EventRow("a X (a)(b)\r\n", [.error(tag: "a", command: "X", response: .missingSpace)]),
    EventRow("a X (a b\r\n", [.error(tag: "a", command: "X", response: .missingCloseParenthesis)]),
    EventRow("a X a)\r\n", [.error(tag: "a", command: "X", response: .unexpectedCloseParenthesis)]),
    EventRow("a X a )\r\n", [.error(tag: "a", command: "X", response: .unexpectedCloseParenthesis)]),
    EventRow("a X {3}abc\r\n", [.error(tag: "a", command: "X", response: .invalidLiteral)]),
    EventRow("a X {x}\r\n", [.error(tag: "a", command: "X", response: .invalidLiteral)]),
    EventRow("a X {}\r\n", [.error(tag: "a", command: "X", response: .invalidLiteral)]),
    EventRow("a X {1234567890123456789}\r\n", [.error(tag: "a", command: "X", response: .invalidLiteral)]),
    EventRow("a X a\u{1}b\r\n", [.error(tag: "a", command: "X", response: .unexpectedCharacter(1))]),
    EventRow("a X é\r\n", [.error(tag: "a", command: "X", response: .unexpectedCharacter(0xC3))]),
    EventRow("a NOOP\r\r\n", [.error(tag: "a", response: .invalidCommandName)]),
    EventRow("a X b\r\r\n", [.error(tag: "a", command: "X", response: .unexpectedCharacter(0x0D))]),
    EventRow("a X " + String(repeating: "(", count: 101) + "\r\n", [.error(tag: "a", command: "X", response: .nestingTooDeep)]),
    // A rejected line announcing {n+}: the n bytes and the rest of the command are skipped.
    EventRow("a X \"bad {5+}\r\nhello {2+}\r\nhi more\r\n", [.error(tag: "a", command: "X", response: .unterminatedQuotedString)]),
    // A rejected line announcing {n}: no continuation, so the client sends no data.
    EventRow("a X \"bad {5}\r\n", [.error(tag: "a", command: "X", response: .unterminatedQuotedString)]),
    // Errors after a literal keep the tag.
    EventRow("a LOGIN {3}\r\nbob \"x\r\n", [.continuationNeeded, .error(tag: "a", command: "LOGIN", response: .unterminatedQuotedString)]),
]

@Test("syntax errors are reported and the parser recovers", arguments: errorRows)
func syntaxError(row: EventRow) {
    let input = row.input + "z NOOP\r\n"
    let expected = row.expected + [command("z", "NOOP")]
    #expect(parseEvents(input) == expected, sourceLocation: row.location)
    #expect(parseEvents(input, chunkSize: 1) == expected, sourceLocation: row.location)
}

// MARK: Bucket 3: incomplete input → events so far, then nil until more arrives

let incompleteRows: [EventRow] = [
    EventRow("", []),
    EventRow("a NOOP", []),
    EventRow("a NOOP\r", []),
    EventRow("a LOGIN \"bob", []),
    EventRow("a LOGIN {3}", []),
    EventRow("a LOGIN {3}\r\n", [.continuationNeeded]),
    EventRow("a LOGIN {3}\r\nbo", [.continuationNeeded]),
    EventRow("a LOGIN {3}\r\nbob", [.continuationNeeded]),
    EventRow("a LOGIN {3}\r\nbob {3}\r\npwd", [.continuationNeeded, .continuationNeeded]),
    EventRow("a LOGIN {3+}\r\nbob {3+}\r\npwd", []),
    EventRow("a NOOP\r\nb NOO", [command("a", "NOOP")]),
]

@Test("incomplete input waits for more", arguments: incompleteRows)
func incompleteInput(row: EventRow) {
    #expect(parseEvents(row.input) == row.expected, sourceLocation: row.location)
    #expect(parseEvents(row.input, chunkSize: 1) == row.expected, sourceLocation: row.location)
    var parser = IMAPCommandParser()
    parser.append(bytes(row.input))
    while parser.next() != nil {}
    #expect(parser.next() == nil, sourceLocation: row.location)
}

// MARK: Literals

@Test func synchronizingLiteralAsksOnceThenDelivers() {
    var parser = IMAPCommandParser()
    parser.append(bytes("a LOGIN {3}\r\n"))
    #expect(parser.next() == .continuationNeeded)
    #expect(parser.next() == nil)
    #expect(parser.next() == nil)
    #expect(parser.isInsideCommand)
    parser.append(bytes("bob {3}\r\n"))
    #expect(parser.next() == .continuationNeeded)
    #expect(parser.next() == nil)
    parser.append(bytes("pwd\r\n"))
    #expect(parser.next() == command("a", "LOGIN", lit("bob"), lit("pwd")))
    #expect(parser.next() == nil)
    #expect(!parser.isInsideCommand)
}

@Test func literalPlusNeedsNoContinuation() {
    let events = parseEvents("a APPEND INBOX {5+}\r\nhello\r\nb NOOP\r\n", chunkSize: 1)
    #expect(events == [command("a", "APPEND", atom("INBOX"), lit("hello")), command("b", "NOOP")])
}

@Test func synchronizingLiteralTooBigSendsNoContinuation() {
    let parser = IMAPCommandParser(maxLiteralSize: 10)
    let events = parseEvents("a APPEND INBOX {11}\r\nb NOOP\r\n", parser: parser)
    #expect(events == [.literalTooBig(tag: "a", size: 11), command("b", "NOOP")])
    #expect(parseEvents("a APPEND INBOX {10}\r\n0123456789\r\n", parser: parser)
        == [.continuationNeeded, command("a", "APPEND", atom("INBOX"), lit("0123456789"))])
}

@Test func nonSynchronizingLiteralTooBigIsSkipped() {
    let parser = IMAPCommandParser(maxLiteralSize: 10)
    let input = "a APPEND INBOX {11+}\r\nb NOOP\r\nxx {3+}\r\nc N more\r\nd NOOP\r\n"
    let expected: [IMAPParseEvent] = [.literalTooBig(tag: "a", size: 11), command("d", "NOOP")]
    #expect(parseEvents(input, parser: parser) == expected)
    #expect(parseEvents(input, parser: parser, chunkSize: 1) == expected)
}

@Test func literalsOfOneCommandCountTogether() {
    let parser = IMAPCommandParser(maxLiteralSize: 10, maxLiteralBytesPerCommand: 15)
    let input = "a X {8+}\r\n12345678 {8+}\r\n12345678\r\nb NOOP\r\n"
    #expect(parseEvents(input, parser: parser) == [.literalTooBig(tag: "a", size: 8), command("b", "NOOP")])
}

// MARK: Line length

@Test func lineAtTheLimitIsAccepted() {
    let parser = IMAPCommandParser(maxLineLength: 10)
    for chunkSize in [1, 100] {
        #expect(parseEvents("a X 123456\r\n", parser: parser, chunkSize: chunkSize) == [command("a", "X", atom("123456"))])
        #expect(parseEvents("a X 1234567\r\nb NOOP\r\n", parser: parser, chunkSize: chunkSize)
            == [.lineTooLong(tag: "a", command: "X"), command("b", "NOOP")])
    }
}

@Test func tooLongLineEndingInLiteralPlusSkipsTheLiteral() {
    let parser = IMAPCommandParser(maxLineLength: 20)
    let input = "a X 01234567890123456789 {5+}\r\nb NOO\r\nc NOOP\r\n"
    for chunkSize in [1, 4, 1000] {
        #expect(parseEvents(input, parser: parser, chunkSize: chunkSize) == [.lineTooLong(tag: "a", command: "X"), command("c", "NOOP")])
    }
}

@Test func linesOfOneCommandCountTogether() {
    let parser = IMAPCommandParser(maxLineLength: 20)
    let input = "a X {1+}\r\nx 1234567890123456\r\nb NOOP\r\n"
    #expect(parseEvents(input, parser: parser) == [.lineTooLong(tag: "a", command: "X"), command("b", "NOOP")])
    #expect(parseEvents(input, parser: parser, chunkSize: 1) == [.lineTooLong(tag: "a", command: "X"), command("b", "NOOP")])
}

@Test func hundredMegabyteLineKeepsMemoryBounded() {
    var parser = IMAPCommandParser()
    let limit = parser.maxLineLength
    var events: [IMAPParseEvent] = []
    let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
    parser.append(bytes("a APPEND INBOX "))
    var sent = 0
    while sent < 100 * 1024 * 1024 {
        parser.append(chunk)
        while let event = parser.next() { events.append(event) }
        #expect(parser.bufferedByteCount <= limit)
        sent += chunk.count
    }
    parser.append(bytes("\r\nb NOOP\r\n"))
    while let event = parser.next() { events.append(event) }
    #expect(events == [.lineTooLong(tag: "a", command: "APPEND"), command("b", "NOOP")])
    #expect(parser.bufferedByteCount <= limit)
}

// MARK: Raw lines (AUTHENTICATE, IDLE)

@Test func authenticateContinuationIsReadAsRawLine() {
    var parser = IMAPCommandParser()
    parser.append(bytes("a AUTHENTICATE PLAIN\r\n"))
    #expect(parser.next() == command("a", "AUTHENTICATE", atom("PLAIN")))
    #expect(parser.nextRawLine() == nil)
    parser.append(bytes("AGJvYgBw"))
    #expect(parser.nextRawLine() == nil)
    parser.append(bytes("d2Q=\r\nb NOOP\r\n"))
    #expect(parser.nextRawLine() == .line(bytes("AGJvYgBwd2Q=")))
    #expect(parser.next() == command("b", "NOOP"))
}

@Test func idleDoneAndCancelAreRawLines() {
    var parser = IMAPCommandParser()
    parser.append(bytes("a IDLE\nDONE\n*\r\n\r\n"))
    #expect(parser.next() == command("a", "IDLE"))
    #expect(parser.nextRawLine() == .line(bytes("DONE")))
    #expect(parser.nextRawLine() == .line(bytes("*")))
    #expect(parser.nextRawLine() == .line([]))
    #expect(parser.nextRawLine() == nil)
}

@Test func rawLineTooLongIsSkipped() {
    var parser = IMAPCommandParser(maxLineLength: 10)
    parser.append(bytes("12345678901234\r\nb NOOP\r\n"))
    #expect(parser.nextRawLine() == .tooLong)
    #expect(parser.next() == command("b", "NOOP"))

    parser.append(bytes("123456789012"))
    #expect(parser.nextRawLine() == .tooLong)
    #expect(parser.bufferedByteCount == 0)
    parser.append(bytes("34 {3+}\r\nc NOOP\r\n"))
    #expect(parser.nextRawLine() == .line(bytes("c NOOP")))
}

// MARK: Accessors

@Test func commandAccessors() {
    let parsed = parseEvents("a LOGIN bob \"pässword\" {3}\r\nnil NIL (x)\r\n")
    guard case .command(let login)? = parsed.last else {
        Issue.record("no command: \(parsed)")
        return
    }
    #expect(login.astring(at: 0) == bytes("bob"))
    #expect(login.string(at: 1) == "pässword")
    #expect(login.astring(at: 2) == bytes("nil"))
    #expect(login.astring(at: 3) == bytes("NIL"))
    #expect(login.argument(at: 3)?.isNil == true)
    #expect(login.list(at: 4) == [atom("x")])
    #expect(login.astring(at: 4) == nil)
    #expect(login.astring(at: 5) == nil)
    #expect(login.atom(at: 0) == "bob")
    #expect(login.atom(at: 1) == nil)
    #expect(IMAPValue.literal([0xFF]).stringValue == nil)
    #expect(IMAPValue.atom("x").stringBytes == nil)
}

// MARK: Whole sessions

@Test("every row in one stream, in any split, gives the same events", arguments: [1, 2, 3, 5, 8, 13, 64, 4096])
func allRowsInOneStream(chunkSize: Int) {
    var input = ""
    var expected: [IMAPParseEvent] = []
    for row in validRows {
        input += row.input
        expected += row.expected
    }
    for row in errorRows {
        input += row.input + "z NOOP\r\n"
        expected += row.expected + [command("z", "NOOP")]
    }
    #expect(parseEvents(input) == expected)
    #expect(parseEvents(input, chunkSize: chunkSize) == expected)
}
