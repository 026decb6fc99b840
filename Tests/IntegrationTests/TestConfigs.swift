import Foundation
import Glibc

/// Building blocks for test instances: free ports, users, configs.
enum TestEnv {
    static var isRoot: Bool { geteuid() == 0 }

    /// What the mail process advertises after login.
    static let postLoginCaps = "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN UIDPLUS MOVE LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH ESORT SEARCHRES SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT"

    /// A port that is free right now, from 20000–32000: below the kernel's ephemeral range
    /// (32768+), so the source port of some test's outgoing connection cannot take it between
    /// this check and the server's bind (bind(0) used to hand out exactly those ports).
    static func freePort(host: String = "127.0.0.1") -> Int {
        portLock.lock()
        defer { portLock.unlock() }
        while true {
            let port = nextPort
            nextPort = nextPort >= 32000 ? 20000 : nextPort + 1
            if canBind(port, host: host) { return port }
        }
    }

    private static let portLock = NSLock()
    /// Spread by pid so that two test processes on one machine start apart.
    nonisolated(unsafe) private static var nextPort = 20000 + Int(getpid() % 600) * 20

    private static func canBind(_ port: Int, host: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// uid/gid the mail processes of test users run as when the tests run as root.
    static var mailUID: String { isRoot ? "65534" : "" }
    static var mailGID: String { isRoot ? "65534" : "" }

    static func usersFile(_ users: [(String, String)]) -> String {
        users.map { "\($0.0):{PLAIN}\($0.1):\(mailUID):\(mailGID)::$DIR/home/\($0.0)::" }.joined(separator: "\n") + "\n"
    }

    /// A complete config for one IMAP listener on `port`; `extra` is appended.
    static func config(port: Int, extra: String = "") -> String {
        """
        protocols = imap
        listen = 127.0.0.1
        base_dir = $DIR/run
        state_dir = $DIR/state
        ssl = no
        disable_plaintext_auth = no
        auth_failure_delay = 1 secs
        auth_verbose = yes
        auth_mechanisms = plain login
        default_login_user = nobody
        mail_max_userip_connections = 5000
        passdb {
          driver = passwd-file
          args = $DIR/users
        }
        userdb {
          driver = passwd-file
          args = $DIR/users
        }
        service imap-login {
          inet_listener imap {
            port = \(port)
          }
          inet_listener imaps {
            port = 0
          }
          client_limit = 5000
        }
        \(extra)
        """
    }

    /// Starts an instance with users pepa/secret and kim/hunter2; the caller stops it.
    static func startInstance(extra: String = "") throws -> (RoostProcess, Int) {
        let port = freePort()
        let roost = try RoostProcess(config: config(port: port, extra: extra),
                                     files: ["users": usersFile([("pepa", "secret"), ("kim", "hunter2")])])
        try roost.start()
        guard roost.waitForLog("starting up") != nil else {
            throw ClientError("roost did not start: \(roost.log.joined(separator: "\n"))")
        }
        return (roost, port)
    }

    static func raiseFileLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// Runs a command to completion: exit status, stdout, stderr (stdin from `input`).
enum TestTool {
    static func run(_ path: String, _ args: [String], input: String? = nil,
                    environment: [String: String]? = nil,
                    directory: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe(), stdin = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        // Drain stderr concurrently so a chatty tool cannot block on a full pipe.
        let errBox = ErrBox()
        let finished = DispatchSemaphore(value: 0)
        Thread {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            finished.signal()
        }.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        finished.wait()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errBox.data, as: UTF8.self))
    }

    final class ErrBox: @unchecked Sendable {  // written by the reader thread before it signals; read after
        var data = Data()
    }
}
