// ESEARCH (RFC 4731): `SEARCH RETURN (MIN MAX ALL COUNT) keys…` answers with one
// `* ESEARCH (TAG "t") [UID] MIN n MAX n ALL set COUNT n` line instead of `* SEARCH`; ESORT
// (RFC 5267) the same for `SORT RETURN (…)`, in sort order.
// Dovecot's choices where RFC 4731 leaves them: items in the order MIN MAX ALL COUNT; an
// empty result drops MIN, MAX and ALL but keeps COUNT 0; ALL is a compacted sequence set.
// SAVE (RFC 5182 SEARCHRES) is not supported and is refused like any unknown option.
import IMAPProtocol

struct SearchReturnOptions: Equatable {
    var min = false, max = false, all = false, count = false

    /// `RETURN (…)` at the start of the SEARCH arguments: the options and where the keys
    /// begin; nil when the command has no RETURN (a plain RFC 3501 SEARCH).
    static func parse(_ arguments: [IMAPValue]) throws -> (SearchReturnOptions, keysFrom: Int)? {
        guard arguments.first?.atomValue?.uppercased() == "RETURN", arguments.count > 1,
              let list = arguments[1].listValue else { return nil }
        var o = SearchReturnOptions()
        for item in list {
            switch item.atomValue?.uppercased() {
            case "MIN": o.min = true
            case "MAX": o.max = true
            case "ALL": o.all = true
            case "COUNT": o.count = true
            default: throw CommandError.bad("Unknown SEARCH return option.")
            }
        }
        // RFC 4731 §3.1: RETURN () means RETURN (ALL).
        if list.isEmpty { o.all = true }
        return (o, 2)
    }

    /// The response line without "* " and CRLF; `hits` ascending, or in sort order for ESORT
    /// (RFC 5267 §3.2: MIN and MAX are then the first and last in that order, and ALL keeps it).
    func response(tag: String, uid: Bool, hits: [UInt32]) -> String {
        var parts = ["ESEARCH (TAG \"\(tag)\")"]
        if uid { parts.append("UID") }
        if min, let first = hits.first { parts.append("MIN \(first)") }
        if max, let last = hits.last { parts.append("MAX \(last)") }
        if all, let set = SequenceSet(compactingInOrder: hits) { parts.append("ALL \(set.text)") }
        if count { parts.append("COUNT \(hits.count)") }
        return parts.joined(separator: " ")
    }
}
