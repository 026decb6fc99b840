import Testing
@testable import Reactor

@Suite struct LineFramerTests {
    private func drain(_ f: inout LineFramer) -> [LineFramer.Event] {
        var out: [LineFramer.Event] = []
        while let e = f.next() { out.append(e) }
        return out
    }

    @Test func crlfAndBareLF() {
        var f = LineFramer(maxLineLength: 100)
        f.append(Array("a1 NOOP\r\nb2 NOOP\nc3".utf8))
        #expect(drain(&f) == [.line(Array("a1 NOOP".utf8)), .line(Array("b2 NOOP".utf8))])
        f.append(Array(" X\r\n".utf8))
        #expect(drain(&f) == [.line(Array("c3 X".utf8))])
    }

    @Test func everySplitGivesTheSameLines() {
        let input = Array("one\r\ntwo\r\n\r\nthree\n".utf8)
        for split in 0...input.count {
            var f = LineFramer(maxLineLength: 100)
            f.append(input[..<split])
            var events = drain(&f)
            f.append(input[split...])
            events += drain(&f)
            #expect(events == ["one", "two", "", "three"].map { .line(Array($0.utf8)) }, "split at \(split)")
        }
    }

    @Test func overlongLineIsReportedOnceAndDiscardedWithBoundedMemory() {
        var f = LineFramer(maxLineLength: 1000)
        let chunk = [UInt8](repeating: 0x41, count: 64 * 1024)
        var events: [LineFramer.Event] = []
        for _ in 0..<(100 * 16) {  // 100 MB
            f.append(chunk)
            events += drain(&f)
            #expect(f.bufferedByteCount <= 64 * 1024 + 1000)
        }
        f.append(Array("\r\nnext\r\n".utf8))
        events += drain(&f)
        #expect(events == [.lineTooLong, .line(Array("next".utf8))])
    }

    @Test func countedReadsDeliverExactBytes() {
        var f = LineFramer(maxLineLength: 100)
        f.append(Array("DATA\r\n12345".utf8))
        #expect(f.next() == .line(Array("DATA".utf8)))
        f.expect(bytes: 7)
        #expect(f.next() == .bytes(Array("12345".utf8), final: false))
        #expect(f.next() == nil)
        f.append(Array("67\r\nQUIT\r\n".utf8))
        #expect(f.next() == .bytes(Array("67".utf8), final: true))
        #expect(f.next() == .line([]))
        #expect(f.next() == .line(Array("QUIT".utf8)))
    }
}
