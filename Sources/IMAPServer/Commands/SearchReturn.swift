// ESEARCH (RFC 4731): `SEARCH RETURN (MIN MAX ALL COUNT) keys…` answers with one
// `* ESEARCH (TAG "t") [UID] MIN n MAX n ALL set COUNT n` line instead of `* SEARCH`; ESORT
// (RFC 5267) the same for `SORT RETURN (…)`, in sort order.
// Dovecot's choices where RFC 4731 leaves them: items in the order MIN MAX ALL COUNT; an
// empty result drops MIN, MAX and ALL but keeps COUNT 0; ALL is a compacted sequence set.
// SAVE (RFC 5182 SEARCHRES) keeps the result as `$` (SelectedMailbox.savedResult), by UID
// whichever command saved it; SAVE alone answers nothing but the tagged OK (§2.4). As
// Dovecot: with only MIN and/or MAX beside SAVE just those messages are saved (§2.4 allows
// it); a BAD leaves `$` as it was, a NO (BADCHARSET) empties it (§2.1).
import IMAPProtocol

struct SearchReturnOptions: Equatable {
    var min = false, max = false, all = false, count = false, save = false

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
            case "SAVE": o.save = true
            default: throw CommandError.bad("Unknown SEARCH return option.")
            }
        }
        // RFC 4731 §3.1: RETURN () means RETURN (ALL).
        if list.isEmpty { o.all = true }
        return (o, 2)
    }

    /// What SAVE keeps of `hits` (in answer order): MIN and MAX alone keep only those.
    func saved<T>(_ hits: [T]) -> [T] {
        guard !all && !count && (min || max) else { return hits }
        var kept: [T] = []
        if min, let first = hits.first { kept.append(first) }
        if max, let last = hits.last { kept.append(last) }
        return kept
    }

    /// The response line without "* " and CRLF, nil for SAVE alone (RFC 5182 §2.4); `hits`
    /// ascending, or in sort order for ESORT (RFC 5267 §3.2: MIN and MAX are then the first
    /// and last in that order, and ALL keeps it).
    func response(tag: String, uid: Bool, hits: [UInt32]) -> String? {
        guard min || max || all || count else { return nil }
        var parts = ["ESEARCH (TAG \"\(tag)\")"]
        if uid { parts.append("UID") }
        if min, let first = hits.first { parts.append("MIN \(first)") }
        if max, let last = hits.last { parts.append("MAX \(last)") }
        if all, let set = SequenceSet(compactingInOrder: hits) { parts.append("ALL \(set.text)") }
        if count { parts.append("COUNT \(hits.count)") }
        return parts.joined(separator: " ")
    }
}

extension IMAPMailSession {
    /// The search keys after `RETURN (…)`, `$` meaning the saved result; with SAVE a refusal
    /// (NO) empties `$` (RFC 5182 §2.1), a BAD leaves it, as Dovecot does.
    func searchKey(_ values: [IMAPValue], options: SearchReturnOptions?, in s: SelectedMailbox) throws -> SearchKey {
        do {
            return try SearchParser.parse(values, saved: s.savedResult)
        } catch let error as CommandError {
            if case .no = error, options?.save == true { s.savedResult = nil }
            throw error
        }
    }

    /// Saves the result when asked and sends the ESEARCH line, if any. `hits` are what the
    /// client sees (sequence numbers or UIDs) and `uids` the same messages' UIDs, in one order.
    func answer(_ options: SearchReturnOptions, tag: String, byUID: Bool, hits: [UInt32], uids: [UInt32],
                in s: SelectedMailbox) {
        if options.save { s.savedResult = SequenceSet(compacting: options.saved(uids)) }
        if let line = options.response(tag: tag, uid: byUID, hits: hits) { untagged(line) }
    }
}
