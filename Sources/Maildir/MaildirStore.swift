// One user's mail root in Dovecot's Maildir++ layout: INBOX is the root's cur/new/tmp, folder
// `A/B` is `.A.B/` (levels in modified UTF-7) with an empty `maildirfolder` file. Folder
// operations here; message operations live in MaildirFolder. Never follows a symlink for a
// folder directory; every name passes MailboxName validation before it becomes a path.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RoostSystem

public struct FolderInfo: Equatable, Sendable {
    public var name: String
    /// No folder by this name, only folders below it (IMAP \Noselect).
    public var noSelect: Bool
    public var hasChildren: Bool

    /// IMAP LIST attributes, e.g. ["\\Noselect", "\\HasChildren"].
    public var attributes: [String] {
        (noSelect ? ["\\Noselect"] : []) + [hasChildren ? "\\HasChildren" : "\\HasNoChildren"]
    }
}

public struct MaildirStore: Sendable {
    public let root: String
    public let quota: MaildirQuota

    /// Uses (and creates if needed) the mail root with INBOX's cur/new/tmp.
    /// `quota`: the quota plugin's policy for this user; nil when the plugin is off.
    public init(root: String, quota policy: QuotaPolicy? = nil) throws {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        self.quota = MaildirQuota(root: r, policy: policy)
        try Files.makeDirectories(r, mode: 0o700)
        for d in ["cur", "new", "tmp"] { try FileSystem.makeDirectory(r + "/" + d) }
    }

    static let trashPrefix = "..roost-trash."

    func path(for name: String, forCreation: Bool = false) throws -> String {
        if MailboxName.isInbox(name) { return root }
        do {
            return root + "/" + (try MailboxName.directoryName(for: name, forCreation: forCreation))
        } catch {
            throw MaildirError.invalidName(error)
        }
    }

    // MARK: - Listing

    public func listFolders() throws -> [FolderInfo] {
        var existing: Set<String> = ["INBOX"]
        for entry in try FileSystem.list(root) where entry.hasPrefix(".") {
            if entry.hasPrefix(MaildirStore.trashPrefix) {
                try? FileSystem.removeTree(root + "/" + entry) // an interrupted delete
                continue
            }
            guard let name = MailboxName.name(forDirectory: entry), FileSystem.isRealDirectory(root + "/" + entry) else { continue }
            existing.insert(MailboxName.isInbox(name) ? "INBOX" : name)
        }
        var all = existing
        for name in existing {
            var levels = name.split(separator: "/", omittingEmptySubsequences: false)
            while levels.count > 1 {
                levels.removeLast()
                all.insert(levels.joined(separator: "/"))
            }
        }
        var parents = Set<String>()
        for name in all {
            if let slash = name.lastIndex(of: "/") { parents.insert(String(name[..<slash])) }
        }
        return all.sorted { a, b in a == "INBOX" ? b != "INBOX" : (b == "INBOX" ? false : a < b) }.map {
            FolderInfo(name: $0, noSelect: !existing.contains($0), hasChildren: parents.contains($0))
        }
    }

    public func folderExists(_ name: String) -> Bool {
        guard let p = try? path(for: name) else { return false }
        return MailboxName.isInbox(name) || FileSystem.isRealDirectory(p)
    }

    // MARK: - Create, delete, rename

