import Foundation
import Glibc
import Testing

/// The same IMAP commands against the built Roost and a private Dovecot 2.3 (Debian's
/// dovecot-imapd) with the same namespace settings; the answers must be equal once Dovecot's
/// timing suffix is dropped and each command's untagged answers are sorted (Dovecot lists in
/// directory order, Roost by name). Runs as root only, where Dovecot can switch to the mail
/// user; CI runs as root with Dovecot installed.
@Suite struct IMAPDovecotDifferentialTests {
    static let enabled = TestEnv.isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot")

    /// Starts Dovecot on a free port with `namespace` and user pepa/secret; stop with terminate().
    static func startDovecot(in dir: String, namespace: String) throws -> (Process, Int) {
        let port = TestEnv.freePort()
        try FileManager.default.createDirectory(atPath: dir + "/home", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o777])
        try "pepa:{PLAIN}secret:65534:65534::\(dir)/home/pepa::\n".write(toFile: dir + "/users", atomically: true, encoding: .utf8)
        try """
        protocols = imap
        listen = 127.0.0.1
        base_dir = \(dir)/run
        state_dir = \(dir)/state
        instance_name = roost-diff-\(getpid())-\(port)
        log_path = \(dir)/dovecot.log
        ssl = no
        disable_plaintext_auth = no
        mail_location = maildir:~/Maildir
        default_login_user = nobody
        default_internal_user = nobody
        first_valid_uid = 100
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
            port = \(port)
          }
          inet_listener imaps {
            port = 0
          }
        }
        \(namespace)
        """.write(toFile: dir + "/dovecot.conf", atomically: true, encoding: .utf8)
        // Foundation's Process passes on the test runner's blocked signals, and a Dovecot that
        // blocks SIGTERM never stops: unblock everything before exec'ing it.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import os, signal; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                       + "os.execv('/usr/sbin/dovecot', ['dovecot', '-F', '-c', '\(dir)/dovecot.conf'])"]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if (try? LineClient(port: port)) != nil { return (p, port) }
            usleep(20_000)  // polling a port that is not yet open; the deadline bounds it
        }
        p.terminate()
        throw ClientError("dovecot did not start: \(IMAPClientTests.contents(dir + "/dovecot.log"))")
    }

    /// Dovecot's tagged lines end in " (0.001 + 0.000 secs)."; Roost's in ".".
    static func normalized(_ lines: [String]) -> [String] {
        guard let tagged = lines.last else { return [] }
        let trimmed = tagged.replacingOccurrences(of: #" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)"#, with: "",
                                                  options: .regularExpression)
        // A STATUS line belongs to the LIST line before it.
        var records: [String] = []
        for line in lines.dropLast() {
            if line.hasPrefix("* STATUS "), let last = records.popLast() { records.append(last + " | " + line) } else { records.append(line) }
        }
        return records.sorted() + [trimmed]
    }

    static let setup = [
        "CREATE a/b/c", "CREATE x", "SUBSCRIBE a/b/c", "SUBSCRIBE x", "DELETE x", "LIST \"\" *",
    ]

    static let compared = [
        "LIST \"\" *",
        "LIST \"\" %",
        "LSUB \"\" *",
        "LSUB \"\" %",
        "LIST (SUBSCRIBED) \"\" *",
        "LIST (SUBSCRIBED) \"\" * RETURN (CHILDREN)",
        "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %",
        "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)",
        "LIST \"\" % RETURN (CHILDREN)",
        "LIST \"\" * RETURN (SUBSCRIBED CHILDREN)",
        "LIST (SPECIAL-USE) \"\" *",
        "LIST (SPECIAL-USE SUBSCRIBED) \"\" *",
        "LIST \"\" * RETURN (SPECIAL-USE)",
        "LIST \"\" (\"a/b\" \"INBOX\" \"a/*\")",
        "LIST \"\" % RETURN (STATUS (UNSEEN MESSAGES UIDNEXT) SUBSCRIBED)",
        "LIST (REMOTE) \"\" %",
        "LIST a/ %",
        "STATUS INBOX (UNSEEN UIDNEXT MESSAGES)",
        "LIST (FOO) \"\" *",
        "LIST (RECURSIVEMATCH) \"\" *",
        "LIST \"\" * RETURN (FOO)",
        "LIST \"\" * RETURN (STATUS (FOO))",
        "LIST \"\" * RETURN (STATUS ())",
        "LIST \"\" * RETURN",
        "SEARCH RETURN (MIN MAX ALL COUNT) ALL",
        "SEARCH RETURN () UNSEEN",
        "SEARCH RETURN (COUNT) SEEN",
        "UID SEARCH RETURN (MIN MAX ALL COUNT) UNSEEN",
        "UID SEARCH RETURN (ALL) SUBJECT nothing",
        "SEARCH RETURN (MIN MAX) SUBJECT nothing",
        "SEARCH RETURN (ALL COUNT) SUBJECT nothing",
        "SEARCH RETURN (FOO) ALL",
        "SEARCH RETURN (ALL) 2:4 NOT 3",
    ]

    /// SEARCH CHARSET, after a 6th message with a UTF-8 encoded-word Subject and an ISO-8859-1
    /// body. One character per byte: "caf\u{E9}" sends c a f 0xE9.
    static let charsetMessage = "Subject: =?UTF-8?Q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n"
        + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nun caf\u{E9}\r\n"
    static let charsetCompared = [
        "SEARCH CHARSET ISO-8859-1 SUBJECT {4+}\r\ncaf\u{E9}",
        "SEARCH CHARSET ISO-8859-1 BODY {4+}\r\nCAF\u{C9}",
        "SEARCH CHARSET ISO-8859-15 TEXT {1+}\r\n\u{A4}",
        "SEARCH CHARSET X-UNKNOWN ALL",
        "SEARCH CHARSET X-UNKNOWN SUBJECT foo",
        "SEARCH CHARSET UTF-8 SUBJECT {4+}\r\ncaf\u{E9}",
    ]

    static func bytes(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8($0.value) } }

    /// Runs the script on one server and returns the compared answers.
    static func transcript(port: Int) throws -> [[String]] {
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("l", "LOGIN pepa secret").last?.hasPrefix("l OK") == true)
        for (i, command) in setup.enumerated() { _ = try c.command("s\(i)", command) }
        for i in 1...5 {
            let message = "Subject: m\(i)\r\n\r\nbody \(i)\r\n"
            _ = try c.command("a\(i)", "APPEND INBOX {\(message.utf8.count)+}\r\n\(message)")
        }
        var answers: [[String]] = []
        for (i, command) in compared.enumerated() where !command.contains("SEARCH") {
            answers.append(normalized(try c.command("c\(i)", command)))
        }
        _ = try c.command("sel", "SELECT INBOX")
        _ = try c.command("st", "STORE 2,4 +FLAGS.SILENT (\\Seen)")
        for (i, command) in compared.enumerated() where command.contains("SEARCH") {
            answers.append(normalized(try c.command("c\(i)", command)))
        }
        try c.send(bytes("a6 APPEND INBOX {\(charsetMessage.unicodeScalars.count)+}\r\n\(charsetMessage)\r\n"))
        _ = try c.readUntilTagged("a6")
        _ = try c.command("n", "NOOP")  // any EXISTS for the new message, before the compared answers
        for (i, command) in charsetCompared.enumerated() {
            try c.send(bytes("cs\(i) \(command)\r\n"))
            answers.append(normalized(try c.readUntilTagged("cs\(i)")))
        }
        _ = try c.command("z", "LOGOUT")
        return answers
    }

    /// Runs `body` with a Roost and a private Dovecot on identical mailboxes (their IMAP ports).
    static func withBothServers(_ body: (_ roostPort: Int, _ dovecotPort: Int) throws -> Void) throws {
        let (roost, roostPort, _) = try IMAPClientTests.start()
        defer { roost.stop() }
        let dir = RoostProcess.makeTempDirectory()
        chmod(dir, 0o755)
        let (dovecot, dovecotPort) = try startDovecot(in: dir, namespace: IMAPClientTests.namespace)
        defer {
            dovecot.terminate()
            dovecot.waitUntilExit()
            try? FileManager.default.removeItem(atPath: dir)
        }
        try body(roostPort, dovecotPort)
    }

    @Test(.enabled(if: enabled))
    func listAndSearchAnswersEqualDovecots() throws {
        try Self.withBothServers { roostPort, dovecotPort in try compare(roostPort, dovecotPort) }
    }

    private func compare(_ roostPort: Int, _ dovecotPort: Int) throws {
        let ours = try Self.transcript(port: roostPort)
        let theirs = try Self.transcript(port: dovecotPort)
        #expect(ours.count == Self.compared.count + Self.charsetCompared.count)
        let commands = Self.compared.filter { !$0.contains("SEARCH") } + Self.compared.filter { $0.contains("SEARCH") }
            + Self.charsetCompared
        for (i, command) in commands.enumerated() where i < min(ours.count, theirs.count) {
            #expect(ours[i] == theirs[i], "\(command)")
        }
    }
}
