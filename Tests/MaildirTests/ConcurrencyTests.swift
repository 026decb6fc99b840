import Testing
import Foundation
@testable import Maildir

/// Four processes (this test binary re-executed through /proc/self/exe with
/// MAILDIR_STRESS_WORKER set) append to and expunge from one folder at once, each through its
/// own MaildirStore/MaildirFolder. Every process logs "<uid> <subject>" for each save it made;
/// afterwards every saved message must be on disk (or expunged by its own writer), UIDs must be
/// unique and, per process, increasing.
@Suite struct ConcurrencyTests {
    static let workers = 4
    static let perWorker = 60

    @Test func fourProcessesAppendAndExpunge() throws {
        let tmp = TempDir("stress")
        let store = try MaildirStore(root: tmp.path + "/Maildir")
        try store.createFolder("Shared")
        let statuses = try runTestWorkers(Self.workers, filter: "maildirStressWorker", workerKey: "MAILDIR_STRESS_WORKER",
                                          environment: ["MAILDIR_STRESS_ROOT": store.root])
        #expect(statuses.allSatisfy { $0 == 0 })

        var saved: [UInt32: String] = [:]
        var expunged = Set<UInt32>()
        for w in 0..<Self.workers {
            let log = text(store.root + "/worker-\(w).log").split(separator: "\n")
            #expect(log.last == "done", "worker \(w) did not finish")
            var previous: UInt32 = 0
            for line in log where line.hasPrefix("S ") || line.hasPrefix("X ") {
                let parts = line.split(separator: " ")
                let uid = UInt32(parts[1])!
                if parts[0] == "X" { expunged.insert(uid); continue }
                #expect(saved[uid] == nil, "UID \(uid) given twice")
                #expect(uid > previous, "worker \(w): UIDs not increasing")
                previous = uid
                saved[uid] = String(parts[2])
            }
        }
        #expect(saved.count == Self.workers * Self.perWorker)
        let folder = try store.openFolder("Shared", readOnly: true)
        let onDisk = Dictionary(uniqueKeysWithValues: folder.messages.map { ($0.uid, $0) })
        for (uid, subject) in saved {
            if expunged.contains(uid) {
                #expect(onDisk[uid] == nil)
            } else {
                let m = try #require(onDisk[uid], "message \(subject) (UID \(uid)) lost")
                let data = try folder.readMessage(uid: m.uid)
                #expect(String(decoding: data, as: UTF8.self).contains("Subject: \(subject)\n"))
            }
        }
        #expect(folder.messages.count == saved.count - expunged.count)
        #expect(folder.uidNext > saved.keys.max()!)
    }

    /// Worker body: runs only inside a process spawned by the test above.
    @Test func maildirStressWorker() throws {
        guard let worker = ProcessInfo.processInfo.environment["MAILDIR_STRESS_WORKER"],
              let root = ProcessInfo.processInfo.environment["MAILDIR_STRESS_ROOT"] else { return }
        let store = try MaildirStore(root: root)
        let folder = try store.openFolder("Shared")
        var log = ""
        for i in 0..<Self.perWorker {
            let subject = "w\(worker)-\(i)"
            let uid = try folder.save(message(subject), flags: i % 2 == 0 ? [.seen] : [])
            log += "S \(uid) \(subject)\n"
            if i % 5 == 4 {
                _ = try folder.sync()
                // Expunge one of our own messages, and flag someone else's.
                try folder.expunge(uids: [uid])
                log += "X \(uid)\n"
                if let other = folder.messages.first(where: { !$0.flags.contains(.flagged) }) {
                    try folder.setFlags(uids: [other.uid], flags: [.flagged], mode: .add)
                }
            }
        }
        log += "done\n"
        try log.write(toFile: root + "/worker-\(worker).log", atomically: true, encoding: .utf8)
    }
}
