// Store benchmark for `roost-bench store`: builds an INBOX of `count` messages under `root`
// (files written directly, without per-message fsync, to keep setup short), then times a cold
// open (no roost.index: scan, uidlist parse, cache write; median of three), a warm open (cache trusted),
// listing UIDs and flags, one flag change, the sync that follows it, one save (fsynced) and
// one expunge. Times are milliseconds of wall clock.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

public enum MaildirBenchmark {
    public static func run(root: String, count: Int) -> [String: Double] {
        do {
            return try measure(root: root, count: count)
        } catch {
            return ["error": 1]
        }
    }

    static func measure(root: String, count: Int) throws -> [String: Double] {
        var results: [String: Double] = ["messages": Double(count)]
        let store = try MaildirStore(root: root)
        // A root that already holds a folder is reused (for profiling repeated cold opens).
        if access(root + "/dovecot-uidlist", F_OK) != 0 {
            results["populate_ms"] = try time { try populate(store, count: count) }
            sync() // write back the new files now, not during the timed opens
        }
        // Wait until the directories' mtimes are older than the cache's dirty window, as in a
        // mailbox that is not being written to this very second.
        usleep(useconds_t((FolderIndex.dirtyWindow + 0.2) * 1_000_000))
        // Cold: no roost.index (median of three, the noisy figure).
        var folder: MaildirFolder?
        var cold: [Double] = []
        for _ in 0..<3 {
            unlink(root + "/" + FolderIndex.fileName)
            cold.append(try time { folder = try store.openFolder("INBOX") })
        }
        results["open_cold_ms"] = cold.sorted()[1]
        folder?.close()
        results["open_warm_ms"] = try time { folder = try store.openFolder("INBOX") }
        guard let f = folder else { return results }
        results["warm_used_cache"] = f.lastLoadUsedCache ? 1 : 0
        var checksum = 0
        results["list_uids_flags_ms"] = try time {
            for m in f.messages { checksum &+= Int(m.uid) &+ Int(m.flags.rawValue) }
        }
        let target = f.messages[f.messages.count / 2].uid
        results["flag_change_ms"] = try time { try f.setFlags(uids: [target], flags: [.flagged], mode: .add) }
        results["sync_after_flag_ms"] = try time { _ = try f.sync() }
        let body = Array("From: bench@example.org\nSubject: bench\n\nbody\n".utf8)
        results["save_ms"] = try time { try f.save(body) }
        results["sync_after_save_ms"] = try time { _ = try f.sync() }
        results["expunge_one_ms"] = try time { try f.expunge(uids: [target]) }
        results["checksum"] = Double(checksum % 1000)
        return results
    }

    static func time(_ body: () throws -> Void) throws -> Double {
        let start = FileSystem.now()
        try body()
        return (FileSystem.now() - start) * 1000
    }

    /// Writes `count` messages into cur/ (a third of them \Seen) and their uidlist records.
    static func populate(_ store: MaildirStore, count: Int) throws {
        let inbox = try store.openFolder("INBOX")
        var entries: [UIDListEntry] = []
        entries.reserveCapacity(count)
        for i in 0..<count {
            let body = Array("From: sender\(i)@example.org\nTo: user@example.org\nSubject: message \(i)\n\nHello \(i)\n".utf8)
            let base = UniqueName.next() + ",S=\(body.count),W=\(crlfSize(of: body))"
            let name = base + (i % 3 == 0 ? ":2,S" : ":2,")
            let fd = open(inbox.curPath + "/" + name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { continue }
            try FileSystem.writeAll(fd: fd, body, context: name)
            Glibc.close(fd)
            entries.append(UIDListEntry(uid: UInt32(i + 1), basename: base))
        }
        var list = UIDList(uidValidity: try store.allocateUIDValidity(), guid: UIDList.makeGUID(), entries: entries)
        list.headerNextUID = list.nextUID
        try FileSystem.replace(inbox.uidListPath, with: list.serialized())
    }
}
