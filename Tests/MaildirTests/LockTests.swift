import Testing
import Foundation
@testable import Maildir

@Suite struct LockTests {
    static var hostname: String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    @Test func lockOfDeadLocalProcessIsBrokenAtOnce() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let inbox = try store.openFolder("INBOX")
        inbox.lockTimeout = 5
        // A pid that cannot exist (above pid_max) on this host.
        try "99999999:\(Self.hostname)".write(toFile: tmp.path + "/dovecot-uidlist.lock", atomically: false, encoding: .utf8)
        let start = Date()
        #expect(try inbox.save(message("x")) == 1)
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/dovecot-uidlist.lock"))
    }

    @Test func oldLockIsBrokenLiveLockIsWaitedFor() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let inbox = try store.openFolder("INBOX")
        let lockPath = tmp.path + "/dovecot-uidlist.lock"
        // Held by a live process (us), fresh: wait, then time out.
        try "\(getpid()):\(Self.hostname)".write(toFile: lockPath, atomically: false, encoding: .utf8)
        inbox.lockTimeout = 0.3
        #expect(throws: LockTimeout.self) { try inbox.save(message("x")) }
        #expect(fileNames(tmp.path + "/tmp").isEmpty)
        // Same lock, untouched for longer than Dovecot's 120 s: stale.
        var times = [timespec(tv_sec: time(nil) - 180, tv_nsec: 0), timespec(tv_sec: time(nil) - 180, tv_nsec: 0)]
        utimensat(AT_FDCWD, lockPath, &times, 0)
        #expect(try inbox.save(message("y")) == 1)
        // Another host's lock is only broken by age.
        try "1:elsewhere.example".write(toFile: lockPath, atomically: false, encoding: .utf8)
        #expect(throws: LockTimeout.self) { try inbox.save(message("z")) }
        unlink(lockPath)
        #expect(try inbox.save(message("z")) == 2)
    }
}
