import Testing
import Foundation
@testable import Maildir

/// The committed fixture was written by Dovecot 2.3.19 (see expected.txt); Roost must read
/// the same UIDVALIDITY, UIDs, flags, keywords, sizes, folders and subscriptions.
@Suite struct DovecotFixtureTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/maildir-dovecot").path

    struct Expected {
        var list: [String: [String]] = [:]          // name → attributes
        var lsub: [String] = []
        var status: [String: (messages: Int, uidNext: UInt32, uidValidity: UInt32)] = [:]
        var fetch: [String: [(uid: UInt32, flags: Set<String>, size: Int64)]] = [:]
    }

    static func parseExpected() throws -> Expected {
        var e = Expected()
        let lines = try String(contentsOfFile: fixture + "/expected.txt", encoding: .utf8).split(separator: "\n")
        for line in lines where !line.hasPrefix("#") {
            let s = String(line)
            if s.hasPrefix("LIST ") || s.hasPrefix("LSUB ") {
                let attrs = s[s.index(after: s.firstIndex(of: "(")!)..<s.firstIndex(of: ")")!].split(separator: " ").map(String.init)
                let name = String(s[s.range(of: "\"/\" ")!.upperBound...])
                if s.hasPrefix("LIST") { e.list[name] = attrs } else { e.lsub.append(name) }
            } else if s.hasPrefix("STATUS ") {
                let name = String(s.dropFirst(7).prefix { $0 != " " })
                func num(_ key: String) -> Int { Int(s[s.range(of: key + " ")!.upperBound...].prefix { $0.isNumber })! }
                e.status[name] = (num("MESSAGES"), UInt32(num("UIDNEXT")), UInt32(num("UIDVALIDITY")))
            } else if s.hasPrefix("FETCH ") {
                let rest = s.dropFirst(6)
                let name = String(rest.prefix { $0 != " " })
                let uid = UInt32(s[s.range(of: "(UID ")!.upperBound...].prefix { $0.isNumber })!
                let flagText = s[s.range(of: "FLAGS (")!.upperBound...].prefix { $0 != ")" }
                let size = Int64(s[s.range(of: "RFC822.SIZE ")!.upperBound...].prefix { $0.isNumber })!
                e.fetch[name, default: []].append((uid, Set(flagText.split(separator: " ").map(String.init)), size))
            }
        }
        return e
    }

    @Test func roostReadsDovecotMaildir() throws {
        let tmp = TempDir("fixture")
        let root = tmp.path + "/Maildir"
        try FileManager.default.copyItem(atPath: Self.fixture + "/Maildir", toPath: root)
        let expected = try Self.parseExpected()
        let store = try MaildirStore(root: root)

        let list = try store.listFolders()
        #expect(Set(list.map { ModifiedUTF7.encode($0.name) }) == Set(expected.list.keys))
        for f in list {
            #expect(Set(f.attributes) == Set(expected.list[ModifiedUTF7.encode(f.name)] ?? []), "\(f.name)")
        }
        #expect(try store.subscriptions().map { ModifiedUTF7.encode($0) }.sorted() == expected.lsub.sorted())

        for (encodedName, status) in expected.status {
            let folder = try store.openFolder(ModifiedUTF7.decode(encodedName)!, readOnly: true)
            #expect(folder.uidValidity == status.uidValidity, "\(encodedName)")
            #expect(folder.uidNext == status.uidNext, "\(encodedName)")
            #expect(folder.messages.count == status.messages, "\(encodedName)")
            let fetched = expected.fetch[encodedName] ?? []
            #expect(folder.messages.map(\.uid) == fetched.map(\.uid), "\(encodedName)")
            for (m, f) in zip(folder.messages, fetched) {
                #expect(Set(m.flags.imapNames + m.keywords) == f.flags, "\(encodedName) UID \(m.uid)")
                #expect(m.virtualSize == f.size, "\(encodedName) UID \(m.uid)")
            }
        }
        // Writing with Roost continues Dovecot's numbering.
        let inbox = try store.openFolder("INBOX")
        #expect(try inbox.save(message("roost")) == 6)
        #expect(text(root + "/dovecot-keywords") == "0 $Junk\n1 work\n2 personal\n")
    }
}

