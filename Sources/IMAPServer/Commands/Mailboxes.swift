// Mailbox management in the authenticated state (RFC 3501 §6.3.3–6.3.10): CREATE, DELETE,
// RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS (LIST and LSUB: List.swift). The hierarchy separator is "/".
// Refusals are worded as Dovecot's: names are checked before the mailbox is looked up, SUBSCRIBE
// takes existing mailboxes only (RFC 3501 §6.3.6 lets the server check), and RENAME tells a
// rename onto itself, under itself and onto an existing name apart.
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    /// The mailbox argument at `index`, decoded from modified UTF-7 (RFC 3501 §5.1.3).
    func mailboxName(_ c: IMAPCommand, at index: Int) throws -> String {
        guard let bytes = c.astring(at: index) else { throw CommandError.bad("Invalid arguments.") }
        return try decodeMailboxName(bytes)
    }

    /// Exactly `count` arguments. Fewer is Dovecot's "Missing arguments."; more is against the
    /// RFC 3501 grammar (Dovecot ignores them).
    func requireArguments(_ c: IMAPCommand, _ count: Int) throws {
        guard c.arguments.count >= count else { throw CommandError.bad("Missing arguments.") }
        guard c.arguments.count == count else { throw CommandError.bad("Invalid arguments.") }
    }

    func decodeMailboxName(_ bytes: [UInt8]) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CommandError.notMUTF7 }
        if text.unicodeScalars.contains(where: { $0.value >= 0x80 }) { return MailboxName.normalized(text) }
        guard let decoded = ModifiedUTF7.decode(text) else { throw CommandError.notMUTF7 }
        return MailboxName.normalized(decoded)
    }

    /// Refuses a name the store would refuse, with Dovecot's text.
    func validate(_ name: String, forCreation: Bool = false) throws {
        guard !MailboxName.isInbox(name) else { return }
        do { try MailboxName.validate(name, forCreation: forCreation) } catch { throw CommandError.invalidName(error) }
    }

    func wireName(_ name: String) -> [UInt8] { IMAPEncoder.astring(ModifiedUTF7.encode(name)) }

    func create(_ c: IMAPCommand) throws -> CommandResult {
        try requireArguments(c, 1)
        var name = try mailboxName(c, at: 0)
        // RFC 3501 §6.3.3: a trailing separator only says that children are intended.
        while name.count > 1 && name.hasSuffix("/") { name.removeLast() }
        if store.folderExists(name) { throw CommandError(MaildirError.folderExists(name)) }
        try store.createFolder(name)
        return .ok("Create completed.")
    }

    func delete(_ c: IMAPCommand) throws -> CommandResult {
        try requireArguments(c, 1)
        let name = try mailboxName(c, at: 0)
        if selected?.folder.name == name { closeSelected() }
        try store.deleteFolder(name)
        return .ok("Delete completed.")
    }

    func rename(_ c: IMAPCommand) throws -> CommandResult {
        try requireArguments(c, 2)
        let from = try mailboxName(c, at: 0), to = try mailboxName(c, at: 1)
        try validate(from)
        try validate(to, forCreation: true)
        if from == to { throw CommandError.no(code: "ALREADYEXISTS", text: "Can't rename mailbox to itself.") }
        guard try store.folderExists(from) || store.listFolders().contains(where: { $0.name.hasPrefix(from + "/") }) else {
            throw CommandError(MaildirError.noSuchFolder(from))
        }
        if to.hasPrefix(from + "/") { throw CommandError(MaildirError.renameIntoItself(to)) }
        if store.folderExists(to) { throw CommandError.no(code: "ALREADYEXISTS", text: "Target mailbox already exists.") }
        try store.renameFolder(from, to: to)
        if from == "INBOX" { noteChanged("INBOX") }
        return .ok("Rename completed.")
    }

    func subscribe(_ c: IMAPCommand) throws -> CommandResult {
        try requireArguments(c, 1)
        let name = try mailboxName(c, at: 0)
        guard store.folderExists(name) else { throw CommandError.missingMailbox(name) }
        try store.subscribe(name)
        return .ok("Subscribe completed.")
    }

    func unsubscribe(_ c: IMAPCommand) throws -> CommandResult {
        try requireArguments(c, 1)
        let name = try mailboxName(c, at: 0)
        try validate(name)
        try store.unsubscribe(name)
        return .ok("Unsubscribe completed.")
    }

    // MARK: STATUS

    func status(_ c: IMAPCommand) throws -> CommandResult {
        try requireArguments(c, 2)
        guard let items = c.list(at: 1) else { throw CommandError.bad("Invalid arguments.") }
        let name = try mailboxName(c, at: 0)
        let wanted = try ListRequest.statusItems(items) { CommandError.bad($0) }
        untagged(bytes: try statusResponse(name, items: wanted))
        return .ok("Status completed.")
    }

    /// `STATUS name (ITEM n …)` without "* " (RFC 3501 §7.2.4), items in Dovecot's order.
    func statusResponse(_ name: String, items: [String]) throws -> [UInt8] {
        let folder: MaildirFolder
        if let s = selected, s.folder.name == name {
            folder = s.folder
        } else {
            folder = try store.openFolder(name, readOnly: true)
        }
        var values: [String] = []
        for item in items {
            let value: Int
            switch item {
            case "MESSAGES": value = folder.messages.count
            case "RECENT": value = folder.messages.reduce(0) { $0 + ($1.recent || $1.inNew ? 1 : 0) }
            case "UIDNEXT": value = Int(folder.uidNext)
            case "UIDVALIDITY": value = Int(folder.uidValidity)
            default: value = folder.messages.reduce(0) { $0 + ($1.flags.contains(.seen) ? 0 : 1) }
            }
            values.append("\(item) \(value)")
        }
        return Array("STATUS ".utf8) + wireName(name) + Array(" (\(values.joined(separator: " ")))".utf8)
    }
}
