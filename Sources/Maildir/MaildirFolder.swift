// One open folder (one IMAP session's view). Not Sendable: a session owns its instance and
// uses it from one serial queue or worker at a time; other sessions and processes on the same
// folder have their own instances and meet only on disk (dotlocks, atomic renames) — or, while
// one mail process fans a change out to its sessions, through a `FolderScanRound`, which lets
// them take over one session's scan instead of each scanning again.
//
// Implementation notes
// - Scans list new/ before cur/ so a message moved new/ → cur/ mid-scan is still seen; a
//   directory whose mtime changed during its listing is listed again.
// - A read-write session moves new/ files to cur/; whoever's rename succeeds gets \Recent.
// - UIDs are given only under dovecot-uidlist.lock after re-reading the uidlist.
// - A message missing from a scan is expunged. If the directories changed within the last
//   FolderIndex.dirtyWindow seconds, missing messages are looked for once more first (a
//   concurrent flag rename can hide a file from one readdir).
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RoostSystem

public final class MaildirFolder {
    public let name: String
    /// The folder directory (the mail root for INBOX).
    public let path: String
    public let readOnly: Bool
    /// Moves what it finds in new/ to cur/, making it \Recent in this view. False for EXAMINE
    /// and for a folder opened only to append or copy into: Maildir's \Recent is "still in
    /// new/", and a view that took it without a session to show it would lose it.
    public let takesRecent: Bool
    let store: MaildirStore

    public internal(set) var uidValidity: UInt32 = 0
    public internal(set) var uidNext: UInt32 = 1
    /// Messages in UID order.
    public internal(set) var messages: [MaildirMessage] = []
    public internal(set) var keywordTable = KeywordTable()
    /// Seconds to wait for a dotlock (Dovecot breaks uidlist locks after 120 s).
    public var lockTimeout: Double = 130

    var uidList: UIDListFile
    var newStamp = FileStamp.missing
    var curStamp = FileStamp.missing
    var keywordsStamp = FileStamp.missing
    /// The uidlist stamp this view corresponds to.
    var uidListSeen = FileStamp.missing
    /// Stamps were taken long enough after the last modification to be trusted.
    var settled = false
    var blobs: [UInt32: [UInt8]] = [:]
    var cacheWritten: FolderIndex?
    /// roost.cache, opened on first use.
    var messageCacheFile: MessageCacheFile?
    /// How the folder was loaded the last time (for benchmarks and tests).
    public private(set) var lastLoadUsedCache = false
    /// Identifies the contents of `messages` (apart from \Recent and lazily found dates): a
    /// fresh one after every rescan and every change this folder makes itself; taken over from
    /// the scan a `FolderScanRound` shares (see FolderScanRound.swift).
    var version = ViewVersion()
    /// `recentCount` as of a version.
    var recentCache: (version: ViewVersion, count: Int)?
    /// Tells this view when someone else changed new/ or cur/ (see FolderChangeMonitor.swift);
    /// nil: unchanged directory stamps old enough to trust say so instead.
    var monitor: FolderChangeMonitor?
    /// A change of our own that `messages` does not show yet (a message saved here).
    var rescanNeeded = false
    var viewID: ObjectIdentifier { ObjectIdentifier(self) }

    var curPath: String { path + "/cur" }
    var newPath: String { path + "/new" }
    var tmpPath: String { path + "/tmp" }
    var uidListPath: String { path + "/dovecot-uidlist" }
    var keywordsPath: String { path + "/dovecot-keywords" }
    var indexPath: String { path + "/" + FolderIndex.fileName }

    init(store: MaildirStore, name: String, path: String, readOnly: Bool, takesRecent: Bool? = nil,
         monitor: FolderChangeMonitor? = nil) throws {
        self.store = store
        self.name = name
        self.path = path
        self.readOnly = readOnly
        self.takesRecent = takesRecent ?? !readOnly
        self.uidList = UIDListFile(path: path + "/dovecot-uidlist")
        guard let st = try FileSystem.lstatPath(path), FileSystem.isDirectory(st) || name == "INBOX" else {
            throw MaildirError.noSuchFolder(name)
        }
        // Dovecot recreates missing cur/new/tmp (git, rsync and some tools drop empty ones).
        for dir in [curPath, newPath, tmpPath] {
            try FileSystem.makeDirectory(dir)
            guard FileSystem.isRealDirectory(dir) else { throw MaildirError.notAFolder(dir) }
        }
        // Watching starts before the first look, so nothing between the two goes unseen.
        if let monitor, monitor.follow(ObjectIdentifier(self), path: path) { self.monitor = monitor }
        try load()
    }

