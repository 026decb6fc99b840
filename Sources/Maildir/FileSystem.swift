// The syscalls the store needs beyond RoostSystem.Files: lstat stamps, directory listing,
// symlink-refusing opens, tree removal without following links. All paths are absolute paths
// built by the store from validated names; message files are opened with O_NOFOLLOW.
#if canImport(Glibc)
import Glibc
#endif
import RoostSystem
import Foundation

/// Identity and change stamp of a file or directory: what the cache compares to decide
/// whether its snapshot still describes the disk.
struct FileStamp: Equatable, Sendable {
    var inode: UInt64
    var size: Int64
    var mtimeSeconds: Int64
    var mtimeNanoseconds: Int64

    static let missing = FileStamp(inode: 0, size: -1, mtimeSeconds: 0, mtimeNanoseconds: 0)

    init(inode: UInt64, size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64) {
        self.inode = inode; self.size = size
        self.mtimeSeconds = mtimeSeconds; self.mtimeNanoseconds = mtimeNanoseconds
    }

    init(_ st: stat) {
        self.init(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                  mtimeSeconds: Int64(st.st_mtim.tv_sec), mtimeNanoseconds: Int64(st.st_mtim.tv_nsec))
    }

    var modificationTime: Double { Double(mtimeSeconds) + Double(mtimeNanoseconds) / 1e9 }
}

enum FileSystem {
    /// lstat; nil when the path does not exist.
    static func lstatPath(_ path: String) throws -> stat? {
        var st = stat()
        if lstat(path, &st) == 0 { return st }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw SystemCallError("lstat", context: path)
    }

    static func stamp(_ path: String) throws -> FileStamp {
        try lstatPath(path).map(FileStamp.init) ?? .missing
    }

