import Foundation
import Testing

/// Every TLS endpoint (IMAPS, IMAP STARTTLS, POP3S, POP3 STLS) with two independent client
/// stacks: the openssl CLI (s_client) and Python's ssl. TLS 1.2 and 1.3 succeed; 1.0 and 1.1
/// are refused even when the client lowers its own security level to offer them.
@Suite struct TLSVersionTests {
    struct Endpoint {
        let name: String, port: Int
        /// s_client's -starttls value and tlsprobe's mode; nil = implicit TLS.
        let starttls: String?
    }

    static func start() throws -> (RoostProcess, [Endpoint]) {
        let imap = TestEnv.freePort(), imaps = TestEnv.freePort(), pop3 = TestEnv.freePort(), pop3s = TestEnv.freePort()
        let dir = RoostProcess.makeTempDirectory()
        try IMAPTLSTests.makeCertificate(in: dir, name: "cert", cn: "localhost")
        let config = TestEnv.config(port: imap, extra: """
            ssl_cert = <$DIR/cert.pem
            ssl_key = <$DIR/cert.key
            service pop3-login {
              inet_listener pop3 {
                port = \(pop3)
              }
              inet_listener pop3s {
                port = \(pop3s)
              }
            }
            """)
            .replacingOccurrences(of: "protocols = imap", with: "protocols = imap pop3")
            .replacingOccurrences(of: "ssl = no", with: "ssl = yes")
            .replacingOccurrences(of: "inet_listener imaps {\n    port = 0", with: "inet_listener imaps {\n    port = \(imaps)")
        let roost = try RoostProcess(config: config, files: ["users": TestEnv.usersFile([("pepa", "secret")])], directory: dir)
        try roost.start()
        guard roost.waitForLog("starting up") != nil else { throw ClientError("no start: \(roost.log)") }
        return (roost, [Endpoint(name: "imaps", port: imaps, starttls: nil), Endpoint(name: "imap", port: imap, starttls: "imap"),
                        Endpoint(name: "pop3s", port: pop3s, starttls: nil), Endpoint(name: "pop3", port: pop3, starttls: "pop3")])
    }

    /// `openssl s_client` with exactly one protocol version; the negotiated version or nil.
    static func sClient(_ e: Endpoint, version flag: String) throws -> (version: String?, output: String) {
        var args = ["s_client", "-connect", "127.0.0.1:\(e.port)", flag, "-brief"]
        if let proto = e.starttls { args += ["-starttls", proto] }
        // OpenSSL 3 will not even offer TLS 1.0/1.1 at the default security level.
        if flag == "-tls1" || flag == "-tls1_1" { args += ["-cipher", "DEFAULT:@SECLEVEL=0"] }
        let r = try TestTool.run("/usr/bin/openssl", args, input: "")
        let text = r.out + r.err
        let line = text.split(separator: "\n").first { $0.hasPrefix("Protocol version: ") }
        return (r.status == 0 ? line.map { String($0.dropFirst("Protocol version: ".count)) } : nil, text)
    }

    @Test func opensslCLIAndPythonNegotiateOnly12And13Everywhere() throws {
        let (roost, endpoints) = try Self.start()
        defer { roost.stop() }
        for e in endpoints {
            for (flag, expected) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
                let r = try Self.sClient(e, version: flag)
                #expect(r.version == expected, "\(e.name) \(flag): \(r.output)")
            }
            for flag in ["-tls1", "-tls1_1"] {
                let r = try Self.sClient(e, version: flag)
                #expect(r.version == nil, "\(e.name) \(flag) must be refused: \(r.output)")
            }
            let py = try IMAPTLSTests.probe(["versions", "127.0.0.1", String(e.port), e.starttls ?? "implicit"])
            #expect(py["1.2"] as? String == "TLSv1.2", "\(e.name): \(py)")
            #expect(py["1.3"] as? String == "TLSv1.3", "\(e.name): \(py)")
            #expect((py["1.0"] as? String)?.hasPrefix("error") == true, "\(e.name): \(py)")
            #expect((py["1.1"] as? String)?.hasPrefix("error") == true, "\(e.name): \(py)")
        }
        // Refusals are logged with OpenSSL's reason, by the login process of the right protocol.
        #expect(roost.waitForLog("pop3-login: Info: Disconnected: TLS handshake failed: SSL_accept() failed") != nil)
        #expect(roost.waitForLog("imap-login: Info: Disconnected: TLS handshake failed: SSL_accept() failed") != nil)
    }
}
