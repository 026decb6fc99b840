// The quota plugin's settings as Dovecot 2.3 spells them, and its one decision: may this
// much more mail be stored? Pure: no I/O (MaildirQuota reads and maintains maildirsize).
//
//   plugin {
//     quota = maildir:User quota          # backend "maildir" (Maildir++); the name is for IMAP
//     quota_rule = *:storage=10M          # storage in kilobytes unless a unit is given (b k M G T)
//     quota_rule2 = *:messages=1000       # also *:bytes=N (bytes unless a unit is given)
//     quota_grace = 10%%                  # LDA/LMTP may exceed by this much with their last mail
//     quota_exceeded_message = Quota exceeded (mailbox for user is full)
//   }
//
// userdb extra fields override plugin settings of the same name (`userdb_quota_rule=*:storage=1G`
// in passwd-file). A limit of 0 means unlimited. Mailbox-specific rules (`Trash:storage=+100M`,
// `SPAM:ignore`) are not implemented: they are reported and skipped. With no rule at all, the
// limits in an existing maildirsize apply (Dovecot's Maildir++ behaviour).

public struct QuotaLimits: Equatable, Sendable {
    /// 0 = unlimited.
    public var bytes: Int64
    /// 0 = unlimited.
    public var messages: Int64

    public init(bytes: Int64 = 0, messages: Int64 = 0) {
        self.bytes = bytes
        self.messages = messages
    }

    public var isUnlimited: Bool { bytes <= 0 && messages <= 0 }
}

public struct QuotaPolicy: Equatable, Sendable {
    public static let defaultExceededMessage = "Quota exceeded (mailbox for user is full)"

    /// The quota root name (`quota = maildir:NAME`), shown to IMAP clients.
    public var rootName: String
    /// nil: no quota_rule; the limits of an existing maildirsize apply.
    public var limits: QuotaLimits?
    /// quota_grace: a percentage of the byte limit, or a fixed number of bytes.
    public var grace: Grace
    public var exceededMessage: String
    /// `noenforcing`: keep maildirsize up to date but never refuse.
    public var enforcing: Bool
    /// What was skipped (mailbox-specific rules, unknown keys), for a log line.
    public var ignored: [String]

    public enum Grace: Equatable, Sendable {
        case percent(Int64)
        case bytes(Int64)
    }

    public init(rootName: String = "", limits: QuotaLimits? = nil, grace: Grace = .percent(10),
                exceededMessage: String = QuotaPolicy.defaultExceededMessage, enforcing: Bool = true) {
        self.rootName = rootName
        self.limits = limits
        self.grace = grace
        self.exceededMessage = exceededMessage
        self.enforcing = enforcing
        self.ignored = []
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        public let setting: String
        public let value: String
        public let reason: String
        public var description: String { "\(setting) = \(value): \(reason)" }
    }

    /// The policy for a user: the plugin settings overlaid with the userdb's extra fields.
    /// nil when no `quota` root is configured. Throws on a value Dovecot would refuse.
    public static func make(plugin: [String: String], userdb: [String: String] = [:]) throws -> QuotaPolicy? {
        var settings = plugin
        for (key, value) in userdb { settings[key] = value }
        guard let root = settings["quota"], !root.isEmpty else { return nil }
        var policy = QuotaPolicy()
        let parts = root.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts[0] == "maildir" else {
            throw ParseError(setting: "quota", value: root, reason: "only the maildir (Maildir++) backend is supported")
        }
        if parts.count > 1 { policy.rootName = parts[1] }
        for argument in parts.dropFirst(2) where argument == "noenforcing" { policy.enforcing = false }
        let ruleKeys = settings.keys.filter { $0 == "quota_rule" || ($0.hasPrefix("quota_rule") && Int($0.dropFirst(10)) != nil) }
        for key in ruleKeys.sorted(by: ruleOrder) {
            guard let value = settings[key], !value.isEmpty else { continue }
            try apply(rule: value, key: key, to: &policy)
        }
        if let text = settings["quota_grace"], !text.isEmpty { policy.grace = try parseGrace(text) }
        if let text = settings["quota_exceeded_message"], !text.isEmpty { policy.exceededMessage = text }
        return policy
    }

    private static func ruleOrder(_ a: String, _ b: String) -> Bool {
        (Int(a.dropFirst(10)) ?? 1) < (Int(b.dropFirst(10)) ?? 1)
    }

