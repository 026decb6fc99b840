// Writes: save, copy, move, flag changes, expunge. Every message file is written in tmp/,
// fsynced, then renamed into new/ or cur/ and the directory fsynced before a UID is returned
// (invariant 4). A file renamed by another process between our scan and our rename is found
// again by listing cur/ and new/ for its base name.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RoostSystem

extension MaildirFolder {
    // MARK: - Save

    /// Stores a message and returns its UID. With no flags and keywords it goes to new/ (so
    /// the next session to sync sees it as \Recent), otherwise to cur/ with its flags.
    @discardableResult
    public func save(_ bytes: [UInt8], flags: MessageFlags = [], keywords: [String] = [],
                     internalDate: Date? = nil) throws -> UInt32 {
        guard !readOnly else { throw MaildirError.readOnly }
        try store.quota.check(bytes: Int64(bytes.count), messages: 1, useGrace: false)
        let mask = try keywordMask(for: keywords)
        let base = UniqueName.next() + ",S=\(bytes.count),W=\(crlfSize(of: bytes))"
        let tmp = tmpPath + "/" + base
        try writeTemporary(tmp, bytes, date: internalDate)
        let info = MaildirFileName(basename: base, flags: flags, keywordMask: mask)
        let dest = flags.isEmpty && mask == 0 ? newPath + "/" + base : curPath + "/" + info.curName
        let uid: UInt32
        do {
            uid = try placeWithUIDs([(tmp, dest, base)]).first ?? 0
        } catch {
            unlink(tmp)
            throw error
        }
        store.quota.recordChange(bytes: Int64(bytes.count), messages: 1)
        return uid
    }

