// SELECT, EXAMINE (RFC 3501 §6.3.1–2), CLOSE, UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE
// (RFC 3501 §6.4.3, RFC 4315 §2.1).
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    func select(_ c: IMAPCommand) throws -> CommandResult { try open(c, readOnly: false) }

    func examine(_ c: IMAPCommand) throws -> CommandResult { try open(c, readOnly: true) }

    private func open(_ c: IMAPCommand, readOnly: Bool) throws -> CommandResult {
        guard c.arguments.count == 1 else { throw CommandError.bad("Invalid arguments.") }
        let name = try mailboxName(c, at: 0)
        if selected != nil {
            closeSelected()
            untagged("OK [CLOSED] Previous mailbox closed.")
        }
        let folder = try store.openFolder(name, readOnly: readOnly, monitor: changeMonitor)
        let s = SelectedMailbox(folder: folder)
        selected = s
        let keywords = folder.keywordTable.names.compactMap { $0 }
        let system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
        untagged("FLAGS (" + ([system] + keywords).joined(separator: " ") + ")")
        if readOnly {
            untagged("OK [PERMANENTFLAGS ()] Read-only mailbox.")
        } else {
            untagged("OK [PERMANENTFLAGS (" + ([system] + keywords + ["\\*"]).joined(separator: " ") + ")] Flags permitted.")
        }
        untagged("\(s.uids.count) EXISTS")
        untagged("\(s.recentCount) RECENT")
        if let first = folder.messages.firstIndex(where: { !$0.flags.contains(.seen) }) {
            untagged("OK [UNSEEN \(first + 1)] First unseen.")
        }
        untagged("OK [UIDVALIDITY \(folder.uidValidity)] UIDs valid")
        untagged("OK [UIDNEXT \(folder.uidNext)] Predicted next UID")
        return readOnly ? .ok("Examine completed.", code: "READ-ONLY") : .ok("Select completed.", code: "READ-WRITE")
    }

    /// CLOSE: expunges \Deleted messages without EXPUNGE responses (unless read-only).
    func close(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        if !s.readOnly {
            let removed = (try? s.folder.expungeDeleted()) ?? []
            if !removed.isEmpty { noteChanged(s.folder.name) }
        }
        closeSelected()
        return .ok("Close completed.")
    }

    func unselect(_ c: IMAPCommand) throws -> CommandResult {
        closeSelected()
        return .ok("Unselect completed.")
    }

    func expunge(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        var only: Set<UInt32>?
        if c.name == "UID EXPUNGE" {
            try requireArguments(c, 1)
            guard let text = c.atom(at: 0) else { throw CommandError.bad("Invalid uidset.") }
            only = Set(try s.resolve(text, byUID: true).map { s.uids[$0 - 1] })
        } else if !c.arguments.isEmpty {
            throw CommandError.bad("Invalid arguments.")
        }
        // Read-only: nothing to do, and said so as Dovecot does.
        guard !s.readOnly else { return .ok("Expunge completed.") }
        let doomed = s.folder.messages.filter { $0.flags.contains(.deleted) && (only?.contains($0.uid) ?? true) }
        let recentBefore = s.recentCount
        let removed = try s.folder.expunge(uids: doomed.map(\.uid))
        if !removed.isEmpty { noteChanged(s.folder.name) }
        announceExpunges(removed)
        announceRecent(ifChangedFrom: recentBefore)
        return .ok("Expunge completed.")
    }
}
