import Foundation
import Testing
@testable import Config

@Suite struct RoostConfigTests {
    @Test func defaultsMatchTheTable() throws {
        let c = try load("").config
        #expect(c.protocols == ["imap", "pop3", "lmtp"])
        #expect(c.listen == ["*", "::"])
        #expect(c.baseDir == "/run/roost")
        #expect(c.ssl == .yes)
        #expect(c.sslMinProtocol == "TLSv1.2")
        #expect(c.authFailureDelay == 2)
        #expect(c.authMechanisms == ["plain"])
        #expect(c.authUsernameFormat == "%Lu")
        #expect(c.disablePlaintextAuth)
        #expect(c.mailMaxUserIPConnections == 10)
        #expect(c.firstValidUID == 500)
        #expect(c.loginMaxIPConnections == 0)
        #expect(c.logPath == "")
        #expect(c.imapIdleNotifyInterval == 120)
        #expect(c.sslCert.isEmpty)
        #expect(c.passdbs.isEmpty)
    }

    @Test func typedValues() throws {
        let c = try load("""
        protocols = imap lmtp
        listen = 127.0.0.1, ::1
        ssl = required
        auth_failure_delay = 500 ms
        login_trusted_networks = 10.0.0.0/8 ::1
        passdb pam {
          driver = pam
          args = session=yes
          deny = yes
          result_failure = return-fail
        }
        userdb {
          driver = static
          args = uid=vmail gid=vmail home=/srv/mail/%d/%n
        }
        namespace inbox {
          inbox = yes
          separator = /
          mailbox Trash {
            special_use = \\Trash
            auto = subscribe
          }
        }
        local_name mail.example.com {
          ssl_cert = </etc/ssl/mail.pem
          ssl_key = </etc/ssl/mail.key
        }
        """, in: "/etc/roost").config
        #expect(c.protocols == ["imap", "lmtp"])
        #expect(c.listen == ["127.0.0.1", "::1"])
        #expect(c.ssl == .required)
        #expect(c.authFailureDelay == 0.5)
        #expect(c.trustedNetworks.contains(ipString: "10.1.2.3"))
        #expect(c.passdbs.count == 1)
        #expect(c.passdbs[0].name == "pam")
        #expect(c.passdbs[0].deny)
        #expect(c.passdbs[0].resultFailure == "return-fail")
        #expect(c.passdbs[0].resultSuccess == "return-ok")
        #expect(c.userdbs[0].args == "uid=vmail gid=vmail home=/srv/mail/%d/%n")
        #expect(c.namespaces[0].inbox)
        #expect(c.namespaces[0].separator == "/")
        #expect(c.namespaces[0].mailboxes == [MailboxSettings(name: "Trash", specialUse: ["\\Trash"], auto: "subscribe")])
        #expect(c.localNames.first?.names == ["mail.example.com"])
        #expect(c.localNames.first?.sslKey.path == "/etc/ssl/mail.key")
        #expect(c.isEnabled(service: "imap-login"))
        #expect(!c.isEnabled(service: "pop3-login"))
        #expect(c.isEnabled(service: "auth"))
    }

    @Test func repeatedPassdbBlocksStaySeparate() throws {
        let c = try load("passdb {\n driver = pam\n}\npassdb {\n driver = passwd-file\n}").config
        #expect(c.passdbs.map(\.driver) == ["pam", "passwd-file"])
    }

