// Classic Maildir delivery for LMTP and the LDA: tmp/ → fsync → rename into new/ → fsync
// new/ (invariant 4), streamed from a descriptor so any size costs bounded memory, and
// without loading the folder, so a delivery costs the same at 0 or 100,000 messages. The UID
// is assigned by the next sync of a session, which also gets \Recent for it.
#if canImport(Glibc)
import Glibc
#endif
import RoostSystem

public enum MaildirDelivery {
    public struct Stored: Sendable {
        public var fileName: String
        public var size: Int
        /// The first 64 KB (headers), for log lines such as the Message-ID.
        public var head: [UInt8]
    }

    /// Writes `prefix` then the whole of `source` (read with pread from offset 0) into
    /// `folderPath`'s new/. Names use the store's unique-name scheme with S= and W= sizes.
    public static func deliver(folderPath: String, prefix: [UInt8], source: Int32) throws -> Stored {
        let base = UniqueName.next()
        let tmpPath = folderPath + "/tmp/" + base
        let fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemCallError("open", context: tmpPath) }
        var size = 0, bareLF = 0
        var previous: UInt8 = 0
        var head: [UInt8] = []
        func account(_ bytes: ArraySlice<UInt8>) {
            for b in bytes {
                if b == 10 && previous != 13 { bareLF += 1 }
                previous = b
            }
            if head.count < 64 * 1024 { head.append(contentsOf: bytes.prefix(64 * 1024 - head.count)) }
            size += bytes.count
        }
        do {
            account(prefix[...])
            try FileSystem.writeAll(fd: fd, prefix, context: tmpPath)
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var offset: off_t = 0
            while true {
                let n = chunk.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, offset) }
                if n < 0 { throw SystemCallError("pread", context: "spool") }
                if n == 0 { break }
                account(chunk[0..<n])
                try FileSystem.writeAll(fd: fd, Array(chunk[0..<n]), context: tmpPath)
                offset += off_t(n)
            }
            guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: tmpPath) }
            close(fd)
        } catch {
            close(fd)
            unlink(tmpPath)
            throw error
        }
        let name = base + ",S=\(size),W=\(size + bareLF)"
        let finalPath = folderPath + "/new/" + name
        guard rename(tmpPath, finalPath) == 0 else {
            let e = SystemCallError("rename", context: finalPath)
            unlink(tmpPath)
            throw e
        }
        try Files.syncDirectory(of: finalPath)
        return Stored(fileName: name, size: size, head: head)
    }
}
