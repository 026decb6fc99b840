// The message ids in a Message-ID, References or In-Reply-To value, as THREAD (RFC 5256 §4)
// reads them — the way Dovecot 2.3's message_id_get_next() does, since which ids two messages
// share decides the threads: "<…@…>" with the whitespace inside removed; "<…>" without "@"
// skipped; where a quote or comment comes before ">", the RFC 5322 msg-id grammar
// (quoted or dot-atom local part, dot-atom domain) or nothing. Text between ids is ignored.
import Foundation

struct MessageIDs: IteratorProtocol, Sequence {
    private let s: [UInt8]
    private var i = 0
    /// Dovecot's slow path appends to one buffer that a failed attempt does not clear.
    private var slow: [UInt8] = []

    init(_ value: [UInt8]) { s = value }

    static func first(in value: [UInt8]) -> String? {
        var ids = MessageIDs(value)
        return ids.next()
    }

    mutating func next() -> String? {
        while true {
            while i < s.count && s[i] != UInt8(ascii: "<") { i += 1 }
            guard i < s.count else { return nil }
            i += 1
            let start = i
            var j = i, sawAt = false
            while j < s.count {
                let c = s[j]
                if c == UInt8(ascii: "@") { sawAt = true }
                if c == UInt8(ascii: ">") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "(") { break }
                j += 1
            }
            guard j < s.count else { i = j; return nil }
            if s[j] == UInt8(ascii: ">") {
                i = j + 1
                if sawAt { return String(decoding: s[start..<j].filter { !Self.isLWSP($0) }, as: UTF8.self) }
            } else if let end = parseMsgID(from: start) {
                i = end
                return String(decoding: slow, as: UTF8.self)
            }
            // Not an id: look for the next "<" after this one.
        }
    }

    private static func isLWSP(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }

    private static let specials = Set("()<>[]:;@\\,.\"".utf8)
    private static func isAtext(_ c: UInt8) -> Bool { c > 32 && c != 127 && !specials.contains(c) }

    /// msg-id = [CFWS] (dot-atom / quoted-string) "@" [CFWS] dot-atom ">"; where it ends.
    private mutating func parseMsgID(from start: Int) -> Int? {
        var p = start
        guard skipCFWS(&p) else { return nil }
        if s[p] == UInt8(ascii: "\"") {
            guard quoted(&p) else { return nil }
        } else {
            guard dotAtom(&p) else { return nil }
        }
        guard p < s.count, s[p] == UInt8(ascii: "@") else { return nil }
        slow.append(UInt8(ascii: "@"))
        p += 1
        guard skipCFWS(&p), dotAtom(&p), p < s.count, s[p] == UInt8(ascii: ">") else { return nil }
        return p + 1
    }

    /// Whitespace and (nested) comments; false at the end of the value or in an open comment.
    private func skipCFWS(_ p: inout Int) -> Bool {
        while p < s.count {
            if Self.isLWSP(s[p]) { p += 1; continue }
            guard s[p] == UInt8(ascii: "(") else { break }
            var depth = 0
            while p < s.count {
                let c = s[p]
                p += 1
                if c == UInt8(ascii: "\\") { p += 1 } else if c == UInt8(ascii: "(") { depth += 1 } else if c == UInt8(ascii: ")") {
                    depth -= 1
                    if depth == 0 { break }
                }
            }
            if depth > 0 { return false }
        }
        return p < s.count
    }

    /// dot-atom with whitespace allowed around the dots (RFC 822); true when more text follows.
    private mutating func dotAtom(_ p: inout Int) -> Bool {
        guard p < s.count, Self.isAtext(s[p]) else { return false }
        while true {
            let start = p
            while p < s.count && Self.isAtext(s[p]) { p += 1 }
            guard p > start else { return false }
            slow += s[start..<p]
            guard skipCFWS(&p) else { return false }
            guard s[p] == UInt8(ascii: ".") else { return true }
            p += 1
            slow.append(UInt8(ascii: "."))
            guard skipCFWS(&p) else { return false }
        }
    }

    private mutating func quoted(_ p: inout Int) -> Bool {
        p += 1
        while p < s.count {
            let c = s[p]
            p += 1
            if c == UInt8(ascii: "\"") { return p < s.count }
            if c == UInt8(ascii: "\\"), p < s.count { slow.append(s[p]); p += 1; continue }
            if c != 13 && c != 10 { slow.append(c) }
        }
        return false
    }
}
