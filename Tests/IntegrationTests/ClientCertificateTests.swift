import Foundation
import Testing

/// Client certificates (ssl_ca, ssl_verify_client_cert, ssl_require_crl,
/// auth_ssl_require_client_cert, auth_ssl_username_from_cert) over IMAPS, with a small CA,
/// a CRL and certificates made by the openssl CLI.
@Suite struct ClientCertificateTests {
    /// ca.pem (+ ca.key), crl.pem revoking kim.pem; pepa.pem signed by the CA; stranger.pem
    /// self-signed with CN=pepa (same name, wrong issuer).
    static func makePKI(in dir: String) throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func openssl(_ args: [String]) throws {
            let r = try TestTool.run("/usr/bin/openssl", args, directory: dir)
            guard r.status == 0 else { throw ClientError("openssl \(args.prefix(2)) failed: \(r.err)") }
        }
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Roost Test CA"])
        for (name, serial) in [("pepa", "5"), ("kim", "7")] {
            try openssl(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                         "-set_serial", serial, "-out", "\(name).pem", "-days", "2"])
        }
        try openssl(["req", "-x509"] + ec + ["-keyout", "stranger.key", "-out", "stranger.pem", "-days", "2", "-subj", "/CN=pepa"])
        try "[ca]\ndefault_ca = t\n[t]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n"
            .write(toFile: dir + "/ca.cnf", atomically: true, encoding: .utf8)
        try Data().write(to: URL(fileURLWithPath: dir + "/index.txt"))
        try "01\n".write(toFile: dir + "/crlnumber", atomically: true, encoding: .utf8)
        try openssl(["ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem", "-revoke", "kim.pem"])
        try openssl(["ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem", "-gencrl", "-out", "crl.pem"])
        let both = try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8) + String(contentsOfFile: dir + "/crl.pem", encoding: .utf8)
        try both.write(toFile: dir + "/ca+crl.pem", atomically: true, encoding: .utf8)
    }

    static func login(_ port: Int, _ dir: String, cert: String?, user: String = "pepa", password: String = "secret") throws -> String {
        let c = cert.map { "\(dir)/\($0).pem" } ?? "-", k = cert.map { "\(dir)/\($0).key" } ?? "-"
        let r = try IMAPTLSTests.probe(["certlogin", "127.0.0.1", String(port), c, k, user, password])
        return (r["login"] as? [String])?.last ?? "\(r)"
    }

    /// A private CA (see makePKI) and a Roost whose IMAPS verifies client certificates
    /// against `ca` (a file of it) with `extra` settings.
    static func withPKI(ca: String, _ extra: String, _ body: (RoostProcess, Int, String) throws -> Void) throws {
        let pki = RoostProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: pki) }
        try makePKI(in: pki)
        let (roost, _, tlsPort) = try IMAPTLSTests.start(extra: "ssl_ca = <\(pki)/\(ca)\nssl_verify_client_cert = yes\n" + extra)
        defer { roost.stop() }
        try body(roost, tlsPort, pki)
    }

    @Test func requiredCertificateMustVerifyAgainstCAAndCRL() throws {
        try Self.withPKI(ca: "ca+crl.pem", "auth_ssl_require_client_cert = yes") { roost, tlsPort, pki throws in
            #expect(try Self.login(tlsPort, pki, cert: "pepa").hasPrefix("l OK [CAPABILITY"))
            #expect(roost.waitForLog("imap-login: Info: Login: user=<pepa>, method=PLAIN") != nil)

            let refused = "l NO [ALERT] Client didn't present valid SSL certificate"
            let none = try Self.login(tlsPort, pki, cert: nil)
            #expect(none == refused)
            #expect(roost.waitForLog("(client didn't send a cert)") != nil)
            // Same name, wrong issuer.
            let stranger = try Self.login(tlsPort, pki, cert: "stranger")
            #expect(stranger == refused)
            #expect(roost.waitForLog("(client sent an invalid cert: unable to get certificate CRL)") != nil)
            let revoked = try Self.login(tlsPort, pki, cert: "kim")
            #expect(revoked == refused)
            #expect(roost.waitForLog("(client sent an invalid cert: certificate revoked)") != nil)
        }
    }

    @Test func optionalCertificateCanNameTheUser() throws {
        // Without a CRL in ssl_ca, ssl_require_crl = yes (the default) makes every certificate
        // invalid, as in Dovecot; this instance turns it off.
        try Self.withPKI(ca: "ca.pem", "ssl_require_crl = no\nauth_ssl_username_from_cert = yes") { roost, tlsPort, pki throws in
            // The certificate is optional here; without one the login name counts.
            #expect(try Self.login(tlsPort, pki, cert: nil).hasPrefix("l OK [CAPABILITY"))
            // With one, its commonName replaces the login name; the password is still checked.
            #expect(try Self.login(tlsPort, pki, cert: "pepa", user: "someone").hasPrefix("l OK [CAPABILITY"))
            #expect(roost.waitForLog("Login: user=<pepa>, method=PLAIN", after: 0) != nil)
            #expect(try Self.login(tlsPort, pki, cert: "pepa", user: "pepa", password: "wrong")
                .hasPrefix("l NO [AUTHENTICATIONFAILED]"))
        }
    }

    /// ssl_require_crl = no: a CA without a CRL is fine, but a CRL in ssl_ca still revokes.
    @Test func crlThatIsThereCountsEvenWhenNotRequired() throws {
        try Self.withPKI(ca: "ca+crl.pem", "ssl_require_crl = no\nauth_ssl_require_client_cert = yes") { roost, tlsPort, pki throws in
            #expect(try Self.login(tlsPort, pki, cert: "pepa").hasPrefix("l OK [CAPABILITY"))
            let revoked = try Self.login(tlsPort, pki, cert: "kim")
            #expect(revoked == "l NO [ALERT] Client didn't present valid SSL certificate")
            #expect(roost.waitForLog("(client sent an invalid cert: certificate revoked)") != nil)
        }
    }

    @Test func verifyWithoutCAStopsStartup() throws {
        let dir = RoostProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try IMAPTLSTests.makeCertificate(in: dir, name: "cert", cn: "localhost")
        let config = TestEnv.config(port: TestEnv.freePort()).replacingOccurrences(
            of: "ssl = no", with: "ssl = yes\nssl_cert = <$DIR/cert.pem\nssl_key = <$DIR/cert.key\nssl_verify_client_cert = yes")
        let roost = try RoostProcess(config: config, files: ["users": ""], directory: dir)
        try roost.start()
        let status = roost.waitForExit(timeout: 10)
        #expect(status != nil && status != 0)
        #expect(roost.log.contains { $0.contains("ssl_verify_client_cert set, but ssl_ca not") }, "\(roost.log)")
    }
}
