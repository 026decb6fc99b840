import Foundation
import Glibc
import Testing

/// Signals, reload, supervision and privilege separation of the running process tree.
@Suite(.serialized) struct MasterLifecycleTests {
    @Test func sighupWithBrokenConfigKeepsServingAndValidReloadApplies() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let open = try LineClient(port: port)
        _ = try open.readLine()
        #expect(try open.command("a1", "LOGIN pepa secret").last?.hasPrefix("a1 OK") == true)

        let good = try String(contentsOfFile: roost.configPath, encoding: .utf8)
        try (good + "\nlisen = 127.0.0.1\n").write(toFile: roost.configPath, atomically: true, encoding: .utf8)
        let before = roost.log.count
        roost.signal(SIGHUP)
        let failure = roost.waitForLog("Config reload failed", after: before)
        #expect(failure?.contains("roost.conf:") == true)
        #expect(failure?.contains("Unknown setting: lisen (did you mean 'listen'?)") == true)
        let c = try LineClient(port: port)
        #expect(try c.readLine() == "* OK [CAPABILITY IMAP4rev1 SASL-IR ID LITERAL+ AUTH=PLAIN AUTH=LOGIN] Roost ready.")
        #expect(try c.command("b1", "LOGIN kim hunter2").last?.hasPrefix("b1 OK") == true)

        // A valid change applies to new connections; the open session keeps working.
        try (good + "\nlogin_greeting = Reloaded.\n").write(toFile: roost.configPath, atomically: true, encoding: .utf8)
        let mark = roost.log.count
        roost.signal(SIGHUP)
        #expect(roost.waitForLog("Configuration reloaded", after: mark) != nil)
        let d = try LineClient(port: port)
        #expect(try d.readLine()?.hasSuffix("] Reloaded.") == true)
        #expect(try open.command("a2", "NOOP") == ["a2 OK NOOP completed."])
    }

    @Test func sigtermSaysByeAndExitsZeroWithinFiveSeconds() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let session = try LineClient(port: port)
        _ = try session.readLine()
        #expect(try session.command("a1", "LOGIN pepa secret").last?.hasPrefix("a1 OK") == true)
        let prelogin = try LineClient(port: port)
        _ = try prelogin.readLine()
        let started = Date()
        roost.signal(SIGTERM)
        #expect(session.readUntilClosed() == ["* BYE Server shutting down."])
        #expect(prelogin.readUntilClosed() == ["* BYE Server shutting down."])
        let status = roost.waitForExit(timeout: 5)
        #expect(status == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(throws: (any Error).self) { _ = try LineClient(port: port) }
    }

    @Test func crashedLoginProcessIsRestartedAndLogged() throws {
        let (roost, port) = try TestEnv.startInstance()
        defer { roost.stop() }
        let victims = roost.children().filter { $0.role == "login" }
        #expect(!victims.isEmpty)
        let mark = roost.log.count
        for v in victims { kill(v.pid, SIGKILL) }
        #expect(roost.waitForLog("service(imap-login): child \(victims[0].pid) killed with signal 9", after: mark) != nil)
        // Connections keep being served (by the restarted login processes).
        var served = false
        for _ in 0..<20 where !served {
            if let c = try? LineClient(port: port, timeout: 3), let greeting = try? c.readLine(), greeting.hasPrefix("* OK") {
                served = (try? c.command("r1", "LOGIN pepa secret"))?.last?.hasPrefix("r1 OK") == true
            }
        }
        #expect(served)
    }

    /// Run as root (CI): login processes have no uid 0; the mail process runs as the user.
    @Test(.enabled(if: TestEnv.isRoot)) func privilegeSeparationAsRoot() throws {
        let user = try SystemTestUser.ensure("roosttest1")
        let port = TestEnv.freePort()
        let roost = try RoostProcess(config: TestEnv.config(port: port),
                                     files: ["users": "alice:{PLAIN}pw:\(user.uid):\(user.gid)::$DIR/home/alice::\n"])
        try roost.start()
        defer { roost.stop() }
        #expect(roost.waitForLog("starting up") != nil)
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("a1", "LOGIN alice pw").last?.hasPrefix("a1 OK") == true)
        let kids = roost.children()
        let logins = kids.filter { $0.role == "login" }
        #expect(!logins.isEmpty)
        for login in logins {
            let uids = RoostProcess.status(login.pid, "Uid")?.split(whereSeparator: { $0 == "\t" || $0 == " " }) ?? []
            #expect(uids.count == 4 && !uids.contains("0"), "login \(login.pid) Uid: \(uids)")
            #expect(RoostProcess.status(login.pid, "NoNewPrivs") == "1")
        }
        let mails = kids.filter { $0.role == "mail" }
        #expect(mails.count == 1)
        for mail in mails {
            let uids = RoostProcess.status(mail.pid, "Uid")?.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) ?? []
            let gids = RoostProcess.status(mail.pid, "Gid")?.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) ?? []
            #expect(uids == Array(repeating: String(user.uid), count: 4))
            #expect(gids == Array(repeating: String(user.gid), count: 4))
        }
        // Root's own uid is refused outright.
        let port2 = TestEnv.freePort()
        let rootUser = try RoostProcess(config: TestEnv.config(port: port2),
                                        files: ["users": "boss:{PLAIN}pw:0:0::/root::\n"])
        try rootUser.start()
        defer { rootUser.stop() }
        #expect(rootUser.waitForLog("starting up") != nil)
        let r = try LineClient(port: port2)
        _ = try r.readLine()
        #expect(try r.command("z1", "LOGIN boss pw").last?.hasPrefix("z1 NO") == true)
        #expect(rootUser.waitForLog("Logins with UID 0 not permitted") != nil)
    }
}

/// A system user created for a test (root only), via useradd.
struct SystemTestUser {
    let name: String
    let uid: UInt32
    let gid: UInt32

    static func ensure(_ name: String) throws -> SystemTestUser {
        if getpwnam(name) == nil { _ = try TestTool.run("/usr/sbin/useradd", ["-m", "-s", "/bin/true", name]) }
        guard let pw = getpwnam(name) else { throw ClientError("useradd \(name) failed") }
        return SystemTestUser(name: name, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
    }
}
