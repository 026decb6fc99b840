// STORE / UID STORE (RFC 3501 §6.4.6): FLAGS, +FLAGS, -FLAGS and their .SILENT forms, with
// keywords. The untagged FETCH goes out for every message whose flags changed. In a read-only
// mailbox the command is answered OK and changes nothing, as Dovecot does.
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    func storeFlags(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        let byUID = c.name == "UID STORE"
        guard c.arguments.count >= 3, let text = c.atom(at: 0), let item = c.atom(at: 1)?.uppercased() else {
            throw CommandError.bad("Invalid arguments.")
        }
        let seqs = try s.resolve(text, byUID: byUID)
        let mode: FlagUpdate
        var name = Substring(item)
        let silent = name.hasSuffix(".SILENT")
        if silent { name = name.dropLast(".SILENT".count) }
        switch name {
        case "FLAGS": mode = .replace
        case "+FLAGS": mode = .add
        case "-FLAGS": mode = .remove
        default: throw CommandError.bad("Invalid arguments.")
        }
        let values = c.arguments.count == 3 && c.arguments[2].listValue != nil
            ? c.arguments[2].listValue! : Array(c.arguments[2...])
        let (flags, keywords) = try parseFlags(values)
        guard !s.readOnly else { return .ok("Store ignored with read-only mailbox.") }
        let uids = seqs.map { s.uids[$0 - 1] }
        let changed = try s.folder.setFlags(uids: uids, flags: flags, keywords: keywords, mode: mode)
        if !changed.isEmpty { noteChanged(s.folder.name) }
        if !silent {
            for m in changed {
                guard let seq = s.sequenceNumber(ofUID: m.uid) else { continue }
                untagged("\(seq) FETCH (\(byUID ? "UID \(m.uid) " : "")FLAGS \(flagList(m)))")
            }
        }
        if uids.contains(where: { s.folder.message(uid: $0) == nil }) {
            return .ok("Some of the requested messages no longer exist.", code: "EXPUNGEISSUED")
        }
        return .ok("Store completed.")
    }
}
