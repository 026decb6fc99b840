// roost.cache: per-message data that costs a read and a MIME parse of the message file —
// IMAP ENVELOPE, BODY, BODYSTRUCTURE and the header size (the offset where the body starts, so
// BODY[HEADER…] reads only the header). Like roost.index it is never authoritative: a record
// is used only when its UID, base-name hash and file size match the message, and anything else
// (missing file, other UIDVALIDITY, bad magic, bad checksum) reads as "not cached"; the data is
// then computed again by the caller and appended. Maildir files never change after delivery,
// so a record stays valid for as long as its message exists.
//
// Layout (little-endian):
//   header  "RSTMC001", u32 uidvalidity, u32 zero                              (16 bytes)
//   record  "RMC1", u32 record length (all of it), u32 uid, u64 FNV-1a of the base name,
//           u64 file size, u32 header size, then envelope, body, bodystructure each as
//           u32 length + bytes, then u64 checksum64 of everything after the length field.
//
// Implementation notes
// - Append-only. Records are written with O_APPEND, a batch in one write(), so writers in
//   several processes (sessions, a delivery) never interleave inside a record on a local file
//   system; a torn or interleaved record (NFS, a crash) fails its checksum and the reader
//   skips to the next "RMC1". A record cut short at the end of the file is left for later.
// - The header is created by link() of a complete temp file, so two creators cannot clobber
//   each other; a header that is wrong (corrupt, other UIDVALIDITY) is replaced by rename().
// - Compaction rewrites the live records to a temp file and renames it over the cache, under
//   roost.cache.lock (skipped when someone else holds it), when more than half the file is
//   dead (expunged, superseded or broken records). A writer still appending to the replaced
//   file only loses cache entries.
// - A reader keeps its descriptor: a compaction elsewhere does not disturb it; the next
//   refresh notices the new inode and re-indexes.
#if canImport(Glibc)
import Glibc
#endif
import RoostSystem

/// What roost.cache keeps for one message; the bytes are exactly what the MIME library
/// produced for the IMAP FETCH items.
public struct CachedMessageData: Equatable, Sendable {
    /// Bytes of the file's top-level header, including the empty line that ends it.
    public var headerSize: Int
    public var envelope: [UInt8]
    public var body: [UInt8]
    public var bodyStructure: [UInt8]

    public init(headerSize: Int, envelope: [UInt8], body: [UInt8], bodyStructure: [UInt8]) {
        self.headerSize = headerSize; self.envelope = envelope; self.body = body; self.bodyStructure = bodyStructure
    }
}

final class MessageCacheFile {
    static let fileName = "roost.cache"
    static let magic = Array("RSTMC001".utf8)
    static let recordMagic: [UInt8] = Array("RMC1".utf8)
    static let headerSize = 16
    /// Batches are written once they reach this size (and at flush).
    static let flushThreshold = 256 * 1024
    /// Files smaller than this are never compacted.
    static let compactMinimum = 1 << 20

    let path: String
    private(set) var uidValidity: UInt32
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    /// File offset up to which records were indexed.
    private var scanned = 0
    /// uid → (offset, length) of its newest intact record.
    private var index: [UInt32: (offset: Int, length: Int)] = [:]
    /// Bytes of superseded or broken records seen while indexing.
    private(set) var deadBytes = 0
    private var pending: [UInt8] = []
    private var pendingData: [UInt32: (key: RecordKey, data: CachedMessageData)] = [:]

    struct RecordKey: Equatable {
        var uid: UInt32
        var nameHash: UInt64
        var size: Int64
    }

    init(path: String, uidValidity: UInt32) {
        self.path = path
        self.uidValidity = uidValidity
    }

    deinit { if fd >= 0 { close(fd) } }

    var fileSize: Int { scanned }

    // MARK: Reading