/// Roost writes a Maildir, a private Dovecot serves it over IMAP: UIDs, flags and keywords
/// must be what Roost wrote. Needs /usr/sbin/dovecot (dovecot-core) and its imap binary
/// (dovecot-imapd); skipped when they are missing.
@Suite struct DovecotLiveTests {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot") &&
            FileManager.default.isExecutableFile(atPath: "/usr/lib/dovecot/imap")
    }

    @Test(.enabled(if: DovecotLiveTests.available)) func dovecotReadsRoostMaildir() throws {
        let tmp = TempDir("dovecot")
        let mailRoot = tmp.path + "/mail/alice"
        let store = try MaildirStore(root: mailRoot)
        try store.createFolder("Sent")
        try store.createFolder("Archive/2024")
        try store.subscribe("Sent")
        try store.subscribe("Archive/2024")
        let inbox = try store.openFolder("INBOX")
        try inbox.save(message("one"), flags: [.seen])
        try inbox.save(message("two"), flags: [.flagged], keywords: ["$Junk", "work"])
        try inbox.save(message("three"), flags: [.deleted])
        try inbox.save(message("four"))
        _ = try inbox.sync()
        try inbox.expungeDeleted()
        try inbox.setFlags(uids: [4], flags: [.answered], keywords: ["later"], mode: .add)
        let sent = try store.openFolder("Archive/2024")
        try sent.save(message("archived"), flags: [.seen, .draft])

        let server = try DovecotInstance(directory: tmp.path, mailRoot: tmp.path + "/mail")
        defer { server.stop() }
        let imap = try IMAPTestClient(port: server.port)
        try imap.command("LOGIN alice secret")
        let lsub = try imap.command("LSUB \"\" *")
        #expect(lsub.contains { $0.hasSuffix("\"/\" Sent") } && lsub.contains { $0.hasSuffix("\"/\" Archive/2024") })

        for (name, folder) in [("INBOX", inbox), ("Archive/2024", sent)] {
            _ = try folder.sync()
            let select = try imap.command("SELECT \(name)")
            #expect(select.contains { $0.contains("[UIDVALIDITY \(folder.uidValidity)]") }, "\(name): \(select)")
            #expect(select.contains { $0.contains("[UIDNEXT \(folder.uidNext)]") }, "\(name): \(select)")
            let fetch = try imap.command("UID FETCH 1:* (FLAGS RFC822.SIZE)").filter { $0.contains(" FETCH ") }
            #expect(fetch.count == folder.messages.count)
            for (line, m) in zip(fetch, folder.messages) {
                #expect(line.contains("UID \(m.uid) "), "\(line)")
                #expect(line.contains("RFC822.SIZE \(m.virtualSize)"), "\(line)")
                let flags = Set(line[line.range(of: "FLAGS (")!.upperBound...].prefix { $0 != ")" }
                    .split(separator: " ").map(String.init)).subtracting(["\\Recent"])
                #expect(flags == Set(m.flags.imapNames + m.keywords), "\(line)")
            }
        }
        // Dovecot changes things; Roost sees them.
        _ = try imap.command("SELECT INBOX")
        _ = try imap.command("UID STORE 1 +FLAGS (\\Flagged extra)")
        try imap.append("INBOX", "(\\Seen)", message("from dovecot"))
        _ = try imap.command("LOGOUT")
        let changes = try inbox.sync()
        #expect(changes.added.map(\.uid) == [5])
        #expect(inbox.message(uid: 1)?.flags == [.seen, .flagged])
        #expect(inbox.message(uid: 1)?.keywords == ["extra"])
        #expect(inbox.message(uid: 5)?.flags == [.seen])
    }
}

/// A private Dovecot (its own base_dir, state_dir, log, loopback port, passwd-file user).
final class DovecotInstance {
    var pid: pid_t = 0
    let port: UInt16

