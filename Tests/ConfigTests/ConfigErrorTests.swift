import Foundation
import Testing
@testable import Config

@Suite struct ConfigErrorTests {
    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var text: String
        var expected: String
        var line: Int
        var testDescription: String { "line \(line): \(expected)" }
    }

    static let cases: [ErrorCase] = [
        .init(text: "lisen = *", expected: "test.conf:1: Unknown setting: lisen (did you mean 'listen'?)", line: #line),
        .init(text: "\n\nssl_cerf = <x", expected: "test.conf:3: Unknown setting: ssl_cerf (did you mean 'ssl_cert'?)", line: #line),
        .init(text: "completely_bogus_thing = 1", expected: "test.conf:1: Unknown setting: completely_bogus_thing", line: #line),
        .init(text: "service imap {\n  proces_limit = 5\n}",
              expected: "test.conf:2: Unknown setting: proces_limit (did you mean 'process_limit'?)", line: #line),
        .init(text: "servise imap {\n}", expected: "test.conf:1: Unknown section: servise (did you mean 'service'?)", line: #line),
        .init(text: "first_valid_uid = many", expected: "test.conf:1: first_valid_uid: Invalid number: 'many'", line: #line),
        .init(text: "first_valid_uid = -1", expected: "test.conf:1: first_valid_uid: Invalid number: '-1'", line: #line),
        .init(text: "mail_debug = true", expected: "test.conf:1: mail_debug: Invalid boolean value: 'true' (use yes or no)", line: #line),
        .init(text: "ssl = maybe", expected: "test.conf:1: ssl: Invalid value: 'maybe' (expected one of: no, yes, required)", line: #line),
        .init(text: "auth_failure_delay = 2 fortnights",
              expected: "test.conf:1: auth_failure_delay: Invalid time interval: '2 fortnights' (use e.g. 30 secs, 2 mins, 1 hour)", line: #line),
        .init(text: "service imap {\n  vsz_limit = 10Q\n}",
              expected: "test.conf:2: vsz_limit: Invalid size: '10Q' (use e.g. 1024, 10M, 1 G)", line: #line),
        .init(text: "service auth {\n  unix_listener auth-userdb {\n    mode = 0999\n  }\n}",
              expected: "test.conf:3: mode: Invalid file mode: '0999' (use octal, e.g. 0660)", line: #line),
        .init(text: "login_trusted_networks = 10.0.0.0/8 10.0.0.0/33",
              expected: "test.conf:1: login_trusted_networks: Invalid IP address or network: '10.0.0.0/33'", line: #line),
        .init(text: "service imap-login {\n  inet_listener imap {\n    port = 14x\n  }\n}",
              expected: "test.conf:3: port: Invalid number: '14x'", line: #line),
        .init(text: "protocol imap {\n  mail_max_userip_connections = lots\n}",
              expected: "test.conf:2: mail_max_userip_connections: Invalid number: 'lots'", line: #line),
        .init(text: "service imap {\n  process_limit = 1\n", expected: "test.conf:1: Missing '}' for section 'service imap' opened here", line: #line),
        .init(text: "passdb {\n}\n}", expected: "test.conf:3: Unexpected '}' (no section is open)", line: #line),
        .init(text: "login_greeting \"x\"", expected: "test.conf:1: Expecting '=' after 'login_greeting'", line: #line),
        .init(text: "login_greeting = \"unterminated", expected: "test.conf:1: Missing closing quote (\")", line: #line),
        .init(text: "\n!include missing.conf", expected: "test.conf:2: !include missing.conf: No such file or directory", line: #line),
        .init(text: "!include conf.d/*.conf", expected: "test.conf:1: !include conf.d/*.conf: No such file or directory", line: #line),
        .init(text: "\n\nlogin_greeting = <nothere.txt",
              expected: "test.conf:3: Cannot read /nonexistent/nothere.txt for login_greeting: No such file or directory", line: #line),
        .init(text: "imap_listen = [::1", expected: "test.conf:1: imap_listen: Invalid address: '[::1'", line: #line),
        .init(text: "plugin {\n  sub {\n  }\n}", expected: "test.conf:2: Unknown section: sub", line: #line),
    ]

    @Test(arguments: cases)
    func error(_ c: ErrorCase) {
        #expect(loadError(c.text) == c.expected)
    }

    @Test func errorInIncludedFileNamesThatFile() throws {
        let dir = try ScratchDirectory(["conf.d/10-x.conf": "# header\n\nlisten = *\nmail_uid = vmail\nfirst_valid_gid = x\n"])
        #expect(loadError("!include conf.d/*.conf", in: dir.path)
                == "\(dir.path)/conf.d/10-x.conf:5: first_valid_gid: Invalid number: 'x'")
    }

    @Test func missingBraceInIncludedFile() throws {
        let dir = try ScratchDirectory(["a.conf": "service imap {\n"])
        #expect(loadError("!include a.conf\n}", in: dir.path)
                == "\(dir.path)/a.conf:1: Missing '}' for section 'service imap' opened here")
    }

    @Test func includeLoopIsAnError() throws {
        let dir = try ScratchDirectory(["a.conf": "!include a.conf\n"])
        let message = loadError("!include a.conf", in: dir.path)
        #expect(message?.contains("nested too deeply") == true)
    }

    @Test func loadPathThatDoesNotExist() {
        #expect(throws: ConfigError(file: "/nonexistent/roost.conf", line: 0,
                                    message: "Cannot read configuration file: No such file or directory")) {
            try ConfigLoader.load(path: "/nonexistent/roost.conf")
        }
    }

    @Test func knownButInactiveSettingsWarn() throws {
        let loaded = try load("mail_plugins = quota zlib\nmetric imap_cmds {\n  filter = event=imap_command_finished\n}\nplugin {\n  quota = maildir\n}")
        #expect(loaded.warnings.map(\.description) == [
            "test.conf:1: mail_plugins: plugin 'zlib' is not yet active in Roost (accepted, ignored)",
            "test.conf:2: Section 'metric' is not yet active in Roost (accepted, ignored)",
        ])
        #expect(loaded.config.plugin == ["quota": "maildir"])
    }

    @Test(arguments: [
        ("yes", true), ("no", false), ("YES", true),
    ])
    func boolValues(_ text: String, _ expected: Bool) {
        #expect(SettingValue.bool(text) == expected)
    }

    @Test func sizesAndTimes() {
        #expect(SettingValue.size("10M") == 10 << 20)
        #expect(SettingValue.size("256 M") == 256 << 20)
        #expect(SettingValue.size("1G") == 1 << 30)
        #expect(SettingValue.size("4 kB") == 4096)
        #expect(SettingValue.size("100") == 100)
        #expect(SettingValue.size("M") == nil)
        #expect(SettingValue.seconds("2 secs") == 2)
        #expect(SettingValue.seconds("1 min") == 60)
        #expect(SettingValue.seconds("2mins") == 120)
        #expect(SettingValue.seconds("500 ms") == 0.5)
        #expect(SettingValue.seconds("1 hour") == 3600)
        #expect(SettingValue.seconds("1 weeks") == 604800)
        #expect(SettingValue.seconds("7") == 7)
        #expect(SettingValue.seconds("secs") == nil)
    }
}
