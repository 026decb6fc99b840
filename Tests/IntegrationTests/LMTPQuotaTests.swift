import Foundation
import Glibc
import Testing

/// The quota plugin (Maildir++ maildirsize) through the built binary: LMTP replies at RCPT
/// and after DATA, IMAP APPEND/COPY refusals, expunges giving room back, userdb rules, and
/// `roost deliver` exit codes. Reply bytes are Dovecot 2.3's.
@Suite struct LMTPQuotaTests {
    static let full = "Quota exceeded (mailbox for user is full)"

    static func quotaConfig(_ rules: String, _ more: String = "") -> String {
        """
        mail_plugins = $mail_plugins quota
        plugin {
          quota = maildir:User quota
        \(rules)
        }
        \(more)
        """
    }

    /// passwd-file lines; `extra` are userdb fields (e.g. userdb_quota_rule=...).
    static func users(_ list: [(String, String, String)]) -> String {
        list.map { "\($0.0):{PLAIN}\($0.1):\(TestEnv.mailUID):\(TestEnv.mailGID)::$DIR/home/\($0.0)::\($0.2)" }
            .joined(separator: "\n") + "\n"
    }

    /// One LMTP transaction; returns the RCPT replies and the replies after the final dot.
    static func transaction(_ port: Int, to rcpts: [String], body: String) throws -> (rcpt: [String], data: [String]) {
        let c = try LineClient(port: port)
        _ = try c.readLine()
        try c.send("LHLO quota.test\r\n")
        while let l = try c.readLine(), !l.hasPrefix("250 ") {}
        try c.send("MAIL FROM:<sender@example.org>\r\n")
        _ = try c.readLine()
        var rcptReplies: [String] = []
        for r in rcpts {
            try c.send("RCPT TO:<\(r)>\r\n")
            rcptReplies.append(try c.readLine() ?? "")
        }
        let accepted = rcptReplies.filter { $0.hasPrefix("250") }.count
        guard accepted > 0 else { return (rcptReplies, []) }
        try c.send("DATA\r\n")
        _ = try c.readLine()
        try c.send(body + ".\r\n")
        var data: [String] = []
        for _ in 0..<accepted { data.append(try c.readLine() ?? "") }
        try c.send("QUIT\r\n")
        return (rcptReplies, data)
    }

    static func maildirsize(_ roost: RoostProcess, _ user: String) -> String {
        (try? String(contentsOfFile: "\(roost.directory)/home/\(user)/Maildir/maildirsize", encoding: .utf8)) ?? ""
    }

