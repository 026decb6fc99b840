import Foundation
import Glibc
import Testing

/// Nested in PAMTests (serialized, root only) so it never runs `prepareSystem()`'s useradd and
/// chpasswd concurrently with PAMTests, nor loads the CPUs during PAMTests' timing checks.
extension PAMTests {
    /// Postfix's `smtpd_sasl_type = dovecot` against Roost's auth socket: a private Postfix
    /// instance (own config and queue directories in a temp dir, smtpd on a loopback port)
    /// authenticates SMTP clients as the PAM test users.
    @Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/postfix")))
    struct PostfixSASLTests {
        /// A private Postfix instance under `directory`; `postfix start` returns once the
        /// master has bound its listeners (it waits with `master -w`).
        final class PostfixInstance {
            let directory = RoostProcess.makeTempDirectory()
            var configDirectory: String { directory + "/etc" }
            var logFile: String { directory + "/postfix.log" }
            let port = TestEnv.freePort()

            init(saslPath: String) throws {
                let fm = FileManager.default
                for sub in ["etc", "queue", "data"] {
                    try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
                }
                // Postfix locks data_directory/master.lock as mail_owner.
                guard let pw = getpwnam("postfix") else { throw ClientError("no postfix user") }
                chown(directory + "/data", pw.pointee.pw_uid, pw.pointee.pw_gid)
                try """
                compatibility_level = 3.6
                queue_directory = \(directory)/queue
                data_directory = \(directory)/data
                mail_owner = postfix
                myhostname = localhost.localdomain
                mydomain = localdomain
                mydestination =
                inet_interfaces = loopback-only
                inet_protocols = ipv4
                maillog_file_prefixes = \(directory)
                maillog_file = \(logFile)
                smtpd_tls_security_level = none
                smtpd_sasl_auth_enable = yes
                smtpd_sasl_type = dovecot
                smtpd_sasl_path = \(saslPath)
                smtpd_sasl_security_options = noanonymous

                """.write(toFile: configDirectory + "/main.cf", atomically: true, encoding: .utf8)
                // chroot column "n" everywhere: smtpd reaches the auth socket by its absolute path.
                try """
                127.0.0.1:\(port) inet n - n - - smtpd
                cleanup   unix n - n - 0 cleanup
                qmgr      unix n - n 300 1 qmgr
                rewrite   unix - - n - - trivial-rewrite
                bounce    unix - - n - 0 bounce
                defer     unix - - n - 0 bounce
                trace     unix - - n - 0 bounce
                verify    unix - - n - 1 verify
                flush     unix n - n 1000? 0 flush
                proxymap  unix - - n - - proxymap
                showq     unix n - n - - showq
                error     unix - - n - - error
                retry     unix - - n - - error
                discard   unix - - n - - discard
                anvil     unix - - n - 1 anvil
                scache    unix - - n - 1 scache
                postlog   unix-dgram n - n - 1 postlogd

                """.write(toFile: configDirectory + "/master.cf", atomically: true, encoding: .utf8)
            }

            func postfix(_ command: String) throws {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/sbin/postfix")
                p.arguments = ["-c", configDirectory, command]
                let out = Pipe()
                p.standardOutput = out
                p.standardError = out
                try p.run()
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                guard p.terminationStatus == 0 else {
                    throw ClientError("postfix \(command) failed: \(text)\n\(log)")
                }
            }

            var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

            /// postlogd appends to the log file asynchronously and Postfix offers nothing to wait
            /// on, so this polls the file, bounded by `timeout`.
            func waitForLog(_ text: String, timeout: Double = 20) -> Bool {
                let deadline = Date().addingTimeInterval(timeout)
                while !log.contains(text) {
                    if Date() > deadline { return false }
                    usleep(20_000)
                }
                return true
            }

            func stop() {
                try? postfix("stop")
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

        /// One SMTP reply (all lines, CRLF stripped); the last line has a space after the code.
        static func reply(_ c: LineClient) throws -> [String] {
            var lines: [String] = []
            while let line = try c.readLine() {
                lines.append(line)
                if line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] != "-" { return lines }
            }
            throw ClientError("EOF after \(lines)")
        }

        static func command(_ c: LineClient, _ text: String) throws -> [String] {
            try c.send(text + "\r\n")
            return try reply(c)
        }

        @Test func postfixAuthenticatesSMTPClientsThroughRoost() throws {
            let (roost, _) = try PAMTests.start(extra: """
            auth_mechanisms = plain login
            service auth {
              unix_listener $DIR/auth-client {
                mode = 0666
              }
            }
            """)
            defer { roost.stop() }
            let socketPath = roost.directory + "/auth-client"
            #expect(roost.waitForLog("auth: listening on \(socketPath)") != nil)

            let postfix = try PostfixInstance(saslPath: socketPath)
            defer { postfix.stop() }
            try postfix.postfix("check")
            try postfix.postfix("start")

            let c = try LineClient(port: postfix.port, timeout: 30)
            let banner = try Self.reply(c)
            #expect(banner.last?.hasPrefix("220 ") == true, "\(banner)")
            let ehlo = try Self.command(c, "EHLO client.example")
            #expect(ehlo.contains("250-AUTH PLAIN LOGIN"), "\(ehlo)\n\(postfix.log)")

            let good = Data("\0roostpam\0Corr3ct-Horse".utf8).base64EncodedString()
            let ok = try Self.command(c, "AUTH PLAIN \(good)")
            #expect(ok == ["235 2.7.0 Authentication successful"], "\(ok)\n\(postfix.log)")

            // A second session: SMTP allows one successful AUTH per session.
            let c2 = try LineClient(port: postfix.port, timeout: 30)
            _ = try Self.reply(c2)
            _ = try Self.command(c2, "EHLO client.example")
            let bad = Data("\0roostpam\0wrong".utf8).base64EncodedString()
            let fail = try Self.command(c2, "AUTH PLAIN \(bad)")
            // Roost's FAIL carries no reason= (as Dovecot's for a wrong password): Postfix fills in its own.
            #expect(fail == ["535 5.7.8 Error: authentication failed: (reason unavailable)"], "\(fail)\n\(postfix.log)")

            // LOGIN goes through the auth protocol's CONT round trips.
            let c3 = try LineClient(port: postfix.port, timeout: 30)
            _ = try Self.reply(c3)
            _ = try Self.command(c3, "EHLO client.example")
            let user = try Self.command(c3, "AUTH LOGIN")
            #expect(user == ["334 VXNlcm5hbWU6"], "\(user)")
            let pass = try Self.command(c3, Data("roostpam".utf8).base64EncodedString())
            #expect(pass == ["334 UGFzc3dvcmQ6"], "\(pass)")
            let loginOK = try Self.command(c3, Data("Corr3ct-Horse".utf8).base64EncodedString())
            #expect(loginOK == ["235 2.7.0 Authentication successful"], "\(loginOK)\n\(postfix.log)")

            for client in [c, c2, c3] { _ = try Self.command(client, "QUIT") }
            // Postfix's own log (the line fail2ban's postfix-sasl filter reads) names the user from Roost's FAIL.
            let failureLine = "SASL PLAIN authentication failed: (reason unavailable), sasl_username=roostpam"
            #expect(postfix.waitForLog(failureLine), "\(postfix.log)")
            // Roost's log shows both attempts came in over the Postfix connection.
            #expect(roost.waitForLog("pam(roostpam,127.0.0.1") != nil, "\(roost.log.joined(separator: "\n"))")
        }
    }
}