    func lookup(_ key: RecordKey) -> CachedMessageData? {
        if let p = pendingData[key.uid], p.key == key { return p.data }
        if index[key.uid] == nil { refresh() }
        guard let (offset, length) = index[key.uid], fd >= 0 else { return nil }
        var record = [UInt8](repeating: 0, count: length)
        let n = record.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, length, off_t(offset)) }
        guard n == length, let (k, data) = MessageCacheFile.decode(record[...]), k == key else { return nil }
        return data
    }

    /// Indexes records appended since the last look; re-indexes a replaced file.
    func refresh() {
        guard let st = try? FileSystem.lstatPath(path), FileSystem.isRegular(st) else {
            closeFile()
            return
        }
        if fd >= 0 && UInt64(st.st_ino) != inode { closeFile() }
        if fd < 0 {
            let f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard f >= 0 else { return }
            var header = [UInt8](repeating: 0, count: MessageCacheFile.headerSize)
            let n = header.withUnsafeMutableBytes { pread(f, $0.baseAddress!, $0.count, 0) }
            var fst = stat()
            fstat(f, &fst)
            guard n == header.count, Array(header[0..<8]) == MessageCacheFile.magic,
                  readU32(header[...], at: 8) == uidValidity else {
                close(f)
                return
            }
            fd = f; inode = UInt64(fst.st_ino); scanned = MessageCacheFile.headerSize
        }
        indexTail()
    }

    /// Reads from `scanned` to the end of the file in chunks and indexes every intact record.
    private func indexTail() {
        var st = stat()
        fstat(fd, &st)
        let end = Int(st.st_size)
        let chunkSize = 4 << 20
        while scanned < end {
            guard let chunk = try? FileSystem.readRange(fd: fd, offset: scanned, count: min(chunkSize, end - scanned)),
                  !chunk.isEmpty else { return }
            var i = 0
            while i + 8 <= chunk.count {
                guard MessageCacheFile.isRecordMagic(chunk[...], at: i) else {
                    // Garbage (a torn write): skip to the next record magic.
                    let next = MessageCacheFile.nextMagic(in: chunk, after: i)
                    deadBytes += next - i
                    i = next
                    continue
                }
                let length = Int(readU32(chunk[...], at: i + 4))
                if length < 44 || length > 64 << 20 { deadBytes += 4; i += 4; continue }
                if i + length > chunk.count { break }
                if let (key, _) = MessageCacheFile.decode(chunk[i..<(i + length)]) {
                    if let old = index[key.uid] { deadBytes += old.length }
                    index[key.uid] = (scanned + i, length)
                    i += length
                } else {
                    let next = MessageCacheFile.nextMagic(in: chunk, after: i + 4)
                    deadBytes += next - i
                    i = next
                }
            }
            if i == 0 && chunk.count < chunkSize { return } // an incomplete record at the end
            if i == 0 { deadBytes += 4; i = 4 }              // a record larger than a chunk: corrupt
            scanned += i
        }
    }

    private func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1; inode = 0; scanned = 0; index = [:]; deadBytes = 0
    }

    // MARK: Writing

    func store(_ data: CachedMessageData, key: RecordKey) {
        pending.append(contentsOf: MessageCacheFile.encode(data, key: key))
        pendingData[key.uid] = (key, data)
        if pending.count >= MessageCacheFile.flushThreshold { flush() }
    }

    /// Appends the pending records (one write) and indexes them.
    func flush() {
        guard !pending.isEmpty else { return }
        defer { pending = []; pendingData = [:] }
        refresh()
        if fd < 0 { createFile() }
        guard fd >= 0 else { return }
        let w = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        guard w >= 0 else { return }
        var st = stat()
        fstat(w, &st)
        // Only into the file whose header was checked (not one that replaced it meanwhile).
        if UInt64(st.st_ino) == inode { try? FileSystem.writeAll(fd: w, pending, context: path) }
        close(w)
        refresh()
    }

    /// Creates the file with its header, or replaces a file whose header is wrong.
    private func createFile() {
        let tmp = path + ".tmp." + UniqueName.next()
        var header = MessageCacheFile.magic
        withUnsafeBytes(of: uidValidity.littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: [0, 0, 0, 0])
        let f = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard f >= 0 else { return }
        let ok = (try? FileSystem.writeAll(fd: f, header, context: tmp)) != nil
        close(f)
        defer { unlink(tmp) }
        guard ok else { return }
        if link(tmp, path) != 0 {
            // Someone else's file: keep it if it is a good one, else replace it.
            refresh()
            if fd < 0 { _ = rename(tmp, path) }
        }
        refresh()
    }

    /// Rewrites the file with only the records `isLive` accepts, when more than half of it is
    /// dead (or records for other UIDs). Skipped when another process is compacting.
    func compactIfMostlyDead(isLive: (UInt32) -> Bool) {
        flush()
        refresh()
        guard fd >= 0, scanned >= MessageCacheFile.compactMinimum else { return }
        let liveBytes = index.reduce(0) { $0 + (isLive($1.key) ? $1.value.length : 0) }
        guard liveBytes * 2 < scanned - MessageCacheFile.headerSize else { return }
        guard let lock = try? DotLock.acquire(path, timeout: 0, staleAfter: 60) else { return }
        defer { lock.release() }
        var out = MessageCacheFile.magic
        withUnsafeBytes(of: uidValidity.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: [0, 0, 0, 0])
        out.reserveCapacity(MessageCacheFile.headerSize + liveBytes)
        for (uid, entry) in index.sorted(by: { $0.key < $1.key }) where isLive(uid) {
            guard let record = try? FileSystem.readRange(fd: fd, offset: entry.offset, count: entry.length),
                  record.count == entry.length else { return }
            out.append(contentsOf: record)
        }
        guard (try? FileSystem.replace(path, with: out, durable: false)) != nil else { return }
        closeFile()
        refresh()
    }

    // MARK: Encoding

    static func encode(_ d: CachedMessageData, key: RecordKey) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.reserveCapacity(60 + d.envelope.count + d.body.count + d.bodyStructure.count)
        w.bytes.append(contentsOf: recordMagic)
        w.u32(0) // length, patched below
        w.u32(key.uid); w.u64(key.nameHash); w.i64(key.size); w.u32(UInt32(clamping: d.headerSize))
        for part in [d.envelope, d.body, d.bodyStructure] {
            w.u32(UInt32(part.count)); w.bytes.append(contentsOf: part)
        }
        let sum = checksum64(w.bytes[8...])
        w.u64(sum)
        let length = UInt32(w.bytes.count)
        withUnsafeBytes(of: length.littleEndian) { for (i, b) in $0.enumerated() { w.bytes[4 + i] = b } }
        return w.bytes
    }

    /// The key and data of one whole record, or nil when it is not intact.
    static func decode(_ record: ArraySlice<UInt8>) -> (RecordKey, CachedMessageData)? {
        let base = record.startIndex
        guard record.count >= 44, isRecordMagic(record, at: base), Int(readU32(record, at: base + 4)) == record.count
        else { return nil }
        let bodyEnd = record.endIndex - 8
        guard readU64(record, at: bodyEnd) == checksum64(record[(base + 8)..<bodyEnd]) else { return nil }
        let key = RecordKey(uid: readU32(record, at: base + 8), nameHash: readU64(record, at: base + 12),
                            size: Int64(bitPattern: readU64(record, at: base + 20)))
        let headerSize = Int(readU32(record, at: base + 28))
        var at = base + 32
        var parts: [[UInt8]] = []
        for _ in 0..<3 {
            guard at + 4 <= bodyEnd else { return nil }
            let n = Int(readU32(record, at: at))
            at += 4
            guard at + n <= bodyEnd else { return nil }
            parts.append(Array(record[at..<(at + n)]))
            at += n
        }
        guard at == bodyEnd else { return nil }
        return (key, CachedMessageData(headerSize: headerSize, envelope: parts[0], body: parts[1], bodyStructure: parts[2]))
    }

    static func isRecordMagic(_ b: ArraySlice<UInt8>, at i: Int) -> Bool {
        i + 4 <= b.endIndex && b[i] == recordMagic[0] && b[i + 1] == recordMagic[1] && b[i + 2] == recordMagic[2]
            && b[i + 3] == recordMagic[3]
    }

    /// Offset of the next record magic after `i` (or the end).
    static func nextMagic(in bytes: [UInt8], after i: Int) -> Int {
        var j = i + 1
        while j + 4 <= bytes.count {
            if bytes[j] == recordMagic[0] && bytes[j + 1] == recordMagic[1] && bytes[j + 2] == recordMagic[2]
                && bytes[j + 3] == recordMagic[3] { return j }
            j += 1
        }
        return bytes.count
    }

    static func nameHash(_ basename: String) -> UInt64 { fnv1a(basename.utf8) }
}

private func readU32(_ b: ArraySlice<UInt8>, at i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

private func readU64(_ b: ArraySlice<UInt8>, at i: Int) -> UInt64 {
    UInt64(readU32(b, at: i)) | UInt64(readU32(b, at: i + 4)) << 32
}
