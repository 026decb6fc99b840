import Testing
@testable import IMAPProtocol

/// Large APPEND literals come out of the parser as data chunks, never collected in memory.
@Suite struct IMAPLiteralStreamingTests {
    static func streamingParser(threshold: Int = 10) -> IMAPCommandParser {
        var p = IMAPCommandParser()
        p.streamingLiteralThreshold = threshold
        return p
    }

    /// The events with consecutive `.literalData` chunks joined (their split depends on reads).
    static func joined(_ events: [IMAPParseEvent]) -> [IMAPParseEvent] {
        var out: [IMAPParseEvent] = []
        for e in events {
            if case .literalData(let more) = e, case .literalData(let have)? = out.last {
                out[out.count - 1] = .literalData(have + more)
            } else {
                out.append(e)
            }
        }
        return out
    }

    @Test(arguments: [nil, 1, 2, 5, 16])
    func appendLiteralIsStreamedWhateverTheSplit(chunk: Int?) {
        let input = "a APPEND INBOX (\\Seen) {12}\r\nhello world!\r\nb NOOP\r\n"
        let events = parseEvents(input, parser: Self.streamingParser(), chunkSize: chunk)
        #expect(Self.joined(events) == [
            .literalStreamStarted(tag: "a", command: "APPEND", arguments: [atom("INBOX"), .list([atom("\\Seen")])],
                                  size: 12, synchronizing: true),
            .literalData(bytes("hello world!")),
            command("a", "APPEND", atom("INBOX"), .list([atom("\\Seen")]), .literal([])),
            command("b", "NOOP"),
        ])
        // No chunk is larger than what one append brought.
        if let chunk {
            for case .literalData(let d) in events { #expect(d.count <= chunk) }
        }
    }

    @Test func smallLiteralsAndOtherCommandsAreCollectedAsBefore() {
        let events = parseEvents("a APPEND INBOX {5+}\r\nhello\r\nb LOGIN {12+}\r\nhello world! x\r\n",
                                 parser: Self.streamingParser())
        #expect(events == [command("a", "APPEND", atom("INBOX"), lit("hello")),
                           command("b", "LOGIN", lit("hello world!"), atom("x"))])
    }

    @Test func refusedSynchronizingLiteralDropsTheCommand() {
        var p = Self.streamingParser()
        p.append(bytes("a APPEND Nope {20}\r\n"))
        #expect(p.next() == .literalStreamStarted(tag: "a", command: "APPEND", arguments: [atom("Nope")], size: 20,
                                                  synchronizing: true))
        p.refuseStreamedLiteral()
        #expect(p.next() == nil)
        p.append(bytes("b NOOP\r\n"))
        #expect(p.next() == command("b", "NOOP"))
    }

    @Test(arguments: [nil, 3])
    func refusedNonSynchronizingLiteralIsSkipped(chunk: Int?) {
        var p = Self.streamingParser()
        var events: [IMAPParseEvent] = []
        let input = bytes("a APPEND Nope {20+}\r\n01234567890123456789 trailing\r\nb NOOP\r\n")
        var start = 0
        let size = chunk ?? input.count
        while start < input.count {
            p.append(input[start..<min(start + size, input.count)])
            while let e = p.next() {
                if case .literalStreamStarted = e { p.refuseStreamedLiteral() }
                events.append(e)
            }
            start += size
        }
        #expect(events == [
            .literalStreamStarted(tag: "a", command: "APPEND", arguments: [atom("Nope")], size: 20, synchronizing: false),
            command("b", "NOOP"),
        ])
    }
}
