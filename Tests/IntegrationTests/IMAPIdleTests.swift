import Foundation
import Glibc
import Testing

/// IMAP over the real binary: folder commands with curl-like flows, and IDLE sessions that see
/// an LMTP delivery (made through the lmtp process, i.e. by another process) without polling.
@Suite struct IMAPIdleTests {
    @Test func twoHundredIdleSessionsAllSeeADelivery() throws {
        TestEnv.raiseFileLimit()
        let (roost, _, _, lmtp) = try POP3Tests.start()
        defer { roost.stop() }
        let port = roost.port() ?? 0
        var sessions: [LineClient] = []
        for i in 0..<200 {
            let c = try LineClient(port: port, timeout: 20)
            _ = try c.readLine()
            #expect(try c.command("l\(i)", "LOGIN pepa secret").last?.hasPrefix("l\(i) OK") == true)
            let select = try c.command("s\(i)", "SELECT INBOX")
            #expect(select.contains("* 0 EXISTS"))
            try c.send("i\(i) IDLE\r\n")
            #expect(try c.readLine() == "+ idling")
            sessions.append(c)
        }
        try POP3Tests.deliver(["Subject: push\r\n\r\nto every idler\r\n"], lmtp: lmtp)
        // Every session hears about the new message while idling (no command sent).
        var saw = 0
        for c in sessions {
            var lines: [String] = []
            while let l = try c.readLine() {
                lines.append(l)
                if l == "* 1 EXISTS" { saw += 1; break }
            }
        }
        #expect(saw == 200)
        let c = sessions[0]
        try c.send("DONE\r\n")
        #expect(try c.readUntilTagged("i0").last == "i0 OK Idle completed.")
        let fetch = try c.command("f", "FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        #expect(fetch.contains { $0.contains("Subject: push") })
        #expect(fetch.last == "f OK Fetch completed.")
    }

    /// IDLE is kept alive with "* OK Still here" (imap_idle_notify_interval) instead of being
    /// autologged-out; DONE still works afterwards.
    @Test func idleGetsKeepalivesNotAutologout() throws {
        let (roost, _, _, _) = try POP3Tests.start(extra: "imap_idle_notify_interval = 1 secs")
        defer { roost.stop() }
        let c = try LineClient(port: roost.port() ?? 0, timeout: 15)
        _ = try c.readLine()
        _ = try c.command("a", "LOGIN pepa secret")
        _ = try c.command("b", "SELECT INBOX")
        try c.send("i IDLE\r\n")
        #expect(try c.readLine() == "+ idling")
        #expect(try c.readLine() == "* OK Still here")
        try c.send("DONE\r\n")
        #expect(try c.readLine() == "i OK Idle completed.")
    }

    @Test func mailboxCommandsThroughTheBinary() throws {
        let (roost, _, _, lmtp) = try POP3Tests.start()
        defer { roost.stop() }
        try POP3Tests.deliver(["Subject: a\r\n\r\none\r\n", "Subject: b\r\n\r\ntwo\r\n"], lmtp: lmtp)
        let c = try LineClient(port: roost.port() ?? 0)
        _ = try c.readLine()
        _ = try c.command("a", "LOGIN pepa secret")
        #expect(try c.command("b", "CREATE Archive").last == "b OK Create completed.")
        #expect(try c.command("c", "CREATE Archive").last?.hasPrefix("c NO [ALREADYEXISTS]") == true)
        #expect(try c.command("d", "SELECT Nope") == ["d NO Mailbox doesn't exist: Nope."])
        let sel = try c.command("e", "SELECT INBOX")
        #expect(sel.contains("* 2 EXISTS"))
        let moved = try c.command("f", "UID MOVE 1 Archive")
        #expect(moved.last?.hasPrefix("f OK") == true)
        #expect(moved.contains("* 1 EXPUNGE"))
        let status = try c.command("g", "STATUS Archive (MESSAGES UIDNEXT)")
        #expect(status.first?.hasPrefix("* STATUS Archive (MESSAGES 1 UIDNEXT 2)") == true)
        #expect(try c.command("h", "SEARCH SUBJECT b").first == "* SEARCH 1")
        #expect(try c.command("i", "STORE 1 +FLAGS (\\Flagged)").first?.hasPrefix("* 1 FETCH (FLAGS (\\Flagged") == true)
        // Bad input after login: an oversized literal is refused without a continuation,
        // a command before SELECT-state and garbage get BAD, and the session goes on.
        try c.send("k APPEND INBOX {60000000}\r\n")
        #expect(try c.readLine() == "k BAD [TOOBIG] Literal too big.")
        #expect(try c.command("l", "UNSELECT").last?.hasPrefix("l OK") == true)
        #expect(try c.command("m", "FETCH 1 FLAGS") == ["m BAD No mailbox selected."])
        #expect(try c.command("n", "FETCH (((").last?.hasPrefix("n BAD") == true)
        #expect(try c.command("o", "NOOP") == ["o OK NOOP completed."])
        #expect(try c.command("j", "LOGOUT").last == "j OK Logout completed.")
    }
}
