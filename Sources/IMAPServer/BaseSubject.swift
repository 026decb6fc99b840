// The base subject of RFC 5256 §2.1, which SORT SUBJECT (and THREAD) compare: reply and
// forward markers, list tags and "(fwd)" trailers removed. Works on the decoded subject in
// sort form (`sortForm`), so "Re:" and "RE:" are one marker.
import Foundation

enum BaseSubject {
    /// How SORT compares text (Dovecot's i;unicode-casemap): uppercased and canonically
    /// decomposed, so "É" sorts with "E" rather than after "Z".
    static func sortForm(_ text: String) -> String {
        text.uppercased().decomposedStringWithCanonicalMapping
    }

    static func of(_ decoded: String) -> String { parse(decoded).base }

    /// The base subject, and whether a reply or forward marker ("re:", "fwd:", "(fwd)",
    /// "[fwd: …]") was removed on the way: THREAD=REFERENCES (RFC 5256 §4 step 5) tells a
    /// reply from its original by it.
    static func parse(_ decoded: String) -> (base: String, isReplyOrForward: Bool) {
        var s = normalizedSpaces(Array(sortForm(decoded).utf8))
        var marked = false
        while true {
            if dropTrailers(&s) { marked = true }                    // step 2
            var changed = true
            while changed {                                           // steps 3–5
                let (dropped, wasMarker) = dropLeader(&s)
                changed = dropped
                if wasMarker { marked = true }
                if let end = blobEnd(s, from: 0), s[end...].contains(where: { $0 != space }) {
                    s.removeFirst(end)                                // step 4
                    changed = true
                }
            }
            // Step 6: "[fwd: … ]" around the whole subject.
            guard s.starts(with: Array("[FWD:".utf8)), s.last == UInt8(ascii: "]") else { break }
            s = Array(s[5..<(s.count - 1)])
            marked = true
        }
        return (String(decoding: s, as: UTF8.self), marked)
    }

    private static let space = UInt8(ascii: " ")

    /// Step 1: tabs and line breaks become spaces, runs of spaces one.
    private static func normalizedSpaces(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            let c = b == 9 || b == 10 || b == 13 ? space : b
            if c == space && out.last == space { continue }
            out.append(c)
        }
        return out
    }

    /// Step 2: subj-trailer = "(fwd)" / WSP, repeatedly. True when a "(fwd)" went.
    private static func dropTrailers(_ s: inout [UInt8]) -> Bool {
        let fwd = Array("(FWD)".utf8)
        var marked = false
        while true {
            if s.last == space { s.removeLast() } else if s.count >= fwd.count && Array(s.suffix(fwd.count)) == fwd {
                s.removeLast(fwd.count)
                marked = true
            } else { return marked }
        }
    }

    /// Step 3: subj-leader = (*subj-blob subj-refwd) / WSP. Whether something went, and
    /// whether it was a reply or forward marker.
    private static func dropLeader(_ s: inout [UInt8]) -> (Bool, Bool) {
        if s.first == space { s.removeFirst(); return (true, false) }
        var i = 0
        while let end = blobEnd(s, from: i) { i = end }
        guard let end = refwdEnd(s, from: i) else { return (false, false) }
        s.removeFirst(end)
        return (true, true)
    }

    /// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" — where it ends, if it starts at `i`.
    private static func refwdEnd(_ s: [UInt8], from i: Int) -> Int? {
        func has(_ text: String, at j: Int) -> Bool { s.count >= j + text.utf8.count && Array(s[j..<(j + text.utf8.count)]) == Array(text.utf8) }
        var j: Int
        if has("RE", at: i) { j = i + 2 } else if has("FWD", at: i) { j = i + 3 } else if has("FW", at: i) { j = i + 2 } else { return nil }
        while j < s.count && s[j] == space { j += 1 }
        if let end = blobEnd(s, from: j) { j = end }
        guard j < s.count, s[j] == UInt8(ascii: ":") else { return nil }
        return j + 1
    }

    /// subj-blob = "[" *BLOBCHAR "]" *WSP — where it ends, if it starts at `i`.
    private static func blobEnd(_ s: [UInt8], from i: Int) -> Int? {
        guard i < s.count, s[i] == UInt8(ascii: "[") else { return nil }
        var j = i + 1
        while j < s.count && s[j] != UInt8(ascii: "]") {
            if s[j] == UInt8(ascii: "[") { return nil }
            j += 1
        }
        guard j < s.count else { return nil }
        j += 1
        while j < s.count && s[j] == space { j += 1 }
        return j
    }
}
