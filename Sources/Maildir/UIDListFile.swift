// The folder's view of its dovecot-uidlist: loaded lazily, re-read incrementally when
// records were appended (same inode, same header, larger size), fully when replaced.
// Every UID assignment happens under dovecot-uidlist.lock after a re-read, so two processes
// never give out one UID, and the header's next-UID only grows, so no UID is reused.
#if canImport(Glibc)
import Glibc
#endif
import RoostSystem

struct UIDListFile {
    let path: String
    private(set) var list: UIDList?
    private(set) var stamp: FileStamp = .missing
    /// Bytes of the file consumed so far (up to the last complete line).
    private var consumed = 0
    private var headerBytes: [UInt8] = []
    private(set) var uidByBasename: [String: UInt32] = [:]

    init(path: String) { self.path = path }

    var isLoaded: Bool { list != nil }

    /// Re-reads the file if it changed since the last read. Returns false when it is missing.
    /// A corrupt file throws (the caller decides whether to recreate it).
    @discardableResult
    mutating func refresh() throws -> Bool {
        let current = try FileSystem.stamp(path)
        if current == .missing { list = nil; stamp = .missing; uidByBasename = [:]; consumed = 0; return false }
        if current == stamp, list != nil { return true }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return try refresh() }
            throw SystemCallError("open", context: path)
        }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let opened = FileStamp(st)
        if var existing = list, opened.inode == stamp.inode, Int(opened.size) >= consumed, consumed > 0 {
            var header = [UInt8](repeating: 0, count: headerBytes.count)
            let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
            if n == headerBytes.count && header == headerBytes {
                let tail = try FileSystem.readAll(fd: fd, context: path, from: consumed)
                let added = try UIDList.parseRecords(tail, from: 0, after: existing.entries.last?.uid ?? 0)
                for e in added { uidByBasename[e.basename] = e.uid }
                existing.entries.append(contentsOf: added)
                list = existing
                consumed += (tail.lastIndex(of: 10) ?? -1) + 1
                stamp = opened
                return true
            }
        }
        let bytes = try FileSystem.readAll(fd: fd, context: path)
        let parsed = try UIDList(parsing: bytes)
        list = parsed
        headerBytes = Array(bytes[...(bytes.firstIndex(of: 10)!)])
        consumed = (bytes.lastIndex(of: 10) ?? -1) + 1
        stamp = opened
        var map = [String: UInt32](minimumCapacity: parsed.entries.count)
        for e in parsed.entries { map[e.basename] = e.uid }
        uidByBasename = map
        return true
    }

    /// Writes a whole new uidlist through the held lock (which this releases).
    mutating func replace(with newList: UIDList, lock: DotLock, syncDirectory: Bool = true) throws {
        try lock.replace(path, with: newList.serialized(), syncDirectory: syncDirectory)
        list = nil
        stamp = .missing
        try refresh()
    }

    /// Appends records under the held lock and fsyncs. Falls back to a rewrite when the file
    /// does not end at a line boundary (an interrupted earlier append).
    mutating func append(_ entries: [UIDListEntry], lock: DotLock) throws -> Bool {
        guard var current = list else { return false }
        guard Int(stamp.size) == consumed else {
            current.entries.append(contentsOf: entries)
            current.headerNextUID = current.nextUID
            try replace(with: current, lock: lock)
            return true
        }
        var bytes: [UInt8] = []
        for e in entries { bytes.append(contentsOf: UIDList.recordLine(e).utf8) }
        let fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", context: path) }
        defer { close(fd) }
        try FileSystem.writeAll(fd: fd, bytes, context: path)
        guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: path) }
        var st = stat()
        fstat(fd, &st)
        current.entries.append(contentsOf: entries)
        for e in entries { uidByBasename[e.basename] = e.uid }
        list = current
        consumed += bytes.count
        stamp = FileStamp(st)
        return false
    }
}
