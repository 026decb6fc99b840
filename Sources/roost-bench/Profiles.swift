import COpenSSL
import Foundation
import Glibc

/// One measured run: named metrics (higher-is-better ones end in "/s" or "MB/s").
struct ProfileResult {
    var metrics: [(String, Double)] = []
    mutating func add(_ name: String, _ value: Double) { metrics.append((name, value)) }
}

struct Target: Sendable {
    /// The server's process tree memory (RSS, PSS in KiB, process count), when the bench
    /// started the server itself (compare); the idle profile samples it with every session open.
    var memory: (@Sendable () -> (rss: Int, pss: Int, processes: Int))?
    var host = "127.0.0.1"
    var imapPort = 0, imapsPort = 0, pop3Port = 0, lmtpPort = 0
    var user = "bench1", password = "benchpass"
    var users = 10
    /// The directory holding the users' homes (`<home>/<user>/Maildir`), for profiles that
    /// write into Maildirs directly, as an outside delivery agent would.
    var homes: String?

    /// The i-th load user: `--user` itself when there is one, else bench1…benchN.
    func name(_ i: Int) -> String { users <= 1 ? user : "bench\(i)" }
    var randomName: String { name(Int.random(in: 1...max(1, users))) }
}

enum Profiles {
    static let names = ["imap", "idle", "lmtp", "pop3-retr", "pop3-session", "imap-login", "tls", "imaps-fetch", "webmail"]

    static func run(_ name: String, target: Target, clients: Int, duration: Double, size: Int,
                    recipients: Int = 1, tls: Bool = false, outside: Bool = false) throws -> ProfileResult {
        switch name {
        case "imap": return imapMixed(target, clients: clients, duration: duration)
        case "idle": return try idle(target, sessions: clients, deliveries: max(3, Int(duration)), tls: tls, outside: outside)
        case "lmtp": return lmtp(target, clients: clients, duration: duration, size: size, recipients: recipients)
        case "pop3-retr": return pop3Retr(target, clients: clients, duration: duration)
        case "pop3-session": return pop3Sessions(target, clients: clients, duration: duration)
        case "imap-login": return imapLogin(target, clients: clients, duration: duration)
        case "tls": return tlsHandshakes(target, clients: clients, duration: duration)
        case "imaps-fetch": return imapsFetch(target, clients: clients, duration: duration)
        case "webmail": return webmail(target, clients: clients, duration: duration)
        default: throw BenchError("unknown profile \(name); profiles: \(names.joined(separator: ", "))")
        }
    }

    static func summarize(_ samples: Samples, duration: Double, errors: Int, unit: String) -> ProfileResult {
        var r = ProfileResult()
        for (op, values) in samples.all.sorted(by: { $0.key < $1.key }) {
            r.add("\(op) \(unit)", Double(values.count) / duration)
            r.add("\(op) p50 ms", percentile(values, 0.5) * 1000)
            r.add("\(op) p99 ms", percentile(values, 0.99) * 1000)
        }
        r.add("errors", Double(errors))
        return r
    }

