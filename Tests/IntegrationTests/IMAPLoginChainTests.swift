import Foundation
import Glibc
import Testing

/// The login → auth → mail process chain over real sockets, against the built binary.
@Suite(.serialized) struct IMAPLoginChainTests {
    @Test func greetingCapabilityLoginNoopLogout() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        #expect(try c.readLine() == "* OK [CAPABILITY IMAP4rev1 SASL-IR ID LITERAL+ AUTH=PLAIN AUTH=LOGIN] Roost ready.")
        #expect(try c.command("a1", "CAPABILITY") == [
            "* CAPABILITY IMAP4rev1 SASL-IR ID LITERAL+ AUTH=PLAIN AUTH=LOGIN",
            "a1 OK Pre-login capabilities listed, post-login capabilities have more.",
        ])
        #expect(try c.command("a2", "NOOP") == ["a2 OK NOOP completed."])
        #expect(try c.command("a3", "ID (\"name\" \"test\")") == ["* ID (\"name\" \"Roost\")", "a3 OK ID completed."])
        #expect(try c.command("a4", "LOGIN pepa secret") == ["a4 OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in"])
        #expect(try c.command("a5", "NOOP") == ["a5 OK NOOP completed."])
        #expect(try c.command("a6", "CAPABILITY") == ["* CAPABILITY \(TestEnv.postLoginCaps)", "a6 OK Capability completed."])
        #expect(try c.command("a7", "LOGOUT") == ["* BYE Logging out", "a7 OK Logout completed."])
        #expect(c.readUntilClosed().isEmpty)
        #expect(roost.waitForLog("imap-login: Info: Login: user=<pepa>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=") != nil)
        #expect(roost.waitForLog("imap(pepa)<") != nil)
        #expect(roost.waitForLog("Disconnected: Logged out in=") != nil)
    }

    @Test func loginWithLiteralsAndPipelinedCommandReachesMailProcess() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        try c.send("b1 LOGIN {4}\r\n")
        #expect(try c.readLine() == "+ OK")
        // LITERAL+ for the password, and a NOOP pipelined behind the LOGIN in the same packet.
        try c.send("pepa {6+}\r\nsecret\r\nb2 NOOP\r\n")
        #expect(try c.readLine() == "b1 OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
        #expect(try c.readLine() == "b2 OK NOOP completed.")
    }

    @Test func authenticatePlainWithAndWithoutInitialResponse() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let plain = Data("\0kim\0hunter2".utf8).base64EncodedString()
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("c1", "AUTHENTICATE PLAIN \(plain)") == ["c1 OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in"])
        let d = try LineClient(port: port)
        _ = try d.readLine()
        try d.send("d1 AUTHENTICATE PLAIN\r\n")
        #expect(try d.readLine() == "+ ")
        try d.send(plain + "\r\n")
        #expect(try d.readLine() == "d1 OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
        let e = try LineClient(port: port)
        _ = try e.readLine()
        try e.send("e1 AUTHENTICATE PLAIN\r\n")
        #expect(try e.readLine() == "+ ")
        try e.send("*\r\n")
        #expect(try e.readLine() == "e1 BAD Authentication aborted by client.")
        #expect(try e.command("e2", "NOOP") == ["e2 OK NOOP completed."])
    }

    @Test func wrongPasswordAndUnknownUserFailAlikeAndAreLoggedForFail2ban() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        for (user, pass) in [("pepa", "wrong"), ("nosuchuser", "secret")] {
            let c = try LineClient(port: port)
            _ = try c.readLine()
            let started = Date()
            #expect(try c.command("f1", "LOGIN \(user) \(pass)") == ["f1 NO [AUTHENTICATIONFAILED] Authentication failed."])
            // auth_failure_delay = 1 secs in the test config: no failure is answered sooner.
            #expect(Date().timeIntervalSince(started) >= 0.95)
            #expect(try c.command("f2", "LOGOUT") == ["* BYE Logging out", "f2 OK Logout completed."])
        }
        #expect(roost.waitForLog("auth: Info: passwd-file(pepa,127.0.0.1,<") != nil)
        #expect(roost.waitForLog("): Password mismatch") != nil)
        #expect(roost.waitForLog("passwd-file(nosuchuser,127.0.0.1,<") != nil)
        #expect(roost.waitForLog("): unknown user") != nil)
        let line = roost.waitForLog("(auth failed, 1 attempts in ")
        #expect(line?.contains("imap-login: Info: Disconnected: Logged out (auth failed, 1 attempts in 1 secs): user=<pepa>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, session=<") == true)
    }

    @Test func badInputGetsBadAndSessionContinues() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("g1", "FROBNICATE") == ["g1 BAD Error in IMAP command received by server."])
        try c.send("\r\n")
        #expect(try c.readLine()?.hasPrefix("* BAD") == true)
        #expect(try c.command("g2", "LOGIN \"unterminated") .last?.hasPrefix("g2 BAD") == true)
        #expect(try c.command("g3", "NOOP") == ["g3 OK NOOP completed."])
        #expect(try c.command("g4", "LOGIN pepa secret").last == "g4 OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
        #expect(try c.command("g5", "FROBNICATE") == ["g5 BAD Error in IMAP command FROBNICATE: Unknown command."])
        #expect(try c.command("g6", "NOOP") == ["g6 OK NOOP completed."])
    }

    /// A 100 MB command line: the login process answers BYE and disconnects without buffering it.
    @Test func hugeLineIsRefusedWithBoundedMemory() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        try c.send("h1 LOGIN ")
        var sent = 0
        while sent < 100 {
            do { try c.send(chunk) } catch { break }  // the server may close before we are done
            sent += 1
        }
        let rest = c.readUntilClosed()
        #expect(rest.contains("* BYE Too long command line."))
        // Peak resident memory of every login process stays small (bound: 64 MB).
        for child in roost.children() where child.role == "login" {
            let hwm = RoostProcess.status(child.pid, "VmHWM").flatMap { Int($0.split(separator: " ")[0]) } ?? 0
            #expect(hwm > 0 && hwm < 64 * 1024, "login process \(child.pid) peak RSS \(hwm) kB")
        }
        let d = try LineClient(port: port)
        #expect(try d.readLine()?.hasPrefix("* OK") == true)
    }

    @Test func twoThousandConcurrentConnectionsLogInAndOut() throws {
        TestEnv.raiseFileLimit()
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let count = 2000
        var clients: [LineClient] = []
        for _ in 0..<count { clients.append(try LineClient(port: port, timeout: 60)) }
        for c in clients { #expect(try c.readLine()?.hasPrefix("* OK") == true) }
        for (i, c) in clients.enumerated() { try c.send("l\(i) LOGIN \(i % 2 == 0 ? "pepa secret" : "kim hunter2")\r\n") }
        var ok = 0
        for (i, c) in clients.enumerated() where try c.readLine() == "l\(i) OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in" {
            ok += 1
        }
        #expect(ok == count)
        // All 2,000 sessions are open at once here: report the memory they take.
        let rss = roost.children().reduce(0) { $0 + (RoostProcess.status($1.pid, "VmRSS").flatMap { Int($0.split(separator: " ")[0]) } ?? 0) }
        print("RSS of roost children with \(count) logged-in connections: \(rss) kB")
        for (i, c) in clients.enumerated() { try c.send("o\(i) LOGOUT\r\n") }
        var out = 0
        for (i, c) in clients.enumerated() {
            let lines = c.readUntilClosed()
            if lines == ["* BYE Logging out", "o\(i) OK Logout completed."] { out += 1 }
        }
        #expect(out == count)
    }
}
