import Foundation
import Glibc
import Testing

/// LMTP delivery through the built binary: protocol replies, bytes on disk, memory bounds,
/// crash safety, and `roost deliver`.
@Suite struct LMTPTests {
    /// `extra` is appended to the config; `users` replaces the default passwd-file.
    static func start(extra: String = "", users: String? = nil, directory: String? = nil,
                      edit: (String) -> String = { $0 }) throws -> (RoostProcess, lmtp: Int) {
        let port = TestEnv.freePort(), lmtpPort = TestEnv.freePort()
        var config = TestEnv.config(port: port, extra: """
        service lmtp {
          inet_listener lmtp {
            address = 127.0.0.1
            port = \(lmtpPort)
          }
        }
        mail_location = maildir:~/Maildir
        auth_username_format = %Ln
        default_internal_user = nobody
        \(extra)
        """)
        config = edit(config.replacingOccurrences(of: "protocols = imap", with: "protocols = imap lmtp"))
        let roost = try RoostProcess(config: config, files: ["users": users ?? TestEnv.usersFile([("pepa", "secret"), ("kim", "hunter2")])],
                                     directory: directory)
        chmod(roost.directory, 0o777)
        try FileManager.default.createDirectory(atPath: roost.directory + "/home", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        try roost.start()
        guard roost.waitForLog("starting up") != nil else { throw ClientError("no start: \(roost.log)") }
        return (roost, lmtpPort)
    }

    /// Every message file of a user's INBOX (new/ and cur/), read back.
    static func messages(_ roost: RoostProcess, _ user: String) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for sub in ["new", "cur"] {
            let dir = "\(roost.directory)/home/\(user)/Maildir/\(sub)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                if let data = FileManager.default.contents(atPath: dir + "/" + name) { out[sub + "/" + name] = [UInt8](data) }
            }
        }
        return out
    }

    static func body(after headers: [UInt8]) -> [UInt8] {
        let sep: [UInt8] = [13, 10, 13, 10]
        for i in 0..<(headers.count - 3) where Array(headers[i..<i + 4]) == sep { return Array(headers[(i + 4)...]) }
        return []
    }

    @Test func multiRecipientTransactionGetsPerRecipientRepliesAndExactBytes() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        #expect(try c.readLine()?.hasPrefix("220 ") == true)
        try c.send("LHLO test\r\n")
        var lhlo: [String] = []
        while let l = try c.readLine() { lhlo.append(l); if l.hasPrefix("250 ") { break } }
        #expect(lhlo.contains("250-PIPELINING") && lhlo.contains("250-ENHANCEDSTATUSCODES") && lhlo.contains("250-8BITMIME"))
        try c.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<pepa@example.org>\r\nRCPT TO:<ghost@example.org>\r\nRCPT TO:<kim@example.org>\r\nDATA\r\n")
        #expect(try c.readLine() == "250 2.1.0 OK")
        #expect(try c.readLine() == "250 2.1.5 OK")
        #expect(try c.readLine() == "550 5.1.1 <ghost@example.org> User doesn't exist: ghost@example.org")
        #expect(try c.readLine() == "250 2.1.5 OK")
        #expect(try c.readLine() == "354 OK")
        let body = "Subject: stuffing\r\nMessage-ID: <m1@test>\r\n\r\n.leading dot\r\n..two dots\r\n.\tdot tab\r\nend\r\n"
        let stuffed = body.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }
            .joined(separator: "\r\n")
        try c.send(stuffed + ".\r\n")
        let r1 = try c.readLine() ?? "", r2 = try c.readLine() ?? ""
        #expect(r1.hasPrefix("250 2.0.0 <pepa@example.org> ") && r1.hasSuffix(" Saved"))
        #expect(r2.hasPrefix("250 2.0.0 <kim@example.org> "))
        try c.send("QUIT\r\n")
        #expect(try c.readLine() == "221 2.0.0 Bye")
        for user in ["pepa", "kim"] {
            let files = Self.messages(roost, user)
            #expect(files.count == 1, "\(user): \(files.keys)")
            guard let stored = files.values.first else { continue }
            let text = String(decoding: stored, as: UTF8.self)
            #expect(text.hasPrefix("Return-Path: <sender@example.org>\r\n"))
            // Two recipients: no Delivered-To (Bcc recipients stay hidden), as Dovecot does.
            #expect(!text.contains("Delivered-To:"))
            #expect(text.contains("Received: from [127.0.0.1]\r\n\tby "))
            #expect(text.hasSuffix(body), "stored: \(text)")
            if TestEnv.isRoot {
                var st = stat()
                stat(roost.directory + "/home/\(user)/Maildir/new", &st)
                #expect(st.st_uid == 65534, "delivered as the user, never as root")
            }
        }
        #expect(roost.waitForLog("msgid=<m1@test>: saved mail to INBOX") != nil)
    }

    @Test func singleRecipientGetsDeliveredToAndMalformedCommandsGetErrors() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        try c.send("MAIL FROM:<a@b>\r\n")
        #expect(try c.readLine() == "503 5.5.1 LHLO first")
        try c.send("LHLO x\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        try c.send("MAIL FROM:a@b\r\nFROB\r\nRCPT TO:<pepa@x>\r\n")
        #expect(try c.readLine()?.hasPrefix("501 5.5.4") == true)
        #expect(try c.readLine() == "500 5.5.2 Unknown command")
        #expect(try c.readLine() == "503 5.5.1 MAIL needed first")
        try c.send("MAIL FROM:<>\r\nRCPT TO:<pepa+Lists@x>\r\nDATA\r\nSubject: one\r\n\r\nhi\r\n.\r\n")
        #expect(try c.readLine() == "250 2.1.0 OK")
        #expect(try c.readLine() == "250 2.1.5 OK")
        #expect(try c.readLine() == "354 OK")
        #expect(try c.readLine()?.hasPrefix("250 2.0.0 <pepa+Lists@x>") == true)
        let stored = String(decoding: Self.messages(roost, "pepa").values.first ?? [], as: UTF8.self)
        #expect(stored.contains("Delivered-To: pepa+Lists@x\r\n"))
        #expect(stored.hasPrefix("Return-Path: <>\r\n"))
    }

    @Test func fiftyMegabyteMessageStreamsWithBoundedMemory() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let c = try LineClient(port: port, timeout: 60)
        _ = try c.readLine()
        try c.send("LHLO x\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        try c.send("MAIL FROM:<big@x>\r\nRCPT TO:<pepa@x>\r\nDATA\r\n")
        _ = try c.readLine(); _ = try c.readLine(); _ = try c.readLine()
        let line = Array(String(repeating: "0123456789", count: 99).utf8) + [13, 10]  // 1000 bytes
        var chunk: [UInt8] = []
        for _ in 0..<1000 { chunk += line }  // 1 MB
        try c.send(Array("Subject: big\r\n\r\n".utf8))
        for _ in 0..<50 { try c.send(chunk) }
        try c.send(".\r\n")
        #expect(try c.readLine()?.hasPrefix("250 2.0.0 <pepa@x>") == true)
        let stored = Self.messages(roost, "pepa").values.first ?? []
        #expect(stored.count > 49_000_000)
        for child in roost.children() where child.role == "lmtp" || child.role == "mail" {
            let hwm = RoostProcess.status(child.pid, "VmHWM").flatMap { Int($0.split(separator: " ")[0]) } ?? 0
            #expect(hwm < 64 * 1024, "\(child.role) \(child.pid) peak RSS \(hwm) kB for a 50 MB message")
        }
    }

    /// After the first delivery the lmtp process talks to the user's mail process directly;
    /// the link is dropped once unused, so the mail process still exits when idle, and a
    /// later delivery starts a new one (through the master again).
    @Test func directLinkLetsAnIdleMailProcessExit() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        func deliver(_ c: LineClient, _ n: Int) throws -> String? {
            try c.send("MAIL FROM:<s@x>\r\nRCPT TO:<pepa@x>\r\nDATA\r\nSubject: \(n)\r\n\r\nbody \(n)\r\n.\r\n")
            for _ in 0..<3 { _ = try c.readLine() }
            return try c.readLine()
        }
        let c = try LineClient(port: port, timeout: 30)
        _ = try c.readLine()
        try c.send("LHLO x\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        for n in 0..<5 { #expect(try deliver(c, n)?.hasPrefix("250 2.0.0 <pepa@x>") == true) }
        let first = roost.children().filter { $0.role == "mail" }.map(\.pid)
        #expect(first.count == 1)
        // Link idle (5 s) plus the mail process's own idle delay (10 s), bounded.
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline && roost.children().contains(where: { $0.role == "mail" }) { usleep(100_000) }
        #expect(!roost.children().contains(where: { $0.role == "mail" }), "the mail process exits once idle")
        #expect(try deliver(c, 5)?.hasPrefix("250 2.0.0 <pepa@x>") == true)
        #expect(Self.messages(roost, "pepa").count == 6)
    }

    /// kill -9 of the delivering mail process mid-run: every message that got a 250 is in the
    /// Maildir exactly once and whole; nothing partial is ever in new/ or cur/.
    @Test func killingTheMailProcessLosesNothingAcknowledged() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let c = try LineClient(port: port, timeout: 30)
        _ = try c.readLine()
        try c.send("LHLO x\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        var acknowledged: [String] = []
        let filler = String(repeating: "x", count: 2000)
        // Fault injection: a killer thread SIGKILLs the user's mail process whenever another
        // 100 replies have arrived, i.e. while the next delivery is in flight.
        let progress = ProgressBox()
        let killer = Thread {
            var next = 100
            while next < 1000 && !progress.done {
                if progress.count >= next {
                    for child in roost.children() where child.role == "mail" { kill(child.pid, SIGKILL) }
                    next += 100
                }
                usleep(200)
            }
        }
        killer.start()
        defer { progress.finish() }
        var transcript: [String] = []
        do {
            for i in 0..<1000 {
                progress.set(i)
                try c.send("MAIL FROM:<s@x>\r\nRCPT TO:<pepa@x>\r\nDATA\r\nMessage-ID: <n\(i)@t>\r\n\r\n\(filler)\r\nEND-\(i)\r\n.\r\n")
                for _ in 0..<3 { transcript.append(try c.readLine() ?? "<eof>") }
                let reply = try c.readLine()
                transcript.append("\(i): " + (reply ?? "<eof>"))
                if let reply, reply.hasPrefix("250 ") { acknowledged.append("<n\(i)@t>") }
            }
        } catch {
            // Say where it stopped: the client's last lines and the server's last log lines.
            try? roost.log.joined(separator: "\n").write(toFile: "/tmp/roost-crash-test.log", atomically: true, encoding: .utf8)
            Issue.record("\(error) after \(acknowledged.count) acknowledged; client saw:\n\(transcript.suffix(12).joined(separator: "\n"))\nserver log:\n\(roost.log.suffix(40).joined(separator: "\n"))")
            return
        }
        #expect(acknowledged.count >= 900, "most deliveries succeed (\(acknowledged.count))")
        print("LMTP crash test: \(acknowledged.count) acknowledged, \(Self.messages(roost, "pepa").count) files")
        var seen: [String: Int] = [:]
        for (name, bytes) in Self.messages(roost, "pepa") {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let idRange = text.range(of: "Message-ID: ") else { Issue.record("no Message-ID in \(name)"); continue }
            let id = String(text[idRange.upperBound...].prefix { $0 != "\r\n" && $0 != "\r" })
            let n = id.dropFirst(2).prefix { $0 != "@" }
            #expect(text.hasSuffix("\(filler)\r\nEND-\(n)\r\n"), "partial file \(name)")
            seen[id, default: 0] += 1
        }
        for id in acknowledged { #expect(seen[id] == 1, "\(id) stored \(seen[id] ?? 0) times") }
    }

    /// The auth process dies while a RCPT waits for its userdb lookup: the master answers the
    /// lookup at once with Dovecot's "451 4.3.0 <rcpt> Temporary internal error" (the lmtp
    /// process logs why), instead of the client waiting for the 20 s answer timeout; once auth
    /// is back, recipients are found again.
    /// The lookup is made pending deterministically: auth is stopped (SIGSTOP), and the test
    /// waits until the lookup sits unread in auth's control socket before the SIGKILL.
    @Test func authDyingAnswersPendingRecipientLookupsAtOnce() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let c = try LineClient(port: port, timeout: 40)
        _ = try c.readLine()
        try c.send("LHLO x\r\nMAIL FROM:<s@x>\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        #expect(try c.readLine() == "250 2.1.0 OK")
        guard let auth = roost.children().first(where: { $0.role == "auth" })?.pid,
              let control = Self.socketInode(pid: auth, fd: 3) else {
            Issue.record("no auth process: \(roost.children())")
            return
        }
        kill(auth, SIGSTOP)
        #expect(Self.waitUntil { Self.processState(auth) == "T" }, "auth stopped")
        try c.send("RCPT TO:<ghost@example.org>\r\n")
        let queued = Self.waitUntil { (Self.unixReceiveQueue(inode: control) ?? 1) > 0 }
        #expect(queued, "the userdb lookup reached the stopped auth process")
        let killed = Date()
        kill(auth, SIGKILL)
        let reply = try c.readLine()
        let waited = Date().timeIntervalSince(killed)
        #expect(reply == "451 4.3.0 <ghost@example.org> Temporary internal error")
        #expect(waited < 10, "answered \(waited) s after auth died (the lmtp process's own timeout is 20 s)")
        #expect(roost.waitForLog("Failed to lookup user ghost@example.org: Temporary internal error (auth process died)") != nil)
        // The master restarts auth; a recipient it knows is found again.
        #expect(Self.waitUntil { roost.children().contains { $0.role == "auth" && $0.pid != auth } }, "auth restarted")
        try c.send("RCPT TO:<pepa@example.org>\r\n")
        #expect(try c.readLine() == "250 2.1.5 OK")
        try c.send("QUIT\r\n")
        #expect(try c.readLine() == "221 2.0.0 Bye")
    }

    /// A userdb that cannot be read may hold the recipient: 451 (the MTA retries), never 550
    /// (the MTA bounces), as Dovecot answers an internal userdb failure.
    @Test func unreadableUserdbIsATemporaryFailure() throws {
        let (roost, port) = try Self.start(edit: {
            $0.replacingOccurrences(of: "userdb {\n  driver = passwd-file\n  args = $DIR/users", with: "userdb {\n  driver = passwd-file\n  args = $DIR/missing-users")
        })
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        try c.send("LHLO x\r\nMAIL FROM:<s@x>\r\nRCPT TO:<pepa@x>\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        #expect(try c.readLine() == "250 2.1.0 OK")
        #expect(try c.readLine() == "451 4.3.0 <pepa@x> Temporary internal error")
        #expect(roost.waitForLog("Failed to lookup user pepa@x: passwd-file \(roost.directory)/missing-users") != nil)
    }

    /// Polls a condition (not a timer standing in for one) for at most 20 s.
    static func waitUntil(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(20)
        while !condition() {
            if Date() > deadline { return false }
            usleep(2_000)
        }
        return true
    }

    /// The state letter of /proc/PID/stat (R, S, T, Z, …).
    static func processState(_ pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// The inode of the socket behind a process's descriptor ("socket:[1234]").
    static func socketInode(pid: pid_t, fd: Int32) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
              target.hasPrefix("socket:[") else { return nil }
        return String(target.dropFirst("socket:[".count).dropLast())
    }

    /// Bytes waiting to be read on a UNIX socket, from `ss -xn` (Recv-Q); nil without ss.
    static func unixReceiveQueue(inode: String) -> Int? {
        guard let ss = ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss", "/sbin/ss"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ss)
        p.arguments = ["-xn"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        // Netid State Recv-Q Send-Q Local-Address Port(inode) Peer-Address Port
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count >= 6 && f[5] == inode { return Int(f[2]) }
        }
        return 0
    }

    final class ProgressBox: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private var value = 0
        private var finished = false
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
        var done: Bool { lock.lock(); defer { lock.unlock() }; return finished }
        func set(_ v: Int) { lock.lock(); value = v; lock.unlock() }
        func finish() { lock.lock(); finished = true; lock.unlock() }
    }

    @Test func deliverCommandExitCodes() throws {
        let (roost, _) = try Self.start()
        defer { roost.stop() }
        func deliver(_ args: [String], asUID: uid_t? = nil) throws -> Int32 {
            let p = Process()
            if let asUID {
                p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
                p.arguments = ["--reuid=\(asUID)", "--regid=\(asUID)", "--clear-groups", RoostProcess.binary, "deliver", "-c", roost.configPath] + args
            } else {
                p.executableURL = URL(fileURLWithPath: RoostProcess.binary)
                p.arguments = ["deliver", "-c", roost.configPath] + args
            }
            let input = Pipe()
            p.standardInput = input
            p.standardError = FileHandle.nullDevice
            try p.run()
            input.fileHandleForWriting.write(Data("Subject: lda\r\n\r\nvia roost deliver\r\n".utf8))
            try input.fileHandleForWriting.close()
            p.waitUntilExit()
            return p.terminationStatus
        }
        #expect(try deliver(["-d", "pepa", "-f", "s@x"]) == 0)
        #expect(Self.messages(roost, "pepa").values.contains { String(decoding: $0, as: UTF8.self).contains("via roost deliver") })
        #expect(try deliver(["-d", "nosuchuser"]) == 67)
        if TestEnv.isRoot {
            let other = try SystemTestUser.ensure("roosttest1")
            #expect(try deliver(["-d", "pepa"], asUID: other.uid) == 77)
        }
    }
}