    init(directory: String, mailRoot: String) throws {
        port = try Self.freePort()
        let isRoot = getuid() == 0
        let uid = isRoot ? 65534 : getuid(), gid = isRoot ? 65534 : getgid()
        let me = String(cString: getpwuid(getuid())!.pointee.pw_name)
        for d in ["base", "state"] { try FileManager.default.createDirectory(atPath: directory + "/" + d, withIntermediateDirectories: true) }
        var conf = """
        base_dir = \(directory)/base
        state_dir = \(directory)/state
        instance_name = roost-test-\(port)
        log_path = \(directory)/dovecot.log
        protocols = imap
        listen = 127.0.0.1
        ssl = no
        disable_plaintext_auth = no
        auth_mechanisms = plain
        first_valid_uid = 1
        mail_location = maildir:\(mailRoot)/%u
        namespace inbox {
          inbox = yes
          separator = /
        }
        passdb {
          driver = passwd-file
          args = \(directory)/passwd
        }
        userdb {
          driver = passwd-file
          args = \(directory)/passwd
        }
        service imap-login {
          chroot =
          inet_listener imap {
            port = \(port)
          }
          inet_listener imaps {
            port = 0
          }
        }
        service anvil {
          chroot =
        }

        """
        if !isRoot {
            conf += "default_login_user = \(me)\ndefault_internal_user = \(me)\n"
        }
        try conf.write(toFile: directory + "/dovecot.conf", atomically: true, encoding: .utf8)
        try "alice:{PLAIN}secret:\(uid):\(gid)::\(mailRoot)/alice\n".write(toFile: directory + "/passwd", atomically: true, encoding: .utf8)
        if isRoot {
            let chown = Process()
            chown.executableURL = URL(fileURLWithPath: "/bin/chown")
            chown.arguments = ["-R", "\(uid):\(gid)", mailRoot]
            try chown.run(); chown.waitUntilExit()
        }
        pid = try Self.spawn(["/usr/sbin/dovecot", "-F", "-c", directory + "/dovecot.conf"])
        for _ in 0..<100 {
            if (try? IMAPTestClient(port: port)) != nil { return }
            usleep(50_000)
        }
        stop()
        throw MaildirError.corrupt("dovecot did not start: " + text(directory + "/dovecot.log"))
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { pid = 0; return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        pid = 0
    }

    /// posix_spawn with an empty signal mask: Foundation's Process passes on the test runner
    /// thread's blocked signals, and a Dovecot that cannot see SIGTERM never stops.
    static func spawn(_ argv: [String]) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let err = posix_spawn(&pid, argv[0], nil, &attr, &cArgs, environ)
        guard err == 0 else { throw MaildirError.corrupt("posix_spawn \(argv[0]): \(err)") }
        return pid
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }
}

/// Just enough IMAP to read back what Dovecot reports.
final class IMAPTestClient {
    let fd: Int32
    var buffer: [UInt8] = []
    var tag = 0

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 else { close(fd); throw MaildirError.corrupt("connect") }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = try readLine() // greeting
    }

    deinit { close(fd) }

    func send(_ s: String) { Array(s.utf8).withUnsafeBytes { _ = write(fd, $0.baseAddress!, $0.count) } }

    func readLine() throws -> String {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<i], as: UTF8.self).trimmingCharacters(in: .newlines)
                buffer.removeFirst(i + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { throw MaildirError.corrupt("imap connection closed") }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    @discardableResult
    func command(_ c: String) throws -> [String] {
        tag += 1
        send("t\(tag) \(c)\r\n")
        var lines: [String] = []
        while true {
            let line = try readLine()
            if line.hasPrefix("t\(tag) ") {
                guard line.hasPrefix("t\(tag) OK") else { throw MaildirError.corrupt("\(c): \(line)") }
                return lines
            }
            lines.append(line)
        }
    }

    func append(_ mailbox: String, _ flags: String, _ data: [UInt8]) throws {
        tag += 1
        send("t\(tag) APPEND \(mailbox) \(flags) {\(data.count)}\r\n")
        _ = try readLine()
        data.withUnsafeBytes { _ = write(fd, $0.baseAddress!, $0.count) }
        send("\r\n")
        while true {
            let line = try readLine()
            if line.hasPrefix("t\(tag) ") { guard line.contains("OK") else { throw MaildirError.corrupt(line) }; return }
        }
    }
}
