import Foundation
import Glibc
import Logging
import Maildir
import RoostSystem

/// Stores one LMTP delivery in the user's Maildir, inside the user's mail process (so the
/// file is created with the user's uid/gid and live sessions can be told at once).
/// Adds Return-Path, Delivered-To (single-recipient transactions only) and Received.
enum MailDelivery {
    final class Counter: @unchecked Sendable {  // guarded by `lock`
        private var value = 0
        private let lock = NSLock()
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }

    static func store(spool: Int32, request: ControlMessage, mailRoot: String, user: String,
                      saveToDetail: Bool, hostname: String, createFolder: Bool = true,
                      service: String = "lmtp") -> [String: String] {
        let session = request["session"] ?? ""
        let logger = Logger(label: "\(service)(\(user))<\(getpid())><\(session)>")
        let detail = request["detail"] ?? ""
        var folderName = "INBOX"
        var folderPath = mailRoot
        do {
            let store = try MaildirStore(root: mailRoot)
            if saveToDetail && !detail.isEmpty {
                if !store.folderExists(detail) && createFolder { try? store.createFolder(detail) }
                if store.folderExists(detail), let dir = try? MailboxName.directoryName(for: detail, forCreation: false) {
                    folderName = detail
                    folderPath = mailRoot + "/" + dir
                }
            }
            let written = try writeToNew(folder: folderPath, prefix: headers(for: request, hostname: hostname), spool: spool)
            logger.info("msgid=\(written.messageID ?? "<none>"): saved mail to \(folderName)")
            return ["status": "ok", "folder": folderName]
        } catch {
            logger.error("save failed to \(folderName): \(error)")
            return ["status": "tempfail", "reason": "Temporary internal error"]
        }
    }

    private static let uniqueCounter = Counter()

    /// Maildir delivery (the classic protocol): write to tmp/, fsync, rename into new/, fsync
    /// new/. Streams from the spool in 64 KB pieces (bounded memory for any size) and does not
    /// load the folder: the UID is assigned by the next sync, so a delivery costs the same
    /// whether new/ holds 0 or 100,000 messages, and \Recent goes to the first IMAP session.
    static func writeToNew(folder: String, prefix: [UInt8], spool: Int32) throws -> (size: Int, messageID: String?) {
        var now = timeval()
        gettimeofday(&now, nil)
        let host = SettingsBuilder.systemHostname().replacingOccurrences(of: "/", with: "\\057")
            .replacingOccurrences(of: ":", with: "\\072")
        let unique = "\(now.tv_sec).M\(now.tv_usec)P\(getpid())Q\(uniqueCounter.next()).\(host)"
        let tmpPath = folder + "/tmp/" + unique
        let fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemCallError("open", context: tmpPath) }
        var size = 0, bareLF = 0
        var previous: UInt8 = 0
        var head: [UInt8] = []
        func put(_ bytes: ArraySlice<UInt8>) {
            for b in bytes {
                if b == 10 && previous != 13 { bareLF += 1 }
                previous = b
            }
            if head.count < 64 * 1024 { head.append(contentsOf: bytes.prefix(64 * 1024 - head.count)) }
            size += bytes.count
        }
        do {
            put(prefix[...])
            try writeAll(fd, prefix[...], tmpPath)
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var offset: off_t = 0
            while true {
                let n = chunk.withUnsafeMutableBytes { pread(spool, $0.baseAddress, $0.count, offset) }
                if n < 0 { throw SystemCallError("pread", context: "spool") }
                if n == 0 { break }
                put(chunk[0..<n])
                try writeAll(fd, chunk[0..<n], tmpPath)
                offset += off_t(n)
            }
            guard fsync(fd) == 0 else { throw SystemCallError("fsync", context: tmpPath) }
            close(fd)
        } catch {
            close(fd)
            unlink(tmpPath)
            throw error
        }
        let finalPath = folder + "/new/" + unique + ",S=\(size),W=\(size + bareLF)"
        guard rename(tmpPath, finalPath) == 0 else {
            let e = SystemCallError("rename", context: finalPath)
            unlink(tmpPath)
            throw e
        }
        try Files.syncDirectory(of: finalPath)
        return (size, messageID(in: head))
    }

    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, _ path: String) throws {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + (offset - bytes.startIndex), bytes.endIndex - offset) }
            if n <= 0 { throw SystemCallError("write", context: path) }
            offset += n
        }
    }

    static func headers(for request: ControlMessage, hostname: String) -> [UInt8] {
        var h = "Return-Path: <\(request["sender"] ?? "")>\r\n"
        if let rcpt = request["delivered-to"], !rcpt.isEmpty { h += "Delivered-To: \(rcpt)\r\n" }
        let from = request["rip"].map { $0.isEmpty ? "localhost" : "[\($0)]" } ?? "localhost"
        h += "Received: from \(from)\r\n\tby \(hostname) with LMTP id \(request["session"] ?? "")\r\n"
        h += "\t(envelope-from <\(request["sender"] ?? "")>)\r\n"
        if let rcpt = request["delivered-to"], !rcpt.isEmpty { h += "\tfor <\(rcpt)>" } else { h += "\t" }
        h += "; \(rfc5322Date())\r\n"
        return Array(h.utf8)
    }

    static func rfc5322Date() -> String {
        var now = time(nil)
        var t = tm()
        localtime_r(&now, &t)
        var buf = [CChar](repeating: 0, count: 64)
        strftime(&buf, buf.count, "%a, %d %b %Y %H:%M:%S %z", &t)
        return String(cString: buf)
    }

    /// The Message-ID header's value, for the log line.
    static func messageID(in message: [UInt8]) -> String? {
        let limit = min(message.count, 64 * 1024)
        let head = String(decoding: message[0..<limit], as: UTF8.self)
        for line in head.split(separator: "\r\n", omittingEmptySubsequences: false) {
            if line.isEmpty { break }
            if line.lowercased().hasPrefix("message-id:") {
                return line.dropFirst("message-id:".count).trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
