#if canImport(Glibc)
import Glibc
#endif

/// Small file helpers with durable writes.
public enum Files {
    public static func read(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = retryingEINTR { Glibc.read(fd, &chunk, chunk.count) }
            if n < 0 { throw SystemCallError("read", context: path) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw SystemCallError("read", errno: EFBIG, context: path) }
        }
        return out
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Writes to a temp file, fsyncs it, renames it into place and fsyncs the directory.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemCallError("open", context: tmp) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { p in retryingEINTR { write(fd, p.baseAddress! + offset, bytes.count - offset) } }
            if n < 0 { close(fd); unlink(tmp); throw SystemCallError("write", context: tmp) }
            offset += n
        }
        guard fsync(fd) == 0 else { close(fd); unlink(tmp); throw SystemCallError("fsync", context: tmp) }
        close(fd)
        guard rename(tmp, path) == 0 else { unlink(tmp); throw SystemCallError("rename", context: path) }
        try syncDirectory(of: path)
    }

    public static func syncDirectory(of path: String) throws {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: dir) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: dir) }
    }

    /// mkdir -p with a mode for each created component.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        // Usually it exists already (every delivery opens the store): one syscall then.
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw SystemCallError("mkdir", context: current)
            }
        }
    }

    /// Writes all bytes to a descriptor (blocking descriptor, e.g. stderr or a log file).
    public static func writeAll(fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { p in retryingEINTR { write(fd, p.baseAddress! + offset, bytes.count - offset) } }
            if n <= 0 { return }
            offset += n
        }
    }
}
