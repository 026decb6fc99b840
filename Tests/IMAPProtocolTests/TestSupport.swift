import Testing
@testable import IMAPProtocol

/// Feeds `input` in chunks of `chunkSize` (all at once when nil), draining `next()` after each.
func parseEvents(_ input: [UInt8], parser: IMAPCommandParser = IMAPCommandParser(),
                 chunkSize: Int? = nil) -> [IMAPParseEvent] {
    var parser = parser
    var events: [IMAPParseEvent] = []
    let size = max(chunkSize ?? input.count, 1)
    var start = 0
    while start < input.count {
        parser.append(input[start..<min(start + size, input.count)])
        while let event = parser.next() { events.append(event) }
        start += size
    }
    return events
}

func parseEvents(_ input: String, parser: IMAPCommandParser = IMAPCommandParser(),
                 chunkSize: Int? = nil) -> [IMAPParseEvent] {
    parseEvents(Array(input.utf8), parser: parser, chunkSize: chunkSize)
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
func q(_ text: String) -> IMAPValue { .quoted(bytes(text)) }
func lit(_ text: String) -> IMAPValue { .literal(bytes(text)) }
func atom(_ text: String) -> IMAPValue { .atom(text) }

func command(_ tag: String, _ name: String, _ arguments: IMAPValue...) -> IMAPParseEvent {
    .command(IMAPCommand(tag: tag, name: name, arguments: arguments))
}

/// A table row remembers where it was written so a failing row points at itself.
struct Row<Input: Sendable, Expected: Sendable>: Sendable, CustomTestStringConvertible {
    let input: Input
    let expected: Expected
    let location: SourceLocation

    init(_ input: Input, _ expected: Expected,
         fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column) {
        self.input = input
        self.expected = expected
        self.location = SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column)
    }

    var testDescription: String { "line \(location.line): \(String(describing: input).debugDescription)" }
}
