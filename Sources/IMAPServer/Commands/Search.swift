// SEARCH / UID SEARCH (RFC 3501 §6.4.4). Keys are parsed into a tree, then evaluated per
// message; header and body keys parse the message only when reached. Text keys match
// case-insensitively on decoded text (RFC 2047 words, transfer encodings, charsets).
//
// CHARSET (RFC 3501 §6.4.4): every charset MailMessage's `Charset` decodes; the strings of
// text keys (FROM TO CC BCC SUBJECT BODY TEXT, HEADER name and value) are converted from it
// to Unicode, raw bytes of atoms, quoted strings and literals alike; without CHARSET they are
// UTF-8. The answers are Dovecot 2.3's: an unknown charset gets `NO [BADCHARSET] Unknown
// charset` (no list, which §7.1 makes optional) once the keys parsed or at the first text
// key, so a bad key before that still gets BAD; bytes that are not text in the charset get
// `BAD Error in IMAP command SEARCH: Invalid search key.` The other BAD texts are Dovecot's
// too (lib-storage mail-search-register-imap.c): "Unknown argument KEY", "Missing parameter for
// search key (for search key: KEY)", "Invalid search date parameter", …
// `$` (RFC 5182 SEARCHRES) stands for the saved result, as `UID $` does (SearchReturn.swift).
import Foundation
import IMAPProtocol
import Maildir
import MailMessage

indirect enum SearchKey {
    case all
    case sequence(SequenceSet)
    case uid(SequenceSet)
    case flag(MessageFlags, set: Bool)
    case recent(Bool)
    case new
    case keyword(String, set: Bool)
    case larger(Int64), smaller(Int64)
    case before(Int), on(Int), since(Int)
    case sentBefore(Int), sentOn(Int), sentSince(Int)
    case header(String, String)
    case body(String), text(String)
    case not(SearchKey)
    case or(SearchKey, SearchKey)
    case and([SearchKey])
}

struct SearchParser {
    var values: [IMAPValue]
    var index = 0
    /// NOT, OR and parentheses nest; both parsing and matching recurse once per level, so the
    /// depth is bounded (a line of 16,000 NOTs must get BAD, not exhaust a thread's stack).
    var depth = 0
    static let maxDepth = 100
    /// The CHARSET argument as sent; nil without one (UTF-8).
    var charset: String?
    /// The saved result `$` stands for (RFC 5182 §2.1), as UIDs; nil when empty.
    var saved: SequenceSet?

    static func parse(_ values: [IMAPValue], saved: SequenceSet? = nil) throws -> SearchKey {
        var p = SearchParser(values: values, saved: saved)
        if let first = values.first?.atomValue, first.uppercased() == "CHARSET" {
            // Any astring, NIL included (Dovecot: an unknown charset "NIL").
            guard values.count > 1, let name = values[1].astringBytes else {
                throw CommandError.bad("Invalid charset argument.")
            }
            p.charset = String(decoding: name, as: UTF8.self)
            p.index = 2
        }
        var keys: [SearchKey] = []
        while p.index < values.count { keys.append(try p.key()) }
        guard !keys.isEmpty else { throw CommandError.bad("Missing search parameters") }
        if let charset = p.charset, !Self.knows(charset) { throw Self.unknownCharset }
        return keys.count == 1 ? keys[0] : .and(keys)
    }

    static let unknownCharset = CommandError.no(code: "BADCHARSET", text: "Unknown charset.")

    /// Whether SEARCH takes `charset`. Dovecot asks iconv, which knows no RFC 2231 "*lang"
    /// suffix and reads "" as the C locale's ASCII.
    static func knows(_ charset: String) -> Bool {
        charset.isEmpty || (!charset.contains("*") && Charset.isSupported(charset))
    }

    /// `bytes` in `charset` as Unicode; nil when they are not text in it.
    static func unicode(_ bytes: [UInt8], charset: String) -> String? {
        if charset.isEmpty {
            return bytes.allSatisfy { $0 < 0x80 } ? String(decoding: bytes, as: UTF8.self) : nil
        }
        return Charset.decodeValidating(bytes, name: charset)
    }

    /// The string parameter of `key` (an astring).
    private mutating func string(for key: String) throws -> String {
        String(decoding: try bytes(for: key), as: UTF8.self)
    }

    private mutating func bytes(for key: String) throws -> [UInt8] {
        guard index < values.count else {
            throw CommandError.bad("Missing parameter for search key (for search key: \(key))")
        }
        index += 1
        guard let bytes = values[index - 1].astringBytes else {
            throw CommandError.bad("Unexpected ( (for search key: \(key))")
        }
        return bytes
    }

