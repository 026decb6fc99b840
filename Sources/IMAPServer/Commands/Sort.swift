// SORT / UID SORT (RFC 5256) with SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267, SearchReturn.swift): the messages SEARCH would find,
// ordered by the sort program; ties in sequence order, which REVERSE does not turn round.
// Keys as Dovecot 2.3 computes them: addresses by the first address's local part (or, for
// DISPLAYFROM/DISPLAYTO, its decoded display name, else the address), SUBJECT by the base
// subject, DATE by the Date: header in UTC (the internal date when there is none or it does
// not parse), strings compared by the UTF-8 bytes of their uppercased, decomposed form; an
// empty address ("<>") is Dovecot's MISSING_MAILBOX@MISSING_DOMAIN, as in ENVELOPE. Dovecot's X-SCORE (full-text
// relevance) is accepted and, without full-text search, the same for every message. The
// error texts are Dovecot's (imap/cmd-sort.c).
import Foundation
import IMAPProtocol
import Maildir
import MailMessage

struct SortCriterion: Equatable {
    enum Key: String, CaseIterable {
        case arrival = "ARRIVAL", cc = "CC", date = "DATE", from = "FROM", size = "SIZE"
        case subject = "SUBJECT", to = "TO", displayFrom = "DISPLAYFROM", displayTo = "DISPLAYTO"
        case score = "X-SCORE"
    }
    var key: Key
    var reverse: Bool

    /// The parenthesized sort program.
    static func parse(_ value: IMAPValue?) throws -> [SortCriterion] {
        guard case .list(let items)? = value else { throw CommandError.bad("Invalid sort argument") }
        guard !items.isEmpty else { throw CommandError.bad("Empty sort program") }
        var program: [SortCriterion] = []
        var reverse = false
        for item in items {
            guard let bytes = item.astringBytes else { throw CommandError.bad("Invalid sort list argument") }
            let word = String(decoding: bytes, as: UTF8.self)
            if word.uppercased() == "REVERSE" { reverse = true; continue }
            guard let key = Key(rawValue: word.uppercased()) else { throw CommandError.bad("Unknown sort argument: \(word)") }
            // A key already in the program only compares messages it found equal: dropping it
            // changes no answer, and bounds the work per message to the ten keys there are.
            if !program.contains(where: { $0.key == key }) { program.append(SortCriterion(key: key, reverse: reverse)) }
            reverse = false
        }
        if reverse { throw CommandError.bad("Sort list ends with REVERSE") }
        return program
    }
}

/// One message's sort keys, in program order.
struct SortRow {
    enum Value: Comparable {
        case number(Int64)
        case text([UInt8])

        static func < (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.number(let x), .number(let y)): return x < y
            case (.text(let x), .text(let y)): return x.lexicographicallyPrecedes(y)
            case (.number, .text): return true
            case (.text, .number): return false
            }
        }
    }
    let seq: Int
    let id: UInt32
    let values: [Value]

    static func ordered(_ a: SortRow, _ b: SortRow, program: [SortCriterion]) -> Bool {
        for (i, c) in program.enumerated() where a.values[i] != b.values[i] {
            return c.reverse ? b.values[i] < a.values[i] : a.values[i] < b.values[i]
        }
        return a.seq < b.seq
    }
}

/// The sort keys that come from a message's header, kept for the life of the mail process by
/// folder and message file base name (a Maildir file's content never changes): a webmail that
/// sorts the same folder at every page view reads each message once, not at every SORT.
final class SortHeaderKeys: @unchecked Sendable {  // `table` guarded by `lock`
    struct Keys {
        var sent: Int64?
        var subject: [UInt8], from: [UInt8], to: [UInt8], cc: [UInt8], displayFrom: [UInt8], displayTo: [UInt8]
        // For THREAD (Thread.swift).
        var subjectIsReplyOrForward: Bool
        var messageID: String?
        var references: [String]

        init(_ header: HeaderBlock?) {
            // Dovecot: a date of 0 (1 Jan 1970 UTC) counts as none, the internal date stands in.
            sent = header?.value("Date").flatMap(IMAPDate.parseHeaderTimestamp).flatMap { $0 == 0 ? nil : $0 }
            func raw(_ field: String) -> [UInt8]? { header.flatMap { h in h.fields(named: field).first.map { h.unfoldedValue($0) } } }
            let base = BaseSubject.parse(HeaderDecoder.decodeEncodedWords(raw("Subject") ?? []))
            subject = Array(base.base.utf8)
            subjectIsReplyOrForward = base.isReplyOrForward
            messageID = raw("Message-ID").flatMap(MessageIDs.first)
            // RFC 5256 §4 step 1.A, as Dovecot: In-Reply-To only when References has no id.
            references = MessageThreader.bounded(Array(MessageIDs(raw("References") ?? [])))
            if references.isEmpty, let parent = raw("In-Reply-To").flatMap(MessageIDs.first) { references = [parent] }
            func first(_ field: String) -> MailAddress? {
                header.flatMap { h in h.fields(named: field).first.flatMap { AddressParser.parse(h.fullValue($0)).first } }
            }
            func key(_ a: MailAddress?, display: Bool) -> [UInt8] {
                Array(BaseSubject.sortForm(Self.addressKey(a, display: display)).utf8)
            }
            let f = first("From"), t = first("To")
            from = key(f, display: false)
            to = key(t, display: false)
            cc = key(first("Cc"), display: false)
            displayFrom = key(f, display: true)
            displayTo = key(t, display: true)
        }

