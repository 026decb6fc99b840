import Foundation
import Glibc
import Testing

/// Foundation requirements not covered elsewhere: per-IP connection limits, userdb static,
/// --pid-file, and the log destinations (files, info_log_path, syslog) in Dovecot's shapes.
@Suite struct LimitsAndLoggingTests {
    /// Connects until the server answers (start-up of a server that logs to files, not stderr).
    static func connectWhenUp(_ port: Int) throws -> LineClient {
        for _ in 0..<400 {
            if let c = try? LineClient(port: port, timeout: 10) { return c }
            usleep(25_000)
        }
        throw ClientError("server on \(port) never came up")
    }

    /// Waits until `path` contains `text` (bounded), returning the file's text.
    static func waitForFile(_ path: String, containing text: String) -> String? {
        for _ in 0..<400 {
            if let s = try? String(contentsOfFile: path, encoding: .utf8), s.contains(text) { return s }
            usleep(25_000)
        }
        return nil
    }

    @Test func perIPLimitRefusesTheExtraConnectionWithBye() throws {
        let (roost, port) = try TestEnv.startInstance(extra: "login_max_ip_connections = 2")
        defer { roost.stop() }
        let a = try LineClient(port: port), b = try LineClient(port: port)
        #expect(try a.readLine()?.hasPrefix("* OK") == true)
        #expect(try b.readLine()?.hasPrefix("* OK") == true)
        let c = try LineClient(port: port)
        #expect(c.readUntilClosed() == ["* BYE Too many connections from your IP address."])
        // Counted over all login processes (one per core accept from the same socket).
        for _ in 0..<6 {
            #expect(try LineClient(port: port).readUntilClosed() == ["* BYE Too many connections from your IP address."])
        }
        #expect(roost.waitForLog("Connection refused (per-IP limit reached): rip=127.0.0.1") != nil)
        // Another address is not affected, and a freed slot is usable again.
        let other = try LineClient(port: port, source: "127.0.0.2")
        #expect(try other.readLine()?.hasPrefix("* OK") == true)
        try a.send("x LOGOUT\r\n")
        _ = a.readUntilClosed()
        var again: String?
        for _ in 0..<100 where again?.hasPrefix("* OK") != true {  // the slot frees when the close is seen
            again = try? LineClient(port: port).readLine()
        }
        #expect(again?.hasPrefix("* OK") == true)
    }

    @Test func clientLimitRefusesWhenTheLoginProcessIsFull() throws {
        let port2 = TestEnv.freePort()
        let small = try RoostProcess(config: TestEnv.config(port: port2).replacingOccurrences(of: "client_limit = 5000", with: "client_limit = 1"),
                                     files: ["users": TestEnv.usersFile([("pepa", "secret")])])
        try small.start()
        defer { small.stop() }
        #expect(small.waitForLog("starting up") != nil)
        // One login process per core: fill each, then the next connection is refused.
        var held: [LineClient] = []
        var refused = false
        for _ in 0..<8 where !refused {
            let c = try LineClient(port: port2)
            let first = try c.readLine()
            if first == "* BYE Server is busy, try again later." { refused = true } else { held.append(c) }
        }
        #expect(refused)
        #expect(small.waitForLog("Connection refused (client_limit reached)") != nil)
    }

    @Test func userdbStaticAndPidFile() throws {
        let port = TestEnv.freePort()
        let config = TestEnv.config(port: port).replacingOccurrences(of: """
        userdb {
          driver = passwd-file
          args = $DIR/users
        }
        """, with: """
        userdb {
          driver = static
          args = uid=\(TestEnv.isRoot ? "65534" : String(geteuid())) gid=\(TestEnv.isRoot ? "65534" : String(getegid())) home=$DIR/home/%u
        }
        """)
        let roost = try RoostProcess(config: config, files: ["users": "pepa:{PLAIN}secret\n"])
        let pidFile = roost.directory + "/master.pid"
        try roost.start(extraArguments: ["--pid-file", pidFile])
        defer { roost.stop() }
        #expect(roost.waitForLog("starting up") != nil)
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == "\(roost.pid)\n")
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN pepa secret").last?.hasPrefix("a OK") == true)
        // The static userdb's home template decided where the Maildir went.
        #expect(FileManager.default.fileExists(atPath: roost.directory + "/home/pepa/Maildir/cur"))
        roost.signal(SIGTERM)
        #expect(roost.waitForExit(timeout: 5) == 0)
        #expect(!FileManager.default.fileExists(atPath: pidFile), "the pid file is removed on exit")
    }

    @Test func logPathAndInfoLogPathFiles() throws {
        let port = TestEnv.freePort()
        let roost = try RoostProcess(config: TestEnv.config(port: port, extra: """
        log_path = $DIR/error.log
        info_log_path = $DIR/info.log
        lmtp_rawlog_dir = $DIR
        """), files: ["users": TestEnv.usersFile([("pepa", "secret")])])
        try roost.start()
        defer { roost.stop() }
        let c = try Self.connectWhenUp(port)
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN pepa wrong").last?.hasPrefix("a NO [AUTHENTICATIONFAILED]") == true)
        #expect(try c.command("b", "LOGIN pepa secret").last?.hasPrefix("b OK") == true)
        let info = Self.waitForFile(roost.directory + "/info.log", containing: "imap-login: Info: Login: user=<pepa>, method=PLAIN, rip=127.0.0.1")
        #expect(info != nil)
        #expect(info?.contains("master: Info: Roost v") == true)
        // Errors and warnings go to log_path, not to the info log.
        let errors = Self.waitForFile(roost.directory + "/error.log", containing: "master: Warning:")
        #expect(errors?.contains("not yet active") == true)
        #expect(errors?.contains("imap-login: Info:") == false)
        #expect(roost.log.isEmpty, "nothing on stderr when log_path is a file: \(roost.log)")
    }

    /// log_path = syslog: lines reach /dev/log as `imap-login: Login: …` (the syslog priority
    /// carries the level). Only where no syslog daemon owns /dev/log (CI), since the test binds it.
    @Test(.enabled(if: TestEnv.isRoot && !FileManager.default.fileExists(atPath: "/dev/log")))
    func syslogLines() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array("/dev/log".utf8) + [0]) }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        defer {
            close(fd)
            unlink("/dev/log")
        }
        chmod("/dev/log", 0o666)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let port = TestEnv.freePort()
        let roost = try RoostProcess(config: TestEnv.config(port: port, extra: "log_path = syslog\nsyslog_facility = mail"),
                                     files: ["users": TestEnv.usersFile([("pepa", "secret")])])
        try roost.start()
        defer { roost.stop() }
        let c = try Self.connectWhenUp(port)
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN pepa secret").last?.hasPrefix("a OK") == true)
        var found: String?
        var buf = [UInt8](repeating: 0, count: 4096)
        while found == nil {
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { break }
            let text = String(decoding: buf[0..<n], as: UTF8.self)
            if text.contains("imap-login: Login: user=<pepa>") { found = text }
        }
        // <22> = facility mail (2) * 8 + priority info (6).
        #expect(found?.hasPrefix("<22>") == true, "\(found ?? "no syslog line")")
        #expect(found?.contains("roost[") == true)
    }
}
