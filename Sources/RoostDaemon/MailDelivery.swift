import Foundation
import Glibc
import Logging
import Maildir
import RoostSystem

/// Stores one LMTP delivery in the user's Maildir, inside the user's mail process (so the
/// file is created with the user's uid/gid and live sessions can be told at once).
/// Adds Return-Path, Delivered-To (single-recipient transactions only) and Received.
/// With a quota policy the message is refused when it does not fit (quota_grace allowed),
/// and every stored message is added to maildirsize either way.
enum MailDelivery {
    static func store(spool: Int32, request: ControlMessage, mailRoot: String, user: String,
                      saveToDetail: Bool, hostname: String, createFolder: Bool = true,
                      service: String = "lmtp", quota: QuotaPolicy? = nil) -> [String: String] {
        let session = request["session"] ?? ""
        let logger = Logger(label: "\(service)(\(user))<\(getpid())><\(session)>")
        let detail = request["detail"] ?? ""
        var folderName = "INBOX"
        var folderPath = mailRoot
        do {
            let store = try MaildirStore(root: mailRoot, quota: quota)
            let prefix = headers(for: request, hostname: hostname)
            var st = stat()
            let size = fstat(spool, &st) == 0 ? Int64(st.st_size) + Int64(prefix.count) : Int64(prefix.count)
            do {
                try store.quota.check(bytes: size, messages: 1, useGrace: true)
            } catch MaildirError.overQuota(let text) {
                logger.info("msgid=\(messageID(fromSpool: spool) ?? "<none>"): save failed to INBOX: \(text)")
                return ["status": "quota", "reason": text]
            }
            if saveToDetail && !detail.isEmpty {
                if !store.folderExists(detail) && createFolder { try? store.createFolder(detail) }
                if store.folderExists(detail), let dir = try? MailboxName.directoryName(for: detail, forCreation: false) {
                    folderName = detail
                    folderPath = mailRoot + "/" + dir
                }
            }
            let written = try MaildirDelivery.deliver(folderPath: folderPath, prefix: prefix, source: spool)
            store.quota.recordChange(bytes: Int64(written.size), messages: 1)
            logger.info("msgid=\(messageID(in: written.head) ?? "<none>"): saved mail to \(folderName)")
            return ["status": "ok", "folder": folderName]
        } catch {
            logger.error("save failed to \(folderName): \(error)")
            return ["status": "tempfail", "reason": "Temporary internal error"]
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
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Quota check for a recipient (lmtp_rcpt_check_quota): is the user over quota already?
    /// Dovecot tests storing one more byte, without grace.
    static func checkOverQuota(mailRoot: String, quota: QuotaPolicy?) -> [String: String] {
        do {
            let store = try MaildirStore(root: mailRoot, quota: quota)
            try store.quota.check(bytes: 1, messages: 1, useGrace: false)
            return ["status": "ok"]
        } catch MaildirError.overQuota(let text) {
            return ["status": "quota", "reason": text]
        } catch {
            return ["status": "tempfail", "reason": "Temporary internal error"]
        }
    }

    static func messageID(fromSpool fd: Int32) -> String? {
        var head = [UInt8](repeating: 0, count: 16 * 1024)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? messageID(in: Array(head[0..<n])) : nil
    }

    /// The Message-ID header's value, for the log line. Scans header lines as bytes and stops
    /// at the blank line (splitting the whole message into Strings cost more than the fsync).
    static func messageID(in message: [UInt8]) -> String? {
        let name = Array("message-id:".utf8)
        let limit = min(message.count, 64 * 1024)
        var line = 0
        while line < limit {
            var end = line
            while end < limit && message[end] != 10 { end += 1 }
            var content = end
            if content > line && message[content - 1] == 13 { content -= 1 }
            if content == line { return nil }  // end of the header
            if content - line > name.count,
               zip(message[line..<(line + name.count)], name).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) {
                let value = String(decoding: message[(line + name.count)..<content], as: UTF8.self)
                return value.trimmingCharacters(in: .whitespaces)
            }
            line = end + 1
        }
        return nil
    }
}