        /// Roughly what the entry holds in memory (headers are the sender's to make long).
        var cost: Int {
            let texts = [subject, from, to, cc, displayFrom, displayTo].reduce(0) { $0 + $1.count + 32 }
            return 160 + texts + (messageID?.utf8.count ?? 0) + references.reduce(0) { $0 + $1.utf8.count + 16 }
        }

        /// RFC 5256 addr-mailbox; RFC 5957 display name, else the address.
        private static func addressKey(_ a: MailAddress?, display: Bool) -> String {
            guard let a else { return "" }
            let mailbox = a.mailbox.map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard display else { return mailbox }
            if let name = a.name, !name.isEmpty { return HeaderDecoder.decodeEncodedWords(name) }
            return a.domain.map { mailbox + "@" + String(decoding: $0, as: UTF8.self) } ?? mailbox
        }
    }

    static let shared = SortHeaderKeys()
    /// What the table may hold per mail process (by `Keys.cost`, ~400 bytes for a typical
    /// message); past it the table starts over.
    static let byteLimit = 20 << 20
    private let lock = NSLock()
    private var table: [String: Keys] = [:]
    private var bytes = 0

    /// Tests: entries and their cost now.
    var usage: (entries: Int, bytes: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (table.count, bytes)
    }

    func keys(folder: String, basename: String, compute: () -> Keys) -> Keys {
        let name = folder + "/" + basename
        lock.lock()
        if let k = table[name] { lock.unlock(); return k }
        lock.unlock()
        let k = compute()
        lock.lock()
        let cost = k.cost + name.utf8.count
        if bytes + cost > Self.byteLimit {
            table.removeAll()
            bytes = 0
        }
        if table.updateValue(k, forKey: name) == nil { bytes += cost }
        lock.unlock()
        return k
    }
}

extension IMAPMailSession {
    func sort(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        // ESORT (RFC 5267): `SORT RETURN (…) criteria charset keys` answers with ESEARCH.
        let returnOptions = try SearchReturnOptions.parse(c.arguments)
        let args = Array(c.arguments.dropFirst(returnOptions?.keysFrom ?? 0))
        let program = try SortCriterion.parse(args.first)
        guard args.count > 1, args[1].astringBytes != nil else {
            throw CommandError.bad("Invalid charset argument")
        }
        guard args.count > 2 else { throw CommandError.bad("Missing search parameters") }
        let key = try searchKey([.atom("CHARSET"), args[1]] + args.dropFirst(2), options: returnOptions?.0, in: s)
        let byUID = c.name == "UID SORT"
        let rows = sortedRows(program, matching: key, in: s, byUID: byUID)
        if let (options, _) = returnOptions {
            answer(options, tag: c.tag, byUID: byUID, hits: rows.map(\.id), uids: rows.map { s.uids[$0.seq - 1] }, in: s)
        } else {
            untagged((["SORT"] + rows.map { String($0.id) }).joined(separator: " "))
        }
        return .ok("Sort completed.")
    }

    /// The messages matching `key`, in `program` order (ties in sequence order).
    func sortedRows(_ program: [SortCriterion], matching key: SearchKey, in s: SelectedMailbox, byUID: Bool) -> [SortRow] {
        let needsHeader = program.contains { ![.arrival, .size, .score].contains($0.key) }
        var rows: [SortRow] = []
        forEachMatch(of: key, in: s) { candidate in
            let header = needsHeader ? Self.headerKeys(candidate, in: s) : nil
            rows.append(SortRow(seq: candidate.seq, id: byUID ? candidate.meta.uid : UInt32(candidate.seq),
                                values: program.map { Self.sortValue($0.key, candidate, header) }))
        }
        s.folder.flushMessageCache()
        rows.sort { SortRow.ordered($0, $1, program: program) }
        return rows
    }

    /// The message's header keys, from the per-process table or read now.
    static func headerKeys(_ candidate: SearchCandidate, in s: SelectedMailbox) -> SortHeaderKeys.Keys {
        SortHeaderKeys.shared.keys(folder: s.folder.path, basename: candidate.meta.basename) {
            SortHeaderKeys.Keys(sortHeader(candidate, folder: s.folder))
        }
    }

    /// The message's header: read alone when roost.cache knows where it ends; else the whole
    /// message is parsed, and what FETCH would cache of it goes into roost.cache.
    private static func sortHeader(_ candidate: SearchCandidate, folder: MaildirFolder) -> HeaderBlock? {
        if let size = folder.cachedData(for: candidate.meta)?.headerSize,
           let bytes = try? folder.readMessagePrefix(uid: candidate.meta.uid, length: size) {
            return MailMessage(bytes: bytes).header
        }
        guard let message = candidate.message else { return nil }
        folder.storeCachedData(CachedMessageData(message), for: candidate.meta)
        return message.header
    }

    private static func sortValue(_ key: SortCriterion.Key, _ candidate: SearchCandidate,
                                  _ header: SortHeaderKeys.Keys?) -> SortRow.Value {
        var arrival: Int64 { Int64(candidate.internalDate.timeIntervalSince1970.rounded(.down)) }
        switch key {
        case .arrival: return .number(arrival)
        case .size: return .number(candidate.meta.virtualSize)
        case .score: return .number(0)
        case .date: return .number(header?.sent ?? arrival)
        case .subject: return .text(header?.subject ?? [])
        case .from: return .text(header?.from ?? [])
        case .to: return .text(header?.to ?? [])
        case .cc: return .text(header?.cc ?? [])
        case .displayFrom: return .text(header?.displayFrom ?? [])
        case .displayTo: return .text(header?.displayTo ?? [])
        }
    }
}
