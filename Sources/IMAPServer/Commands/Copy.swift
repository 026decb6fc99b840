// COPY / UID COPY (RFC 3501 §6.4.7, RFC 4315 COPYUID) and MOVE / UID MOVE (RFC 6851).
// MOVE out of a read-only (EXAMINEd) mailbox is refused: it would expunge there.
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    func copy(_ c: IMAPCommand) throws -> CommandResult {
        let (s, uids, target) = try copyArguments(c)
        let pairs = try s.folder.copy(uids: uids, to: target)
        target.close()
        if !pairs.isEmpty { noteChanged(target.name) }
        guard !pairs.isEmpty else { return .ok("No messages found.") }
        return .ok("Copy completed.", code: copyUID(target, pairs))
    }

    func move(_ c: IMAPCommand) throws -> CommandResult {
        let (s, uids, target) = try copyArguments(c)
        guard !s.readOnly else { throw CommandError.no("Mailbox is read-only.") }
        let recentBefore = s.recentCount
        let pairs = try s.folder.move(uids: uids, to: target)
        target.close()
        guard !pairs.isEmpty else { return .ok("No messages found.") }
        noteChanged(target.name)
        noteChanged(s.folder.name)
        untagged("OK [\(copyUID(target, pairs))] Moved UIDs.")
        announceExpunges(pairs.map(\.source))
        announceRecent(ifChangedFrom: recentBefore)
        return .ok("Move completed.")
    }

    private func copyArguments(_ c: IMAPCommand) throws -> (SelectedMailbox, [UInt32], MaildirFolder) {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        try requireArguments(c, 2)
        guard let text = c.atom(at: 0) else { throw CommandError.bad("Invalid arguments.") }
        let seqs = try s.resolve(text, byUID: c.name.hasPrefix("UID "))
        let name = try mailboxName(c, at: 1)
        guard store.folderExists(name) else { throw CommandError.missingTarget(name) }
        let target = try store.openFolder(name, takesRecent: false)
        return (s, seqs.map { s.uids[$0 - 1] }, target)
    }

    private func copyUID(_ target: MaildirFolder, _ pairs: [(source: UInt32, target: UInt32)]) -> String {
        "COPYUID \(target.uidValidity) \(Self.uidSetText(pairs.map(\.source))) \(Self.uidSetText(pairs.map(\.target)))"
    }

    /// `1:3,5` for [1, 2, 3, 5], in the given order (RFC 4315 pairs source and target by position).
    static func uidSetText(_ uids: [UInt32]) -> String {
        var parts: [String] = []
        var i = 0
        while i < uids.count {
            var j = i
            while j + 1 < uids.count && uids[j + 1] == uids[j] + 1 { j += 1 }
            parts.append(i == j ? "\(uids[i])" : "\(uids[i]):\(uids[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
