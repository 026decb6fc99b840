// SequenceSet: the `sequence-set` of RFC 3501 §9, e.g. `1:*`, `5:3,7,*`.
//
// Commands keep sequence sets as atoms; handlers call `SequenceSet.parse` where the
// grammar wants one. Ranges keep the order the client wrote them in (`5:3` is 3 through 5,
// RFC 3501 §9: "the range 2:4 and 4:2 are equivalent"); `*` is resolved against the
// mailbox's largest number only at use. `$` (RFC 5182 SEARCHRES) is no set: the session
// resolves it (SelectedMailbox.resolve).

public struct SequenceSet: Sendable, Hashable {
    /// One end of a range: a number (nz-number, 1...UInt32.max) or `*`.
    public enum Bound: Sendable, Hashable {
        case number(UInt32)
        /// The largest number in use in the mailbox.
        case last

        public func resolved(last largest: UInt32) -> UInt32 {
            switch self {
            case .number(let value): return value
            case .last: return largest
            }
        }
    }

    /// `first:second` as written; a single number has first == second.
    public struct Range: Sendable, Hashable {
        public var first: Bound
        public var second: Bound

        public init(_ first: Bound, _ second: Bound) {
            self.first = first
            self.second = second
        }

        public init(_ single: Bound) { self.init(single, single) }

        /// Low...high once `*` means `largest`.
        public func resolved(last largest: UInt32) -> ClosedRange<UInt32> {
            let a = first.resolved(last: largest)
            let b = second.resolved(last: largest)
            return min(a, b)...max(a, b)
        }
    }

    public var ranges: [Range]

    public init(_ ranges: [Range]) { self.ranges = ranges }

    /// Parses `seq-number / seq-range` items separated by commas. Nil for "", "0", "1:", "a",
    /// "1,,2", numbers beyond UInt32.
    public static func parse(_ text: String) -> SequenceSet? { parse(text.utf8) }

    public static func parse(_ bytes: some Collection<UInt8>) -> SequenceSet? {
        var ranges: [Range] = []
        for item in bytes.split(separator: ASCII.comma, omittingEmptySubsequences: false) {
            let ends = item.split(separator: ASCII.colon, omittingEmptySubsequences: false)
            guard ends.count <= 2, let first = parseBound(ends[0]) else { return nil }
            guard ends.count == 2 else {
                ranges.append(Range(first))
                continue
            }
            guard let second = parseBound(ends[1]) else { return nil }
            ranges.append(Range(first, second))
        }
        return ranges.isEmpty ? nil : SequenceSet(ranges)
    }

    private static func parseBound(_ bytes: some Collection<UInt8>) -> Bound? {
        if bytes.count == 1 && bytes.first == ASCII.asterisk { return .last }
        guard let first = bytes.first, first != ASCII.zero else { return nil }
        var value: UInt32 = 0
        for byte in bytes {
            guard byte.isASCIIDigit else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt32(byte - ASCII.zero))
            guard !o1 && !o2 else { return nil }
            value = sum
        }
        return .number(value)
    }

    /// Whether `number` is in the set, `*` meaning `largest`.
    public func contains(_ number: UInt32, last largest: UInt32) -> Bool {
        ranges.contains { $0.resolved(last: largest).contains(number) }
    }

    /// The ranges with `*` resolved, sorted and merged.
    public func resolved(last largest: UInt32) -> [ClosedRange<UInt32>] {
        let sorted = ranges.map { $0.resolved(last: largest) }.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for range in sorted {
            if let previous = merged.last, previous.upperBound == UInt32.max || range.lowerBound <= previous.upperBound + 1 {
                merged[merged.count - 1] = previous.lowerBound...max(previous.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// The smallest set holding exactly `numbers`: sorted, duplicates dropped, runs joined
    /// (`[5, 1, 2, 3]` → `1:3,5`), as RFC 4731 ESEARCH answers are written. Nil when empty.
    public init?(compacting numbers: some Sequence<UInt32>) {
        self.init(compactingInOrder: Set(numbers).sorted())
    }

    /// `numbers` in the order given, each ascending run of consecutive numbers as one range
    /// (ESORT's ALL, RFC 5267 §3.2: "2:4,1,9:10" keeps the sort order).
    public init?(compactingInOrder numbers: some Sequence<UInt32>) {
        var ranges: [Range] = []
        var runStart: UInt32?, runEnd: UInt32 = 0
        for n in numbers {
            if let start = runStart, n == runEnd + 1 {
                runEnd = n
                runStart = start
                continue
            }
            if let start = runStart { ranges.append(Range(.number(start), .number(runEnd))) }
            runStart = n
            runEnd = n
        }
        guard let start = runStart else { return nil }
        ranges.append(Range(.number(start), .number(runEnd)))
        self.init(ranges)
    }

    /// The set in IMAP syntax, as written.
    public var text: String {
        ranges.map { range in
            range.first == range.second ? Self.text(range.first)
                : Self.text(range.first) + ":" + Self.text(range.second)
        }.joined(separator: ",")
    }

    private static func text(_ bound: Bound) -> String {
        switch bound {
        case .number(let value): return String(value)
        case .last: return "*"
        }
    }
}