    /// `*:storage=10M`, `*:messages=1000`, `*:bytes=1048576:messages=10`, `*:ignore`.
    static func apply(rule: String, key: String, to policy: inout QuotaPolicy) throws {
        guard let colon = rule.firstIndex(of: ":") else {
            throw ParseError(setting: key, value: rule, reason: "expected MAILBOX:LIMIT=VALUE")
        }
        let mailbox = rule[..<colon]
        guard mailbox == "*" else {
            policy.ignored.append("\(key) = \(rule) (mailbox-specific rules are not supported)")
            return
        }
        var limits = policy.limits ?? QuotaLimits()
        for part in rule[rule.index(after: colon)...].split(separator: ":") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else {
                policy.ignored.append("\(key) = \(rule) (\(part))")
                continue
            }
            let name = kv[0].lowercased(), value = kv[1]
            guard !value.hasPrefix("+"), !value.hasPrefix("-"), !value.hasSuffix("%") else {
                policy.ignored.append("\(key) = \(rule) (relative limits are not supported)")
                continue
            }
            switch name {
            case "storage": limits.bytes = try size(value, defaultUnit: 1024, key: key, rule: rule)
            case "bytes": limits.bytes = try size(value, defaultUnit: 1, key: key, rule: rule)
            case "messages": limits.messages = try size(value, defaultUnit: 1, key: key, rule: rule, binary: false)
            case "backend": break
            default: policy.ignored.append("\(key) = \(rule) (unknown limit \(name))")
            }
        }
        policy.limits = limits
    }

    /// A number with an optional unit: b, k, M, G, T (powers of 1024), case-insensitive.
    static func size(_ text: String, defaultUnit: Int64, key: String, rule: String, binary: Bool = true) throws -> Int64 {
        var digits = Substring(text.trimmingSpaces())
        var unit = defaultUnit
        if let last = digits.last, last.isLetter {
            let base: Int64 = binary ? 1024 : 1000
            switch last.lowercased() {
            case "b": unit = 1
            case "k": unit = base
            case "m": unit = base * base
            case "g": unit = base * base * base
            case "t": unit = base * base * base * base
            default: throw ParseError(setting: key, value: rule, reason: "unknown unit \(last)")
            }
            digits = digits.dropLast()
        }
        guard let n = Int64(digits), n >= 0, n <= Int64.max / unit else {
            throw ParseError(setting: key, value: rule, reason: "invalid number \(text)")
        }
        return n * unit
    }

    /// `10%` (also `10%%`, as written in dovecot.conf) or a size in bytes such as `10M`.
    static func parseGrace(_ text: String) throws -> Grace {
        var t = text.trimmingSpaces()
        if t.hasSuffix("%") {
            while t.hasSuffix("%") { t.removeLast() }
            guard let n = Int64(t), n >= 0 else { throw ParseError(setting: "quota_grace", value: text, reason: "invalid percentage") }
            return .percent(n)
        }
        return .bytes(try size(t, defaultUnit: 1, key: "quota_grace", rule: text))
    }

    /// Extra bytes LDA/LMTP may store with the mail that crosses the limit.
    public func graceBytes(for limits: QuotaLimits) -> Int64 {
        switch grace {
        case .bytes(let n): return n
        case .percent(let p): return limits.bytes > 0 ? limits.bytes / 100 * p + limits.bytes % 100 * p / 100 : 0
        }
    }

    /// Dovecot's test: bytes fit when the user is under the limit and `bytes` fits in what is
    /// left (plus the grace, for deliveries); messages fit when `messages` more stay within the
    /// count limit. A 1-byte, 1-message test is "is the user already over quota?".
    public func allows(bytes: Int64, messages: Int64, usage: QuotaUsage, limits: QuotaLimits, useGrace: Bool) -> Bool {
        guard enforcing else { return true }
        if limits.bytes > 0 {
            guard usage.bytes < limits.bytes else { return bytes <= 0 }
            let room = limits.bytes - usage.bytes + (useGrace ? graceBytes(for: limits) : 0)
            if bytes > room { return false }
        }
        if limits.messages > 0 {
            guard usage.messages <= limits.messages else { return messages <= 0 }
            if messages > limits.messages - usage.messages { return false }
        }
        return true
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
