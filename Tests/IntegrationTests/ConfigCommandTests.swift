import Foundation
import Glibc
import Testing

/// `roost config` / `roost config check` through the binary, and legacy (1.x) config forms.
@Suite struct ConfigCommandTests {
    static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestTool.run(RoostProcess.binary, args)
    }

    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    @Test func everyShippedConfigPassesCheck() throws {
        let dir = Self.repoRoot + "/dovecot-conf"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".conf") }
        #expect(!files.isEmpty)
        for file in files {
            let r = try Self.run(["config", "check", "-c", dir + "/" + file])
            #expect(r.status == 0, "\(file): \(r.err)")
        }
    }

    @Test func misspelledSettingFailsWithFileLineAndSuggestion() throws {
        let dir = RoostProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "protocols = imap\n\nmail_locaton = maildir:~/Maildir\n".write(toFile: dir + "/bad.conf", atomically: true, encoding: .utf8)
        let r = try Self.run(["config", "check", "-c", dir + "/bad.conf"])
        #expect(r.status != 0)
        #expect(r.err.contains("\(dir)/bad.conf:3: Unknown setting: mail_locaton (did you mean 'mail_location'?)"))
    }

    @Test func configPrintsNonDefaultSettings() throws {
        let dir = RoostProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "protocols = imap\nmail_location = maildir:~/Maildir\n".write(toFile: dir + "/a.conf", atomically: true, encoding: .utf8)
        let r = try Self.run(["config", "-c", dir + "/a.conf"])
        #expect(r.status == 0)
        #expect(r.out.contains("mail_location = maildir:~/Maildir"))
        #expect(r.out.contains("protocols = imap"))
    }

    /// The classic webmail setup from old guides: IMAP on localhost only, the rest elsewhere.
    @Test func legacyImapListenBindsLoopbackOnly() throws {
        let port = TestEnv.freePort()
        let config = """
        protocols = imap imaps pop3s
        imap_listen = 127.0.0.1:\(port)
        base_dir = $DIR/run
        ssl = no
        disable_plaintext_auth = no
        default_login_user = nobody
        passdb {
          driver = passwd-file
          args = $DIR/users
        }
        userdb {
          driver = passwd-file
          args = $DIR/users
        }
        """
        let roost = try RoostProcess(config: config, files: ["users": TestEnv.usersFile([("pepa", "secret")])])
        try roost.start()
        defer { roost.stop() }
        #expect(roost.waitForLog("starting up") != nil)
        #expect(roost.waitForLog("listening on 127.0.0.1:\(port)") != nil)
        let c = try LineClient(host: "127.0.0.1", port: port)
        #expect(try c.readLine()?.hasPrefix("* OK") == true)
        // Another address of this host (127.0.0.2 is local too) is refused.
        #expect { _ = try LineClient(host: "127.0.0.2", port: port) } throws: { ($0 as? ClientError)?.errno == ECONNREFUSED }
        // The other listeners keep their own (default) addresses.
        let dump = try Self.run(["config", "-c", roost.configPath])
        #expect(dump.status == 0)
        #expect(dump.err.contains("imap_listen"), "a warning names the 1.x setting")
    }

    @Test func dovecot23FormBindsLoopbackOnly() throws {
        let port = TestEnv.freePort()
        let roost = try RoostProcess(config: TestEnv.config(port: port).replacingOccurrences(
            of: "listen = 127.0.0.1", with: "listen = *, ::").replacingOccurrences(
            of: "    port = \(port)", with: "    address = 127.0.0.1\n    port = \(port)"),
            files: ["users": TestEnv.usersFile([("pepa", "secret")])])
        try roost.start()
        defer { roost.stop() }
        #expect(roost.waitForLog("listening on 127.0.0.1:\(port)") != nil)
        #expect(try LineClient(host: "127.0.0.1", port: port).readLine()?.hasPrefix("* OK") == true)
        #expect { _ = try LineClient(host: "127.0.0.2", port: port) } throws: { ($0 as? ClientError)?.errno == ECONNREFUSED }
    }
}

/// The production example must stay loadable by Dovecot 2.3 itself (when installed: CI installs it).
@Suite struct DovecotCompatibilityTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/doveconf")))
    func doveconfParsesTheProductionExample() throws {
        let r = try TestTool.run("/usr/bin/doveconf", ["-n", "-c", ConfigCommandTests.repoRoot + "/dovecot-conf/dovecot.conf"])
        #expect(r.status == 0, "doveconf: \(r.err)")
    }
}