    /// The string of a text key, converted from the CHARSET (RFC 3501 §6.4.4).
    private mutating func text(for key: String) throws -> String {
        let bytes = try bytes(for: key)
        let charset = charset ?? "UTF-8"
        guard Self.knows(charset) else { throw Self.unknownCharset }
        guard let text = Self.unicode(bytes, charset: charset) else { throw CommandError.bad("Invalid search key") }
        return text
    }

    /// `$` and `UID $`: the saved UIDs, whichever way the search numbers messages.
    private var savedKey: SearchKey { saved.map { .uid($0) } ?? .not(.all) }

    private mutating func date(for key: String) throws -> Int {
        guard let day = IMAPDate.parseDate(try string(for: key)) else {
            throw CommandError.bad("Invalid search date parameter")
        }
        return day
    }

    private mutating func size(for key: String) throws -> Int64 {
        let text = try string(for: key)
        guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int64(text) else {
            throw CommandError.bad("Invalid search size parameter")
        }
        return n
    }

    mutating func key() throws -> SearchKey {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw CommandError.bad("Search keys nested too deeply") }
        // NOT and OR without their keys.
        guard index < values.count else { throw CommandError.bad("Missing argument") }
        let value = values[index]
        index += 1
        if let list = value.listValue {
            var inner = SearchParser(values: list, depth: depth, charset: charset, saved: saved)
            var keys: [SearchKey] = []
            while inner.index < list.count { keys.append(try inner.key()) }
            guard !keys.isEmpty else { throw CommandError.bad("No search parameters inside list") }
            return .and(keys)
        }
        if case .nil = value { throw CommandError.bad("Unknown argument NIL") }
        guard let atom = value.atomValue else {
            let text = String(decoding: value.astringBytes ?? [], as: UTF8.self)
            throw CommandError.bad("Unexpected string as search key: \(text)")
        }
        let name = atom.uppercased()
        switch name {
        case "ALL": return .all
        case "ANSWERED": return .flag(.answered, set: true)
        case "UNANSWERED": return .flag(.answered, set: false)
        case "DELETED": return .flag(.deleted, set: true)
        case "UNDELETED": return .flag(.deleted, set: false)
        case "DRAFT": return .flag(.draft, set: true)
        case "UNDRAFT": return .flag(.draft, set: false)
        case "FLAGGED": return .flag(.flagged, set: true)
        case "UNFLAGGED": return .flag(.flagged, set: false)
        case "SEEN": return .flag(.seen, set: true)
        case "UNSEEN": return .flag(.seen, set: false)
        case "RECENT": return .recent(true)
        case "OLD": return .recent(false)
        case "NEW": return .new
        case "KEYWORD": return .keyword(try string(for: name), set: true)
        case "UNKEYWORD": return .keyword(try string(for: name), set: false)
        case "LARGER": return .larger(try size(for: name))
        case "SMALLER": return .smaller(try size(for: name))
        case "BEFORE": return .before(try date(for: name))
        case "ON": return .on(try date(for: name))
        case "SINCE": return .since(try date(for: name))
        case "SENTBEFORE": return .sentBefore(try date(for: name))
        case "SENTON": return .sentOn(try date(for: name))
        case "SENTSINCE": return .sentSince(try date(for: name))
        case "FROM", "TO", "CC", "BCC", "SUBJECT": return .header(name, try text(for: name))
        case "HEADER":
            let field = try text(for: name)
            return .header(field, try text(for: name))
        case "BODY": return .body(try text(for: name))
        case "TEXT": return .text(try text(for: name))
        case "NOT": return .not(try key())
        case "OR":
            let a = try key()
            return .or(a, try key())
        case "UID":
            let text = try string(for: name)
            if text == "$" { return savedKey }
            guard let set = SequenceSet.parse(text) else {
                throw CommandError.bad("Invalid UID messageset")
            }
            return .uid(set)
        case "$": return savedKey
        default:
            // A sequence set starts with a digit or "*"; anything else is an unknown key.
            guard let first = name.first, first == "*" || first.isASCII && first.isNumber else {
                throw CommandError.bad("Unknown argument \(name)")
            }
            guard let set = SequenceSet.parse(atom) else { throw CommandError.bad("Invalid messageset") }
            return .sequence(set)
        }
    }
}

/// One message while it is being searched; parses lazily.
final class SearchCandidate {
    let seq: Int
    let count: Int
    let lastUID: UInt32
    let meta: MaildirMessage
    private let folder: MaildirFolder
    private var parsed: MailMessage??

    init(seq: Int, count: Int, lastUID: UInt32, meta: MaildirMessage, folder: MaildirFolder) {
        self.seq = seq; self.count = count; self.lastUID = lastUID; self.meta = meta; self.folder = folder
    }

