// Dovecot-compatible dotlocks (lib/file-dotlock.c): `<file>.lock` created with O_EXCL (NFSv3+
// safe), holding "<pid>:<host>". A lock is stale when it has not been modified for
// `staleAfter` seconds (Dovecot's uidlist default: 120 s), or at once when it names a process
// on this host that no longer exists. flock() is never relied on (NFS).
#if canImport(Glibc)
import Glibc
#endif
import RoostSystem

public struct LockTimeout: Error, CustomStringConvertible, Sendable {
    public let path: String
    public var description: String { "timed out waiting for lock \(path)" }
}

struct DotLock {
    let lockPath: String
    private let inode: UInt64

    private static let fullHostname: String = {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(cBuffer: buf)
    }()

    /// Takes `<path>.lock`, waiting up to `timeout` seconds.
    static func acquire(_ path: String, timeout: Double = 130, staleAfter: Double = 120) throws -> DotLock {
        let lockPath = path + ".lock"
        let deadline = FileSystem.now() + timeout
        var delay: UInt32 = 500 // microseconds
        while true {
            let fd = open(lockPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                var st = stat()
                fstat(fd, &st)
                let content = Array("\(getpid()):\(fullHostname)".utf8)
                try? FileSystem.writeAll(fd: fd, content, context: lockPath)
                close(fd)
                return DotLock(lockPath: lockPath, inode: UInt64(st.st_ino))
            }
            guard errno == EEXIST else { throw SystemCallError("open", context: lockPath) }
            breakIfStale(lockPath, staleAfter: staleAfter)
            if FileSystem.now() > deadline { throw LockTimeout(path: lockPath) }
            usleep(delay + UInt32.random(in: 0...delay))
            delay = min(delay * 2, 50_000)
        }
    }

    /// Whether the lock at `lockPath` should be overridden.
    static func isStale(_ lockPath: String, staleAfter: Double) -> (stale: Bool, inode: UInt64) {
        guard let st = try? FileSystem.lstatPath(lockPath) else { return (false, 0) }
        let stamp = FileStamp(st)
        if FileSystem.now() - stamp.modificationTime > staleAfter { return (true, stamp.inode) }
        // "<pid>:<host>": a dead local holder makes the lock stale immediately.
        if let bytes = try? FileSystem.read(lockPath), let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
           let pid = UIDList.number(bytes[..<colon]), pid > 0,
           String(decoding: bytes[(colon + 1)...], as: UTF8.self) == fullHostname,
           kill(pid_t(pid), 0) != 0 && errno == ESRCH {
            return (true, stamp.inode)
        }
        return (false, 0)
    }

    /// Moves a stale lock aside under a unique name and deletes it, but only if it is still the
    /// lock we judged stale (another process may have broken it and taken a fresh one meanwhile).
    static func breakIfStale(_ lockPath: String, staleAfter: Double) {
        let (stale, inode) = isStale(lockPath, staleAfter: staleAfter)
        guard stale else { return }
        let aside = lockPath + ".stale." + UniqueName.next()
        guard rename(lockPath, aside) == 0 else { return }
        if let st = try? FileSystem.lstatPath(aside), UInt64(st.st_ino) != inode {
            // We moved someone's fresh lock: put it back if nobody took the name yet.
            if link(aside, lockPath) != 0 { /* a new holder exists; the old one loses its lock */ }
        }
        unlink(aside)
    }

    /// Releases the lock if it is still ours.
    func release() {
        if let st = try? FileSystem.lstatPath(lockPath), UInt64(st.st_ino) == inode {
            unlink(lockPath)
        }
    }

    /// Dovecot's file_dotlock_replace(): the lock file becomes the new `target` content.
    /// Writes, fsyncs, renames over `target` (which releases the lock) and, with
    /// `syncDirectory`, fsyncs the directory (without, a crash may bring the old file back,
    /// never a torn one).
    func replace(_ target: String, with bytes: [UInt8], syncDirectory: Bool = true) throws {
        let fd = open(lockPath, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: lockPath) }
        defer { close(fd) }
        try FileSystem.writeAll(fd: fd, bytes, context: lockPath)
        guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: lockPath) }
        guard rename(lockPath, target) == 0 else { throw SystemCallError("rename", context: target) }
        if syncDirectory { try Files.syncDirectory(of: target) }
    }
}