    /// Writes, sets the internal date, fsyncs.
    func writeTemporary(_ path: String, _ bytes: [UInt8], date: Date?) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemCallError("open", context: path) }
        do {
            try FileSystem.writeAll(fd: fd, bytes, context: path)
            if let date {
                let t = date.timeIntervalSince1970
                let whole = t.rounded(.down)
                let stamp = timespec(tv_sec: Int(whole), tv_nsec: Int((t - whole) * 1e9))
                let times = [stamp, stamp]
                guard futimens(fd, times) == 0 else { throw SystemCallError("futimens", context: path) }
            }
            guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: path) }
        } catch {
            Glibc.close(fd); unlink(path); throw error
        }
        Glibc.close(fd)
    }

    /// Under the uidlist lock: renames each temp file into place, fsyncs the directories,
    /// appends one record per file. Returns the UIDs in order.
    func placeWithUIDs(_ items: [(tmp: String, dest: String, base: String)]) throws -> [UInt32] {
        if !FileSystem.isRealFile(uidListPath) { try assignUIDs([]) }
        if monitor != nil { rescanNeeded = true }  // the view learns its new messages by scanning
        var uids: [UInt32] = []
        _ = try withUIDListLock { lock in
            let readable = (try? uidList.refresh()) == true
            var dirs = Set<String>()
            for item in items {
                guard rename(item.tmp, item.dest) == 0 else { throw SystemCallError("rename", context: item.dest) }
                dirs.insert(String(item.dest[..<item.dest.lastIndex(of: "/")!]))
            }
            for dir in dirs { try Files.syncDirectory(of: dir + "/x") }
            guard readable, let list = uidList.list else { return false }
            var next = list.nextUID
            var entries: [UIDListEntry] = []
            for item in items { entries.append(UIDListEntry(uid: next, basename: item.base)); uids.append(next); next += 1 }
            return try uidList.append(entries, lock: lock)
        }
        if uids.count != items.count {
            // The uidlist vanished or was unreadable under the lock: assign like a sync would.
            try assignUIDs(items.map(\.base))
            uids = items.map { uidList.uidByBasename[$0.base] ?? 0 }
        }
        return uids
    }

    /// Keyword letters for names, adding unknown names to dovecot-keywords. Names beyond the
    /// 26 letters Maildir has are dropped (Dovecot keeps those only in its index).
    func keywordMask(for keywords: [String]) throws -> UInt32 {
        guard !keywords.isEmpty else { return 0 }
        if keywords.contains(where: { keywordTable.index(of: $0) == nil }) {
            keywordTable = try KeywordsFile.add(keywords, at: keywordsPath)
        }
        var mask: UInt32 = 0
        for k in keywords { if let i = keywordTable.index(of: k) { mask |= 1 << UInt32(i) } }
        return mask
    }

    // MARK: - Flags

    /// Changes flags and keywords; returns the messages whose flags changed (new values).
    @discardableResult
    public func setFlags(uids: [UInt32], flags: MessageFlags, keywords: [String] = [],
                         mode: FlagUpdate) throws -> [MaildirMessage] {
        guard !readOnly else { throw MaildirError.readOnly }
        let mask: UInt32
        if mode == .remove {
            mask = keywords.reduce(0) { m, k in keywordTable.index(of: k).map { m | 1 << UInt32($0) } ?? m }
        } else {
            mask = try keywordMask(for: keywords)
        }
        var changed: [MaildirMessage] = []
        for uid in uids {
            guard let i = index(ofUID: uid) else { continue }
            var m = messages[i]
            var current = (name: m.fileName, inNew: m.inNew)
            var attempts = 0
            while true {
                var parsed = MaildirFileName(parsing: current.name)
                switch mode {
                case .replace:
                    parsed.flags = flags
                    parsed.keywordMask = mask | keywordTable.unknownBits(in: parsed.keywordMask)
                case .add: parsed.flags.formUnion(flags); parsed.keywordMask |= mask
                case .remove: parsed.flags.subtract(flags); parsed.keywordMask &= ~mask
                }
                let target = parsed.curName
                let source = (current.inNew ? newPath : curPath) + "/" + current.name
                if (target == current.name && !current.inNew) || rename(source, curPath + "/" + target) == 0 {
                    if target != current.name || current.inNew { expectMove(from: current.inNew ? .new : .cur, current.name, to: target) }
                    let before = (m.flags, m.keywordMask)
                    m.fileName = target; m.inNew = false
                    m.flags = parsed.flags; m.keywordMask = parsed.keywordMask
                    m.keywords = keywordTable.keywords(in: parsed.keywordMask)
                    messages[i] = m
                    version = ViewVersion()
                    if before != (m.flags, m.keywordMask) { changed.append(m) }
                    break
                }
                guard errno == ENOENT else { throw SystemCallError("rename", context: source) }
                attempts += 1
                guard attempts < 5, let found = try locate(m.basename) else { break } // expunged meanwhile
                current = found
            }
        }
        return changed
    }

    /// Finds the current file of a base name in cur/ or new/.
    func locate(_ basename: String) throws -> (name: String, inNew: Bool)? {
        for (dir, inNew) in [(curPath, false), (newPath, true)] {
            for n in try FileSystem.list(dir, filesOnly: true) where MaildirFolder.basename(of: n) == basename {
                return (n, inNew)
            }
        }
        return nil
    }

    // MARK: - Expunge

    /// Deletes messages; returns the UIDs that are now gone (also those another process
    /// deleted first). Their uidlist records are removed; the next UID is kept.
    @discardableResult
    public func expunge(uids: [UInt32]) throws -> [UInt32] {
        guard !readOnly else { throw MaildirError.readOnly }
        // Whether this view is what is on disk, before our own unlinks change the stamps.
        let fresh = try isCurrent()
        var removed: [UInt32] = []
        var bytes: Int64 = 0
        for uid in uids.sorted() {
            guard let m = message(uid: uid) else { continue }
            var current = (name: m.fileName, inNew: m.inNew)
            var attempts = 0
            while true {
                let path = (current.inNew ? newPath : curPath) + "/" + current.name
                if unlink(path) == 0 {
                    monitor?.expect(viewID, current.inNew ? .new : .cur, current.name, arrived: false)
                    break
                }
                guard errno == ENOENT else { throw SystemCallError("unlink", context: path) }
                attempts += 1
                guard attempts < 5, let found = try locate(m.basename) else { break }
                current = found
            }
            removed.append(uid)
            bytes += m.size
        }
        guard !removed.isEmpty else { return [] }
        let gone = Set(removed)
        messages.removeAll { gone.contains($0.uid) }
        // The unlinks are not fsynced, as in Dovecot (fsync_mode optimized): a crash can bring a
        // message back, not lose one. Their records leave dovecot-uidlist at once, so a file
        // that comes back under its name (a restore) gets a new UID, never the expunged one;
        // the rewrite is fsynced but not its directory (a crash may undo the expunge, records
        // and files alike, but never leaves a torn uidlist). A view that knows nobody else changed the folder since its scan
        // also drops records below its uidNext that have no message (others' deletions).
        let present = Set(messages.lazy.map(\.uid))
        let seenBelow = uidNext
        _ = try withUIDListLock { lock in
            guard (try? uidList.refresh()) == true, var list = uidList.list,
                  list.uidValidity == uidValidity else { return false }  // recreated: not our UIDs
            list.headerNextUID = list.nextUID
            list.entries.removeAll { gone.contains($0.uid) || (fresh && $0.uid < seenBelow && !present.contains($0.uid)) }
            try uidList.replace(with: list, lock: lock, syncDirectory: false)
            return true
        }
        // Our own rewrite: records of others' changes would have come with files of theirs,
        // which the monitor reports.
        if monitor != nil { uidListSeen = uidList.stamp }
        version = ViewVersion()
        for uid in removed { blobs[uid] = nil }
        store.quota.recordChange(bytes: -bytes, messages: -removed.count)
        return removed
    }

    /// Nobody else changed new/ or cur/ since this view last looked (so a file it does not
    /// have is really gone).
    func isCurrent() throws -> Bool {
        if let monitor { return !rescanNeeded && !monitor.changedByOthers(viewID) }
        guard settled else { return false }
        return try currentStamps() == Stamps(new: newStamp, cur: curStamp, uidList: uidListSeen, keywords: keywordsStamp)
    }

    /// IMAP EXPUNGE: removes every message flagged \Deleted.
    @discardableResult
    public func expungeDeleted() throws -> [UInt32] {
        try expunge(uids: messages.filter { $0.flags.contains(.deleted) }.map(\.uid))
    }

    // MARK: - Copy and move

    /// Copies messages (hard links when the file system allows) with their flags, keywords and
    /// internal dates. Returns (source UID, new UID) pairs for COPYUID. Refused as a whole when
    /// the copies would not fit in the quota (a move, which frees what it adds, is not checked).
    @discardableResult
    public func copy(uids: [UInt32], to target: MaildirFolder, checkQuota: Bool = true) throws -> [(source: UInt32, target: UInt32)] {
        guard !target.readOnly else { throw MaildirError.readOnly }
        if checkQuota && store.quota.policy != nil {
            let wanted = uids.compactMap { message(uid: $0) }
            try store.quota.check(bytes: wanted.reduce(0) { $0 + $1.size }, messages: Int64(wanted.count), useGrace: false)
        }
        var staged: [(tmp: String, dest: String, base: String)] = []
        var sources: [UInt32] = []
        var bytes: Int64 = 0
        do {
            for uid in uids.sorted() {
                guard let m = message(uid: uid) else { continue }
                let base = UniqueName.next() + ",S=\(m.size),W=\(m.virtualSize)"
                let tmp = target.tmpPath + "/" + base
                guard try linkOrCopy(m, to: tmp) else { continue }
                let mask = try target.keywordMask(for: m.keywords)
                let info = MaildirFileName(basename: base, flags: m.flags, keywordMask: mask)
                let dest = m.flags.isEmpty && mask == 0 ? target.newPath + "/" + base : target.curPath + "/" + info.curName
                staged.append((tmp, dest, base))
                sources.append(uid)
                bytes += m.size
            }
            let newUIDs = try target.placeWithUIDs(staged)
            store.quota.recordChange(bytes: bytes, messages: staged.count)
            return Array(zip(sources, newUIDs)).map { (source: $0.0, target: $0.1) }
        } catch {
            for s in staged { unlink(s.tmp) }
            throw error
        }
    }

    /// MOVE (RFC 6851): copy, then expunge the originals.
    @discardableResult
    public func move(uids: [UInt32], to target: MaildirFolder) throws -> [(source: UInt32, target: UInt32)] {
        guard !readOnly else { throw MaildirError.readOnly }
        let pairs = try copy(uids: uids, to: target, checkQuota: false)
        try expunge(uids: pairs.map(\.source))
        return pairs
    }

    /// Hard-links a message file to `tmp`, or copies it (keeping the internal date) when linking
    /// is impossible. False when the message is gone.
    private func linkOrCopy(_ m: MaildirMessage, to tmp: String) throws -> Bool {
        var source = filePath(m)
        for _ in 0..<5 {
            if link(source, tmp) == 0 { return true }
            switch errno {
            case ENOENT:
                guard let found = try locate(m.basename) else { return false }
                source = (found.inNew ? newPath : curPath) + "/" + found.name
            case EXDEV, EPERM, EMLINK, ENOTSUP, EACCES:
                let data = try FileSystem.read(source)
                try writeTemporary(tmp, data, date: m.internalDate)
                return true
            default:
                throw SystemCallError("link", context: source)
            }
        }
        return false
    }

    // MARK: - Reading

    /// Opens a message file read-only (O_NOFOLLOW); the caller closes the descriptor.
    public func openMessage(uid: UInt32) throws -> Int32 {
        guard let i = index(ofUID: uid) else { throw MaildirError.noSuchMessage(uid) }
        for _ in 0..<5 {
            let fd = open(filePath(messages[i]), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 { return fd }
            guard errno == ENOENT else { throw SystemCallError("open", context: filePath(messages[i])) }
            guard let found = try locate(messages[i].basename) else { break }
            messages[i].fileName = found.name
            messages[i].inNew = found.inNew
        }
        throw MaildirError.noSuchMessage(uid)
    }

    /// The whole message.
    public func readMessage(uid: UInt32) throws -> [UInt8] {
        let fd = try openMessage(uid: uid)
        defer { Glibc.close(fd) }
        return try FileSystem.readAll(fd: fd, context: "\(path) UID \(uid)")
    }
}

extension FileSystem {
    static func isRealFile(_ path: String) -> Bool {
        guard let st = try? lstatPath(path) else { return false }
        return isRegular(st)
    }
}