    /// Through the folder, which remembers a date it had to stat for.
    var internalDate: Date { folder.internalDate(of: meta) }

    var message: MailMessage? {
        if let parsed { return parsed }
        let m = (try? folder.readMessage(uid: meta.uid)).map { MailMessage(bytes: $0) }
        parsed = .some(m)
        return m
    }

    func matches(_ key: SearchKey) -> Bool {
        switch key {
        case .all: return true
        case .sequence(let set): return set.contains(UInt32(seq), last: UInt32(count))
        case .uid(let set): return set.contains(meta.uid, last: lastUID)
        case .flag(let flag, let set): return meta.flags.contains(flag) == set
        case .recent(let r): return meta.recent == r
        case .new: return meta.recent && !meta.flags.contains(.seen)
        case .keyword(let k, let set):
            return meta.keywords.contains { $0.lowercased() == k.lowercased() } == set
        case .larger(let n): return meta.virtualSize > n
        case .smaller(let n): return meta.virtualSize < n
        case .before(let d): return IMAPDate.day(of: internalDate) < d
        case .on(let d): return IMAPDate.day(of: internalDate) == d
        case .since(let d): return IMAPDate.day(of: internalDate) >= d
        case .sentBefore(let d): return sentDay.map { $0 < d } ?? false
        case .sentOn(let d): return sentDay.map { $0 == d } ?? false
        case .sentSince(let d): return sentDay.map { $0 >= d } ?? false
        case .header(let name, let needle):
            guard let header = message?.header else { return false }
            let fields = header.fields(named: name)
            if needle.isEmpty { return !fields.isEmpty }
            return fields.contains { Self.contains(HeaderDecoder.decodeEncodedWords(header.unfoldedValue($0)), needle) }
        case .body(let needle): return Self.contains(bodyText, needle)
        case .text(let needle):
            guard let m = message else { return false }
            let header = HeaderDecoder.decodeEncodedWords(Array(m.bytes[m.header.range]))
            return Self.contains(header, needle) || Self.contains(bodyText, needle)
        case .not(let inner): return !matches(inner)
        case .or(let a, let b): return matches(a) || matches(b)
        case .and(let keys): return keys.allSatisfy { matches($0) }
        }
    }

    private var sentDay: Int? {
        message?.header.value("Date").flatMap(IMAPDate.parseHeaderDay)
    }

    private var bodyText: String {
        guard let m = message else { return "" }
        var texts: [String] = []
        func walk(_ part: MessagePart, top: Bool) {
            switch part.kind {
            case .single: if let t = part.decodedText() { texts.append(t) }
            case .multipart(let parts): parts.forEach { walk($0, top: false) }
            case .message(let inner):
                texts.append(HeaderDecoder.decodeEncodedWords(Array(m.bytes[inner.header.range])))
                walk(inner, top: false)
            }
        }
        walk(m.root, top: true)
        return texts.joined(separator: "\n")
    }

    static func contains(_ haystack: String, _ needle: String) -> Bool {
        haystack.range(of: needle, options: [.caseInsensitive, .diacriticInsensitive]) != nil
    }
}

extension IMAPMailSession {
    func search(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        let returnOptions = try SearchReturnOptions.parse(c.arguments)
        let key = try searchKey(Array(c.arguments.dropFirst(returnOptions?.keysFrom ?? 0)), options: returnOptions?.0, in: s)
        let byUID = c.name == "UID SEARCH"
        var hits: [UInt32] = [], uids: [UInt32] = []
        forEachMatch(of: key, in: s) {
            hits.append(byUID ? $0.meta.uid : UInt32($0.seq))
            uids.append($0.meta.uid)
        }
        if let (options, _) = returnOptions {
            answer(options, tag: c.tag, byUID: byUID, hits: hits, uids: uids, in: s)
        } else {
            untagged((["SEARCH"] + hits.map(String.init)).joined(separator: " "))
        }
        return .ok("Search completed.")
    }

    /// Calls `body` with each message of the selected folder that matches `key`, in sequence
    /// order; a parsed message lives only while its candidate is looked at.
    func forEachMatch(of key: SearchKey, in s: SelectedMailbox, _ body: (SearchCandidate) -> Void) {
        let lastUID = s.uids.last ?? 0
        let folder = s.folder
        for (i, uid) in s.uids.enumerated() {
            guard let meta = folder.message(uid: uid) else { continue }
            let candidate = SearchCandidate(seq: i + 1, count: s.uids.count, lastUID: lastUID, meta: meta, folder: folder)
            if candidate.matches(key) { body(candidate) }
        }
    }
}