    @Test func defaultServices() throws {
        let c = try load("default_login_user = nobody").config
        let imap = c.service("imap-login")
        #expect(imap.inetListeners == [
            InetListener(name: "imap", addresses: ["*", "::"], port: 143),
            InetListener(name: "imaps", addresses: ["*", "::"], port: 993, ssl: true),
        ])
        #expect(imap.user == "nobody")
        #expect(c.service("pop3-login").inetListeners.map(\.port) == [110, 995])
        #expect(c.service("lmtp").inetListeners.isEmpty)
        #expect(c.service("lmtp").unixListeners == [UnixListener(path: "lmtp", mode: 0o666)])
        #expect(c.service("auth").unixListeners.map(\.path) == ["auth-userdb"])
        #expect(c.service("auth").unixListeners.first?.user == "dovecot")
        #expect(c.service("nothing").inetListeners.isEmpty)
    }

    @Test func configuredListenerMergesWithDefaults() throws {
        let c = try load("""
        listen = 192.0.2.1
        service imap-login {
          inet_listener imap {
            address = 127.0.0.1
          }
          process_min_avail = 2
          vsz_limit = 1G
        }
        service pop3-login {
          inet_listener pop3s {
            port = 0
          }
          inet_listener pop3-proxy {
            port = 10110
            haproxy = yes
          }
        }
        service lmtp {
          unix_listener /var/spool/postfix/private/dovecot-lmtp {
            mode = 0600
            user = postfix
            group = postfix
          }
        }
        """).config
        let imap = c.service("imap-login")
        #expect(imap.inetListener("imap") == InetListener(name: "imap", addresses: ["127.0.0.1"], port: 143))
        #expect(imap.inetListener("imaps") == InetListener(name: "imaps", addresses: ["192.0.2.1"], port: 993, ssl: true))
        #expect(imap.processMinAvail == 2)
        #expect(imap.vszLimit == 1 << 30)
        #expect(imap.serviceCount == 1)
        let pop3 = c.service("pop3-login")
        #expect(pop3.enabledInetListeners.map(\.name) == ["pop3", "pop3-proxy"])
        #expect(pop3.inetListener("pop3-proxy")?.haproxy == true)
        #expect(c.service("lmtp").unixListeners == [
            UnixListener(path: "lmtp", mode: 0o666),
            UnixListener(path: "/var/spool/postfix/private/dovecot-lmtp", mode: 0o600, user: "postfix", group: "postfix"),
        ])
    }

    @Test func dovecot1Names() throws {
        let loaded = try load("""
        protocols = imap imaps pop3s
        imap_listen = localhost
        ssl_disable = no
        ssl_cert_file = /etc/ssl/certs/mail.pem
        ssl_key_file = /etc/ssl/private/mail.key
        """)
        let c = loaded.config
        #expect(c.protocols == ["imap", "pop3"])
        #expect(c.service("imap-login").enabledInetListeners == [
            InetListener(name: "imap", addresses: ["localhost"], port: 143),
            InetListener(name: "imaps", addresses: ["*", "::"], port: 993, ssl: true),
        ])
        #expect(c.service("pop3-login").enabledInetListeners == [
            InetListener(name: "pop3s", addresses: ["*", "::"], port: 995, ssl: true),
        ])
        #expect(c.ssl == .yes)
        #expect(c.sslCert.path == "/etc/ssl/certs/mail.pem")
        #expect(c.sslKey.path == "/etc/ssl/private/mail.key")
        #expect(loaded.warnings.map(\.description) == [
            "test.conf:1: Dovecot 1.x setting 'protocols = imap imaps pop3s' translated to: protocols = imap pop3; service pop3-login { inet_listener pop3 { port = 0 } }",
            "test.conf:2: Dovecot 1.x setting 'imap_listen = localhost' translated to: service imap-login { inet_listener imap { address = localhost } }",
            "test.conf:3: Dovecot 1.x setting 'ssl_disable = no' translated to: ssl = yes",
            "test.conf:4: Dovecot 1.x setting 'ssl_cert_file = /etc/ssl/certs/mail.pem' translated to: ssl_cert = </etc/ssl/certs/mail.pem",
            "test.conf:5: Dovecot 1.x setting 'ssl_key_file = /etc/ssl/private/mail.key' translated to: ssl_key = </etc/ssl/private/mail.key",
        ])
    }

    @Test func dovecot1ListenWithPortsAndSSLOnly() throws {
        let c = try load("""
        protocols = imaps pop3
        imaps_listen = [::1]:9993
        pop3_listen = 127.0.0.1:1110
        ssl_disable = yes
        """).config
        #expect(c.protocols == ["imap", "pop3"])
        #expect(c.ssl == .no)
        #expect(c.service("imap-login").enabledInetListeners == [
            InetListener(name: "imaps", addresses: ["::1"], port: 9993, ssl: true),
        ])
        #expect(c.service("pop3-login").enabledInetListeners == [
            InetListener(name: "pop3", addresses: ["127.0.0.1"], port: 1110),
        ])
    }

    @Test(arguments: [
        ("*", "*", nil), ("127.0.0.1:143", "127.0.0.1", "143"), ("[::]:143", "::", "143"),
        ("::1", "::1", nil), ("[::1]", "::1", nil), ("mail.example.com:10143", "mail.example.com", "10143"),
    ] as [(String, String, String?)])
    func legacyHostPort(_ text: String, _ host: String, _ port: String?) {
        let result = LegacySettings.splitHostPort(text)
        #expect(result?.0 == host)
        #expect(result?.1 == port)
    }

    @Test func perProtocolOverrides() throws {
        let c = try load("""
        mail_max_userip_connections = 10
        login_greeting = Hello
        protocol imap {
          mail_max_userip_connections = 20
        }
        protocol pop3 lmtp {
          login_greeting = Hi POP
        }
        protocol !imap {
          auth_mechanisms = plain login
        }
        """).config
        #expect(c.mailMaxUserIPConnections == 10)
        #expect(c.protocolSections == ["imap", "pop3 lmtp", "!imap"])
        let imap = c.effective(forProtocol: "imap")
        #expect(imap.mailMaxUserIPConnections == 20)
        #expect(imap.loginGreeting == "Hello")
        #expect(imap.authMechanisms == ["plain"])
        let pop3 = c.effective(forProtocol: "pop3")
        #expect(pop3.mailMaxUserIPConnections == 10)
        #expect(pop3.loginGreeting == "Hi POP")
        #expect(pop3.authMechanisms == ["plain", "login"])
    }

    @Test func renderNonDefault() throws {
        let loaded = try load("""
        protocols = imap imaps
        listen = *, ::
        login_greeting = Mail # here
        mail_plugins = quota
        ssl_cert = </etc/ssl/mail.pem
        passdb {
          driver = pam
        }
        service imap-login {
          inet_listener imap {
            address = 127.0.0.1
          }
        }
        namespace inbox {
          mailbox "Sent Messages" {
            special_use = \\Sent
          }
        }
        service imap-login {
          process_min_avail = 1
        }
        protocol imap {
          mail_max_userip_connections = 20
        }
        remote 10.0.0.0/8 {
          login_greeting = inside
        }
        plugin {
          quota = maildir:User quota
        }
        """)
        #expect(loaded.renderNonDefault() == """
        # roost config
        login_greeting = Mail
        mail_plugins = quota
        namespace inbox {
          mailbox "Sent Messages" {
            special_use = \\Sent
          }
        }
        passdb {
          driver = pam
        }
        plugin {
          quota = maildir:User quota
        }
        protocol imap {
          mail_max_userip_connections = 20
        }
        protocols = imap
        remote 10.0.0.0/8 { # not yet active in Roost
          login_greeting = inside
        }
        service imap-login {
          inet_listener imap {
            address = 127.0.0.1
          }
          process_min_avail = 1
        }
        ssl_cert = </etc/ssl/mail.pem

        """)
    }

    @Test func renderQuotesWhatWouldNotReparse() throws {
        let loaded = try load("login_greeting = \" padded # hash \"")
        #expect(loaded.renderNonDefault() == "# roost config\nlogin_greeting = \" padded # hash \"\n")
        let again = try load(loaded.renderNonDefault())
        #expect(again.config.loginGreeting == " padded # hash ")
    }

    @Test func renderHidesPasswords() throws {
        let loaded = try load("ssl_key_password = s3cret")
        #expect(loaded.renderNonDefault() == "# roost config\nssl_key_password = # hidden\n")
        #expect(loaded.config.sslKeyPassword == "s3cret")
    }

    @Test func settingsTableIsConsistent() {
        var seen: Set<String> = []
        for d in SettingsTable.definitions {
            #expect(seen.insert("\(d.scope).\(d.name)").inserted, "duplicate \(d.name)")
            #expect(ConfigValidator.problem(with: d.defaultValue, as: d.type) == nil || d.defaultValue.isEmpty,
                    "default of \(d.name) does not parse")
            // Every setting is Dovecot's, or says in its doc line that it is Roost's own.
            if !d.doc.hasPrefix("Roost-only") {
                #expect(SettingsTable.dovecotNames(d.scope).contains(d.name), "\(d.name) is not a Dovecot 2.3 name")
            }
        }
        #expect(SettingsTable.definition("login_max_ip_connections")?.doc.contains("Roost-only") == true)
    }

    @Test func debianStockConfigLoads() throws {
        let path = "/etc/dovecot/dovecot.conf"
        guard FileManager.default.isReadableFile(atPath: path) else { return }
        let loaded = try ConfigLoader.load(path: path)
        #expect(loaded.config.protocols.contains("imap"))
        #expect(loaded.config.namespaces.first?.mailboxes.isEmpty == false)
        #expect(loaded.renderNonDefault().hasPrefix("# roost config\n"))
    }
}
