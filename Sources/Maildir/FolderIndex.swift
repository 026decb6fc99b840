// roost.index: Roost's rebuildable per-folder cache, beside dovecot-uidlist. Never
// authoritative. It records, per message, uid, file name, flags, size, CRLF size and
// internal date, plus opaque per-uid blobs (for envelope/bodystructure caches later), and the
// stamps (inode, size, mtime) of new/, cur/, dovecot-uidlist and dovecot-keywords at scan time.
// Opening trusts it only if all four stamps still match and neither directory was modified
// within `FolderIndex.dirtyWindow` seconds of the scan (file timestamps are coarse: a change in
// the same clock tick as the scan would otherwise go unnoticed). Otherwise it is only a source
// of hints (dates and sizes by base name) for a rescan. A bad magic, version or checksum
// means "missing". Layout (little-endian): "RSTIDX02", u64 checksum64 of the payload, payload.
// An internal date of NaN means "not looked up yet" (see MaildirMessage.internalDate).
#if canImport(Glibc)
import Glibc
#endif

struct FolderIndex {
    static let fileName = "roost.index"
    static let magic = Array("RSTIDX02".utf8)
    static let dirtyWindow = 2.0

    struct Entry {
        var uid: UInt32
        var fileName: String
        var inNew: Bool
        var flags: UInt8
        var keywordMask: UInt32
        var size: Int64
        var virtualSize: Int64
        var internalDate: Double
    }

    var uidValidity: UInt32
    var uidNext: UInt32
    var newStamp: FileStamp
    var curStamp: FileStamp
    var uidListStamp: FileStamp
    var keywordsStamp: FileStamp
    var scannedAt: Double
    var keywords: [String?]
    var entries: [Entry]
    var blobs: [UInt32: [UInt8]]

    /// The directory stamps were old enough at scan time for an unchanged mtime to mean "unchanged".
    var isSettled: Bool {
        newStamp.modificationTime + FolderIndex.dirtyWindow < scannedAt &&
            curStamp.modificationTime + FolderIndex.dirtyWindow < scannedAt
    }

