import Glibc
import Synchronization

/// Dovecot's authentication cache for passdbs that name a `cache_key` (`auth_cache_size`,
/// `auth_cache_ttl`, `auth_cache_negative_ttl`). Dovecot's rules, which its documentation
/// ("Authentication caching") spells out:
/// - A positive entry (the user logged in) answers while younger than auth_cache_ttl. It keeps
///   only a salted SHA512-CRYPT hash of the password that worked, never the password.
/// - A password that does not match a positive entry whose last check succeeded is asked of
///   the passdb again (the password may have changed); after that failure, further mismatches
///   are answered from the cache until auth_cache_negative_ttl has passed.
/// - So after a password change the old password keeps working from the cache until the entry
///   expires or the user logs in with the new one (Dovecot's "old cached password" scenario).
/// - Unknown users are negative entries that answer for auth_cache_negative_ttl (0 = none).
/// - When the passdb fails internally, an entry of any age that matches still lets the user in.
/// - Over auth_cache_size, the least recently used entries go first.
///
/// Thread-safe: state behind one mutex; hashing and verifying run outside it, on the caller's
/// (worker) thread.
public final class AuthCache: Sendable {
    public struct Settings: Sendable, Equatable {
        public var maxBytes: Int
        /// Seconds.
        public var ttl: Double
        /// Seconds; 0 disables negative entries.
        public var negativeTTL: Double

        public init(maxBytes: Int, ttl: Double = 3600, negativeTTL: Double = 3600) {
            self.maxBytes = maxBytes
            self.ttl = ttl
            self.negativeTTL = negativeTTL
        }
    }

    public enum Answer: Sendable, Equatable {
        case miss
        case ok(user: String)
        case mismatch
        case unknownUser
    }

    struct Entry {
        /// nil: a negative entry (unknown user).
        var user: String?
        var hash: String
        var created: Double
        var lastSuccess: Bool
        var lastUsed: UInt64
        var size: Int
    }

    struct State {
        var entries: [String: Entry] = [:]
        var usedBytes = 0
        var tick: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    public let settings: Settings
    private let clock: @Sendable () -> Double
    private let state = Mutex(State())

    /// `clock`: seconds on a monotonic clock (tests pass their own).
    public init(_ settings: Settings, clock: @escaping @Sendable () -> Double = AuthCache.monotonicSeconds) {
        self.settings = settings
        self.clock = clock
    }

    public static let monotonicSeconds: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public var count: Int { state.withLock { $0.entries.count } }
    public var statistics: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    /// What the cache knows about `key` for this password attempt.
    public func lookup(key: String, password: String) -> Answer {
        let answer = answer(key: key, password: password)
        state.withLock { if answer == .miss { $0.misses += 1 } else { $0.hits += 1 } }
        return answer
    }

    private func answer(key: String, password: String) -> Answer {
        guard let entry = touch(key) else { return .miss }
        let age = clock() - entry.created
        guard let user = entry.user else {
            return age < settings.negativeTTL ? .unknownUser : .miss
        }
        guard age < settings.ttl else { return .miss }
        if matches(password, entry.hash) {
            setLastSuccess(key, true)
            return .ok(user: user)
        }
        // The last login worked, so the password may have changed: ask the passdb. After that
        // failure, mismatches come from the cache until the negative TTL has passed.
        if entry.lastSuccess || age >= settings.negativeTTL {
            setLastSuccess(key, false)
            return .miss
        }
        return .mismatch
    }

    /// The passdb failed internally: an entry of any age that matches still answers.
    public func staleSuccess(key: String, password: String) -> String? {
        guard let entry = touch(key), let user = entry.user, matches(password, entry.hash) else { return nil }
        return user
    }

    public func storeSuccess(key: String, user: String, password: String) {
        guard let hash = try? PasswordScheme.generate(password: password, scheme: .sha512Crypt) else { return }
        insert(key, Entry(user: user, hash: hash, created: clock(), lastSuccess: true, lastUsed: 0,
                          size: key.utf8.count + user.utf8.count + hash.utf8.count + 64))
    }

    public func storeUnknownUser(key: String) {
        guard settings.negativeTTL > 0 else { return }
        insert(key, Entry(user: nil, hash: "", created: clock(), lastSuccess: false, lastUsed: 0,
                          size: key.utf8.count + 64))
    }

    /// The passdb said "wrong password": the next mismatch is answered from the cache.
    public func storeMismatch(key: String) {
        setLastSuccess(key, false)
    }

    public func remove(key: String) {
        state.withLock { s in
            if let old = s.entries.removeValue(forKey: key) { s.usedBytes -= old.size }
        }
    }

    /// Empties the cache; returns how many entries it held.
    @discardableResult
    public func flush() -> Int {
        state.withLock { s in
            let n = s.entries.count
            s.entries = [:]
            s.usedBytes = 0
            return n
        }
    }

    /// What is stored for `key` (tests check that it is a salted hash, never the password).
    func storedHash(key: String) -> String? {
        state.withLock { $0.entries[key]?.hash }
    }

    private func matches(_ password: String, _ hash: String) -> Bool {
        (try? PasswordScheme.verify(password: password, stored: hash)) ?? false
    }

    private func touch(_ key: String) -> Entry? {
        state.withLock { s in
            guard var entry = s.entries[key] else { return nil }
            s.tick += 1
            entry.lastUsed = s.tick
            s.entries[key] = entry
            return entry
        }
    }

    private func setLastSuccess(_ key: String, _ value: Bool) {
        state.withLock { s in s.entries[key]?.lastSuccess = value }
    }

    private func insert(_ key: String, _ new: Entry) {
        guard new.size <= settings.maxBytes else { return }
        state.withLock { s in
            var entry = new
            s.tick += 1
            entry.lastUsed = s.tick
            if let old = s.entries.updateValue(entry, forKey: key) { s.usedBytes -= old.size }
            s.usedBytes += entry.size
            guard s.usedBytes > settings.maxBytes else { return }
            // Least recently used first, down to 90 % so the next inserts do not sort again.
            for (k, e) in s.entries.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                guard s.usedBytes > settings.maxBytes * 9 / 10 else { break }
                s.entries.removeValue(forKey: k)
                s.usedBytes -= e.size
            }
        }
    }
}
