// Large messages in and out of a folder with bounded memory.
//
// `MessageWriter` is a save whose bytes arrive in pieces (IMAP APPEND of a big literal): the
// quota is checked against the announced size before the first byte, the bytes go straight
// into tmp/, and `commit` does what `save` does (fsync, rename under the uidlist lock, fsync
// the directory — invariant 4) and names the file with S= and the W= counted on the way.
//
// `MessageFileLiteral`/`MessageFileStream` read a message file (or a byte range of it) for an
// IMAP literal, with bare LFs turned into CRLF on the fly; the literal's length is known up
// front from the file name's W= size, or from a pre-scan when the file does not match it.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RoostSystem

/// Counts LFs without a CR before them, across chunk boundaries.
struct BareLFCounter {
    var count = 0
    var previous: UInt8 = 0

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var i = 0
        while i < bytes.count, let hit = memchr(base + i, 10, bytes.count - i) {
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if (at == 0 ? previous : base[at - 1]) != 13 { count += 1 }
            i = at + 1
        }
        previous = base[bytes.count - 1]
    }
}

public final class MessageWriter {
    let folder: MaildirFolder
    let base: String
    let tmp: String
    private var fd: Int32
    private var counter = BareLFCounter()
    public private(set) var size = 0

    init(folder: MaildirFolder, announcedSize: Int) throws {
        guard !folder.readOnly else { throw MaildirError.readOnly }
        try folder.store.quota.check(bytes: Int64(announcedSize), messages: 1, useGrace: false)
        self.folder = folder
        base = UniqueName.next()
        tmp = folder.tmpPath + "/" + base
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemCallError("open", context: tmp) }
    }

    deinit { abort() }

    public func write(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw SystemCallError("write", errno: EBADF, context: tmp) }
        bytes.withUnsafeBufferPointer { counter.feed($0) }
        try FileSystem.writeAll(fd: fd, bytes, context: tmp)
        size += bytes.count
    }

    /// Makes the message part of the folder and returns its UID. With no flags and keywords it
    /// goes to new/ (\Recent for the next session), otherwise to cur/.
    public func commit(flags: MessageFlags = [], keywords: [String] = [], internalDate: Date? = nil) throws -> UInt32 {
        guard fd >= 0 else { throw SystemCallError("fsync", errno: EBADF, context: tmp) }
        if let date = internalDate {
            let t = date.timeIntervalSince1970
            let whole = t.rounded(.down)
            let stamp = timespec(tv_sec: Int(whole), tv_nsec: Int((t - whole) * 1e9))
            guard futimens(fd, [stamp, stamp]) == 0 else { throw SystemCallError("futimens", context: tmp) }
        }
        guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: tmp) }
        Glibc.close(fd)
        fd = -1
        let mask = try folder.keywordMask(for: keywords)
        let name = base + ",S=\(size),W=\(size + counter.count)"
        let info = MaildirFileName(basename: name, flags: flags, keywordMask: mask)
        let dest = flags.isEmpty && mask == 0 ? folder.newPath + "/" + name : folder.curPath + "/" + info.curName
        let uid: UInt32
        do {
            uid = try folder.placeWithUIDs([(tmp, dest, name)]).first ?? 0
        } catch {
            unlink(tmp)
            throw error
        }
        folder.store.quota.recordChange(bytes: Int64(size), messages: 1)
        return uid
    }

    /// Drops the message (the client went away, or the save failed).
    public func abort() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
        unlink(tmp)
    }
}

extension MaildirFolder {
    /// Starts saving a message of `size` bytes that arrives in pieces; refused at once when
    /// it would not fit in the quota.
    public func beginSave(size: Int) throws -> MessageWriter {
        try MessageWriter(folder: self, announcedSize: size)
    }

