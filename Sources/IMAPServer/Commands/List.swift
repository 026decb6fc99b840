// LIST (RFC 3501 §6.3.8 with LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819 and SPECIAL-USE
// RFC 6154) and LSUB (RFC 3501 §6.3.9). What to answer is decided by ListPlanner
// (ListRequest.swift); this file reads the store and writes the lines.
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    func list(_ c: IMAPCommand) throws -> CommandResult {
        let request = try ListRequest.parse(c.arguments)
        if !request.extended, request.patterns == [""] {
            // RFC 3501 §6.3.8: the hierarchy delimiter and the root of the reference.
            let root = request.reference.split(separator: "/").first.map { String($0) + "/" } ?? ""
            untagged(bytes: Array("LIST (\\Noselect) \"/\" ".utf8) + IMAPEncoder.astring(ModifiedUTF7.encode(root)).orQuotedEmpty)
            return .ok("List completed.")
        }
        let planner = ListPlanner(request: request, folders: try store.listFolders(),
                                  subscriptions: request.selectSubscribed || request.returnSubscribed ? try store.subscriptions() : [],
                                  specialUse: specialUseTable)
        for entry in planner.entries() {
            var response = Array("LIST (\(entry.attributes.joined(separator: " "))) \"/\" ".utf8) + wireName(entry.name)
            if entry.childInfo { response += Array(" (CHILDINFO (\"SUBSCRIBED\"))".utf8) }
            untagged(bytes: response)
            // RFC 5819 §2: STATUS for mailboxes that can be selected; one that vanished
            // meanwhile (or cannot be read) gets none.
            if !request.statusItems.isEmpty, entry.selectable,
               let status = try? statusResponse(entry.name, items: request.statusItems) {
                untagged(bytes: status)
            }
        }
        return .ok("List completed.")
    }

    func lsub(_ c: IMAPCommand) throws -> CommandResult {
        guard let ref = c.astring(at: 0) else { throw CommandError.bad("Invalid reference.") }
        guard let pat = c.astring(at: 1) else { throw CommandError.bad("Invalid pattern.") }
        guard c.arguments.count == 2 else { throw CommandError.bad("Extra arguments.") }
        let request = try ListRequest.parse([.quoted(ref), .quoted(pat)])
        let matcher = MailboxPattern(request.reference + (request.patterns.first ?? ""))
        let specialUse = specialUseTable
        var listed = Set<String>()
        let subscribed = try store.subscriptions()
        for name in subscribed where matcher.matches(name) && listed.insert(name).inserted {
            // Dovecot shows the special-use flags in LSUB as well.
            let flags = specialUse.flags(for: name).joined(separator: " ")
            untagged(bytes: Array("LSUB (\(flags)) \"/\" ".utf8) + wireName(name))
        }
        // RFC 3501 §6.3.9: "%" matching a parent of a subscribed mailbox lists it \Noselect.
        for name in subscribed where !matcher.matches(name) {
            var levels = name.split(separator: "/").map(String.init)
            while levels.count > 1 {
                levels.removeLast()
                let parent = levels.joined(separator: "/")
                if !subscribed.contains(parent), matcher.matches(parent), listed.insert(parent).inserted {
                    untagged(bytes: Array("LSUB (\\Noselect) \"/\" ".utf8) + wireName(parent))
                }
            }
        }
        return .ok("Lsub completed.")
    }

    var specialUseTable: SpecialUseTable { SpecialUseTable(mailboxSettings) }
}

private extension Array where Element == UInt8 {
    var orQuotedEmpty: [UInt8] { isEmpty ? Array("\"\"".utf8) : self }
}

/// A LIST pattern (RFC 3501 §6.3.8): "*" matches anything, "%" anything but "/". INBOX matches
/// in any case.
struct MailboxPattern {
    let pattern: [Character]

    init(_ text: String) { pattern = Array(text) }

    func matches(_ name: String) -> Bool {
        if MailboxName.isInbox(name), Self.match(pattern.map { Character($0.uppercased()) }[...], Array("INBOX")[...]) {
            return true
        }
        if MailboxName.isInbox(String(pattern)) && MailboxName.isInbox(name) { return true }
        return Self.match(pattern[...], Array(name)[...])
    }

    /// `*` matches anything, `%` anything but the separator. Runs of wildcards collapse first,
    /// then a row-by-row table over (pattern, name): time |pattern| × |name|, no recursion, so a
    /// pattern of thousands of stars can neither overflow the stack nor backtrack exponentially.
    static func match(_ pattern: ArraySlice<Character>, _ name: ArraySlice<Character>) -> Bool {
        var p: [Character] = []
        for c in pattern {
            if (c == "*" || c == "%"), let last = p.last, last == "*" || last == "%" {
                if c == "*" { p[p.count - 1] = "*" }
                continue
            }
            p.append(c)
        }
        var row = [Bool](repeating: false, count: p.count + 1)
        row[0] = true
        for j in 0..<p.count { row[j + 1] = row[j] && (p[j] == "*" || p[j] == "%") }
        for ch in name {
            var next = [Bool](repeating: false, count: p.count + 1)
            for j in 0..<p.count {
                switch p[j] {
                case "*": next[j + 1] = next[j] || row[j + 1]
                case "%": next[j + 1] = next[j] || (row[j + 1] && ch != "/")
                default: next[j + 1] = row[j] && p[j] == ch
                }
            }
            row = next
        }
        return row[p.count]
    }
}
