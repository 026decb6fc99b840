import Testing
import Foundation
@testable import Maildir

/// roost.cache: round trip, and every way it can be missing, stale or corrupt reads as "not
/// cached" (and is rebuilt by the next write) — never as wrong data.
@Suite struct MessageCacheTests {
    /// Deterministic fake data for a message, so any process can check any record.
    static func data(for m: MaildirMessage, variant: Int = 0) -> CachedMessageData {
        CachedMessageData(headerSize: Int(m.uid) * 3 + variant,
                          envelope: Array("(\"env \(m.uid) \(m.basename)\")".utf8),
                          body: Array("(\"text\" \"plain\" \(m.uid))".utf8),
                          bodyStructure: Array(repeating: UInt8(ascii: "b"), count: Int(m.uid % 97) + variant))
    }

    /// Lives as long as the test (each test gets its own suite value).
    let tmp = TempDir("mcache")

    func folder(_ count: Int) throws -> (TempDir, MaildirStore, MaildirFolder) {
        let store = try MaildirStore(root: tmp.path + "/Maildir")
        let f = try store.openFolder("INBOX")
        for i in 0..<count { try f.save(message("m\(i)")) }
        _ = try f.sync()
        return (tmp, store, f)
    }

    func fill(_ f: MaildirFolder) {
        for m in f.messages { f.storeCachedData(Self.data(for: m), for: m) }
        f.flushMessageCache()
    }

