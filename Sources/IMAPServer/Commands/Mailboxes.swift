// Mailbox management in the authenticated state (RFC 3501 §6.3.3–6.3.10): CREATE, DELETE,
// RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS. The hierarchy separator is "/".
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    /// The mailbox argument at `index`, decoded from modified UTF-7 (RFC 3501 §5.1.3).
    func mailboxName(_ c: IMAPCommand, at index: Int) throws -> String {
        guard let bytes = c.astring(at: index) else { throw CommandError.bad("Invalid arguments.") }
        return try decodeMailboxName(bytes)
    }

    func decodeMailboxName(_ bytes: [UInt8]) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CommandError.no(code: "CANNOT", text: "Mailbox name is not valid mUTF-7")
        }
        if text.unicodeScalars.contains(where: { $0.value >= 0x80 }) { return MailboxName.normalized(text) }
        guard let decoded = ModifiedUTF7.decode(text) else {
            throw CommandError.no(code: "CANNOT", text: "Mailbox name is not valid mUTF-7")
        }
        return MailboxName.normalized(decoded)
    }

    func wireName(_ name: String) -> [UInt8] { IMAPEncoder.astring(ModifiedUTF7.encode(name)) }

    func create(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 1 else { throw CommandError.bad("Invalid arguments.") }
        var name = try mailboxName(c, at: 0)
        // RFC 3501 §6.3.3: a trailing separator only says that children are intended.
        while name.count > 1 && name.hasSuffix("/") { name.removeLast() }
        if store.folderExists(name) { throw CommandError.no(code: "ALREADYEXISTS", text: "Mailbox already exists") }
        try store.createFolder(name)
        return .ok("Create completed.")
    }

    func delete(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 1 else { throw CommandError.bad("Invalid arguments.") }
        let name = try mailboxName(c, at: 0)
        if selected?.folder.name == name { closeSelected() }
        try store.deleteFolder(name)
        return .ok("Delete completed.")
    }

    func rename(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 2 else { throw CommandError.bad("Invalid arguments.") }
        let from = try mailboxName(c, at: 0), to = try mailboxName(c, at: 1)
        guard try store.folderExists(from) || store.listFolders().contains(where: { $0.name.hasPrefix(from + "/") }) else {
            throw CommandError(MaildirError.noSuchFolder(from))
        }
        if store.folderExists(to) { throw CommandError.no(code: "ALREADYEXISTS", text: "Mailbox already exists") }
        try store.renameFolder(from, to: to)
        if from == "INBOX" { noteChanged("INBOX") }
        return .ok("Rename completed.")
    }

    func subscribe(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 1 else { throw CommandError.bad("Invalid arguments.") }
        try store.subscribe(try mailboxName(c, at: 0))
        return .ok("Subscribe completed.")
    }

    func unsubscribe(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 1 else { throw CommandError.bad("Invalid arguments.") }
        try store.unsubscribe(try mailboxName(c, at: 0))
        return .ok("Unsubscribe completed.")
    }

    // MARK: LIST, LSUB

    func list(_ c: IMAPCommand) throws -> CommandResult {
        let (reference, pattern) = try listArguments(c)
        if pattern.isEmpty {
            // RFC 3501 §6.3.8: the hierarchy delimiter and the root of the reference.
            let root = reference.split(separator: "/").first.map { String($0) + "/" } ?? ""
            untagged(bytes: Array("LIST (\\Noselect) \"/\" ".utf8) + IMAPEncoder.astring(ModifiedUTF7.encode(root)).orQuotedEmpty)
            return .ok("List completed.")
        }
        let matcher = MailboxPattern(reference + pattern)
        for info in try store.listFolders() where matcher.matches(info.name) {
            let attributes = "(" + info.attributes.joined(separator: " ") + ")"
            untagged(bytes: Array("LIST \(attributes) \"/\" ".utf8) + wireName(info.name))
        }
        return .ok("List completed.")
    }

    func lsub(_ c: IMAPCommand) throws -> CommandResult {
        let (reference, pattern) = try listArguments(c)
        let matcher = MailboxPattern(reference + pattern)
        var listed = Set<String>()
        let subscribed = try store.subscriptions()
        for name in subscribed where matcher.matches(name) && listed.insert(name).inserted {
            untagged(bytes: Array("LSUB () \"/\" ".utf8) + wireName(name))
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

    private func listArguments(_ c: IMAPCommand) throws -> (String, String) {
        guard c.arguments.count == 2, let ref = c.astring(at: 0), let pat = c.astring(at: 1) else {
            throw CommandError.bad("Invalid arguments.")
        }
        guard let r = String(validating: ref, as: UTF8.self).flatMap(ModifiedUTF7.decode),
              let p = String(validating: pat, as: UTF8.self).flatMap(ModifiedUTF7.decode) else {
            throw CommandError.bad("Invalid mUTF-7 in mailbox pattern.")
        }
        return (r, p)
    }

    // MARK: STATUS

    func status(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 2, let items = c.list(at: 1), !items.isEmpty else {
            throw CommandError.bad("Invalid arguments.")
        }
        let name = try mailboxName(c, at: 0)
        var wanted: [String] = []
        for item in items {
            guard let atom = item.atomValue?.uppercased(),
                  ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"].contains(atom) else {
                throw CommandError.bad("Invalid status item \(item.atomValue ?? "")")
            }
            wanted.append(atom)
        }
        let folder: MaildirFolder
        if let s = selected, s.folder.name == name {
            folder = s.folder
        } else {
            folder = try store.openFolder(name, readOnly: true)
        }
        var values: [String] = []
        for item in wanted {
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
        untagged(bytes: Array("STATUS ".utf8) + wireName(name) + Array(" (\(values.joined(separator: " ")))".utf8))
        return .ok("Status completed.")
    }
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

    private static func match(_ p: ArraySlice<Character>, _ n: ArraySlice<Character>) -> Bool {
        guard let first = p.first else { return n.isEmpty }
        switch first {
        case "*":
            var rest = n
            while true {
                if match(p.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case "%":
            var rest = n
            while true {
                if match(p.dropFirst(), rest) { return true }
                guard let c = rest.first, c != "/" else { return false }
                rest = rest.dropFirst()
            }
        default:
            guard let c = n.first, c == first else { return false }
            return match(p.dropFirst(), n.dropFirst())
        }
    }
}
