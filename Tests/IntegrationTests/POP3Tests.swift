import Foundation
import Glibc
import Testing

/// POP3 through the built binary: exact replies, streaming, deletions at QUIT only, the
/// maildrop lock, POP3S and STLS, and real clients (Python poplib, fetchmail).
@Suite struct POP3Tests {
    static func start(tls: Bool = false, extra moreSettings: String = "") throws -> (RoostProcess, pop3: Int, pop3s: Int, lmtp: Int) {
        let imap = TestEnv.freePort(), pop3 = TestEnv.freePort(), pop3s = TestEnv.freePort(), lmtp = TestEnv.freePort()
        let dir = RoostProcess.makeTempDirectory()
        chmod(dir, 0o777)
        try FileManager.default.createDirectory(atPath: dir + "/home", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        var extra = moreSettings + """

        mail_location = maildir:~/Maildir
        auth_username_format = %Ln
        default_internal_user = nobody
        service pop3-login {
          inet_listener pop3 {
            port = \(pop3)
          }
          inet_listener pop3s {
            port = \(tls ? pop3s : 0)
          }
        }
        service lmtp {
          inet_listener lmtp {
            address = 127.0.0.1
            port = \(lmtp)
          }
        }
        """
        if tls {
            try IMAPTLSTests.makeCertificate(in: dir, name: "cert", cn: "localhost")
            extra += "\nssl_cert = <$DIR/cert.pem\nssl_key = <$DIR/cert.key\n"
        }
        var config = TestEnv.config(port: imap, extra: extra).replacingOccurrences(of: "protocols = imap", with: "protocols = imap pop3 lmtp")
        if tls {
            config = config.replacingOccurrences(of: "ssl = no", with: "ssl = yes")
                .replacingOccurrences(of: "inet_listener imaps {\n    port = 0", with: "inet_listener imaps {\n    port = \(TestEnv.freePort())")
        }
        let roost = try RoostProcess(config: config, files: ["users": TestEnv.usersFile([("pepa", "secret")])], directory: dir)
        try roost.start()
        guard roost.waitForLog("starting up") != nil else { throw ClientError("no start: \(roost.log)") }
        return (roost, pop3, pop3s, lmtp)
    }

    /// Delivers `bodies` to pepa over LMTP.
    static func deliver(_ bodies: [String], lmtp: Int) throws {
        let c = try LineClient(port: lmtp)
        _ = try c.readLine()
        try c.send("LHLO t\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        for body in bodies {
            let stuffed = body.split(separator: "\r\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
            try c.send("MAIL FROM:<s@x>\r\nRCPT TO:<pepa@x>\r\nDATA\r\n\(stuffed).\r\n")
            for _ in 0..<3 { _ = try c.readLine() }
            guard let r = try c.readLine(), r.hasPrefix("250 ") else { throw ClientError("delivery failed") }
        }
    }

    static func storedFiles(_ roost: RoostProcess) -> [[UInt8]] {
        LMTPTests.messages(roost, "pepa").sorted { $0.key < $1.key }.map(\.value)
    }

    func login(_ port: Int) throws -> LineClient {
        let c = try LineClient(port: port)
        #expect(try c.readLine() == "+OK Roost ready.")
        try c.send("USER pepa\r\n")
        #expect(try c.readLine() == "+OK")
        try c.send("PASS secret\r\n")
        #expect(try c.readLine() == "+OK Logged in.")
        return c
    }

    func multiline(_ c: LineClient) throws -> [String] {
        var out: [String] = []
        while let l = try c.readLine(), l != "." { out.append(l) }
        return out
    }

    @Test func transactionStateExactBytes() throws {
        let (roost, pop3, _, lmtp) = try Self.start()
        defer { roost.stop() }
        try Self.deliver(["Subject: one\r\n\r\n.starts with a dot\r\nline\r\n", "Subject: two\r\n\r\nsecond\r\n"], lmtp: lmtp)
        let files = Self.storedFiles(roost)
        let c = try login(pop3)
        try c.send("STAT\r\n")
        #expect(try c.readLine() == "+OK 2 \(files[0].count + files[1].count)")
        try c.send("LIST\r\n")
        #expect(try c.readLine() == "+OK 2 messages:")
        #expect(try multiline(c).count == 2)
        try c.send("RETR 1\r\n")
        let header = try c.readLine() ?? ""
        #expect(header.hasPrefix("+OK ") && header.hasSuffix(" octets"))
        let lines = try multiline(c)
        // Un-stuffed, the retrieved lines are the stored file byte for byte.
        let stored = String(decoding: files.first { String(decoding: $0, as: UTF8.self).contains("Subject: one") }!, as: UTF8.self)
        let retrieved = lines.map { $0.hasPrefix("..") ? String($0.dropFirst()) : $0 }.joined(separator: "\r\n") + "\r\n"
        #expect(retrieved == stored)
        #expect(lines.contains("..starts with a dot"))
        try c.send("TOP 2 0\r\n")
        #expect(try c.readLine() == "+OK")
        #expect(try multiline(c).last == "")
        try c.send("DELE 1\r\nDELE 1\r\nLIST 9\r\nFROB\r\nUIDL 2\r\n")
        #expect(try c.readLine() == "+OK Marked to be deleted.")
        #expect(try c.readLine() == "-ERR Message is deleted.")
        #expect(try c.readLine() == "-ERR There's no message 9.")
        #expect(try c.readLine() == "-ERR Unknown command: FROB")
        #expect(try c.readLine()?.hasPrefix("+OK 2 00000002") == true)
        // A dropped connection deletes nothing.
        c.shutdownWrite()
        _ = c.readUntilClosed()
        #expect(roost.waitForLog("Disconnected: Connection closed top=1/") != nil)
        let d = try login(pop3)
        try d.send("STAT\r\n")
        #expect(try d.readLine()?.hasPrefix("+OK 2 ") == true)
        try d.send("DELE 1\r\nQUIT\r\n")
        #expect(try d.readLine() == "+OK Marked to be deleted.")
        #expect(try d.readLine() == "+OK Logging out.")
        #expect(Self.storedFiles(roost).count == 1)
        #expect(roost.waitForLog("Disconnected: Logged out top=0/0, retr=0/0, del=1/2") != nil)
    }

    /// An IMAP session selected on INBOX sees the POP3 deletions (EXPUNGE) after QUIT.
    @Test func imapSessionSeesPop3Deletions() throws {
        let (roost, pop3, _, lmtp) = try Self.start()
        defer { roost.stop() }
        try Self.deliver(["Subject: one\r\n\r\n1\r\n", "Subject: two\r\n\r\n2\r\n"], lmtp: lmtp)
        let imap = try LineClient(port: roost.port() ?? 0)
        _ = try imap.readLine()
        _ = try imap.command("a", "LOGIN pepa secret")
        #expect(try imap.command("b", "SELECT INBOX").contains("* 2 EXISTS"))
        try imap.send("i IDLE\r\n")
        #expect(try imap.readLine() == "+ idling")
        let p = try login(pop3)
        try p.send("DELE 1\r\nQUIT\r\n")
        #expect(try p.readLine() == "+OK Marked to be deleted.")
        #expect(try p.readLine() == "+OK Logging out.")
        #expect(try imap.readLine() == "* 1 EXPUNGE")
    }

    /// UIDLs of a Maildir written by Dovecot equal Dovecot's own (%08Xu%08Xv, lowercase hex),
    /// so POP3 clients do not re-download after a switch.
    @Test func uidlsMatchDovecotForADovecotWrittenMaildir() throws {
        let (roost, pop3, _, _) = try Self.start()
        defer { roost.stop() }
        let fixture = ConfigCommandTests.repoRoot + "/Tests/Fixtures/maildir-dovecot"
        let expected = try String(contentsOfFile: fixture + "/expected.txt", encoding: .utf8).split(separator: "\n")
        let validity = expected.first { $0.hasPrefix("STATUS INBOX ") }
            .flatMap { $0.split(separator: "UIDVALIDITY ").last?.prefix { $0.isNumber } }.flatMap { UInt32($0) } ?? 0
        let uids = expected.filter { $0.hasPrefix("FETCH INBOX ") }
            .compactMap { $0.split(separator: "(UID ").last?.prefix { $0.isNumber } }.compactMap { UInt32($0) }
        #expect(validity != 0 && !uids.isEmpty)
        let home = roost.directory + "/home/pepa"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        #expect(try TestTool.run("/bin/cp", ["-a", fixture + "/Maildir", home + "/Maildir"]).status == 0)
        if TestEnv.isRoot { #expect(try TestTool.run("/bin/chown", ["-R", "65534:65534", home]).status == 0) }
        let c = try login(pop3)
        try c.send("UIDL\r\n")
        #expect(try c.readLine() == "+OK")
        let got = try multiline(c)
        let want = uids.enumerated().map { "\($0.offset + 1) " + String(format: "%08x%08x", $0.element, validity) }
        #expect(got == want)
    }

    @Test func deleteTypeFlagKeepsMessagesAndLockCanBeOff() throws {
        let (roost, pop3, _, lmtp) = try Self.start(extra: "pop3_delete_type = flag\npop3_lock_session = no")
        defer { roost.stop() }
        try Self.deliver(["Subject: keep\r\n\r\nme\r\n"], lmtp: lmtp)
        let a = try login(pop3)
        let b = try login(pop3)  // no lock: a second session is allowed
        try b.send("QUIT\r\n")
        #expect(try b.readLine() == "+OK Logging out.")
        try a.send("DELE 1\r\nQUIT\r\n")
        #expect(try a.readLine() == "+OK Marked to be deleted.")
        #expect(try a.readLine() == "+OK Logging out.")
        let files = LMTPTests.messages(roost, "pepa")
        #expect(files.count == 1)
        #expect(files.keys.first?.hasSuffix("T") == true, "\\Deleted (T) set, message kept: \(files.keys)")
    }

    /// A multi-megabyte RETR streams through back-pressure and arrives byte for byte.
    @Test func bigRetrIsExact() throws {
        let (roost, pop3, _, lmtp) = try Self.start()
        defer { roost.stop() }
        var body = "Subject: big\r\n\r\n"
        for i in 0..<60_000 { body += "line \(i) " + String(repeating: "y", count: 80) + "\r\n" }
        try Self.deliver([body], lmtp: lmtp)
        let stored = Self.storedFiles(roost)[0]
        let c = try login(pop3)
        try c.send("RETR 1\r\n")
        #expect(try c.readLine() == "+OK \(stored.count) octets")
        var lines: [String] = []
        while let l = try c.readLine(), l != "." { lines.append(l) }
        let got = lines.map { $0.hasPrefix("..") ? String($0.dropFirst()) : $0 }.joined(separator: "\r\n") + "\r\n"
        #expect(got.utf8.count == stored.count)
        #expect(Array(got.utf8) == stored, "RETR bytes differ from the stored message")
    }

    @Test func secondSessionGetsInUse() throws {
        let (roost, pop3, _, _) = try Self.start()
        defer { roost.stop() }
        let first = try login(pop3)
        let second = try LineClient(port: pop3)
        _ = try second.readLine()
        try second.send("USER pepa\r\nPASS secret\r\n")
        #expect(try second.readLine() == "+OK")
        #expect(try second.readLine() == "-ERR [IN-USE] Mailbox is locked by another POP3 session.")
        try first.send("QUIT\r\n")
        #expect(try first.readLine() == "+OK Logging out.")
        _ = try login(pop3)
    }

    @Test func wrongPasswordAndPreLoginErrors() throws {
        let (roost, pop3, _, _) = try Self.start()
        defer { roost.stop() }
        let c = try LineClient(port: pop3)
        _ = try c.readLine()
        try c.send("PASS x\r\nSTAT\r\nUSER pepa\r\nPASS wrong\r\n")
        #expect(try c.readLine() == "-ERR No username given.")
        #expect(try c.readLine() == "-ERR Unknown command.")
        #expect(try c.readLine() == "+OK")
        #expect(try c.readLine() == "-ERR [AUTH] Authentication failed.")
        try c.send("QUIT\r\n")
        #expect(try c.readLine() == "+OK Logging out")
        #expect(roost.waitForLog("pop3-login: Info: Disconnected: Logged out (auth failed, 1 attempts") != nil)
    }

    @Test func poplibOverPlainStlsAndPop3s() throws {
        let (roost, pop3, pop3s, lmtp) = try Self.start(tls: true)
        defer { roost.stop() }
        try Self.deliver(["Subject: py\r\n\r\nhello python\r\n"], lmtp: lmtp)
        let script = """
        import poplib, ssl, sys
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        out = []
        p = poplib.POP3('127.0.0.1', \(pop3)); out.append(str('STLS' in p.capa())); p.stls(context=ctx)
        p.user('pepa'); p.pass_('secret'); out.append(str(p.stat()[0])); p.quit()
        s = poplib.POP3_SSL('127.0.0.1', \(pop3s), context=ctx); s.user('pepa'); s.pass_('secret')
        out.append(s.retr(1)[1][-1].decode()); out.append(s.sock.version()); s.quit()
        print(' | '.join(out))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("True | 1 | hello python | TLSv1."), "\(text)")
        #expect(roost.waitForLog("pop3-login: Info: Login: user=<pepa>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=") != nil)
    }

    /// getmail6 (Debian) retrieves into a local Maildir and, with delete = true, removes them.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/getmail")))
    func getmailRetrievesIntoAMaildir() throws {
        let (roost, pop3, _, lmtp) = try Self.start()
        defer { roost.stop() }
        try Self.deliver((0..<4).map { "Subject: gm \($0)\r\nMessage-ID: <gm\($0)@t>\r\n\r\nbody \($0)\r\n" }, lmtp: lmtp)
        let originals = Self.storedFiles(roost).map { String(decoding: $0, as: UTF8.self) }
        let dir = roost.directory + "/getmail"
        for sub in ["Maildir/cur", "Maildir/new", "Maildir/tmp", "conf"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
        try """
        [retriever]
        type = SimplePOP3Retriever
        server = 127.0.0.1
        port = \(pop3)
        username = pepa
        password = secret

        [destination]
        type = Maildir
        path = \(dir)/Maildir/
        \(TestEnv.isRoot ? "user = nobody" : "")

        [options]
        delete = true
        read_all = true
        received = false
        delivered_to = false
        message_log_syslog = false
        """.write(toFile: dir + "/conf/getmailrc", atomically: true, encoding: .utf8)
        // getmail refuses to write mail as root; as root it delivers as nobody.
        for sub in ["", "/Maildir", "/Maildir/cur", "/Maildir/new", "/Maildir/tmp"] { chmod(dir + sub, 0o777) }
        let p = Process()
        // Foundation's Process passes on the test runner's blocked signals; getmail waits for
        // its delivery child on SIGCHLD, so unblock everything before exec'ing it.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import os, signal; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv('/usr/bin/getmail', ['getmail', '--getmaildir', '\(dir)/conf', '--rcfile', 'getmailrc', '--quiet'])"]
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "getmail: \(errText)")
        let fetched = try FileManager.default.contentsOfDirectory(atPath: dir + "/Maildir/new").map {
            String(decoding: FileManager.default.contents(atPath: dir + "/Maildir/new/" + $0) ?? Data(), as: UTF8.self)
        }
        #expect(fetched.count == 4)
        for original in originals {
            // getmail writes LF line ends and adds its Return-Path; the rest is the stored message.
            let tail = original.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", maxSplits: 2).last.map(String.init) ?? ""
            #expect(fetched.contains { $0.hasSuffix(tail) }, "missing \(original.prefix(80))")
        }
        #expect(Self.storedFiles(roost).count == 0)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/fetchmail")))
    func fetchmailRetrievesExactBytesAndDeletes() throws {
        let (roost, pop3, _, lmtp) = try Self.start()
        defer { roost.stop() }
        try Self.deliver((0..<5).map { "Subject: fm \($0)\r\nMessage-ID: <fm\($0)@t>\r\n\r\nbody \($0)\r\n.dot line\r\n" }, lmtp: lmtp)
        let originals = Self.storedFiles(roost)
        let outDir = roost.directory + "/fetched"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let rc = roost.directory + "/fetchmailrc"
        // Each message through an MDA that writes it to its own file, exactly as received.
        try """
        set no syslog
        poll 127.0.0.1 with proto POP3 port \(pop3) and options no dns
          user "pepa" there with password "secret" is "root" here
          options fetchall nokeep sslproto ''
          mda "/bin/sh -c 'cat > \(outDir)/$$.msg'"
        """.write(toFile: rc, atomically: true, encoding: .utf8)
        chmod(rc, 0o600)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/fetchmail")
        p.arguments = ["-f", rc, "--nosyslog", "-v"]
        p.environment = ["HOME": roost.directory, "FETCHMAILHOME": roost.directory]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let fetched = try FileManager.default.contentsOfDirectory(atPath: outDir).compactMap {
            FileManager.default.contents(atPath: outDir + "/" + $0).map { [UInt8]($0) }
        }
        #expect(fetched.count == 5)
        // fetchmail writes its own Return-Path, Delivered-To and Received on top (dropping
        // ours of the first two); from our Received header on, the bytes are the stored ones.
        for original in originals {
            var text = String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            if let r = text.range(of: "Received: from ") { text = String(text[r.lowerBound...]) }
            #expect(fetched.contains { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").hasSuffix(text) })
        }
        #expect(Self.storedFiles(roost).count == 0, "nokeep: the messages are gone from the server")
    }
}
