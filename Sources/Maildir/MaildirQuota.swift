// Maildir++ quota: `maildirsize` in the mail root. Line 1 is the limit ("<bytes>S,<count>C");
// every further line is a "<bytes> <messages>" delta, appended with one write(2) each. Usage is
// the sum of the deltas. When the file grows past 5120 bytes (Maildir++'s rule) or is missing
// while a limit is wanted, usage is recalculated from the S= sizes of every message file.
// Without a maildirsize file quota is off and nothing is recorded.
#if canImport(Glibc)
import Glibc
#endif
import RoostSystem

public struct QuotaUsage: Equatable, Sendable {
    public var bytes: Int64
    public var messages: Int64
    public var byteLimit: Int64?
    public var messageLimit: Int64?
}

public struct MaildirQuota: Sendable {
    public let root: String
    var path: String { root + "/maildirsize" }

    static func parse(_ bytes: [UInt8]) -> QuotaUsage {
        let lines = bytes.split(separator: 10)
        var usage = QuotaUsage(bytes: 0, messages: 0, byteLimit: nil, messageLimit: nil)
        guard let first = lines.first else { return usage }
        for part in first.split(separator: UInt8(ascii: ",")) {
            guard let kind = part.last, let v = Int64(String(decoding: part.dropLast(), as: UTF8.self)) else { continue }
            if kind == UInt8(ascii: "S") { usage.byteLimit = v }
            if kind == UInt8(ascii: "C") { usage.messageLimit = v }
        }
        for line in lines.dropFirst() {
            let f = line.split(separator: UInt8(ascii: " "))
            guard f.count >= 2, let b = Int64(String(decoding: f[0], as: UTF8.self)),
                  let c = Int64(String(decoding: f[1], as: UTF8.self)) else { continue }
            usage.bytes += b; usage.messages += c
        }
        return usage
    }

    /// Current usage from maildirsize; nil when quota is not enabled (no file).
    public func usage() throws -> QuotaUsage? {
        guard FileSystem.isRealFile(path) else { return nil }
        let bytes = try FileSystem.read(path)
        if bytes.count > 5120 {
            let limits = MaildirQuota.parse(bytes)
            return try recalculate(byteLimit: limits.byteLimit, messageLimit: limits.messageLimit)
        }
        return MaildirQuota.parse(bytes)
    }

    /// Appends a delta (one write, O_APPEND: Maildir++ writers never lock for this).
    public func recordChange(bytes: Int64, messages: Int) {
        guard bytes != 0 || messages != 0 else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array("\(bytes) \(messages)\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    }

    /// Sums the S= sizes of every message in every folder and rewrites maildirsize.
    @discardableResult
    public func recalculate(byteLimit: Int64?, messageLimit: Int64?) throws -> QuotaUsage {
        var total: Int64 = 0, count: Int64 = 0
        var dirs = [root]
        for entry in try FileSystem.list(root) where entry.hasPrefix(".") && !entry.hasPrefix("..") {
            if FileSystem.isRealDirectory(root + "/" + entry) { dirs.append(root + "/" + entry) }
        }
        for dir in dirs {
            for sub in ["/cur", "/new"] {
                guard let names = try? FileSystem.list(dir + sub, filesOnly: true) else { continue }
                for n in names where !n.hasPrefix(".") {
                    var size = MaildirFileName.sizes(in: Array(MaildirFolder.basename(of: n).utf8)).0
                    if size == nil, let st = try FileSystem.lstatPath(dir + sub + "/" + n) { size = Int64(st.st_size) }
                    total += size ?? 0; count += 1
                }
            }
        }
        var limits: [String] = []
        if let byteLimit { limits.append("\(byteLimit)S") }
        if let messageLimit { limits.append("\(messageLimit)C") }
        let text = (limits.isEmpty ? "0S" : limits.joined(separator: ",")) + "\n\(total) \(count)\n"
        let lock = try DotLock.acquire(path, timeout: 30, staleAfter: 30)
        do { try lock.replace(path, with: Array(text.utf8)) } catch { lock.release(); throw error }
        return QuotaUsage(bytes: total, messages: count, byteLimit: byteLimit, messageLimit: messageLimit)
    }
}
