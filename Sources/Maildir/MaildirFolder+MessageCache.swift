// The folder's side of roost.cache (MessageCache.swift): lookups keyed by the message's UID,
// base name and size, batched appends, and compaction when the session leaves the folder.
// The IMAP layer computes the data (it owns the MIME library); this module only stores it.
#if canImport(Glibc)
import Glibc
#endif

extension MaildirFolder {
    var messageCachePath: String { path + "/" + MessageCacheFile.fileName }

    private var messageCache: MessageCacheFile {
        if let c = messageCacheFile, c.uidValidity == uidValidity { return c }
        let c = MessageCacheFile(path: messageCachePath, uidValidity: uidValidity)
        messageCacheFile = c
        return c
    }

    private func cacheKey(_ m: MaildirMessage) -> MessageCacheFile.RecordKey {
        MessageCacheFile.RecordKey(uid: m.uid, nameHash: MessageCacheFile.nameHash(m.basename), size: m.size)
    }

    /// ENVELOPE, BODY, BODYSTRUCTURE and header size of a message, if roost.cache has an intact
    /// record for exactly this message file.
    public func cachedData(for m: MaildirMessage) -> CachedMessageData? {
        guard uidValidity != 0 else { return nil }
        return messageCache.lookup(cacheKey(m))
    }

    /// Adds a message's data to roost.cache (written in batches; see flushMessageCache).
    public func storeCachedData(_ data: CachedMessageData, for m: MaildirMessage) {
        guard uidValidity != 0 else { return }
        messageCache.store(data, key: cacheKey(m))
    }

    /// Writes pending roost.cache records (call at the end of a command).
    public func flushMessageCache() {
        messageCacheFile?.flush()
    }

    /// Flushes, and compacts roost.cache when more than half of it is dead.
    func closeMessageCache() {
        guard uidValidity != 0, let c = messageCacheFile else { return }
        c.compactIfMostlyDead { self.index(ofUID: $0) != nil }
    }

    /// The first `length` bytes of a message (its header, when `length` is the cached header size).
    public func readMessagePrefix(uid: UInt32, length: Int) throws -> [UInt8] {
        let fd = try openMessage(uid: uid)
        defer { Glibc.close(fd) }
        return try FileSystem.readRange(fd: fd, offset: 0, count: length)
    }
}
