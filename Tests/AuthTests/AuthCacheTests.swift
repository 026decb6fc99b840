import Synchronization
import Testing
@testable import Auth

/// Dovecot's auth cache rules ("Authentication caching"), on a clock the test moves.
struct AuthCacheTests {
    final class Clock: Sendable {
        let now = Mutex(1000.0)
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
        var read: @Sendable () -> Double { { self.now.withLock { $0 } } }
    }

    static func cache(ttl: Double = 3600, negativeTTL: Double = 3600, size: Int = 1 << 20) -> (AuthCache, Clock) {
        let clock = Clock()
        return (AuthCache(.init(maxBytes: size, ttl: ttl, negativeTTL: negativeTTL), clock: clock.read), clock)
    }

    @Test func successIsCachedAsASaltedHashOnly() throws {
        let (cache, _) = Self.cache()
        #expect(cache.lookup(key: "0\tann", password: "Old-pw1") == .miss)
        cache.storeSuccess(key: "0\tann", user: "ann", password: "Old-pw1")
        #expect(cache.lookup(key: "0\tann", password: "Old-pw1") == .ok(user: "ann"))
        let hash = try #require(cache.storedHash(key: "0\tann"))
        #expect(hash.hasPrefix("{SHA512-CRYPT}$6$") && !hash.contains("Old-pw1"))
        cache.storeSuccess(key: "0\tbob", user: "bob", password: "Old-pw1")
        #expect(cache.storedHash(key: "0\tbob") != hash, "every entry has its own salt")
    }

    /// Dovecot's password-change scenarios: the old password works until the new one is used.
    @Test func passwordChangeScenarios() {
        let (cache, _) = Self.cache()
        cache.storeSuccess(key: "k", user: "ann", password: "X")
        // The password changed to Y: the cached X does not match, the last login succeeded → ask the passdb.
        #expect(cache.lookup(key: "k", password: "Y") == .miss)
        cache.storeSuccess(key: "k", user: "ann", password: "Y")
        // X: mismatch against Y after a success → ask the passdb, which says no.
        #expect(cache.lookup(key: "k", password: "X") == .miss)
        cache.storeMismatch(key: "k")
        // Now mismatches come from the cache, and Y still works.
        #expect(cache.lookup(key: "k", password: "X") == .mismatch)
        #expect(cache.lookup(key: "k", password: "Y") == .ok(user: "ann"))
    }

    @Test func entriesExpire() {
        let (cache, clock) = Self.cache(ttl: 60, negativeTTL: 10)
        cache.storeSuccess(key: "k", user: "ann", password: "X")
        cache.storeUnknownUser(key: "ghost")
        #expect(cache.lookup(key: "ghost", password: "any") == .unknownUser)
        clock.advance(11)
        #expect(cache.lookup(key: "ghost", password: "any") == .miss)
        // A repeated mismatch after the negative TTL goes to the passdb again.
        _ = cache.lookup(key: "k", password: "bad")
        cache.storeMismatch(key: "k")
        #expect(cache.lookup(key: "k", password: "bad") == .miss)
        #expect(cache.lookup(key: "k", password: "X") == .ok(user: "ann"))
        clock.advance(60)
        #expect(cache.lookup(key: "k", password: "X") == .miss)
        // ...but an expired entry still lets the user in when the passdb fails internally.
        #expect(cache.staleSuccess(key: "k", password: "X") == "ann")
        #expect(cache.staleSuccess(key: "k", password: "bad") == nil)
        #expect(cache.statistics.hits > 0 && cache.statistics.misses > 0)
    }

    @Test func negativeTTLZeroCachesNoFailures() {
        let (cache, _) = Self.cache(negativeTTL: 0)
        cache.storeUnknownUser(key: "ghost")
        #expect(cache.lookup(key: "ghost", password: "any") == .miss)
        cache.storeSuccess(key: "k", user: "ann", password: "X")
        _ = cache.lookup(key: "k", password: "bad")
        cache.storeMismatch(key: "k")
        #expect(cache.lookup(key: "k", password: "bad") == .miss)
    }

    @Test func sizeLimitEvictsLeastRecentlyUsed() {
        let (cache, _) = Self.cache(size: 2000)
        cache.storeUnknownUser(key: "keep")
        for i in 0..<40 {
            cache.storeUnknownUser(key: "user\(i)")
            _ = cache.lookup(key: "keep", password: "")  // keeps "keep" recently used
        }
        #expect(cache.count < 40)
        #expect(cache.lookup(key: "keep", password: "") == .unknownUser)
        #expect(cache.lookup(key: "user0", password: "") == .miss)
        let held = cache.count
        #expect(cache.flush() == held)
        #expect(cache.count == 0)
    }