    /// An IMAP literal of a whole message, or of the `partial` range of it (RFC 3501
    /// §6.4.5 `<offset.count>`, counted with CRLF line ends). The caller owns `fd` and closes
    /// it through `MessageFileStream`.
    public func messageLiteral(uid: UInt32, partial: (offset: Int, count: Int)? = nil) throws -> MessageFileLiteral {
        guard let m = message(uid: uid) else { throw MaildirError.noSuchMessage(uid) }
        let fd = try openMessage(uid: uid)
        var st = stat()
        var fileSize = Int(m.size), crlfSize = Int(m.virtualSize)
        if fstat(fd, &st) == 0 && Int(st.st_size) != fileSize {
            // The name's sizes do not describe this file: count it (a read, not a copy).
            fileSize = Int(st.st_size)
            crlfSize = fileSize + MessageFileStream.bareLFs(fd: fd)
        }
        var skip = 0, length = crlfSize
        if let partial {
            skip = min(partial.offset, crlfSize)
            length = min(partial.count, crlfSize - skip)
        }
        return MessageFileLiteral(fd: fd, skip: skip, length: length, convertsLineEnds: crlfSize != fileSize)
    }
}

/// Where a message literal comes from: an open file, and which bytes of its CRLF form.
public struct MessageFileLiteral: Sendable, Equatable {
    public var fd: Int32
    /// CRLF-form bytes to skip before the literal starts.
    public var skip: Int
    /// The literal's length (announced as `{length}` before the data).
    public var length: Int
    /// The file has bare LFs, which become CRLF.
    public var convertsLineEnds: Bool

    public init(fd: Int32, skip: Int, length: Int, convertsLineEnds: Bool) {
        self.fd = fd
        self.skip = skip
        self.length = length
        self.convertsLineEnds = convertsLineEnds
    }
}

/// Produces a `MessageFileLiteral`'s bytes chunk by chunk; always exactly `length` bytes (a file
/// that shrank meanwhile is padded with spaces so the protocol stays in step).
public final class MessageFileStream {
    public let literal: MessageFileLiteral
    private var fileOffset: off_t = 0
    /// Position in the CRLF form of the file of the next byte produced from it.
    private var position = 0
    private var produced = 0
    private var previous: UInt8 = 0
    private var closed = false
    private var chunk: [UInt8]

    public init(_ literal: MessageFileLiteral, chunkSize: Int = 128 * 1024) {
        self.literal = literal
        chunk = [UInt8](repeating: 0, count: chunkSize)
        if !literal.convertsLineEnds {
            fileOffset = off_t(literal.skip)
            position = literal.skip
        }
    }

    deinit { close() }

    public var isFinished: Bool { produced >= literal.length }

    /// The next piece of the literal; nil when all of it was produced.
    public func next() -> [UInt8]? {
        guard produced < literal.length else { return nil }
        while true {
            let n = chunk.withUnsafeMutableBytes { b in
                retryingEINTR { pread(literal.fd, b.baseAddress, b.count, fileOffset) }
            }
            guard n > 0, !closed else {
                // Shorter than announced: pad.
                let missing = literal.length - produced
                produced = literal.length
                return [UInt8](repeating: 0x20, count: missing)
            }
            fileOffset += off_t(n)
            var out = literal.convertsLineEnds ? converted(n) : Array(chunk[0..<n])
            // Drop what lies before `skip`, and cut at the literal's end.
            let start = position
            position += out.count
            if position <= literal.skip { continue }
            if start < literal.skip { out.removeFirst(literal.skip - start) }
            let wanted = literal.length - produced
            if out.count > wanted { out.removeLast(out.count - wanted) }
            produced += out.count
            return out
        }
    }

    /// The first `n` bytes of the chunk with CR inserted before each bare LF.
    private func converted(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n + n / 16)
        chunk.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            var i = 0
            while i < n {
                guard let hit = memchr(base + i, 10, n - i) else {
                    out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: n - i))
                    break
                }
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: at - i))
                if (at == 0 ? previous : base[at - 1]) != 13 { out.append(13) }
                out.append(10)
                i = at + 1
            }
            if n > 0 { previous = base[n - 1] }
        }
        return out
    }

    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(literal.fd)
    }

    /// Bare LFs in a whole file (read in chunks).
    static func bareLFs(fd: Int32) -> Int {
        var counter = BareLFCounter()
        var buffer = [UInt8](repeating: 0, count: 128 * 1024)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { b in retryingEINTR { pread(fd, b.baseAddress, b.count, offset) } }
            guard n > 0 else { return counter.count }
            buffer.withUnsafeBufferPointer { counter.feed(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            offset += off_t(n)
        }
    }
}