    deinit { monitor?.unfollow(ObjectIdentifier(self)) }

    // MARK: - Lookup

    /// Index in `messages` of a UID (binary search).
    public func index(ofUID uid: UInt32) -> Int? {
        var lo = 0, hi = messages.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let u = messages[mid].uid
            if u == uid { return mid }
            if u < uid { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    public func message(uid: UInt32) -> MaildirMessage? { index(ofUID: uid).map { messages[$0] } }

    /// Messages that are \Recent in this view; counted once per `version` (a round that
    /// takes over another view's scan carries the count along, see FolderScanRound.swift).
    public var recentCount: Int {
        if let cached = recentCache, cached.version === version { return cached.count }
        var n = 0
        for i in messages.indices where messages[i].recent { n += 1 }
        recentCache = (version, n)
        return n
    }

    func filePath(_ m: MaildirMessage) -> String { (m.inNew ? newPath : curPath) + "/" + m.fileName }

    // MARK: - Loading and syncing

    private func load() throws {
        let stamps = try currentStamps()
        if let cache = FolderIndex.load(indexPath) {
            let trusted = cache.newStamp == stamps.new && cache.curStamp == stamps.cur &&
                cache.uidListStamp == stamps.uidList && cache.keywordsStamp == stamps.keywords &&
                cache.isSettled && stamps.uidList != .missing &&
                (!takesRecent || !cache.entries.contains { $0.inNew })
            if trusted {
                adopt(cache)
                lastLoadUsedCache = true
                return
            }
            _ = try rescan(hints: Hints(cache: cache))
        } else {
            _ = try rescan(hints: Hints())
        }
        try? writeCache()
    }

    private func adopt(_ cache: FolderIndex) {
        uidValidity = cache.uidValidity
        uidNext = cache.uidNext
        keywordTable = KeywordTable(names: cache.keywords)
        var list: [MaildirMessage] = []
        list.reserveCapacity(cache.entries.count)
        for e in cache.entries {
            let mask = e.keywordMask
            list.append(MaildirMessage(uid: e.uid, basename: MaildirFolder.basename(of: e.fileName), fileName: e.fileName,
                                       inNew: e.inNew, flags: MessageFlags(rawValue: e.flags),
                                       keywords: mask == 0 ? [] : keywordTable.keywords(in: mask), keywordMask: mask,
                                       size: e.size, virtualSize: e.virtualSize,
                                       internalDateSeconds: e.internalDate, folderPath: path, recent: false))
        }
        messages = list
        newStamp = cache.newStamp; curStamp = cache.curStamp; keywordsStamp = cache.keywordsStamp
        uidListSeen = cache.uidListStamp
        settled = true
        blobs = cache.blobs
        cacheWritten = cache
    }

    struct Stamps: Equatable { var new, cur, uidList, keywords: FileStamp }

    func currentStamps() throws -> Stamps {
        Stamps(new: try FileSystem.stamp(newPath), cur: try FileSystem.stamp(curPath),
               uidList: try FileSystem.stamp(uidListPath), keywords: try FileSystem.stamp(keywordsPath))
    }

    /// Picks up changes made by other sessions and processes since the last sync.
    public func sync() throws -> FolderChanges { try syncDetailed().changes }

    /// `sync`, also naming every message whose file name, place or flags changed.
    func syncDetailed() throws -> ScanOutcome {
        if let monitor {
            // new/ and cur/ are as this view left them unless the monitor saw otherwise; the
            // uidlist and keywords files are not watched, their stamps are compared.
            if !rescanNeeded, !monitor.changedByOthers(viewID),
               try FileSystem.stamp(uidListPath) == uidListSeen, try FileSystem.stamp(keywordsPath) == keywordsStamp {
                return ScanOutcome()
            }
            return try rescan(hints: Hints())
        }
        if settled {
            let s = try currentStamps()
            if s.new == newStamp && s.cur == curStamp && s.uidList == uidListSeen && s.keywords == keywordsStamp {
                return ScanOutcome()
            }
        }
        return try rescan(hints: Hints())
    }

    /// What a rescan found: the changes a client sees, and the messages (new values) whose file
    /// name, place or flags changed, so a `FolderScanRound` can hand the scan to other views.
    struct ScanOutcome {
        var changes = FolderChanges()
        var replaced: [MaildirMessage] = []
    }

    /// Known sizes and dates, so a rescan stats and reads only files it has never seen.
    struct Hints {
        var byBasename: [String: (size: Int64, vsize: Int64, date: Double)] = [:]
        init() {}
        init(cache: FolderIndex) {
            byBasename.reserveCapacity(cache.entries.count)
            for e in cache.entries {
                byBasename[MaildirFolder.basename(of: e.fileName)] = (e.size, e.virtualSize, e.internalDate)
            }
        }
    }

    static func basename(of fileName: String) -> String {
        let length = fileName.utf8.withContiguousStorageIfAvailable { bytes -> Int in
            var i = bytes.count - 1
            while i >= 0 && bytes[i] != UInt8(ascii: ":") { i -= 1 }
            return i >= 0 ? i : bytes.count
        } ?? FileNameFacts(fileName).basenameLength
        return length == fileName.utf8.count ? fileName : String(decoding: fileName.utf8.prefix(length), as: UTF8.self)
    }

    /// One file found by a scan.
    struct ScannedFile {
        var name: String
        var basename: String
        var facts: FileNameFacts
        var inNew: Bool

        init(_ name: String, inNew: Bool) {
            self.name = name
            self.inNew = inNew
            facts = FileNameFacts(name)
            basename = facts.basename(of: name)
        }
    }

    /// Lists a directory until its mtime is the same before and after the listing.
    private func stableList(_ dir: String) throws -> ([String], FileStamp) {
        var attempt = 0
        while true {
            let before = try FileSystem.stamp(dir)
            let names = try FileSystem.list(dir, filesOnly: true)
            let after = try FileSystem.stamp(dir)
            attempt += 1
            if before == after || attempt >= 3 { return (names, before) }
        }
    }

    func rescan(hints: Hints) throws -> ScanOutcome {
        if let monitor {
            monitor.beginScan(viewID)
            rescanNeeded = false
        }
        let ks = try FileSystem.stamp(keywordsPath)
        if ks != keywordsStamp { keywordTable = try KeywordsFile.load(keywordsPath); keywordsStamp = ks }

        var recentBasenames = Set<String>()
        var (newNames, newBefore) = try stableList(newPath)
        if takesRecent && !readOnly && !newNames.isEmpty {
            for n in newNames where !n.hasPrefix(".") {
                let base = MaildirFolder.basename(of: n)
                let target = base.utf8.count == n.utf8.count ? n + ":2," : n
                if rename(newPath + "/" + n, curPath + "/" + target) == 0 {
                    recentBasenames.insert(base)
                    expectMove(from: .new, n, to: target)
                }
            }
            (newNames, newBefore) = try stableList(newPath)
        }
        let (curNames, curBefore) = try stableList(curPath)
        var found: [ScannedFile] = []
        found.reserveCapacity(curNames.count + newNames.count)
        for n in curNames where !n.hasPrefix(".") { found.append(ScannedFile(n, inNew: false)) }
        for n in newNames where !n.hasPrefix(".") { found.append(ScannedFile(n, inNew: true)) }

        do { try uidList.refresh() } catch is UIDList.ParseError { uidList = UIDListFile(path: uidListPath) }
        var pairs = try uidsForFiles(found)

        let now = FileSystem.now()
        let settledNow = newBefore.modificationTime + FolderIndex.dirtyWindow < now &&
            curBefore.modificationTime + FolderIndex.dirtyWindow < now
        if !settledNow && !messages.isEmpty {
            let seen = Set(pairs.map(\.uid))
            if messages.contains(where: { !seen.contains($0.uid) }) {
                // A concurrent rename may have hidden a file from one listing: look once more.
                let known = Set(found.map(\.name))
                var extra: [ScannedFile] = []
                for n in try FileSystem.list(curPath, filesOnly: true) where !n.hasPrefix(".") && !known.contains(n) { extra.append(ScannedFile(n, inNew: false)) }
                for n in try FileSystem.list(newPath, filesOnly: true) where !n.hasPrefix(".") && !known.contains(n) { extra.append(ScannedFile(n, inNew: true)) }
                let base = found.count
                found.append(contentsOf: extra)
                pairs.append(contentsOf: try uidsForFiles(extra).map { ($0.uid, $0.index + base) })
            }
        }
        guard let list = uidList.list else { throw MaildirError.corrupt(uidListPath) }
        // UID order; a base name seen twice (moved new/ → cur/ between listings) counts once.
        pairs.sort { $0.uid != $1.uid ? $0.uid < $1.uid : (found[$0.index].inNew ? 1 : 0) < (found[$1.index].inNew ? 1 : 0) }

        var fresh: [MaildirMessage] = []
        fresh.reserveCapacity(pairs.count)
        var lastUID: UInt32 = 0
        for (uid, i) in pairs where uid != lastUID {
            lastUID = uid
            let file = found[i]
            let base = file.basename
            if var previous = message(uid: uid), previous.fileName == file.name, previous.inNew == file.inNew {
                if recentBasenames.contains(base) { previous.recent = true }
                fresh.append(previous)
                continue
            }
            let previous = message(uid: uid).flatMap { $0.basename == base ? $0 : nil }
            fresh.append(makeMessage(file, uid: uid, previous: previous, hint: hints.byBasename[base],
                                     recent: recentBasenames.contains(base)))
        }

        var outcome = ScanOutcome()
        if uidValidity != 0 && list.uidValidity != uidValidity {
            outcome.changes.uidValidityChanged = true
            outcome.changes.expunged = messages.map(\.uid)
            outcome.changes.added = fresh
        } else {
            diff(old: messages, new: fresh, into: &outcome.changes, replaced: &outcome.replaced)
        }
        uidValidity = list.uidValidity
        uidNext = list.nextUID
        messages = fresh
        newStamp = newBefore
        curStamp = curBefore
        uidListSeen = uidList.stamp
        settled = settledNow
        version = ViewVersion()
        for uid in outcome.changes.expunged { blobs[uid] = nil }
        return outcome
    }

    /// (uid, index into files) for every file, giving UIDs to files that have none.
    private func uidsForFiles(_ files: [ScannedFile]) throws -> [(uid: UInt32, index: Int)] {
        var pairs: [(uid: UInt32, index: Int)] = []
        pairs.reserveCapacity(files.count)
        var unknown: [Int] = []
        for (i, f) in files.enumerated() {
            if let uid = uidList.uidByBasename[f.basename] { pairs.append((uid, i)) } else { unknown.append(i) }
        }
        if !unknown.isEmpty || !uidList.isLoaded {
            try assignUIDs(unknown.map { files[$0].basename })
            if uidList.list?.uidValidity != uidValidity && uidValidity != 0 {
                // Recreated uidlist: every UID changed.
                return try uidsForFiles(files)
            }
            for i in unknown {
                if let uid = uidList.uidByBasename[files[i].basename] { pairs.append((uid, i)) }
            }
        }
        return pairs
    }

    /// A message for a file not in the previous view. Sizes come from S=/W= in the name, else
    /// from the previous view or the old cache, else from the file; the date from the previous
    /// view or cache, else it stays unknown (looked up on first use) when the name gave both
    /// sizes, so a cold scan of Dovecot-named files stats nothing.
    private func makeMessage(_ file: ScannedFile, uid: UInt32, previous: MaildirMessage?,
                             hint: (size: Int64, vsize: Int64, date: Double)?, recent: Bool) -> MaildirMessage {
        let facts = file.facts
        var size = facts.size ?? previous?.size ?? hint?.size
        var vsize = facts.virtualSize ?? previous?.virtualSize ?? hint?.vsize
        var date = previous?.internalDateSeconds ?? hint?.date ?? .nan
        let full = (file.inNew ? newPath : curPath) + "/" + file.name
        if size == nil || vsize == nil {
            if let st = try? FileSystem.lstatPath(full) {
                size = size ?? Int64(st.st_size)
                if date.isNaN { date = FileStamp(st).modificationTime }
            }
        }
        if vsize == nil { vsize = (try? FileSystem.read(full)).map { crlfSize(of: $0) } ?? size }
        let mask = facts.keywordMask
        return MaildirMessage(uid: uid, basename: file.basename, fileName: file.name, inNew: file.inNew, flags: facts.flags,
                              keywords: mask == 0 ? [] : keywordTable.keywords(in: mask), keywordMask: mask,
                              size: size ?? 0, virtualSize: vsize ?? 0, internalDateSeconds: date, folderPath: path,
                              recent: recent || (previous?.recent ?? false))
    }

    /// INTERNALDATE of a message, looked up (and remembered, and cached on close) when a cold
    /// scan left it unknown. A file renamed meanwhile is found again by its base name.
    public func internalDate(of m: MaildirMessage) -> Date {
        if !m.internalDateSeconds.isNaN { return Date(timeIntervalSince1970: m.internalDateSeconds) }
        var seconds = MaildirMessage.fileDate(m.filePath)
        if seconds == nil, let found = try? locate(m.basename) {
            seconds = MaildirMessage.fileDate((found.inNew ? newPath : curPath) + "/" + found.name)
        }
        guard let seconds else { return Date(timeIntervalSince1970: 0) }
        if let i = index(ofUID: m.uid) { messages[i].internalDateSeconds = seconds }
        return Date(timeIntervalSince1970: seconds)
    }

    /// Expunged, added and re-flagged messages from `old` to `new` (both in UID order);
    /// `replaced` also gets those whose file was only renamed or moved.
    func diff(old: [MaildirMessage], new: [MaildirMessage], into changes: inout FolderChanges,
              replaced: inout [MaildirMessage]) {
        var i = 0, j = 0
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i].uid < new[j].uid) {
                changes.expunged.append(old[i].uid); i += 1
            } else if i == old.count || new[j].uid < old[i].uid {
                changes.added.append(new[j]); j += 1
            } else {
                if old[i].flags != new[j].flags || old[i].keywordMask != new[j].keywordMask || old[i].keywords != new[j].keywords {
                    changes.flagsChanged.append(new[j])
                    replaced.append(new[j])
                } else if old[i].fileName != new[j].fileName || old[i].inNew != new[j].inNew {
                    replaced.append(new[j])
                }
                i += 1; j += 1
            }
        }
    }

    // MARK: - UID assignment

    /// Gives UIDs to base names that have none (in delivery-time order), creating the uidlist
    /// with a fresh UIDVALIDITY if it is missing or unreadable. Holds the uidlist lock.
    func assignUIDs(_ basenames: [String]) throws {
        _ = try withUIDListLock { lock in
            var fresh = false
            do {
                if !(try uidList.refresh()) { fresh = true }
            } catch is UIDList.ParseError {
                fresh = true
            }
            let todo = MaildirFolder.deliveryOrder(fresh ? basenames : basenames.filter { uidList.uidByBasename[$0] == nil })
            if fresh {
                var list = UIDList(uidValidity: try store.allocateUIDValidity(), guid: UIDList.makeGUID())
                for (i, b) in todo.enumerated() { list.entries.append(UIDListEntry(uid: UInt32(i + 1), basename: b)) }
                list.headerNextUID = list.nextUID
                uidList = UIDListFile(path: uidListPath)
                try uidList.replace(with: list, lock: lock)
                return true
            }
            guard !todo.isEmpty, let list = uidList.list else { return false }
            var next = list.nextUID
            var entries: [UIDListEntry] = []
            for b in todo { entries.append(UIDListEntry(uid: next, basename: b)); next += 1 }
            return try uidList.append(entries, lock: lock)
        }
    }

    /// Runs `body` holding dovecot-uidlist.lock; `body` returns true if it already released the
    /// lock (by renaming the lock file over the uidlist).
    func withUIDListLock(_ body: (DotLock) throws -> Bool) throws -> Bool {
        let lock = try DotLock.acquire(uidListPath, timeout: lockTimeout)
        var released = false
        defer { if !released { lock.release() } }
        released = try body(lock)
        return released
    }

    /// Sorts base names by the seconds and microseconds in `<secs>.M<usecs>P…`, then by name.
    static func deliveryOrder(_ names: [String]) -> [String] {
        func key(_ n: String) -> (UInt64, UInt64) {
            var secs: UInt64 = 0, usecs: UInt64 = 0
            var it = n.utf8.makeIterator()
            while let c = it.next(), c >= 48, c <= 57 { secs = secs &* 10 &+ UInt64(c - 48) }
            if n.utf8.dropFirst(String(secs).utf8.count + 1).first == UInt8(ascii: "M") {
                for c in n.utf8.dropFirst(String(secs).utf8.count + 2) {
                    guard c >= 48, c <= 57 else { break }
                    usecs = usecs &* 10 &+ UInt64(c - 48)
                }
            }
            return (secs, usecs)
        }
        return names.map { (key($0), $0) }.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1)
    }

    // MARK: - Cache

    /// Writes roost.index for the current view (not fsynced: it is only a cache, and its
    /// checksum catches a torn write).
    public func writeCache() throws {
        guard uidValidity != 0 else { return }
        var entries: [FolderIndex.Entry] = []
        entries.reserveCapacity(messages.count)
        for m in messages {
            entries.append(FolderIndex.Entry(uid: m.uid, fileName: m.fileName, inNew: m.inNew, flags: m.flags.rawValue,
                                             keywordMask: m.keywordMask, size: m.size, virtualSize: m.virtualSize,
                                             internalDate: m.internalDateSeconds))
        }
        let index = FolderIndex(uidValidity: uidValidity, uidNext: uidNext, newStamp: newStamp, curStamp: curStamp,
                                uidListStamp: uidListSeen, keywordsStamp: keywordsStamp,
                                scannedAt: settled ? FileSystem.now() : 0, keywords: keywordTable.names,
                                entries: entries, blobs: blobs)
        try FileSystem.replace(indexPath, with: index.serialized(), durable: false)
        cacheWritten = index
    }

    /// An opaque per-message cache blob (e.g. envelope, bodystructure); kept in roost.index.
    public func cachedBlob(uid: UInt32) -> [UInt8]? { blobs[uid] }

    public func setCachedBlob(_ blob: [UInt8]?, uid: UInt32) { blobs[uid] = blob }

    /// Writes the cache; call when the session leaves the folder.
    public func close() {
        closeMessageCache()
        if let monitor {
            // Own changes went into `messages` without a rescan, so the stamps are older than
            // the view: take them now, and trust them only if nobody else changed anything.
            let stamps = try? currentStamps()
            if let stamps, !rescanNeeded, !monitor.changedByOthers(viewID),
               stamps.uidList == uidListSeen, stamps.keywords == keywordsStamp {
                newStamp = stamps.new
                curStamp = stamps.cur
                let now = FileSystem.now()
                settled = stamps.new.modificationTime + FolderIndex.dirtyWindow < now &&
                    stamps.cur.modificationTime + FolderIndex.dirtyWindow < now
            } else {
                settled = false
            }
            monitor.unfollow(viewID)
            self.monitor = nil
        }
        try? writeCache()
    }

    /// Tells the monitor about a rename this view made (`from` in new/ or cur/, to cur/).
    func expectMove(from directory: MaildirSubdirectory, _ name: String, to target: String) {
        guard let monitor else { return }
        monitor.expect(viewID, directory, name, arrived: false)
        monitor.expect(viewID, .cur, target, arrived: true)
    }
}

extension MaildirFolder {
    static func closeDescriptor(_ fd: Int32) { _ = Glibc.close(fd) }
}
