import Foundation
import Glibc
import Testing

/// System users through PAM (run as root, as CI does): real accounts made with useradd and
/// chpasswd, a PAM service file, and the stock fail2ban dovecot filter over Roost's log.
@Suite(.serialized, .enabled(if: TestEnv.isRoot)) struct PAMTests {
    static let service = "roost-test"
    static let users = [("roostpam", "Corr3ct-Horse"), ("roostlocked", "L0cked-pw"), ("roostexpired", "Exp1red-pw")]

    static func prepareSystem() throws {
        for (name, _) in users where getpwnam(name) == nil {
            try run("/usr/sbin/useradd", ["-m", "-s", "/bin/true", name])
        }
        try run("/usr/sbin/chpasswd", [], input: users.map { "\($0.0):\($0.1)" }.joined(separator: "\n") + "\n")
        try run("/usr/sbin/usermod", ["-L", "roostlocked"])
        try run("/usr/bin/chage", ["-E", "0", "roostexpired"])
        try "@include common-auth\n@include common-account\n@include common-session\n"
            .write(toFile: "/etc/pam.d/\(service)", atomically: true, encoding: .utf8)
    }

    static func run(_ tool: String, _ args: [String], input: String? = nil) throws {
        let r = try TestTool.run(tool, args, input: input)
        guard r.status == 0 else { throw ClientError("\(tool) \(args) failed: \(r.err)") }
    }

    static func start(extra: String = "", protocols: String = "imap", passdbArgs: String = service) throws -> (RoostProcess, Int) {
        try prepareSystem()
        let port = TestEnv.freePort()
        let config = """
        protocols = \(protocols)
        listen = 127.0.0.1
        base_dir = $DIR/run
        ssl = no
        disable_plaintext_auth = no
        auth_failure_delay = 1 secs
        auth_verbose = yes
        default_login_user = nobody
        first_valid_uid = 1000
        mail_location = maildir:~/Maildir
        passdb {
          driver = pam
          args = \(passdbArgs)
        }
        userdb {
          driver = passwd
        }
        service imap-login {
          inet_listener imap {
            port = \(port)
          }
          inet_listener imaps {
            port = 0
          }
        }
        \(extra)
        """
        let roost = try RoostProcess(config: config)
        try roost.start()
        guard roost.waitForLog("starting up") != nil else { throw ClientError("no start: \(roost.log)") }
        return (roost, port)
    }

    /// LOGIN from `source`; returns the tagged reply and how long it took.
    static func login(_ port: Int, _ user: String, _ pass: String, from source: String) throws -> (String, Double) {
        let c = try LineClient(port: port, timeout: 30, source: source)
        _ = try c.readLine()
        let t0 = Date()
        let reply = try c.command("a", "LOGIN \(user) \"\(pass)\"").last ?? ""
        return (reply, Date().timeIntervalSince(t0))
    }

    @Test func systemUsersLogInAndFailuresAreUniform() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let (ok, _) = try Self.login(port, "roostpam", "Corr3ct-Horse", from: "127.0.0.2")
        #expect(ok == "a OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
        // The Maildir was created on first login, owned by the user (never by root).
        let pw = getpwnam("roostpam")!.pointee
        var st = stat()
        #expect(stat(String(cString: pw.pw_dir) + "/Maildir/cur", &st) == 0)
        #expect(st.st_uid == pw.pw_uid && st.st_gid == pw.pw_gid)

        // Wrong password and unknown user: same answer, neither before auth_failure_delay.
        let (wrong, wrongTime) = try Self.login(port, "roostpam", "nope", from: "127.0.0.3")
        let (unknown, unknownTime) = try Self.login(port, "nosuchroostuser", "nope", from: "127.0.0.4")
        #expect(wrong == "a NO [AUTHENTICATIONFAILED] Authentication failed.")
        #expect(unknown == wrong)
        #expect(wrongTime >= 0.95 && unknownTime >= 0.95)
        print("PAM failure answer times: wrong password \(wrongTime) s, unknown user \(unknownTime) s")

        for (user, pass, ip) in [("roostlocked", "L0cked-pw", "127.0.0.5"), ("roostexpired", "Exp1red-pw", "127.0.0.6"),
                                 ("root", "anything", "127.0.0.7")] {
            let (reply, _) = try Self.login(port, user, pass, from: ip)
            #expect(reply.hasPrefix("a NO"), "\(user) must be refused: \(reply)")
        }
        #expect(roost.waitForLog("pam(roostexpired,127.0.0.6,<") != nil)

        // fail2ban's stock dovecot filter sees every failed login in Roost's log.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/fail2ban-regex") {
            #expect(roost.waitForLog("rip=127.0.0.7") != nil)
            let logFile = roost.directory + "/roost.log"
            try (roost.log.joined(separator: "\n") + "\n").write(toFile: logFile, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/fail2ban-regex")
            p.arguments = [logFile, "/etc/fail2ban/filter.d/dovecot.conf"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            // 5 failed logins (wrong, unknown, locked, expired, root): each has its imap-login
            // "Disconnected … (auth failed, …)" line, matched by the filter's second regex.
            let disconnectHits = text.split(separator: "\n").first { $0.contains("2) [") }
            #expect(disconnectHits?.contains("2) [5]") == true, "\(text)")
            for ip in ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"] {
                #expect(text.contains(ip) || text.contains("matched"), "fail2ban missed \(ip)")
            }
        }
    }

    @Test func bruteForceFromOneAddressDoesNotSlowAnother() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let finished = Counter()
        let attackers = (0..<50).map { _ in
            Thread { _ = try? Self.login(port, "roostpam", "wrong", from: "127.0.0.8"); finished.increment() }
        }
        attackers.forEach { $0.start() }
        let (reply, _) = try Self.login(port, "roostpam", "Corr3ct-Horse", from: "127.0.0.9")
        #expect(reply.hasPrefix("a OK"))
        // Ordering, not a clock: the attacker's 50 failures take at least 25 penalty rounds
        // (two checks per address at a time); a login queued behind them would come last.
        #expect(finished.value < 40, "the correct login finished after \(finished.value) of 50 attacks")
    }

    @Test func pop3LoginsGoThroughPAMToo() throws {
        let pop3 = TestEnv.freePort()
        let (roost, _) = try Self.start(extra: """
        service pop3-login {
          inet_listener pop3 {
            port = \(pop3)
          }
          inet_listener pop3s {
            port = 0
          }
        }
        """, protocols: "imap pop3")
        defer { roost.stop() }
        for (user, pass, ip, expected) in [("roostpam", "Corr3ct-Horse", "127.0.0.12", "+OK Logged in."),
                                           ("roostpam", "wrong", "127.0.0.13", "-ERR [AUTH] Authentication failed."),
                                           ("roostlocked", "L0cked-pw", "127.0.0.14", "-ERR [AUTH] Authentication failed."),
                                           ("roostexpired", "Exp1red-pw", "127.0.0.15", "-ERR [AUTH] Authentication failed.")] {
            let c = try LineClient(port: pop3, timeout: 30, source: ip)
            _ = try c.readLine()
            try c.send("USER \(user)\r\nPASS \(pass)\r\n")
            #expect(try c.readLine() == "+OK")
            #expect(try c.readLine() == expected, "\(user)")
        }
    }

    /// Mail files are reached only through the user's own Maildir, with O_NOFOLLOW: a symlink
    /// planted in the Maildir does not leak /etc/shadow, and no mailbox name reaches another user.
    @Test func symlinksAndNameTricksCannotReachOtherFiles() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        try Self.run("/usr/sbin/useradd", ["-m", "-s", "/bin/true", "roostother"], allowFailure: true)
        try Self.run("/usr/sbin/chpasswd", [], input: "roostother:0ther-pw\n")
        let pw = getpwnam("roostpam")!.pointee
        let home = String(cString: pw.pw_dir)
        let c = try LineClient(port: port, timeout: 30, source: "127.0.0.16")
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN roostpam Corr3ct-Horse").last?.hasPrefix("a OK") == true)
        // Plant a symlink where a message file would be.
        let link = home + "/Maildir/cur/1700000000.M1P1.evil,S=100:2,"
        unlink(link)
        #expect(symlink("/etc/shadow", link) == 0)
        let select = try c.command("b", "SELECT INBOX")
        #expect(select.last?.hasPrefix("b OK") == true)
        let fetch = (try? c.command("c", "FETCH 1:* BODY.PEEK[]")) ?? []
        #expect(!fetch.joined().contains("root:"), "shadow content leaked")
        for name in ["../roostother/Maildir", "~roostother", "/home/roostother/Maildir", "%2e%2e/roostother", ".hidden",
                     "INBOX/../../roostother", "..", "foo/../../x"] {
            let reply = try c.command("d", "SELECT \"\(name)\"").last ?? ""
            #expect(reply.hasPrefix("d NO") || reply.hasPrefix("d BAD"), "\(name): \(reply)")
        }
        unlink(link)
    }

    static func run(_ tool: String, _ args: [String], input: String? = nil, allowFailure: Bool) throws {
        do { try run(tool, args, input: input) } catch { if !allowFailure { throw error } }
    }

    /// Postfix's `smtpd_sasl_type = dovecot` speaks this protocol on the auth socket.
    @Test func authSocketSpeaksDovecotAuthProtocol() throws {
        let (roost, _) = try Self.start(extra: """
        service auth {
          unix_listener $DIR/auth-client {
            mode = 0666
          }
        }
        """)
        defer { roost.stop() }
        let path = roost.directory + "/auth-client"
        #expect(roost.waitForLog("auth: listening on \(path)") != nil)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(r == 0)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func send(_ s: String) { _ = s.withCString { Glibc.send(fd, $0, strlen($0), 0) } }
        var buffer = ""
        func readLine() -> String? {
            while !buffer.contains("\n") {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &chunk, 4096, 0)
                if n <= 0 { return nil }
                buffer += String(decoding: chunk[..<n], as: UTF8.self)
            }
            let i = buffer.firstIndex(of: "\n")!
            let line = String(buffer[..<i])
            buffer = String(buffer[buffer.index(after: i)...])
            return line
        }
        var handshake: [String] = []
        while let line = readLine() {
            handshake.append(line)
            if line == "DONE" { break }
        }
        #expect(handshake.first == "VERSION\t1\t2")
        #expect(handshake.contains("MECH\tPLAIN\tplaintext"))
        #expect(handshake.contains { $0.hasPrefix("SPID\t") } && handshake.contains { $0.hasPrefix("COOKIE\t") })
        send("VERSION\t1\t2\nCPID\t4242\n")
        let good = Data("\0roostpam\0Corr3ct-Horse".utf8).base64EncodedString()
        send("AUTH\t1\tPLAIN\tservice=smtp\trip=127.0.0.10\tresp=\(good)\n")
        #expect(readLine() == "OK\t1\tuser=roostpam")
        let bad = Data("\0roostpam\0wrong".utf8).base64EncodedString()
        send("AUTH\t2\tPLAIN\tservice=smtp\trip=127.0.0.11\tresp=\(bad)\n")
        #expect(readLine() == "FAIL\t2\tuser=roostpam")
    }
}

/// A thread-safe count for test threads.
final class Counter: @unchecked Sendable {  // `count` guarded by `lock`
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
