import Testing
import IMAPProtocol

typealias SequenceRow = Row<String, [SequenceSet.Range]>

let validSequenceSets: [SequenceRow] = [
    SequenceRow("1", [.init(.number(1))]),
    SequenceRow("*", [.init(.last)]),
    SequenceRow("1:*", [.init(.number(1), .last)]),
    SequenceRow("*:1", [.init(.last, .number(1))]),
    SequenceRow("5:3,7,*", [.init(.number(5), .number(3)), .init(.number(7)), .init(.last)]),
    SequenceRow("4294967295", [.init(.number(4_294_967_295))]),
    SequenceRow("2,4:7,9,12:*", [.init(.number(2)), .init(.number(4), .number(7)), .init(.number(9)),
                                 .init(.number(12), .last)]),
]

@Test("valid sequence sets", arguments: validSequenceSets)
func validSequenceSet(row: SequenceRow) {
    let parsed = SequenceSet.parse(row.input)
    #expect(parsed?.ranges == row.expected, sourceLocation: row.location)
    #expect(parsed?.text == row.input, sourceLocation: row.location)
}

@Test("invalid sequence sets", arguments: ["", "0", "1:", ":1", "a", "1,,2", "1,", ",1", "1:2:3", "0:5",
                                           "4294967296", "01", "1 2", "-1", "**", "1:0", "$"])
func invalidSequenceSet(text: String) {
    #expect(SequenceSet.parse(text) == nil)
}

@Test func sequenceSetResolution() throws {
    let set = try #require(SequenceSet.parse("5:3,7,*,9:8"))
    #expect(set.resolved(last: 20) == [3...5, 7...9, 20...20])
    #expect(set.contains(4, last: 20))
    #expect(!set.contains(6, last: 20))
    #expect(set.contains(20, last: 20))
    let star = try #require(SequenceSet.parse("*:4"))
    #expect(star.resolved(last: 2) == [2...4])
    let all = try #require(SequenceSet.parse("1:*,4294967295"))
    #expect(all.resolved(last: UInt32.max) == [1...UInt32.max])
}

/// RFC 4731 ESEARCH ALL: numbers are written as the smallest sequence set.
@Test("compacted sequence sets", arguments: [
    Row<[UInt32], String?>([], nil),
    Row<[UInt32], String?>([7], "7"),
    Row<[UInt32], String?>([1, 2, 3, 5], "1:3,5"),
    Row<[UInt32], String?>([5, 3, 1, 2, 3], "1:3,5"),
    Row<[UInt32], String?>([1, 3, 5], "1,3,5"),
    Row<[UInt32], String?>([9, 10, 4_294_967_295, 4_294_967_294], "9:10,4294967294:4294967295"),
])
func compactedSequenceSet(row: Row<[UInt32], String?>) {
    #expect(SequenceSet(compacting: row.input)?.text == row.expected, sourceLocation: row.location)
}

/// ESORT's ALL (RFC 5267 §3.2): the order is kept, ascending runs become ranges.
@Test(arguments: [
    Row<[UInt32], String?>([11, 12, 7, 1, 2, 3, 9], "11:12,7,1:3,9"),
    Row<[UInt32], String?>([3, 2, 1], "3,2,1"),
    Row<[UInt32], String?>([], nil),
])
func sequenceSetCompactedInOrder(row: Row<[UInt32], String?>) {
    #expect(SequenceSet(compactingInOrder: row.input)?.text == row.expected, sourceLocation: row.location)
}
