// Maildir++ quota: `maildirsize` in the mail root. Line 1 is the limit ("<bytes>S,<count>C");
// every further line is a "<bytes> <messages>" delta, appended with one write(2) each. Usage is
// the sum of the deltas. When the file grows past 5120 bytes (Maildir++'s rule) or is missing
// while a limit is wanted, usage is recalculated from the S= sizes of every message file.
// Without a maildirsize file quota is off and nothing is recorded.
//
// With a `QuotaPolicy` (the quota plugin is enabled for the process) the file is kept the way
// Dovecot's Maildir++ backend keeps it, so both servers can share one Maildir: created by a
// recalculation when missing, rewritten when its limits differ from the configured ones, and
// recalculated when it grew past 5120 bytes or says "over quota" and is older than 15 minutes.
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
    /// nil: the quota plugin is off; deltas are still appended to an existing maildirsize.
    public let policy: QuotaPolicy?
    var path: String { root + "/maildirsize" }

    public init(root: String, policy: QuotaPolicy? = nil) {
        self.root = root
        self.policy = policy
    }

    /// Effective limits and current usage under the policy, maildirsize brought up to date
    /// first. nil when the plugin is off or no limit applies.
    public func current(now: Double? = nil) throws -> (usage: QuotaUsage, limits: QuotaLimits)? {
        guard let policy else { return nil }
        var st = stat()
        let exists = lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        let bytes = exists ? try FileSystem.read(path) : []
        var parsed = MaildirQuota.parse(bytes)
        let fileLimits = QuotaLimits(bytes: parsed.byteLimit ?? 0, messages: parsed.messageLimit ?? 0)
        guard let limits = policy.limits ?? (exists ? fileLimits : nil), !limits.isUnlimited else { return nil }
        let over = (limits.bytes > 0 && parsed.bytes > limits.bytes) || (limits.messages > 0 && parsed.messages > limits.messages)
        let stale = over && (now ?? FileSystem.now()) - Double(st.st_mtim.tv_sec) > 15 * 60
        if !exists || fileLimits != limits || bytes.count > 5120 || stale {
            parsed = try recalculate(byteLimit: limits.bytes, messageLimit: limits.messages)
        }
        return (parsed, limits)
    }

    /// Throws `MaildirError.overQuota` when storing `bytes` in `messages` more messages would go
    /// over quota. `useGrace` for LDA/LMTP deliveries (quota_grace).
    public func check(bytes: Int64, messages: Int64, useGrace: Bool) throws {
        guard let policy, policy.enforcing, let (usage, limits) = try current() else { return }
        if !policy.allows(bytes: bytes, messages: messages, usage: usage, limits: limits, useGrace: useGrace) {
            throw MaildirError.overQuota(policy.exceededMessage)
        }
    }

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
        // Dovecot's header: "<bytes>S" unless only a count limit is set, then ",<count>C" if set.
        var limits: [String] = []
        let bytesLimit = byteLimit ?? 0, countLimit = messageLimit ?? 0
        if bytesLimit > 0 || countLimit <= 0 { limits.append("\(bytesLimit)S") }
        if countLimit > 0 { limits.append("\(countLimit)C") }
        let text = limits.joined(separator: ",") + "\n\(total) \(count)\n"
        let lock = try DotLock.acquire(path, timeout: 30, staleAfter: 30)
        do { try lock.replace(path, with: Array(text.utf8)) } catch { lock.release(); throw error }
        return QuotaUsage(bytes: total, messages: count, byteLimit: byteLimit, messageLimit: messageLimit)
    }
}