    /// AuthDatabases asks PAM only on a miss; the key is the expanded cache_key per passdb.
    @Test func pamPassdbUsesTheCacheByCacheKey() throws {
        let calls = Mutex<[String]>([])
        let runner: PAMRunner = { request in
            calls.withLock { $0.append("\(request.user)/\(request.protocolName)") }
            if request.user == "ghost" { return .init(.unknownUser) }
            return request.password == "right" ? .init(.ok) : .init(.mismatch("no"), clientMessage: "Password: ")
        }
        let (cache, _) = Self.cache()
        let dbs = try AuthDatabases(passdbs: [("pam", "cache_key=%u%s failure_show_msg=yes dovecot")], userdbs: [],
                                    pamRunner: runner, cache: cache)
        func check(_ user: String, _ pw: String, _ service: String = "imap") -> AuthDatabases.PassdbVerdict {
            dbs.authenticate(.init(user: user, password: pw, remoteIP: "192.0.2.1", service: service))
        }
        #expect(check("ann", "right").result == .ok(user: "ann", driver: "pam"))
        let cached = check("ann", "right")
        #expect(cached.result == .ok(user: "ann", driver: "pam") && cached.fromCache)
        #expect(check("ann", "right", "pop3").fromCache == false, "%s is part of the key")
        let wrong = check("ann", "wrong")
        #expect(wrong.result == .mismatch(driver: "pam") && wrong.clientReason == "Password: " && !wrong.fromCache)
        #expect(check("ann", "wrong").fromCache, "a repeated mismatch comes from the cache")
        #expect(check("ghost", "x").result == .unknownUser(driver: "pam"))
        #expect(check("ghost", "x").fromCache)
        #expect(calls.withLock { $0 } == ["ann/imap", "ann/pop3", "ann/imap", "ghost/imap"])
        #expect(cache.storedHash(key: "0\tann\tannimap")?.hasPrefix("{SHA512-CRYPT}") == true)
    }

    /// A cache_key that forgets %u still keeps entries per user: ann's success must not let
    /// bob in with ann's password, nor a negative entry for one user refuse another.
    @Test func keyWithoutUserStaysPerUser() throws {
        let runner: PAMRunner = { request in
            request.user == "ann" && request.password == "ann-pw" ? .init(.ok) : .init(.mismatch("no"))
        }
        let (cache, _) = Self.cache()
        let dbs = try AuthDatabases(passdbs: [("pam", "cache_key=%s dovecot")], userdbs: [], pamRunner: runner, cache: cache)
        func check(_ user: String, _ pw: String) -> AuthDatabases.PassdbVerdict {
            dbs.authenticate(.init(user: user, password: pw, remoteIP: "192.0.2.1", service: "imap"))
        }
        #expect(check("ann", "ann-pw").result == .ok(user: "ann", driver: "pam"))
        let bob = check("bob", "ann-pw")
        #expect(bob.result == .mismatch(driver: "pam") && !bob.fromCache)
        #expect(check("ann", "ann-pw").fromCache)
    }

    @Test func withoutCacheKeyPamIsNotCached() throws {
        let calls = Mutex(0)
        let runner: PAMRunner = { _ in calls.withLock { $0 += 1 }; return .init(.ok) }
        let dbs = try AuthDatabases(passdbs: [("pam", "")], userdbs: [], pamRunner: runner,
                                    cache: AuthCache(.init(maxBytes: 1 << 20)))
        _ = dbs.verify(user: "ann", password: "pw")
        _ = dbs.verify(user: "ann", password: "pw")
        #expect(calls.withLock { $0 } == 2)
    }

    @Test func pamArgsParseDovecotsSyntax() {
        let args = PAMArgs(parse: "session=yes setcred=yes failure_show_msg=yes max_requests=7 cache_key=%u%r mail")
        #expect(args.openSession && args.setCredentials && args.failureShowMessage)
        #expect(args.maxRequests == 7 && args.cacheKey == "%u%r" && args.service == "mail")
        #expect(PAMArgs(parse: "").maxRequests == 100 && PAMArgs(parse: "").service == "dovecot")
        #expect(PAMArgs(parse: "%s").serviceName(protocolName: "pop3", user: "ann") == "pop3")
        #expect(PAMArgs(parse: "*").serviceName(protocolName: "imap", user: "ann") == "imap")
        #expect(PAMArgs(parse: "blocking=yes -session").openSession)
    }
}
