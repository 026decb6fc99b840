import Foundation
import Glibc
import Testing

/// IMAPS, STARTTLS and the plaintext-auth policy against the built binary, with Python's ssl
/// module (OpenSSL) and the openssl CLI as clients.
@Suite struct IMAPTLSTests {
    static let probe = ConfigCommandTests.repoRoot + "/Tests/Fixtures/scripts/tlsprobe.py"

    /// Runs tlsprobe.py and decodes its last JSON line.
    static func probe(_ args: [String]) throws -> [String: Any] {
        let r = try TestTool.run("/usr/bin/env", ["python3", probe] + args)
        let last = r.out.split(separator: "\n").last.map(String.init) ?? "{}"
        return (try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]) ?? [:]
    }

    /// A certificate made with the openssl CLI (independent of Roost's own generator).
    static func makeCertificate(in dir: String, name: String, cn: String, days: Int = 2) throws {
        let r = try TestTool.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem", "-days", String(days),
            "-subj", "/CN=\(cn)", "-addext", "subjectAltName=DNS:\(cn),IP:127.0.0.1"])
        guard r.status == 0 else { throw ClientError("openssl req failed: \(r.err)") }
    }

    /// An instance with plain IMAP on `port` and IMAPS on `tlsPort`, certificate CN=localhost.
    static func start(extra: String = "", listen: String = "127.0.0.1") throws -> (RoostProcess, Int, Int) {
        let port = TestEnv.freePort(), tlsPort = TestEnv.freePort()
        let dir = RoostProcess.makeTempDirectory()
        try makeCertificate(in: dir, name: "cert", cn: "localhost")
        try makeCertificate(in: dir, name: "other", cn: "mail.example.org")
        var config = TestEnv.config(port: port, extra: """
        ssl_cert = <$DIR/cert.pem
        ssl_key = <$DIR/cert.key
        login_handshake_timeout = 2 secs
        local_name mail.example.org {
          ssl_cert = <$DIR/other.pem
          ssl_key = <$DIR/other.key
        }
        \(extra)
        """)
        config = config.replacingOccurrences(of: "ssl = no", with: "ssl = yes")
            .replacingOccurrences(of: "disable_plaintext_auth = no", with: "disable_plaintext_auth = yes")
            .replacingOccurrences(of: "listen = 127.0.0.1", with: "listen = \(listen)")
            .replacingOccurrences(of: "inet_listener imaps {\n    port = 0", with: "inet_listener imaps {\n    port = \(tlsPort)")
        let roost = try RoostProcess(config: config, files: ["users": TestEnv.usersFile([("pepa", "secret")])], directory: dir)
        try roost.start()
        guard roost.waitForLog("starting up") != nil else { throw ClientError("no start: \(roost.log)") }
        return (roost, port, tlsPort)
    }

    @Test func imapsSpeaksTLS12And13AndRefusesOlder() throws {
        let (roost, _, tlsPort) = try Self.start()
        defer { roost.stop() }
        for v in ["1.2", "1.3"] {
            let r = try Self.probe(["greet", "127.0.0.1", String(tlsPort), v, v])
            #expect(r["ok"] as? Bool == true, "TLS \(v): \(r)")
            #expect(r["version"] as? String == "TLSv\(v)")
            #expect((r["greeting"] as? String)?.hasPrefix("* OK [CAPABILITY IMAP4rev1 SASL-IR ID LITERAL+ AUTH=PLAIN AUTH=LOGIN]") == true)
        }
        for v in ["1.0", "1.1"] {
            let r = try Self.probe(["greet", "127.0.0.1", String(tlsPort), v, v])
            #expect(r["ok"] as? Bool == false, "TLS \(v) must be refused: \(r)")
        }
        #expect(roost.waitForLog("TLS handshake failed: SSL_accept() failed") != nil)
        #expect(roost.waitForLog("TLS handshaking, session=<") != nil)
    }

    @Test func starttlsDropsPipelinedPlaintext() throws {
        let (roost, port, _) = try Self.start()
        defer { roost.stop() }
        let r = try Self.probe(["starttls-inject", "127.0.0.1", String(port)])
        #expect((r["greeting"] as? String)?.contains("STARTTLS") == true)
        #expect(r["starttls"] as? String == "a OK Begin TLS negotiation now.")
        // "b LOGOUT" was sent before the handshake: it is never answered inside TLS.
        #expect(r["after"] as? [String] == ["c OK NOOP completed."])
        #expect(r["capability"] as? [String] == [
            "* CAPABILITY IMAP4rev1 SASL-IR ID LITERAL+ AUTH=PLAIN AUTH=LOGIN",
            "d OK Pre-login capabilities listed, post-login capabilities have more.",
        ])
    }

    @Test func plaintextAuthIsRefusedFromAnotherAddressUntilTLS() throws {
        let (roost, port, _) = try Self.start(listen: "127.0.0.1")
        defer { roost.stop() }
        // 127.0.0.2 → 127.0.0.1 is not "the host talking to itself" and not a trusted network.
        let plain = try Self.probe(["login", "127.0.0.1", String(port), "pepa", "secret", "127.0.0.2"])
        #expect((plain["greeting"] as? String)?.contains("STARTTLS LOGINDISABLED") == true)
        #expect((plain["greeting"] as? String)?.contains("AUTH=PLAIN") == false)
        #expect(plain["login"] as? [String] == ["l NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."])
        #expect(plain["authenticate"] as? [String] == ["p NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."])
        let secure = try Self.probe(["login", "127.0.0.1", String(port), "pepa", "secret", "127.0.0.2", "starttls"])
        #expect(secure["starttls"] as? String == "s OK Begin TLS negotiation now.")
        #expect((secure["login"] as? [String])?.last == "l OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
        let line = roost.waitForLog("Login: user=<pepa>, method=PLAIN, rip=127.0.0.2, lip=127.0.0.1, mpid=")
        #expect(line?.contains(", TLS, session=<") == true)
    }

    @Test func trustedNetworkMayUsePlaintext() throws {
        let (roost, port, _) = try Self.start(extra: "login_trusted_networks = 127.0.0.2/32")
        defer { roost.stop() }
        let r = try Self.probe(["login", "127.0.0.1", String(port), "pepa", "secret", "127.0.0.2"])
        #expect((r["login"] as? [String])?.last == "l OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
    }

    @Test func sniPicksTheNamedCertificate() throws {
        let (roost, _, tlsPort) = try Self.start()
        defer { roost.stop() }
        let named = try Self.probe(["greet", "127.0.0.1", String(tlsPort), "1.2", "1.3", "mail.example.org"])
        #expect((named["subject"] as? String)?.contains("CN = mail.example.org") == true, "\(named)")
        let other = try Self.probe(["greet", "127.0.0.1", String(tlsPort), "1.2", "1.3", "localhost"])
        #expect((other["subject"] as? String)?.contains("CN = localhost") == true, "\(other)")
    }

    @Test func loggedInSessionOverIMAPSIsProxiedToTheMailProcess() throws {
        let (roost, _, tlsPort) = try Self.start()
        defer { roost.stop() }
        let c = try TLSLineSession(port: tlsPort)
        #expect(c.first["login"] as? [String] == ["l OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in"])
        #expect(c.next()["noop"] as? [String] == ["n OK NOOP completed."])
    }

    @Test func sighupSwapsTheCertificateWhileOpenSessionsContinue() throws {
        let (roost, _, tlsPort) = try Self.start()
        defer { roost.stop() }
        let open = try TLSLineSession(port: tlsPort)
        #expect((open.first["subject"] as? String)?.contains("CN = localhost") == true)
        try Self.makeCertificate(in: roost.directory, name: "cert", cn: "renewed.test")
        let mark = roost.log.count
        roost.signal(SIGHUP)
        #expect(roost.waitForLog("Configuration reloaded", after: mark) != nil)
        let fresh = try Self.probe(["greet", "127.0.0.1", String(tlsPort), "1.2", "1.3"])
        #expect((fresh["subject"] as? String)?.contains("CN = renewed.test") == true, "\(fresh)")
        #expect(open.next()["noop"] as? [String] == ["n OK NOOP completed."])
    }

    @Test func stalledHandshakeIsDisconnectedAndManyHandshakesComplete() throws {
        let (roost, _, tlsPort) = try Self.start()
        defer { roost.stop() }
        let stalled = try Self.probe(["stall", "127.0.0.1", String(tlsPort)])
        #expect(stalled["closed"] as? Bool == true, "\(stalled)")
        #expect(roost.waitForLog("TLS handshake timed out") != nil)
        let many = try Self.probe(["many", "127.0.0.1", String(tlsPort), "500"])
        #expect(many["ok"] as? Int == 500, "\(many)")
    }

    @Test func badCertificateStopsStartupNamingTheFile() throws {
        let dir = RoostProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.makeCertificate(in: dir, name: "a", cn: "a.test")
        try Self.makeCertificate(in: dir, name: "b", cn: "b.test")
        let cases: [(String, String, String)] = [
            ("<$DIR/a.pem", "<$DIR/b.key", "\(dir)/b.key does not match the certificate in \(dir)/a.pem"),
            ("<$DIR/missing.pem", "<$DIR/a.key", "\(dir)/missing.pem"),
        ]
        for (cert, key, message) in cases {
            let port = TestEnv.freePort()
            let config = TestEnv.config(port: port).replacingOccurrences(of: "ssl = no", with: "ssl = yes\nssl_cert = \(cert)\nssl_key = \(key)")
            let roost = try RoostProcess(config: config, files: ["users": ""], directory: dir)
            try roost.start()
            let status = roost.waitForExit(timeout: 10)
            #expect(status != nil && status != 0)
            #expect(roost.log.contains { $0.contains(message) }, "\(roost.log)")
        }
    }
}

/// Holds an IMAPS session open across steps (tlsprobe.py session mode).
final class TLSLineSession {
    let process = Process()
    let input = Pipe(), output = Pipe()
    private(set) var first: [String: Any] = [:]
    private var reader: FileHandle { output.fileHandleForReading }

    init(port: Int) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", IMAPTLSTests.probe, "session", "127.0.0.1", String(port), "pepa", "secret"]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        first = readJSON()
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    func next() -> [String: Any] {
        input.fileHandleForWriting.write(Data("go\n".utf8))
        return readJSON()
    }

    private func readJSON() -> [String: Any] {
        var line = Data()
        while true {
            let byte = reader.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([10]) { break }
            line.append(byte)
        }
        return ((try? JSONSerialization.jsonObject(with: line)) as? [String: Any]) ?? [:]
    }
}
