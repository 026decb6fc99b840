import Foundation
import Glibc

/// Starts Roost and Dovecot 2.3 side by side on identical Maildirs, each under its own temp
/// dir on loopback ports, so a profile can be run against both in alternation.
final class BenchServer: @unchecked Sendable {  // read-only after start; memory() reads /proc
    let name: String
    let process: Process
    let target: Target
    let directory: String

    init(name: String, process: Process, target: Target, directory: String) {
        self.name = name
        self.process = process
        self.target = target
        self.directory = directory
    }

    /// RSS and PSS in kB, summed over the server's whole process tree (from /proc).
    func memory() -> (rss: Int, pss: Int, processes: Int) {
        var tree: Set<pid_t> = [process.processIdentifier]
        var parents: [pid_t: pid_t] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, let ppid = pid_t(fields[1]) { parents[pid] = ppid }
        }
        var grew = true
        while grew {
            grew = false
            for (pid, ppid) in parents where tree.contains(ppid) && !tree.contains(pid) {
                tree.insert(pid)
                grew = true
            }
        }
        var rss = 0, pss = 0
        for pid in tree {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count >= 2, let kb = Int(parts[1]) else { continue }
                if parts[0] == "Rss:" { rss += kb }
                if parts[0] == "Pss:" { pss += kb }
            }
        }
        return (rss, pss, tree.count)
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}

enum ServerSetup {
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("\(tool) \(args.joined(separator: " ")) failed") }
    }

    /// A template tree: users file, certificate, and `messages` messages per user in Maildirs.
    static func makeTemplate(users: Int, messages: Int, maxSize: Int, fixedSize: Int?, inNew: Int = 0) throws -> String {
        let dir = NSTemporaryDirectory() + "roost-bench-\(getpid())-template"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/home", withIntermediateDirectories: true)
        let uid = geteuid() == 0 ? "65534" : String(geteuid())
        let gid = geteuid() == 0 ? "65534" : String(getegid())
        var usersFile = ""
        for u in 1...users {
            usersFile += "bench\(u):{PLAIN}benchpass:\(uid):\(gid)::HOME/home/bench\(u)::\n"
            let md = dir + "/home/bench\(u)/Maildir"
            for sub in ["cur", "new", "tmp"] { try FileManager.default.createDirectory(atPath: md + "/" + sub, withIntermediateDirectories: true) }
            for m in 0..<messages {
                let seed = u * 100_000 + m
                let body = Message.make(size: fixedSize ?? Message.size(seed: seed, max: maxSize), seed: seed)
                let name = "\(1_700_000_000 + m).M\(m)P\(u).bench,S=\(body.count),W=\(body.count):2,"
                try Data(body).write(to: URL(fileURLWithPath: md + "/cur/" + name))
            }
            for m in 0..<inNew {
                let body = Message.make(size: 2048, seed: u * 100_000 + 50_000 + m)
                let name = "\(1_700_100_000 + m).N\(m)P\(u).bench,S=\(body.count),W=\(body.count)"
                try Data(body).write(to: URL(fileURLWithPath: md + "/new/" + name))
            }
        }
        try usersFile.write(toFile: dir + "/users.template", atomically: true, encoding: .utf8)
        try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                     "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2", "-subj", "/CN=localhost"])
        return dir
    }

    /// Copies the template for one server (identical Maildirs for both).
    static func instance(from template: String, name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "roost-bench-\(getpid())-\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        try run("/bin/cp", ["-a", template, dir])
        let users = try String(contentsOfFile: template + "/users.template", encoding: .utf8).replacingOccurrences(of: "HOME", with: dir)
        try users.write(toFile: dir + "/users", atomically: true, encoding: .utf8)
        if geteuid() == 0 { try run("/bin/chown", ["-R", "65534:65534", dir + "/home"]) }
        chmod(dir, 0o755)
        return dir
    }

    static func commonConfig(_ dir: String, _ t: Target) -> String {
        """
        protocols = imap pop3 lmtp
        listen = 127.0.0.1
        base_dir = \(dir)/run
        state_dir = \(dir)/state
        log_path = \(dir)/server.log
        ssl = yes
        ssl_cert = <\(dir)/cert.pem
        ssl_key = <\(dir)/key.pem
        disable_plaintext_auth = no
        auth_mechanisms = plain login
        auth_username_format = %Ln
        mail_location = maildir:~/Maildir
        first_valid_uid = 100
        mail_max_userip_connections = 10000
        passdb {
          driver = passwd-file
          args = \(dir)/users
        }
        userdb {
          driver = passwd-file
          args = \(dir)/users
        }
        service imap-login {
          inet_listener imap {
            port = \(t.imapPort)
          }
          inet_listener imaps {
            port = \(t.imapsPort)
          }
        }
        service pop3-login {
          inet_listener pop3 {
            port = \(t.pop3Port)
          }
          inet_listener pop3s {
            port = 0
          }
        }

        """
    }

    static func target() -> Target {
        Target(imapPort: freePort(), imapsPort: freePort(), pop3Port: freePort(), lmtpPort: freePort())
    }

    static func startRoost(binary: String, dir: String) throws -> BenchServer {
        let t = target()
        let config = commonConfig(dir, t) + """
        service lmtp {
          inet_listener lmtp {
            address = 127.0.0.1
            port = \(t.lmtpPort)
          }
        }
        service imap-login {
          client_limit = 20000
        }
        """
        try config.write(toFile: dir + "/roost.conf", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve", "-c", dir + "/roost.conf"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        try waitForPort(t.imapPort, process: p, name: "roost")
        return BenchServer(name: "roost", process: p, target: t, directory: dir)
    }

    static func startDovecot(dir: String) throws -> BenchServer {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot") else {
            throw BenchError("Dovecot is not installed: apt-get install dovecot-imapd dovecot-pop3d dovecot-lmtpd")
        }
        let t = target()
        let config = commonConfig(dir, t) + """
        instance_name = bench-dovecot-\(getpid())
        service lmtp {
          inet_listener lmtp {
            address = 127.0.0.1
            port = \(t.lmtpPort)
          }
          process_limit = 1024
        }
        service imap {
          process_limit = 4096
        }
        service pop3 {
          process_limit = 4096
        }
        service imap-login {
          process_limit = 1024
        }
        service pop3-login {
          process_limit = 1024
        }
        service auth {
          client_limit = 10000
        }
        """
        try config.write(toFile: dir + "/dovecot.conf", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/dovecot")
        p.arguments = ["-F", "-c", dir + "/dovecot.conf"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        try waitForPort(t.imapPort, process: p, name: "dovecot")
        return BenchServer(name: "dovecot", process: p, target: t, directory: dir)
    }

    /// Start-up of a benchmark server (not a test): poll-connect until it answers.
    static func waitForPort(_ port: Int, process: Process, name: String) throws {
        for _ in 0..<200 {
            if !process.isRunning { throw BenchError("\(name) exited during start-up (see its server.log)") }
            if let c = try? BenchConnection(host: "127.0.0.1", port: port), (try? c.line()) != nil { return }
            usleep(50_000)
        }
        throw BenchError("\(name) did not start")
    }
}