    public func createFolder(_ name: String) throws {
        guard !MailboxName.isInbox(name) else { throw MaildirError.folderExists("INBOX") }
        let p = try path(for: name, forCreation: true)
        if mkdir(p, 0o700) != 0 {
            if errno == EEXIST { throw MaildirError.folderExists(name) }
            throw SystemCallError("mkdir", context: p)
        }
        for d in ["cur", "new", "tmp"] { try FileSystem.makeDirectory(p + "/" + d) }
        let marker = open(p + "/maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if marker >= 0 { close(marker) }
        let list = UIDList(uidValidity: try allocateUIDValidity(), guid: UIDList.makeGUID())
        try FileSystem.replace(p + "/dovecot-uidlist", with: list.serialized())
        try Files.syncDirectory(of: p)
    }

    /// Deletes a folder and its messages; folders below it stay (RFC 3501 §6.3.4).
    public func deleteFolder(_ name: String) throws {
        guard !MailboxName.isInbox(name) else { throw MaildirError.cannotDeleteInbox }
        let p = try path(for: name)
        guard FileSystem.isRealDirectory(p) else { throw MaildirError.noSuchFolder(name) }
        // Rename first so the folder disappears atomically; then remove the tree.
        let trash = root + "/" + MaildirStore.trashPrefix + UniqueName.next()
        guard rename(p, trash) == 0 else {
            if errno == ENOENT { throw MaildirError.noSuchFolder(name) }
            throw SystemCallError("rename", context: p)
        }
        try Files.syncDirectory(of: p)
        try FileSystem.removeTree(trash)
    }

    /// Renames a folder with everything below it. Renaming INBOX moves its messages into a new
    /// folder and leaves INBOX empty (RFC 3501 §6.3.5). Subscriptions are not changed (as Dovecot).
    public func renameFolder(_ from: String, to: String) throws {
        guard !MailboxName.isInbox(to) else { throw MaildirError.folderExists("INBOX") }
        let toPath = try path(for: to, forCreation: true)
        if MailboxName.isInbox(from) { return try renameInbox(to: to) }
        let fromPath = try path(for: from)
        if to == from || to.hasPrefix(from + "/") { throw MaildirError.renameIntoItself(to) }
        let fromDir = String(fromPath.dropFirst(root.count + 1)), toDir = String(toPath.dropFirst(root.count + 1))
        var moves: [(String, String)] = []
        if FileSystem.isRealDirectory(fromPath) { moves.append((fromDir, toDir)) }
        for entry in try FileSystem.list(root) where entry.hasPrefix(fromDir + ".") {
            guard MailboxName.name(forDirectory: entry) != nil, FileSystem.isRealDirectory(root + "/" + entry) else { continue }
            moves.append((entry, toDir + entry.dropFirst(fromDir.count)))
        }
        guard !moves.isEmpty else { throw MaildirError.noSuchFolder(from) }
        for (_, target) in moves {
            guard target.utf8.count <= MailboxName.maximumDiskLength else { throw MaildirError.invalidName(.tooLong) }
            if (try FileSystem.lstatPath(root + "/" + target)) != nil {
                throw MaildirError.folderExists(MailboxName.name(forDirectory: target) ?? to)
            }
        }
        for (source, target) in moves {
            guard rename(root + "/" + source, root + "/" + target) == 0 else {
                throw SystemCallError("rename", context: root + "/" + source)
            }
        }
        try Files.syncDirectory(of: root + "/x")
    }

    /// INBOX rename: the new folder gets a fresh UIDVALIDITY and INBOX's messages with their
    /// UIDs (in order); INBOX keeps its UIDVALIDITY and next UID, so no INBOX UID is reused.
    private func renameInbox(to: String) throws {
        try createFolder(to)
        let target = try path(for: to)
        if let keywords = try? FileSystem.read(root + "/dovecot-keywords") {
            try FileSystem.replace(target + "/dovecot-keywords", with: keywords)
        }
        let inbox = try MaildirFolder(store: self, name: "INBOX", path: root, readOnly: true)
        let lock = try DotLock.acquire(root + "/dovecot-uidlist", timeout: inbox.lockTimeout)
        var released = false
        defer { if !released { lock.release() } }
        // Messages that arrive after the folder was opened (they have no UID yet) stay in INBOX.
        try inbox.uidList.refresh()
        let moving = inbox.messages.filter { inbox.uidList.uidByBasename[$0.basename] == $0.uid }
        let existingList = UIDList(parsingOrNil: try? FileSystem.read(target + "/dovecot-uidlist"))
        var targetList = try existingList ?? UIDList(uidValidity: allocateUIDValidity(), guid: UIDList.makeGUID())
        targetList.entries = moving.map { UIDListEntry(uid: $0.uid, basename: $0.basename) }
        targetList.headerNextUID = targetList.nextUID
        try FileSystem.replace(target + "/dovecot-uidlist", with: targetList.serialized())
        for m in moving {
            let dir = m.inNew ? "/new/" : "/cur/"
            if rename(root + dir + m.fileName, target + dir + m.fileName) != 0 && errno != ENOENT {
                throw SystemCallError("rename", context: root + dir + m.fileName)
            }
        }
        try Files.syncDirectory(of: target + "/cur/x")
        try Files.syncDirectory(of: target + "/new/x")
        if var list = inbox.uidList.list {
            let gone = Set(moving.map(\.uid))
            list.headerNextUID = list.nextUID
            list.entries.removeAll { gone.contains($0.uid) }
            released = true
            try lock.replace(root + "/dovecot-uidlist", with: list.serialized())
        }
    }

    // MARK: - Opening

    /// Opens a folder; `readOnly` is IMAP EXAMINE (no flag changes, \Recent not taken). A view
    /// that syncs again and again (a selected mailbox) passes the process's `monitor`. A folder
    /// opened only to write into (APPEND, COPY, MOVE targets) passes `takesRecent: false`, so
    /// what waits in new/ stays \Recent for the session that selects it.
    public func openFolder(_ name: String, readOnly: Bool = false, takesRecent: Bool? = nil,
                           monitor: FolderChangeMonitor? = nil) throws -> MaildirFolder {
        let n = MailboxName.normalized(name)
        let p = try path(for: n)
        if !MailboxName.isInbox(n) && !FileSystem.isRealDirectory(p) {
            if (try FileSystem.lstatPath(p)) != nil { throw MaildirError.notAFolder(p) }
            throw MaildirError.noSuchFolder(name)
        }
        return try MaildirFolder(store: self, name: n, path: p, readOnly: readOnly, takesRecent: takesRecent, monitor: monitor)
    }

    // MARK: - Subscriptions

    public func subscriptions() throws -> [String] {
        try SubscriptionsFile.load(root + "/subscriptions")
    }

    public func subscribe(_ name: String) throws {
        let n = MailboxName.normalized(name)
        do { try MailboxName.validate(n, forCreation: false) } catch { throw MaildirError.invalidName(error) }
        try SubscriptionsFile.update(root + "/subscriptions") { if !$0.contains(n) { $0.append(n) } }
    }

    public func unsubscribe(_ name: String) throws {
        let n = MailboxName.normalized(name)
        try SubscriptionsFile.update(root + "/subscriptions") { $0.removeAll { $0 == n } }
    }

    // MARK: - UIDVALIDITY

    /// A UIDVALIDITY no other folder of this user got: Dovecot's scheme — the last value is in
    /// `dovecot-uidvalidity` (hex) and in the name of an empty `dovecot-uidvalidity.<hex>`
    /// marker; renaming the marker to the next value is the atomic claim (no lock needed).
    public func allocateUIDValidity() throws -> UInt32 {
        let base = root + "/dovecot-uidvalidity"
        for _ in 0..<10 {
            var current: UInt32 = 0
            var marker: String?
            for entry in try FileSystem.list(root) where entry.hasPrefix("dovecot-uidvalidity.") {
                if let v = UInt32(entry.dropFirst("dovecot-uidvalidity.".count), radix: 16), v >= current {
                    current = v; marker = entry
                }
            }
            if let bytes = try? FileSystem.read(base),
               let v = UInt32(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) {
                current = max(current, v)
            }
            let now = UInt32(clamping: Int64(FileSystem.now()))
            let next = max(now, current &+ 1)
            let nextMarker = base + "." + String(format: "%08x", next)
            let claimed: Bool
            if let marker {
                claimed = rename(root + "/" + marker, nextMarker) == 0
            } else {
                let fd = open(nextMarker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                claimed = fd >= 0
                if fd >= 0 { close(fd) }
            }
            if claimed {
                try? FileSystem.replace(base, with: Array(String(format: "%08x", next).utf8))
                return next
            }
            usleep(UInt32.random(in: 100...2000))
        }
        return UInt32(clamping: Int64(FileSystem.now()))
    }
}

extension UIDList {
    init?(parsingOrNil bytes: [UInt8]?) {
        guard let bytes, let l = try? UIDList(parsing: bytes) else { return nil }
        self = l
    }
}