    /// LMTP deliveries of `size`-byte messages to `recipients` distinct users each, over
    /// persistent sessions. "deliver /s" counts transactions; "stored /s" counts mailbox copies.
    static func lmtp(_ t: Target, clients: Int, duration: Double, size: Int, recipients: Int = 1) -> ProfileResult {
        let stored = Samples()
        let body = Message.make(size: size, seed: 1)
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { _ in
            let c = try BenchConnection(host: t.host, port: t.lmtpPort)
            _ = try c.expect(prefix: "220")
            try c.send("LHLO bench\r\n")
            while try !c.line().hasPrefix("250 ") {}
            return c
        }, iteration: { state, samples in
            let c = state as! BenchConnection
            let count = min(recipients, max(1, t.users))
            let first = Int.random(in: 1...max(1, t.users))
            let rcpts = (0..<count).map { t.name((first + $0 - 1) % max(1, t.users) + 1) }
            try timed(samples, "deliver") {
                try c.send("MAIL FROM:<bench@example.org>\r\n" + rcpts.map { "RCPT TO:<\($0)>\r\n" }.joined() + "DATA\r\n")
                _ = try c.expect(prefix: "250")
                for _ in rcpts { _ = try c.expect(prefix: "250") }
                _ = try c.expect(prefix: "354")
                try c.send(body + Array(".\r\n".utf8))
                for _ in rcpts { _ = try c.expect(prefix: "250") }
            }
            stored.add("stored", Double(rcpts.count))
        })
        var r = summarize(samples, duration: duration, errors: errors, unit: "/s")
        if recipients > 1 { r.add("stored /s", (stored.all["stored"] ?? []).reduce(0, +) / duration) }
        return r
    }

    static func pop3Login(_ t: Target, user: String) throws -> BenchConnection {
        let c = try BenchConnection(host: t.host, port: t.pop3Port)
        _ = try c.expect(prefix: "+OK")
        try c.send("USER \(user)\r\nPASS \(t.password)\r\n")
        _ = try c.expect(prefix: "+OK")
        _ = try c.expect(prefix: "+OK")
        return c
    }

    /// RETR throughput: each client loops over the messages of its user's INBOX.
    static func pop3Retr(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let bytes = Samples()
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { i in
            let c = try pop3Login(t, user: t.name(i % max(1, t.users) + 1))
            try c.send("STAT\r\n")
            let count = Int(try c.expect(prefix: "+OK").split(separator: " ")[1]) ?? 0
            return RetrState(c, count: count)
        }, iteration: { state, samples in
            let s = state as! RetrState
            guard s.count > 0 else { throw BenchError("empty maildrop") }
            s.next = s.next % s.count + 1
            try timed(samples, "retr") {
                try s.connection.send("RETR \(s.next)\r\n")
                _ = try s.connection.expect(prefix: "+OK")
                bytes.add("bytes", Double(try s.connection.dotTerminated()))
            }
        })
        var r = summarize(samples, duration: duration, errors: errors, unit: "/s")
        r.add("RETR MB/s", (bytes.all["bytes"] ?? []).reduce(0, +) / duration / 1e6)
        return r
    }

    final class RetrState {
        let connection: BenchConnection
        let count: Int
        var next = 0
        init(_ c: BenchConnection, count: Int) { connection = c; self.count = count }
    }

    /// Whole POP3 sessions: connect, USER/PASS, STAT, QUIT. Each client keeps to one user
    /// (`--users` at least `--clients`): two sessions of a user at once would meet Roost's
    /// maildrop lock (`-ERR [IN-USE]`), which Dovecot does not take by default.
    static func pop3Sessions(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { i in
            t.name(i % max(1, t.users) + 1) as NSString
        }, iteration: { user, samples in
            let user = (user as! NSString) as String
            try timed(samples, "session") {
                let c = try pop3Login(t, user: user)
                try c.send("STAT\r\nQUIT\r\n")
                _ = try c.expect(prefix: "+OK")
                _ = try c.expect(prefix: "+OK")
            }
        })
        return summarize(samples, duration: duration, errors: errors, unit: "/s")
    }

    /// IMAP LOGIN + LOGOUT on fresh connections.
    static func imapLogin(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { _ in nil }, iteration: { _, samples in
            try timed(samples, "login+logout") {
                let c = try BenchConnection(host: t.host, port: t.imapPort)
                _ = try c.expect(prefix: "* OK")
                try c.send("a LOGIN \(t.randomName) \(t.password)\r\n")
                while true { let l = try c.line(); if l.hasPrefix("a ") { guard l.hasPrefix("a OK") else { throw BenchError(l) }; break } }
                try c.send("b LOGOUT\r\n")
                while try !c.line().hasPrefix("b ") {}
            }
        })
        return summarize(samples, duration: duration, errors: errors, unit: "/s")
    }

    /// Full TLS handshakes (TLS 1.3, P-256) on IMAPS, reading the greeting.
    static func tlsHandshakes(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let shared = ClientContext()
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { _ in nil }, iteration: { _, samples in
            let ctx = shared.ctx
            try timed(samples, "handshake") {
                let c = try BenchConnection(host: t.host, port: t.imapsPort)
                guard let ssl = SSL_new(ctx) else { throw BenchError("SSL_new") }
                defer { SSL_free(ssl) }
                SSL_set_fd(ssl, c.fd)
                guard SSL_connect(ssl) == 1 else { throw BenchError("handshake failed") }
                var buf = [UInt8](repeating: 0, count: 512)
                guard SSL_read(ssl, &buf, 512) > 0 else { throw BenchError("no greeting") }
            }
        })
        return summarize(samples, duration: duration, errors: errors, unit: "/s")
    }
}

/// An SSL_CTX shared by the load threads (thread-safe once configured).
final class ClientContext: @unchecked Sendable {
    let ctx: OpaquePointer = SSL_CTX_new(TLS_client_method())!
}

/// Seeded message generator with a realistic mix: text, multipart with attachment, encoded headers.
enum Message {
    static func make(size: Int, seed: Int) -> [UInt8] {
        var rng = SeededGenerator(seed: UInt64(seed))
        var text = "From: =?UTF-8?B?UMWZw61sacWhIMW+bHXFpW91xI1rw70=?= <sender\(seed)@example.org>\r\n"
        text += "To: user@example.org\r\nSubject: Benchmark message \(seed)\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
        text += "Message-ID: <bench\(seed)@example.org>\r\n"
        let multipart = rng.next() % 5 == 0
        if multipart {
            text += "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\(seed)\"\r\n\r\n--b\(seed)\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\(seed)\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\n"
        } else {
            text += "\r\n"
        }
        var out = Array(text.utf8)
        let line = multipart ? "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
                             : "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
        while out.count < size { out += Array(line.utf8) }
        if multipart { out += Array("--b\(seed)--\r\n".utf8) }
        return out
    }

    /// Sizes with a median near 8 KB and a long tail to `max` (log-normal-ish, seeded).
    static func size(seed: Int, max: Int) -> Int {
        var rng = SeededGenerator(seed: UInt64(seed) &* 7919)
        let u = Double(rng.next() % 10_000) / 10_000
        let s = Int(8192 * pow(2.0, (u - 0.5) * 8))
        return Swift.max(600, Swift.min(max, s))
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
