import Foundation
import Glibc
import Logging
import Maildir
import RoostSystem

/// Stores one LMTP delivery in the user's Maildir, inside the user's mail process (so the
/// file is created with the user's uid/gid and live sessions can be told at once).
/// Adds Return-Path, Delivered-To (single-recipient transactions only) and Received.
enum MailDelivery {
    struct Result {
        var fields: [String: String]
    }

    static func store(spool: Int32, request: ControlMessage, mailRoot: String, user: String,
                      saveToDetail: Bool, hostname: String) -> [String: String] {
        let session = request["session"] ?? ""
        let logger = Logger(label: "lmtp(\(user))<\(getpid())><\(session)>")
        let body: [UInt8]
        do {
            body = try readAll(spool)
        } catch {
            logger.error("Reading the spooled message failed: \(error)")
            return ["status": "tempfail", "reason": "Temporary internal error"]
        }
        let message = headers(for: request, hostname: hostname) + body
        let detail = request["detail"] ?? ""
        do {
            let store = try MaildirStore(root: mailRoot)
            var folderName = "INBOX"
            if saveToDetail && !detail.isEmpty {
                if !store.folderExists(detail) { try? store.createFolder(detail) }
                if store.folderExists(detail) { folderName = detail }
            }
            let folder = try store.openFolder(folderName)
            defer { folder.close() }
            _ = try folder.sync()
            try folder.save(message)  // tmp/ → fsync → new/ → fsync dir, then the UID
            logger.info("msgid=\(messageID(in: body) ?? "<none>"): saved mail to \(folderName)")
            return ["status": "ok"]
        } catch {
            logger.error("msgid=\(messageID(in: body) ?? "<none>"): save failed to INBOX: \(error)")
            return ["status": "tempfail", "reason": "Temporary internal error"]
        }
    }

    static func readAll(_ fd: Int32) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 { throw SystemCallError("pread", context: "spool") }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            offset += off_t(n)
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