    func serialized() -> [UInt8] {
        var w = ByteWriter()
        w.bytes.reserveCapacity(256 + entries.count * 40 + entries.reduce(0) { $0 + $1.fileName.utf8.count })
        w.u32(uidValidity); w.u32(uidNext)
        for s in [newStamp, curStamp, uidListStamp, keywordsStamp] {
            w.u64(s.inode); w.i64(s.size); w.i64(s.mtimeSeconds); w.i64(s.mtimeNanoseconds)
        }
        w.f64(scannedAt)
        w.u32(UInt32(keywords.count))
        for k in keywords { w.string(k ?? "") }
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u32(e.uid); w.u8(e.inNew ? 1 : 0); w.u8(e.flags); w.u32(e.keywordMask)
            w.i64(e.size); w.i64(e.virtualSize); w.f64(e.internalDate); w.string(e.fileName)
        }
        w.u32(UInt32(blobs.count))
        for (uid, blob) in blobs.sorted(by: { $0.key < $1.key }) {
            w.u32(uid); w.u32(UInt32(blob.count)); w.bytes.append(contentsOf: blob)
        }
        var out = FolderIndex.magic
        out.reserveCapacity(16 + w.bytes.count)
        var h = ByteWriter()
        h.u64(checksum64(w.bytes[...]))
        out.append(contentsOf: h.bytes)
        out.append(contentsOf: w.bytes)
        return out
    }

    /// nil for anything that is not an intact index of this version.
    init?(parsing bytes: [UInt8]) {
        guard bytes.count >= 16, Array(bytes[0..<8]) == FolderIndex.magic else { return nil }
        var hr = ByteReader(bytes: bytes, position: 8)
        guard let sum = hr.u64(), sum == checksum64(bytes[16...]) else { return nil }
        var r = ByteReader(bytes: bytes, position: 16)
        func stamp() -> FileStamp? {
            guard let i = r.u64(), let s = r.i64(), let m = r.i64(), let n = r.i64() else { return nil }
            return FileStamp(inode: i, size: s, mtimeSeconds: m, mtimeNanoseconds: n)
        }
        guard let v = r.u32(), let next = r.u32(), let ns = stamp(), let cs = stamp(), let us = stamp(), let ks = stamp(),
              let at = r.f64(), let kc = r.u32(), kc <= 26 else { return nil }
        var keywords: [String?] = []
        for _ in 0..<kc {
            guard let k = r.string() else { return nil }
            keywords.append(k.isEmpty ? nil : k)
        }
        guard let count = r.u32(), Int(count) <= bytes.count / 36 else { return nil }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let uid = r.u32(), let inNew = r.u8(), let flags = r.u8(), let mask = r.u32(),
                  let size = r.i64(), let vsize = r.i64(), let date = r.f64(), let name = r.string() else { return nil }
            entries.append(Entry(uid: uid, fileName: name, inNew: inNew != 0, flags: flags, keywordMask: mask,
                                 size: size, virtualSize: vsize, internalDate: date))
        }
        guard let blobCount = r.u32() else { return nil }
        var blobs: [UInt32: [UInt8]] = [:]
        for _ in 0..<blobCount {
            guard let uid = r.u32(), let len = r.u32(), let blob = r.take(Int(len)) else { return nil }
            blobs[uid] = blob
        }
        self.init(uidValidity: v, uidNext: next, newStamp: ns, curStamp: cs, uidListStamp: us, keywordsStamp: ks,
                  scannedAt: at, keywords: keywords, entries: entries, blobs: blobs)
    }

    init(uidValidity: UInt32, uidNext: UInt32, newStamp: FileStamp, curStamp: FileStamp, uidListStamp: FileStamp,
         keywordsStamp: FileStamp, scannedAt: Double, keywords: [String?], entries: [Entry], blobs: [UInt32: [UInt8]]) {
        self.uidValidity = uidValidity; self.uidNext = uidNext
        self.newStamp = newStamp; self.curStamp = curStamp; self.uidListStamp = uidListStamp; self.keywordsStamp = keywordsStamp
        self.scannedAt = scannedAt; self.keywords = keywords; self.entries = entries; self.blobs = blobs
    }

    static func load(_ path: String) -> FolderIndex? {
        guard let bytes = try? FileSystem.read(path) else { return nil }
        return FolderIndex(parsing: bytes)
    }
}

func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf29ce484222325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    return h
}

/// A fast 64-bit checksum for cache files: FNV-style mixing of 8-byte words (about eight times
/// faster than byte-wise FNV-1a on a multi-megabyte index), with a final avalanche. Catches torn
/// writes and bit rot; it is not a cryptographic hash.
func checksum64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.withUnsafeBytes { raw in
        var h: UInt64 = 0xcbf29ce484222325 ^ UInt64(raw.count)
        var i = 0
        while i + 8 <= raw.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian) &* 0x100000001b3
            h ^= h >> 32
            i += 8
        }
        while i < raw.count {
            h = (h ^ UInt64(raw[i])) &* 0x100000001b3
            i += 1
        }
        h ^= h >> 33; h = h &* 0xff51afd7ed558ccd; h ^= h >> 33
        return h
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func string(_ s: String) {
        let count = min(s.utf8.count, 65535)
        bytes.append(UInt8(count & 0xff)); bytes.append(UInt8(count >> 8))
        if count == s.utf8.count { bytes.append(contentsOf: s.utf8) } else { bytes.append(contentsOf: s.utf8.prefix(count)) }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var position: Int

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, position + n <= bytes.count else { return nil }
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }
    mutating func u8() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }
    mutating func u64() -> UInt64? {
        guard position + 8 <= bytes.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }
    mutating func u32() -> UInt32? {
        guard position + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }
    mutating func i64() -> Int64? { u64().map { Int64(bitPattern: $0) } }
    mutating func f64() -> Double? { u64().map { Double(bitPattern: $0) } }
    mutating func string() -> String? {
        guard position + 2 <= bytes.count else { return nil }
        let len = Int(bytes[position]) | Int(bytes[position + 1]) << 8
        position += 2
        guard position + len <= bytes.count else { return nil }
        defer { position += len }
        return String(decoding: bytes[position..<(position + len)], as: UTF8.self)
    }
}
