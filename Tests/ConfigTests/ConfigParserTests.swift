import Foundation
import Testing
@testable import Config

@Suite struct ConfigParserTests {
    struct ValueCase: Sendable {
        var text: String
        var key: String
        var expected: String
        var line: Int
    }

    static let values: [ValueCase] = [
        .init(text: "login_greeting = Hello there  ", key: "login_greeting", expected: "Hello there", line: #line),
        .init(text: "login_greeting=Hi", key: "login_greeting", expected: "Hi", line: #line),
        .init(text: "login_greeting = Hi # comment", key: "login_greeting", expected: "Hi", line: #line),
        .init(text: "login_greeting = \"a \\\"b\\\" # c\" # comment", key: "login_greeting", expected: "a \"b\" # c", line: #line),
        .init(text: "login_greeting = ' spaced '", key: "login_greeting", expected: " spaced ", line: #line),
        .init(text: "login_greeting = one \\\n   two \\\n three", key: "login_greeting", expected: "one two three", line: #line),
        .init(text: "mail_plugins = $mail_plugins quota", key: "mail_plugins", expected: " quota", line: #line),
        .init(text: "mail_plugins = acl\nmail_plugins = $mail_plugins quota", key: "mail_plugins", expected: "acl quota", line: #line),
        .init(text: "protocols = $protocols sieve", key: "protocols", expected: "imap pop3 lmtp sieve", line: #line),
        .init(text: "login_greeting = $nosuchvar x", key: "login_greeting", expected: "$nosuchvar x", line: #line),
        .init(text: "login_greeting = \"$mail_plugins\"", key: "login_greeting", expected: "$mail_plugins", line: #line),
        .init(text: "  # only a comment\n\nlogin_greeting = x", key: "login_greeting", expected: "x", line: #line),
        .init(text: "login_greeting =", key: "login_greeting", expected: "", line: #line),
    ]

    @Test(arguments: values)
    func settingValue(_ c: ValueCase) throws {
        let tree = try ConfigParser.parse(text: c.text, fileName: "t.conf", baseDirectory: "/")
        #expect(tree.setting(c.key)?.value == c.expected, "row at line \(c.line)")
    }

    @Test func sectionsNestWithLocations() throws {
        let text = """
        service imap-login {
          inet_listener imap {
            port = 1143
          }
        }
        namespace inbox {
          mailbox "Sent Messages" { # comment
            special_use = \\Sent
          }
        }
        protocol !indexer-worker {
        }
        """
        let tree = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/")
        let service = try #require(tree.sections(named: "service").first)
        #expect(service.argument == "imap-login")
        let listener = try #require(service.sections(named: "inet_listener").first)
        #expect(listener.argument == "imap")
        #expect(listener.setting("port")?.value == "1143")
        #expect(listener.setting("port")?.location == SourceLocation(file: "t.conf", line: 3))
        let mailbox = try #require(tree.sections(named: "namespace").first?.sections.first)
        #expect(mailbox.argument == "Sent Messages")
        #expect(mailbox.setting("special_use")?.value == "\\Sent")
        #expect(mailbox.location.line == 7)
        #expect(tree.sections(named: "protocol").first?.argument == "!indexer-worker")
    }

    @Test func continuationKeepsFirstLine() throws {
        let tree = try ConfigParser.parse(text: "\n\nlogin_greeting = a \\\n b", fileName: "t.conf", baseDirectory: "/")
        #expect(tree.setting("login_greeting")?.location.line == 3)
    }

    @Test func variableExpandsWithinSectionThenTopLevel() throws {
        let text = """
        mail_plugins = quota
        protocol imap {
          mail_plugins = $mail_plugins imap_quota
        }
        """
        let tree = try ConfigParser.parse(text: text, fileName: "t.conf", baseDirectory: "/")
        #expect(tree.sections(named: "protocol").first?.setting("mail_plugins")?.value == "quota imap_quota")
    }

    @Test func includesWithGlobsRelativeToIncludingFile() throws {
        let dir = try ScratchDirectory([
            "conf.d/10-a.conf": "login_greeting = from a\n!include ../extra/x.conf.ext\n",
            "conf.d/20-b.conf": "mail_location = maildir:~/Maildir\n",
            "conf.d/ignored.txt": "bogus",
            "extra/x.conf.ext": "passdb {\n  driver = pam\n}\n",
        ])
        let loaded = try load("!include conf.d/*.conf\n!include_try nothing-here.conf\n!include_try none/*.conf\nlogin_greeting = last",
                              in: dir.path)
        #expect(loaded.config.loginGreeting == "last")
        #expect(loaded.config.mailLocation == "maildir:~/Maildir")
        #expect(loaded.config.passdbs.map(\.driver) == ["pam"])
        #expect(loaded.config.passdbs.first?.location == SourceLocation(file: dir.path + "/extra/x.conf.ext", line: 1))
    }

    @Test func includeInsideSection() throws {
        let dir = try ScratchDirectory(["inner.conf": "driver = passwd-file\nargs = /etc/users\n"])
        let loaded = try load("passdb {\n  !include inner.conf\n}", in: dir.path)
        #expect(loaded.config.passdbs.first?.args == "/etc/users")
    }

    @Test func fileContentsForOrdinarySettings() throws {
        let dir = try ScratchDirectory(["greeting.txt": "  Welcome  \n\n"])
        let loaded = try load("login_greeting = <greeting.txt", in: dir.path)
        #expect(loaded.config.loginGreeting == "Welcome")
    }

    @Test func fileValuedSettingsKeepThePath() throws {
        let dir = try ScratchDirectory(["cert.pem": "CERT\n"])
        let loaded = try load("ssl_cert = <cert.pem\nssl_key = <missing.key\nssl_ca = inline-ca", in: dir.path)
        #expect(loaded.config.sslCert.path == dir.path + "/cert.pem")
        #expect(try loaded.config.sslCert.contents() == "CERT\n")
        #expect(loaded.config.sslKey.path == dir.path + "/missing.key")
        #expect(loaded.config.sslCA.path == nil)
        #expect(try loaded.config.sslCA.contents() == "inline-ca")
        #expect(loaded.config.sslCert.isEmpty == false)
        let error = #expect(throws: ConfigError.self) { try loaded.config.sslKey.contents() }
        #expect(error?.description == "test.conf:2: ssl_key: Cannot read \(dir.path)/missing.key: No such file or directory")
    }
}
