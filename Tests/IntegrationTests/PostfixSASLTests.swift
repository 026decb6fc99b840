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
        /// Postfix's smtpd on a loopback port, authenticating through Roost's auth socket.
        static func makePostfix(saslPath: String, port: Int) throws -> PrivatePostfix {
            try PrivatePostfix(hostname: "localhost.localdomain", main: """
                smtpd_tls_security_level = none
                smtpd_sasl_auth_enable = yes
                smtpd_sasl_type = dovecot
                smtpd_sasl_path = \(saslPath)
                smtpd_sasl_security_options = noanonymous
                """, services: ["127.0.0.1:\(port) inet n - n - - smtpd"])
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

            let port = TestEnv.freePort()
            let postfix = try Self.makePostfix(saslPath: socketPath, port: port)
            defer { postfix.stop() }
            try postfix.postfix("check")
            try postfix.postfix("start")

            let c = try LineClient(port: port, timeout: 30)
            let banner = try Self.reply(c)
            #expect(banner.last?.hasPrefix("220 ") == true, "\(banner)")
            let ehlo = try Self.command(c, "EHLO client.example")
            #expect(ehlo.contains("250-AUTH PLAIN LOGIN"), "\(ehlo)\n\(postfix.log)")

            let good = Data("\0roostpam\0Corr3ct-Horse".utf8).base64EncodedString()
            let ok = try Self.command(c, "AUTH PLAIN \(good)")
            #expect(ok == ["235 2.7.0 Authentication successful"], "\(ok)\n\(postfix.log)")

            // A second session: SMTP allows one successful AUTH per session.
            let c2 = try LineClient(port: port, timeout: 30)
            _ = try Self.reply(c2)
            _ = try Self.command(c2, "EHLO client.example")
            let bad = Data("\0roostpam\0wrong".utf8).base64EncodedString()
            let fail = try Self.command(c2, "AUTH PLAIN \(bad)")
            // Roost's FAIL carries no reason= (as Dovecot's for a wrong password): Postfix fills in its own.
            #expect(fail == ["535 5.7.8 Error: authentication failed: (reason unavailable)"], "\(fail)\n\(postfix.log)")

            // LOGIN goes through the auth protocol's CONT round trips.
            let c3 = try LineClient(port: port, timeout: 30)
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
