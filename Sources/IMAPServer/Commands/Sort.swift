// SORT / UID SORT (RFC 5256) with SORT=DISPLAY (RFC 5957): the messages SEARCH would find,
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
            program.append(SortCriterion(key: key, reverse: reverse))
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

extension IMAPMailSession {
    func sort(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        let args = c.arguments
        let program = try SortCriterion.parse(args.first)
        guard args.count > 1, args[1].astringBytes != nil else {
            throw CommandError.bad("Invalid charset argument")
        }
        guard args.count > 2 else { throw CommandError.bad("Missing search parameters") }
        let key = try SearchParser.parse([.atom("CHARSET"), args[1]] + args.dropFirst(2))
        let byUID = c.name == "UID SORT"
        var rows: [SortRow] = []
        forEachMatch(of: key, in: s) { candidate in
            let header = Self.sortHeader(candidate, folder: s.folder)
            rows.append(SortRow(seq: candidate.seq, id: byUID ? candidate.meta.uid : UInt32(candidate.seq),
                                values: program.map { Self.sortValue($0.key, candidate.meta, header) }))
        }
        rows.sort { SortRow.ordered($0, $1, program: program) }
        untagged((["SORT"] + rows.map { String($0.id) }).joined(separator: " "))
        return .ok("Sort completed.")
    }

    /// The message's header, read alone when roost.cache knows where it ends.
    private static func sortHeader(_ candidate: SearchCandidate, folder: MaildirFolder) -> HeaderBlock? {
        if let size = folder.cachedData(for: candidate.meta)?.headerSize,
           let bytes = try? folder.readMessagePrefix(uid: candidate.meta.uid, length: size) {
            return MailMessage(bytes: bytes).header
        }
        return candidate.message?.header
    }

    private static func sortValue(_ key: SortCriterion.Key, _ meta: MaildirMessage, _ header: HeaderBlock?) -> SortRow.Value {
        switch key {
        case .arrival: return .number(Int64(meta.internalDate.timeIntervalSince1970.rounded(.down)))
        case .size: return .number(meta.virtualSize)
        case .score: return .number(0)
        case .date:
            let sent = header?.value("Date").flatMap(IMAPDate.parseHeaderTimestamp)
            return .number(sent ?? Int64(meta.internalDate.timeIntervalSince1970.rounded(.down)))
        case .subject:
            let raw = header?.fields(named: "Subject").first.map { header!.unfoldedValue($0) } ?? []
            return .text(Array(BaseSubject.of(HeaderDecoder.decodeEncodedWords(raw)).utf8))
        case .from, .to, .cc, .displayFrom, .displayTo:
            let field = key == .from || key == .displayFrom ? "From" : key == .cc ? "Cc" : "To"
            let address = header?.fields(named: field).first
                .flatMap { AddressParser.parse(header!.fullValue($0)).first }
            return .text(Array(BaseSubject.sortForm(addressKey(address, display: key == .displayFrom || key == .displayTo)).utf8))
        }
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