    static func isDirectory(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
    static func isRegular(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFREG }

    /// Real directory (not a symlink) at path?
    static func isRealDirectory(_ path: String) -> Bool {
        guard let st = try? lstatPath(path) else { return false }
        return isDirectory(st)
    }

    /// Names in a directory except "." and ".."; `filesOnly` skips anything readdir reports as
    /// not a regular file (symlinks, directories).
    static func list(_ path: String, filesOnly: Bool = false) throws -> [String] {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: path) }
        guard let dir = fdopendir(fd) else { close(fd); throw SystemCallError("fdopendir", context: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let type = entry.pointee.d_type
            if filesOnly && type != UInt8(DT_REG) && type != UInt8(DT_UNKNOWN) { continue }
            let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }

    /// Reads a whole file, refusing symlinks.
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: path) }
        defer { close(fd) }
        return try readAll(fd: fd, context: path)
    }

    static func readAll(fd: Int32, context: String, from offset: Int = 0) throws -> [UInt8] {
        var st = stat()
        _ = fstat(fd, &st)
        let expected = max(0, Int(st.st_size) - offset)
        var position = off_t(offset)
        var failed = false
        // Straight into the array's storage: one copy (kernel → array), no zero-filling.
        var out = [UInt8](unsafeUninitializedCapacity: expected) { buf, count in
            count = 0
            guard let base = buf.baseAddress else { return }
            while count < expected {
                let n = retryingEINTR { pread(fd, base + count, expected - count, position) }
                if n < 0 { failed = true; return }
                if n == 0 { break }
                count += n
                position += off_t(n)
            }
        }
        if failed { throw SystemCallError("read", context: context) }
        // The file may have grown since fstat (only files still being written do).
        var chunk = [UInt8](repeating: 0, count: 1 << 12)
        while true {
            let n = chunk.withUnsafeMutableBytes { p in retryingEINTR { pread(fd, p.baseAddress!, p.count, position) } }
            if n < 0 { throw SystemCallError("read", context: context) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            position += off_t(n)
        }
        return out
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the file).
    static func readRange(fd: Int32, offset: Int, count: Int) throws -> [UInt8] {
        var failed = false
        let out = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
            n = 0
            guard let base = buf.baseAddress else { return }
            while n < count {
                let r = retryingEINTR { pread(fd, base + n, count - n, off_t(offset + n)) }
                if r < 0 { failed = true; return }
                if r == 0 { return }
                n += r
            }
        }
        if failed { throw SystemCallError("read", context: "fd \(fd)") }
        return out
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], context: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { p in retryingEINTR { write(fd, p.baseAddress! + offset, bytes.count - offset) } }
            if n < 0 { throw SystemCallError("write", context: context) }
            offset += n
        }
    }

    /// Writes `bytes` to a uniquely named temp file beside `path`, fsyncs, renames into place
    /// and (if `durable`) fsyncs the directory. Unique across hosts and threads (NFS-safe).
    static func replace(_ path: String, with bytes: [UInt8], durable: Bool = true, mode: mode_t = 0o600) throws {
        let tmp = path + ".tmp." + UniqueName.next()
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemCallError("open", context: tmp) }
        do {
            try writeAll(fd: fd, bytes, context: tmp)
            if durable && fsync(fd) != 0 { throw SystemCallError("fsync", context: tmp) }
        } catch {
            close(fd); unlink(tmp); throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = SystemCallError("rename", context: path); unlink(tmp); throw e
        }
        if durable { try Files.syncDirectory(of: path) }
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemCallError("mkdir", context: path) }
    }

    /// Removes a directory tree without following symlinks (symlinks are unlinked, not entered).
    static func removeTree(_ path: String) throws {
        let slash = path.lastIndex(of: "/")!
        let parent = String(path[..<slash]), name = String(path[path.index(after: slash)...])
        let pfd = open(parent.isEmpty ? "/" : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard pfd >= 0 else { throw SystemCallError("open", context: parent) }
        defer { close(pfd) }
        try removeEntry(parentFD: pfd, name: name, context: path)
    }

    private static func removeEntry(parentFD: Int32, name: String, context: String) throws {
        if unlinkat(parentFD, name, 0) == 0 || errno == ENOENT { return }
        guard errno == EISDIR || errno == EPERM else { throw SystemCallError("unlink", context: context) }
        let fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: context) }
        guard let dir = fdopendir(fd) else { close(fd); throw SystemCallError("fdopendir", context: context) }
        var children: [String] = []
        while let entry = readdir(dir) {
            let child = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if child != "." && child != ".." { children.append(child) }
        }
        for child in children {
            try removeEntry(parentFD: dirfd(dir), name: child, context: context + "/" + child)
        }
        closedir(dir)
        if unlinkat(parentFD, name, AT_REMOVEDIR) != 0 && errno != ENOENT {
            throw SystemCallError("rmdir", context: context)
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Unique file names in Maildir's `<secs>.M<usecs>P<pid>.<host>` form. Within a process the
/// (secs, usecs) pair strictly increases, so two threads never produce the same name; the pid
/// and host make it unique across processes and NFS clients.
enum UniqueName {
    private static let state = LockedCounter()

    static let hostname: String = {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        var host = String(cBuffer: buf)
        if let dot = host.firstIndex(of: ".") { host = String(host[..<dot]) }
        if host.isEmpty { host = "localhost" }
        // Maildir spec: "/" and ":" in the host name are written as octal escapes.
        return host.replacingOccurrences(of: "/", with: "\\057").replacingOccurrences(of: ":", with: "\\072")
    }()

    /// A fresh base name (without ",S=" and flags).
    static func next() -> String {
        let micros = state.nextMicroseconds()
        return "\(micros / 1_000_000).M\(micros % 1_000_000)P\(getpid()).\(hostname)"
    }
}

/// Process-wide monotonic microsecond clock behind a pthread mutex.
final class LockedCounter: @unchecked Sendable {
    // Guarded by `mutex`; touched only inside nextMicroseconds().
    private var mutex = pthread_mutex_t()
    private var last: Int64 = 0

    init() { pthread_mutex_init(&mutex, nil) }

    func nextMicroseconds() -> Int64 {
        var tv = timeval()
        gettimeofday(&tv, nil)
        let now = Int64(tv.tv_sec) * 1_000_000 + Int64(tv.tv_usec)
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        last = max(now, last + 1)
        return last
    }
}