    /// Sum of the maildirsize lines after the header: (bytes, messages).
    static func usage(_ text: String) -> (Int, Int) {
        var b = 0, m = 0
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            if f.count == 2 { b += Int(f[0]) ?? 0; m += Int(f[1]) ?? 0 }
        }
        return (b, m)
    }

    @Test func lmtpRefusesOverQuotaAtRcptAndAfterData() throws {
        let (roost, port) = try LMTPTests.start(
            extra: Self.quotaConfig("  quota_rule = *:storage=10M\n  quota_rule2 = *:messages=2", "lmtp_rcpt_check_quota = yes"),
            users: Self.users([("pepa", "secret", ""), ("kim", "hunter2", "userdb_quota_rule=*:bytes=1000 userdb_quota_rule2=*:messages=100")]))
        defer { roost.stop() }
        let small = "Subject: q\r\n\r\nsmall\r\n"
        for _ in 0..<2 {
            let r = try Self.transaction(port, to: ["pepa@example.org"], body: small)
            #expect(r.data.first?.hasPrefix("250 2.0.0 <pepa@example.org> ") == true, "\(r)")
        }
        #expect(Self.maildirsize(roost, "pepa").hasPrefix("10485760S,2C\n"))
        #expect(Self.usage(Self.maildirsize(roost, "pepa")).1 == 2)
        // lmtp_rcpt_check_quota: the third is refused at RCPT TO; kim (under quota) is not.
        let third = try Self.transaction(port, to: ["pepa@example.org", "kim@example.org"], body: small)
        #expect(third.rcpt == ["552 5.2.2 <pepa@example.org> \(Self.full)", "250 2.1.5 OK"])
        #expect(third.data.first?.hasPrefix("250 2.0.0 <kim@example.org> ") == true)
        // kim's userdb quota_rule (1000 bytes) replaces the plugin's 10M. ~630 bytes fit; the
        // next do not, even with the 10% quota_grace.
        let big = "Subject: big\r\n\r\n" + String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", count: 6)
        let k1 = try Self.transaction(port, to: ["kim@example.org"], body: big)
        #expect(k1.data.first?.hasPrefix("250 2.0.0 <kim@example.org> ") == true, "\(k1)")
        let k2 = try Self.transaction(port, to: ["kim@example.org"], body: big)
        #expect(k2.rcpt == ["250 2.1.5 OK"], "\(Self.maildirsize(roost, "kim"))")
        #expect(k2.data == ["552 5.2.2 <kim@example.org> \(Self.full)"])
        #expect(LMTPTests.messages(roost, "kim").count == 2)
        #expect(Self.maildirsize(roost, "kim").hasPrefix("1000S,100C\n"))
        #expect(roost.waitForLog("save failed to INBOX: \(Self.full)") != nil)
    }

    @Test func tempfailAppendCopyAndExpungeKeepMaildirsize() throws {
        let (roost, port) = try LMTPTests.start(
            extra: Self.quotaConfig("  quota_rule = *:messages=1", "quota_full_tempfail = yes"))
        defer { roost.stop() }
        let body = "Subject: one\r\n\r\nfirst\r\n"
        #expect(try Self.transaction(port, to: ["pepa@example.org"], body: body).data.first?.hasPrefix("250 ") == true)
        // quota_full_tempfail = yes: 452 4.2.2, the MTA keeps the mail queued.
        let over = try Self.transaction(port, to: ["pepa@example.org"], body: "Subject: two\r\n\r\nsecond\r\n")
        #expect(over.data == ["452 4.2.2 <pepa@example.org> \(Self.full)"])

        let imapPort = try #require(roost.port())
        let c = try LineClient(port: imapPort)
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN pepa secret").last?.hasPrefix("a OK") == true)
        let msg = "Subject: appended\r\n\r\nhello\r\n"
        try c.send("b APPEND INBOX {\(msg.utf8.count)+}\r\n\(msg)\r\n")
        #expect(try c.readUntilTagged("b").last == "b NO [OVERQUOTA] \(Self.full).")
        #expect(try c.command("c", "CREATE Old").last?.hasPrefix("c OK") == true)
        #expect(try c.command("d", "SELECT INBOX").last?.hasPrefix("d OK") == true)
        #expect(try c.command("e", "COPY 1 Old").last == "e NO [OVERQUOTA] \(Self.full).")
        // MOVE frees what it adds: allowed at the limit.
        #expect(try c.command("f", "MOVE 1 Old").last?.hasPrefix("f OK") == true)
        #expect(try c.command("g", "SELECT Old").last?.hasPrefix("g OK") == true)
        #expect(try c.command("h", "STORE 1 +FLAGS.SILENT (\\Deleted)").last?.hasPrefix("h OK") == true)
        #expect(try c.command("i", "EXPUNGE").last?.hasPrefix("i OK") == true)
        let text = Self.maildirsize(roost, "pepa")
        #expect(Self.usage(text).1 == 0, "expunge wrote a negative delta: \(text)")
        #expect(text.split(separator: "\n").last?.hasPrefix("-") == true)
        // Room again.
        try c.send("j APPEND INBOX {\(msg.utf8.count)+}\r\n\(msg)\r\n")
        #expect(try c.readUntilTagged("j").last?.hasPrefix("j OK [APPENDUID ") == true)
        #expect(Self.usage(Self.maildirsize(roost, "pepa")).1 == 1)
    }

    @Test func deliverCommandExitsNoPermOrTempfailOverQuota() throws {
        let (roost, _) = try LMTPTests.start(extra: Self.quotaConfig("  quota_rule = *:messages=1"))
        defer { roost.stop() }
        let config = try String(contentsOfFile: roost.configPath, encoding: .utf8)
        let tempfailConfig = roost.directory + "/tempfail.conf"
        try (config + "\nquota_full_tempfail = yes\n").write(toFile: tempfailConfig, atomically: true, encoding: .utf8)
        func deliver(_ configPath: String) throws -> (status: Int32, err: String) {
            let r = try TestTool.run(RoostProcess.binary, ["deliver", "-c", configPath, "-d", "pepa", "-f", "s@x"],
                                     input: "Subject: lda\r\n\r\nvia roost deliver\r\n")
            return (r.status, r.err)
        }
        #expect(try deliver(roost.configPath).status == 0)
        #expect(Self.maildirsize(roost, "pepa").hasPrefix("1C\n"))
        let over = try deliver(roost.configPath)
        #expect(over.status == 77)  // EX_NOPERM: the MTA bounces with the text on stderr
        #expect(over.err.contains(Self.full))
        #expect(try deliver(tempfailConfig).status == 75)  // EX_TEMPFAIL: the MTA retries
        #expect(LMTPTests.messages(roost, "pepa").count == 1)
    }
}
