import IMAPProtocol
import MailMessage
import Testing
@testable import IMAPServer

/// The per-process table of SORT/THREAD header keys is bounded by what it holds, not by a count
/// of entries: a sender can make References long.
@Suite struct SortHeaderKeysTests {
    @Test func theTableStartsOverPastItsByteLimit() {
        let ids = (0..<100).map { "<\(String(repeating: "x", count: 900))\($0)@example.org>" }.joined(separator: " ")
        let header = MailMessage(bytes: Array("Subject: big\r\nReferences: \(ids)\r\n\r\n".utf8)).header
        let keys = SortHeaderKeys.Keys(header)
        #expect(keys.references.count == 100)
        #expect(keys.cost > 90_000)
        let table = SortHeaderKeys()
        var most = 0
        for i in 0..<400 {
            _ = table.keys(folder: "/f", basename: "m\(i)") { keys }
            #expect(table.usage.bytes <= SortHeaderKeys.byteLimit)
            most = max(most, table.usage.entries)
        }
        // 400 entries of ~90 KB would be ~36 MB: the table started over on the way.
        #expect(most < 400)
        #expect(table.usage.entries < 400)
        // A key already there is not counted twice.
        let before = table.usage
        _ = table.keys(folder: "/f", basename: "m399") { keys }
        #expect(table.usage.bytes == before.bytes)
    }

    /// A client sending the same key thousands of times (the line allows ~8,000) gets the
    /// answer of the key once; each message computes each key at most once.
    @Test func repeatedSortKeysCountOnce() throws {
        let items = (0..<8000).map { IMAPValue.atom($0 % 3 == 0 ? "REVERSE" : "DATE") } + [.atom("SUBJECT"), .atom("DATE")]
        let program = try SortCriterion.parse(.list(items))
        #expect(program == [SortCriterion(key: .date, reverse: true), SortCriterion(key: .subject, reverse: false)])
    }
}