    @Test func roundTripThroughAnotherInstance() throws {
        let (_, store, f) = try folder(20)
        #expect(f.cachedData(for: f.messages[0]) == nil)
        fill(f)
        let other = try store.openFolder("INBOX")
        for m in other.messages { #expect(other.cachedData(for: m) == Self.data(for: m)) }
    }

    @Test func missingFileIsRebuilt() throws {
        let (_, store, f) = try folder(5)
        fill(f)
        unlink(f.path + "/roost.cache")
        let other = try store.openFolder("INBOX")
        #expect(other.messages.allSatisfy { other.cachedData(for: $0) == nil })
        fill(other)
        let third = try store.openFolder("INBOX")
        #expect(third.messages.allSatisfy { third.cachedData(for: $0) == Self.data(for: $0) })
    }

    @Test func staleRecordsAreIgnored() throws {
        let (_, store, f) = try folder(3)
        fill(f)
        var header = try FileSystem.read(f.path + "/roost.cache")
        // Another UIDVALIDITY in the header: the whole file is stale…
        header[8] ^= 0xff
        try FileSystem.replace(f.path + "/roost.cache", with: header)
        var other = try store.openFolder("INBOX")
        #expect(other.messages.allSatisfy { other.cachedData(for: $0) == nil })
        // …and the next write replaces it with a good one.
        fill(other)
        other = try store.openFolder("INBOX")
        #expect(other.messages.allSatisfy { other.cachedData(for: $0) == Self.data(for: $0) })
        // A record whose key names another file (other base name or size) is not used.
        let m = other.messages[0]
        let key = MessageCacheFile.RecordKey(uid: m.uid, nameHash: MessageCacheFile.nameHash(m.basename + "x"), size: m.size)
        let c = MessageCacheFile(path: other.path + "/roost.cache", uidValidity: other.uidValidity)
        #expect(c.lookup(key) == nil)
        #expect(c.lookup(.init(uid: m.uid, nameHash: MessageCacheFile.nameHash(m.basename), size: m.size + 1)) == nil)
        #expect(c.lookup(.init(uid: m.uid, nameHash: MessageCacheFile.nameHash(m.basename), size: m.size)) == Self.data(for: m))
    }

    @Test func corruptRecordsAreSkippedNotTrusted() throws {
        let (_, store, f) = try folder(10)
        fill(f)
        let path = f.path + "/roost.cache"
        var bytes = try FileSystem.read(path)
        // Flip one byte inside the fourth record's payload and cut the last record short.
        var starts: [Int] = []
        var i = MessageCacheFile.headerSize
        while i < bytes.count {
            starts.append(i)
            i += Int(bytes[i + 4]) | Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]) << 16
        }
        #expect(starts.count == 10)
        bytes[starts[3] + 40] ^= 0x55
        bytes.removeLast(5)
        try FileSystem.replace(path, with: bytes)
        let other = try store.openFolder("INBOX")
        for (n, m) in other.messages.enumerated() {
            let expected: CachedMessageData? = (n == 3 || n == 9) ? nil : Self.data(for: m)
            #expect(other.cachedData(for: m) == expected, "message \(n)")
        }
        // Rebuilt by writing the missing ones again.
        for (n, m) in other.messages.enumerated() where n == 3 || n == 9 {
            other.storeCachedData(Self.data(for: m), for: m)
        }
        other.flushMessageCache()
        let third = try store.openFolder("INBOX")
        #expect(third.messages.allSatisfy { third.cachedData(for: $0) == Self.data(for: $0) })
    }

    @Test func garbageFileIsReplaced() throws {
        let (_, store, f) = try folder(3)
        try FileSystem.replace(f.path + "/roost.cache", with: Array("not a cache at all".utf8))
        #expect(f.messages.allSatisfy { f.cachedData(for: $0) == nil })
        fill(f)
        let other = try store.openFolder("INBOX")
        #expect(other.messages.allSatisfy { other.cachedData(for: $0) == Self.data(for: $0) })
    }

    @Test func newerRecordWinsAndCompactionKeepsLiveOnes() throws {
        let (_, store, f) = try folder(40)
        // Enough superseded records to pass the 1 MB compaction minimum.
        let big = CachedMessageData(headerSize: 1, envelope: Array(repeating: 0x41, count: 40_000), body: [], bodyStructure: [])
        for m in f.messages { f.storeCachedData(big, for: m) }
        fill(f)
        let path = f.path + "/roost.cache"
        let before = try FileSystem.lstatPath(path)!.st_size
        #expect(before > 1 << 20)
        try f.expunge(uids: f.messages.prefix(10).map(\.uid))
        f.close()
        let after = try FileSystem.lstatPath(path)!.st_size
        #expect(after < before / 10)
        let other = try store.openFolder("INBOX")
        #expect(other.messages.count == 30)
        #expect(other.messages.allSatisfy { other.cachedData(for: $0) == Self.data(for: $0) })
    }

    /// Four processes append records for the same 60 messages at once, in small batches; every
    /// record read afterwards is intact and is one some writer wrote.
    @Test func concurrentWritersInFourProcesses() throws {
        let (_, store, f) = try folder(60)
        let statuses = try runTestWorkers(4, filter: "messageCacheWriterWorker", workerKey: "MESSAGE_CACHE_WORKER",
                                          environment: ["MESSAGE_CACHE_ROOT": store.root])
        #expect(statuses.allSatisfy { $0 == 0 })
        let other = try store.openFolder("INBOX")
        for m in other.messages {
            let got = try #require(other.cachedData(for: m), "UID \(m.uid) has no intact record")
            #expect((0..<4).contains { got == Self.data(for: m, variant: $0) })
        }
        // Every record in the file is intact: nothing interleaved.
        let bytes = try FileSystem.read(f.path + "/roost.cache")
        var i = MessageCacheFile.headerSize, records = 0
        while i < bytes.count {
            let length = Int(bytes[i + 4]) | Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]) << 16 | Int(bytes[i + 7]) << 24
            #expect(MessageCacheFile.decode(bytes[i..<(i + length)]) != nil, "record at \(i) is broken")
            i += length
            records += 1
        }
        #expect(records == 4 * 60 * 3)
    }

    /// Worker body: runs only inside a process spawned by the test above.
    @Test func messageCacheWriterWorker() throws {
        guard let w = ProcessInfo.processInfo.environment["MESSAGE_CACHE_WORKER"].flatMap(Int.init),
              let root = ProcessInfo.processInfo.environment["MESSAGE_CACHE_ROOT"] else { return }
        let f = try MaildirStore(root: root).openFolder("INBOX", readOnly: true)
        for round in 0..<3 {
            for (n, m) in f.messages.enumerated() {
                f.storeCachedData(Self.data(for: m, variant: w), for: m)
                if n % 7 == round { f.flushMessageCache() }
            }
            f.flushMessageCache()
        }
    }
}
