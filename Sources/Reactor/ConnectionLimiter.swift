import Foundation

/// Counts live connections per client IP and in total, refusing above the limits.
/// Shared by all listeners of one process; thread-safe.
public final class ConnectionLimiter: @unchecked Sendable {  // guarded by `lock`
    public let maxPerIP: Int      // 0 = unlimited
    public let maxTotal: Int      // 0 = unlimited
    private var perIP: [String: Int] = [:]
    private var total = 0
    private let lock = NSLock()
    /// Addresses exempt from the per-IP limit (e.g. login_trusted_networks).
    private let isExempt: @Sendable (String) -> Bool

    public init(maxPerIP: Int, maxTotal: Int, isExempt: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.maxPerIP = maxPerIP
        self.maxTotal = maxTotal
        self.isExempt = isExempt
    }

    public enum Verdict: Sendable, Equatable { case accepted, tooManyFromIP, tooManyTotal }

    public func acquire(ip: String) -> Verdict {
        lock.lock()
        defer { lock.unlock() }
        if maxTotal > 0 && total >= maxTotal { return .tooManyTotal }
        let n = perIP[ip, default: 0]
        if maxPerIP > 0 && n >= maxPerIP && !isExempt(ip) { return .tooManyFromIP }
        perIP[ip] = n + 1
        total += 1
        return .accepted
    }

    public func release(ip: String) {
        lock.lock()
        defer { lock.unlock() }
        total -= 1
        if let n = perIP[ip] {
            if n <= 1 { perIP.removeValue(forKey: ip) } else { perIP[ip] = n - 1 }
        }
    }

    public var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return total
    }
}
