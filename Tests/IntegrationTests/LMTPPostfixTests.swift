import Foundation
import Glibc
import Testing

/// LMTP STARTTLS (RFC 3207 over RFC 2033) through the built binary, and the whole path an
/// operator builds: a private Postfix instance delivering over LMTP (with STARTTLS) into
/// Roost, the mail read back over IMAP byte for byte.
@Suite struct LMTPStartTLSTests {
    /// An instance with LMTP on a loopback port, ssl = yes and a certificate made with openssl.
    static func start(extra: String = "") throws -> (RoostProcess, lmtp: Int) {
        let dir = RoostProcess.makeTempDirectory()
        try IMAPTLSTests.makeCertificate(in: dir, name: "cert", cn: "localhost")
        return try LMTPTests.start(extra: """
        ssl_cert = <$DIR/cert.pem
        ssl_key = <$DIR/cert.key
        \(extra)
        """, directory: dir, edit: { $0.replacingOccurrences(of: "ssl = no", with: "ssl = yes") })
    }

    /// A raw client (Python's ssl = OpenSSL) that pipelines plaintext behind STARTTLS, then
    /// speaks over TLS; prints each reply line as JSON.
    static let injectionScript = #"""
    import json, socket, ssl, sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
    f = s.makefile("rb")
    def line(src):
        l = src.readline().decode().rstrip("\r\n")
        print(json.dumps(l), flush=True)
        return l
    def until_last(src):
        while True:
            l = line(src)
            if len(l) < 4 or l[3] != "-":
                return
    line(f)
    s.sendall(b"LHLO client\r\n"); until_last(f)
    s.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    line(f)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s, server_hostname="localhost")
    print(json.dumps("TLS " + t.version()), flush=True)
    g = t.makefile("rb")
    t.sendall(b"RCPT TO:<pepa@example.org>\r\n"); line(g)
    t.sendall(b"LHLO client\r\n"); until_last(g)
    t.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<pepa@example.org>\r\nDATA\r\n"); line(g); line(g); line(g)
    t.sendall(b"Subject: over TLS\r\n\r\nsecret body\r\n.\r\nQUIT\r\n"); line(g); line(g)
    """#

    @Test func startTLSIsOfferedAndPipelinedPlaintextIsDiscarded() throws {
        let (roost, port) = try Self.start()
        defer { roost.stop() }
        let r = try TestTool.run("/usr/bin/env", ["python3", "-c", Self.injectionScript, "127.0.0.1", String(port)])
        let lines = r.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8), options: .fragmentsAllowed) as? String }
        #expect(r.status == 0, "\(r.err)")
        // LHLO before TLS offers STARTTLS last.
        #expect(lines.contains("250 STARTTLS"), "\(lines)")
        #expect(lines.contains("220 2.0.0 Begin TLS negotiation now."))
        #expect(lines.contains { $0.hasPrefix("TLS TLSv1.") })
        // The MAIL FROM sent in plaintext behind STARTTLS was never executed.
        #expect(lines.contains("503 5.5.1 MAIL needed first"), "\(lines)")
        let afterTLS = lines.drop { !$0.hasPrefix("TLS ") }
        #expect(!afterTLS.contains { $0.contains("STARTTLS") }, "no STARTTLS once TLS is up: \(lines)")
        #expect(afterTLS.contains { $0.hasPrefix("250 2.0.0 <pepa@example.org> ") && $0.hasSuffix(" Saved") })
        #expect(LMTPTests.messages(roost, "pepa").values.contains { String(decoding: $0, as: UTF8.self).hasSuffix("\r\n\r\nsecret body\r\n") })
    }

    @Test func withoutCertificateStartTLSIsNotOffered() throws {
        let (roost, port) = try LMTPTests.start()
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        try c.send("LHLO x\r\n")
        var lhlo: [String] = []
        while let l = try c.readLine() { lhlo.append(l); if l.hasPrefix("250 ") { break } }
        #expect(!lhlo.contains { $0.contains("STARTTLS") })
        try c.send("STARTTLS\r\n")
        #expect(try c.readLine() == "502 5.5.1 STARTTLS not available")
    }
}

/// Postfix (Debian's package) as the MTA in front of Roost: `virtual_transport = lmtp:...`
/// with `lmtp_tls_security_level = encrypt`, mail injected with that instance's sendmail.
/// Root only: Postfix's master and postdrop need it (CI runs the tests as root).
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/postfix") && geteuid() == 0))
struct LMTPPostfixTests {
    /// Postfix's lmtp client towards Roost, TLS required.
    static func makePostfix(lmtpPort: Int) throws -> PrivatePostfix {
        try PrivatePostfix(hostname: "mta.localdomain", main: """
            virtual_mailbox_domains = example.org
            virtual_transport = lmtp:inet:[127.0.0.1]:\(lmtpPort)
            lmtp_tls_security_level = encrypt
            lmtp_tls_loglevel = 1
            """, services: ["pickup    unix n - n 60 1 pickup", "lmtp      unix - - n - - lmtp",
                            "tlsmgr    unix - - n 1000? 1 tlsmgr"])
    }

    /// The literal of `* 1 FETCH (BODY[TEXT] {n}` as the server sent it.
    static func fetchLiteral(_ c: LineClient, _ tag: String, _ command: String) throws -> [UInt8] {
        let lines = try c.command(tag, command)
        let joined = Array(lines.joined(separator: "\r\n").utf8)
        guard let open = lines.first(where: { $0.hasPrefix("* ") && $0.hasSuffix("}") }),
              let brace = open.lastIndex(of: "{"), let n = Int(open[open.index(after: brace)...].dropLast()) else {
            throw ClientError("no literal in \(lines)")
        }
        let start = Array((open + "\r\n").utf8)
        guard let at = joined.firstRange(of: start)?.upperBound, at + n <= joined.count else { throw ClientError("short literal") }
        return Array(joined[at..<(at + n)])
    }

    @Test func postfixDeliversOverLMTPWithSTARTTLSAndIMAPReadsItBack() throws {
        let (roost, lmtpPort) = try LMTPStartTLSTests.start()
        defer { roost.stop() }
        let postfix = try Self.makePostfix(lmtpPort: lmtpPort)
        try postfix.postfix("start")
        defer { postfix.stop() }

        // 8-bit text, leading dots (stuffed by Postfix, unstuffed by Roost), a long line.
        let bodyLines = [
            "Grüße aus Prag — přes LMTP.", ".a line starting with a dot", "..two dots", ".",
            String(repeating: "x", count: 900), "", "last line",
        ]
        let body = bodyLines.joined(separator: "\r\n") + "\r\n"
        let message = "From: Sender <sender@example.org>\r\nTo: pepa@example.org\r\nSubject: via postfix\r\n" +
            "Message-ID: <postfix-e2e@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body
        let sent = try TestTool.run("/usr/sbin/sendmail", ["-C", postfix.configDirectory, "-f", "sender@example.org", "-i",
                                                           "pepa@example.org"], input: message)
        #expect(sent.status == 0, "\(sent.err)")

        // Poll the Maildir with a deadline (Postfix's pickup is triggered by postdrop).
        let deadline = Date().addingTimeInterval(30)
        while LMTPTests.messages(roost, "pepa").isEmpty && Date() < deadline { usleep(50_000) }
        #expect(LMTPTests.messages(roost, "pepa").count == 1, "postfix log:\n\(postfix.log)")

        let port = try #require(roost.port())
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN pepa secret").last?.hasPrefix("a OK") == true)
        #expect(try c.command("b", "SELECT INBOX").contains("* 1 EXISTS"))
        let text = try Self.fetchLiteral(c, "c", "FETCH 1 BODY.PEEK[TEXT]")
        #expect(text == Array(body.utf8), "body byte for byte: \(String(decoding: text, as: UTF8.self))")
        let header = String(decoding: try Self.fetchLiteral(c, "d", "FETCH 1 BODY.PEEK[HEADER]"), as: UTF8.self)
        #expect(header.hasPrefix("Return-Path: <sender@example.org>\r\nDelivered-To: pepa@example.org\r\n"))
        #expect(header.contains("Message-ID: <postfix-e2e@example.org>"))
        let log = postfix.log
        #expect(log.contains("TLS connection established to 127.0.0.1"), "Postfix used STARTTLS:\n\(log)")
        #expect(log.contains("status=sent (250 2.0.0 <pepa@example.org> "), "\(log)")
    }
}
