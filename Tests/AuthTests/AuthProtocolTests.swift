import Testing
@testable import Auth

private func b64(_ s: String) -> String { SASLBase64.encode(Array(s.utf8)) }

struct AuthProtocolSyntaxTests {
    static let escapeCases: [(String, String)] = [
        ("plain", "plain"),
        ("a\tb", "a\u{1}tb"),
        ("a\nb\rc", "a\u{1}nb\u{1}rc"),
        ("\u{1}", "\u{1}1"),
        ("\0x", "\u{1}0x"),
        ("\r\n", "\u{1}r\u{1}n"),
        ("pä\t✓", "pä\u{1}t✓"),
    ]

    @Test(arguments: escapeCases)
    func escaping(_ c: (String, String)) {
        #expect(AuthProtocol.escape(c.0) == c.1)
        #expect(AuthProtocol.unescape(Substring(c.1)) == c.0)
    }

    @Test func unescapeUnknownAndTrailing() {
        #expect(AuthProtocol.unescape("a\u{1}xb") == "axb")
        #expect(AuthProtocol.unescape("a\u{1}") == "a")
    }

    @Test func lineRoundTrip() {
        let fields = ["USER", "1", "we\tird\nname", "home=/h\u{1}", ""]
        let line = AuthProtocol.line(fields)
        #expect(!line.contains("\n") && line.split(separator: "\t", omittingEmptySubsequences: false).count == 5)
        #expect(AuthProtocol.fields(of: line) == fields)
    }

    @Test func lineBufferSplitsAcrossReads() throws {
        let input = Array("VERSION\t1\t2\nCPID\t42\nAUTH\t1\tPLAIN\tservice=imap\n".utf8)
        // Feed one byte at a time: every split must give the same lines.
        var buffer = AuthLineBuffer()
        var lines: [String] = []
        for byte in input { lines += try buffer.append([byte]) }
        #expect(lines == ["VERSION\t1\t2", "CPID\t42", "AUTH\t1\tPLAIN\tservice=imap"])
        var whole = AuthLineBuffer()
        #expect(try whole.append(input) == lines)
        #expect(try whole.append(Array("partial".utf8)) == [])
    }

    @Test func lineBufferRejectsLongLinesAndBadUTF8() {
        var buffer = AuthLineBuffer(maxLineLength: 10)
        #expect(throws: AuthProtocolError.lineTooLong) { try buffer.append([UInt8](repeating: 65, count: 11)) }
        var buffer2 = AuthLineBuffer(maxLineLength: 10)
        #expect(throws: AuthProtocolError.lineTooLong) { try buffer2.append([UInt8](repeating: 65, count: 11) + [10]) }
        var buffer3 = AuthLineBuffer()
        #expect(throws: AuthProtocolError.invalidUTF8) { try buffer3.append([0xFF, 10]) }
    }

    static let clientMessages: [AuthClientMessage] = [
        .version(major: 1, minor: 2),
        .cpid("4242"),
        .auth(AuthRequest(id: 1, mechanism: "PLAIN", service: "smtp")),
        .auth(AuthRequest(id: 7, mechanism: "LOGIN", service: "imap", secured: true, validClientCert: true,
                          noPenalty: true, localIP: "127.0.0.1", remoteIP: "::1", localPort: 143,
                          remotePort: 50000, session: "abc+/=", initialResponse: "",
                          otherFields: [AuthField("nologin"), AuthField("cert_username", "x\ty")])),
        .cont(id: 3, data: b64("secret")),
        .cont(id: 3, data: ""),
        .cancel(id: 9),
    ]

    @Test(arguments: clientMessages)
    func clientMessageRoundTrip(_ m: AuthClientMessage) throws {
        #expect(try AuthClientMessage(parsing: m.line) == m)
    }

    static let serverMessages: [AuthServerMessage] = [
        .version(major: 1, minor: 2), .mech(name: "PLAIN", parameters: ["plaintext"]),
        .spid("1"), .cuid("2"), .cookie("00112233445566778899aabbccddeeff"), .done,
        .cont(id: 1, data: ""), .cont(id: 1, data: b64("Username:")),
        .ok(id: 5, fields: [AuthField("user", "a@b"), AuthField("nologin")]),
        .fail(id: 5, fields: [AuthField("user", "a"), AuthField("reason", "no\tway"), AuthField("temp")]),
    ]

    @Test(arguments: serverMessages)
    func serverMessageRoundTrip(_ m: AuthServerMessage) throws {
        #expect(try AuthServerMessage(parsing: m.line) == m)
    }

    @Test func authLineByteExact() {
        let r = AuthRequest(id: 1, mechanism: "PLAIN", service: "smtp", secured: true, noPenalty: true,
                            remoteIP: "192.0.2.1", initialResponse: b64("\0u\0p"))
        #expect(r.line == "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tno-penalty\trip=192.0.2.1\tresp=AHUAcA==")
    }

    @Test func postfixAuthLineParses() throws {
        // As sent by Postfix's xsasl_dovecot_server.c.
        let m = try AuthClientMessage(parsing: "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=10.0.0.1\trip=10.0.0.2\tsecured\tresp=AHVzZXIAcGFzcw==")
        guard case .auth(let r) = m else { Issue.record("not AUTH"); return }
        #expect(r.id == 1 && r.mechanism == "PLAIN" && r.service == "smtp" && r.secured)
        #expect(r.localIP == "10.0.0.1" && r.remoteIP == "10.0.0.2")
        #expect(r.initialResponse == "AHVzZXIAcGFzcw==")
        #expect(r.otherFields == [AuthField("nologin")])
    }

    static let badClientLines: [(String, AuthProtocolError)] = [
        ("", .emptyLine),
        ("HELLO\t1", .unknownCommand("HELLO")),
        ("VERSION\t1", .malformed(command: "VERSION", reason: "missing parameters")),
        ("VERSION\tx\t1", .malformed(command: "VERSION", reason: "non-numeric version")),
        ("CPID\tabc", .malformed(command: "CPID", reason: "invalid pid 'abc'")),
        ("CPID", .malformed(command: "CPID", reason: "missing parameters")),
        ("AUTH\t1", .malformed(command: "AUTH", reason: "missing id or mechanism")),
        ("AUTH\tx\tPLAIN\tservice=imap", .malformed(command: "AUTH", reason: "invalid id 'x'")),
        ("AUTH\t-1\tPLAIN\tservice=imap", .malformed(command: "AUTH", reason: "invalid id '-1'")),
        ("AUTH\t4294967296\tPLAIN\tservice=imap", .malformed(command: "AUTH", reason: "invalid id '4294967296'")),
        ("AUTH\t1\tPLAIN", .malformed(command: "AUTH", reason: "service parameter missing")),
        ("AUTH\t1\tPLAIN\tservice=", .malformed(command: "AUTH", reason: "service parameter missing")),
        ("AUTH\t1\t\tservice=imap", .malformed(command: "AUTH", reason: "empty mechanism")),
        ("AUTH\t1\tPLAIN\tservice=imap\tlport=99999", .malformed(command: "AUTH", reason: "invalid lport")),
        ("CONT", .malformed(command: "CONT", reason: "missing parameters")),
        ("CANCEL\t+1", .malformed(command: "CANCEL", reason: "invalid id '+1'")),
    ]

    @Test(arguments: badClientLines)
    func malformedClientLines(_ c: (String, AuthProtocolError)) {
        #expect(throws: c.1) { try AuthClientMessage(parsing: c.0) }
    }

    @Test func randomCookie() throws {
        let a = try AuthProtocol.randomCookie(), b = try AuthProtocol.randomCookie()
        #expect(a.count == 32 && a.allSatisfy(\.isHexDigit) && a == a.lowercased())
        #expect(a != b)
    }
}

/// Records verify() calls and hands out pending ids.
final class VerifyLog {
    var calls: [(user: String, password: String, request: AuthRequest)] = []
    var next: AuthPendingID = 100
    func verify(_ user: String, _ password: String, _ request: AuthRequest) -> AuthPendingID {
        calls.append((user, password, request))
        next += 1
        return next
    }
}

struct AuthProtocolServerTests {
    static let identity = AuthServerIdentity(pid: "1234", connectionID: 7, cookie: "0123456789abcdef0123456789abcdef")

    func makeSession() throws -> (AuthProtocolServerSession, VerifyLog) {
        let log = VerifyLog()
        let s = AuthProtocolServerSession(identity: Self.identity, verify: log.verify)
        #expect(try s.receive(line: "VERSION\t1\t0") == [])
        #expect(try s.receive(line: "CPID\t555") == [])
        return (s, log)
    }

    @Test func handshakeByteExact() {
        let s = AuthProtocolServerSession(identity: Self.identity) { _, _, _ in 0 }
        let wire = s.handshakeLines.map { $0 + "\n" }.joined()
        #expect(wire == "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t1234\nCUID\t7\nCOOKIE\t0123456789abcdef0123456789abcdef\nDONE\n")
    }

    @Test func plainSuccess() throws {
        let (s, log) = try makeSession()
        let out = try s.receive(line: "AUTH\t1\tPLAIN\tservice=smtp\tnologin\trip=192.0.2.9\tsecured\tresp=\(b64("\0alice\0secret"))")
        #expect(out == [])
        #expect(log.calls.count == 1)
        #expect(log.calls[0].user == "alice" && log.calls[0].password == "secret")
        #expect(log.calls[0].request.service == "smtp" && log.calls[0].request.remoteIP == "192.0.2.9")
        #expect(s.pendingCount == 1)
        #expect(s.complete(id: 101, result: .success(user: "alice@example.com")) == ["OK\t1\tuser=alice@example.com"])
        #expect(s.pendingCount == 0)
        #expect(s.complete(id: 101, result: .success(user: "x")) == [], "completed twice")
    }

    @Test func plainFailureAndTempFailure() throws {
        let (s, _) = try makeSession()
        _ = try s.receive(line: "AUTH\t1\tPLAIN\tservice=imap\tresp=\(b64("\0alice\0wrong"))")
        _ = try s.receive(line: "AUTH\t2\tPLAIN\tservice=imap\tresp=\(b64("\0bob\0pw"))")
        #expect(s.complete(id: 101, result: .failure()) == ["FAIL\t1\tuser=alice"])
        #expect(s.complete(id: 102, result: .failure(reason: "Try later", temporary: true)) ==
                ["FAIL\t2\tuser=bob\treason=Try later\tcode=temp_fail\ttemp"])
    }

    @Test func okCarriesPassdbFieldsEscaped() throws {
        let (s, _) = try makeSession()
        _ = try s.receive(line: "AUTH\t3\tPLAIN\tservice=imap\tresp=\(b64("\0a\0b"))")
        #expect(s.complete(id: 101, result: .success(user: "a", fields: [AuthField("nologin"), AuthField("reason", "x\ty")]))
                == ["OK\t3\tuser=a\tnologin\treason=x\u{1}ty"])
    }

    @Test func clientCertificatePolicy() throws {
        let (s, log) = try makeSession()
        s.certificatePolicy = ClientCertificatePolicy(requireValidCertificate: true, usernameFromCertificate: true)
        let resp = b64("\0typed\0pw")
        #expect(try s.receive(line: "AUTH\t1\tPLAIN\tservice=imap\tresp=\(resp)") ==
                ["FAIL\t1\treason=Client didn't present valid SSL certificate"])
        #expect(try s.receive(line: "AUTH\t2\tPLAIN\tservice=imap\tvalid-client-cert\tresp=\(resp)") ==
                ["FAIL\t2\treason=SSL certificate didn't contain username"])
        #expect(try s.receive(line: "AUTH\t3\tPLAIN\tservice=imap\tvalid-client-cert\tcert_username=pepa\tresp=\(resp)") == [])
        #expect(log.calls.map(\.user) == ["pepa"], "cert_username replaces the typed name")
        #expect(log.calls.map(\.password) == ["pw"], "the password is still checked")
        // Without the policy, cert_username is ignored.
        s.certificatePolicy = ClientCertificatePolicy()
        #expect(try s.receive(line: "AUTH\t4\tPLAIN\tservice=imap\tcert_username=pepa\tresp=\(resp)") == [])
        #expect(log.calls.map(\.user) == ["pepa", "typed"])
    }

    @Test func plainWithoutInitialResponseGetsEmptyChallenge() throws {
        let (s, log) = try makeSession()
        #expect(try s.receive(line: "AUTH\t4\tPLAIN\tservice=imap") == ["CONT\t4\t"])
        #expect(try s.receive(line: "CONT\t4\t\(b64("\0u\0p"))") == [])
        #expect(log.calls.map(\.user) == ["u"])
    }

    @Test func loginContFlow() throws {
        let (s, log) = try makeSession()
        #expect(try s.receive(line: "AUTH\t9\tLOGIN\tservice=smtp") == ["CONT\t9\tVXNlcm5hbWU6"])
        #expect(try s.receive(line: "CONT\t9\t\(b64("carol"))") == ["CONT\t9\tUGFzc3dvcmQ6"])
        #expect(try s.receive(line: "CONT\t9\t\(b64("pw"))") == [])
        #expect(log.calls.count == 1 && log.calls[0].user == "carol" && log.calls[0].password == "pw")
        #expect(throws: AuthProtocolError.unexpected("CONT for request 9 while it is being verified")) {
            try s.receive(line: "CONT\t9\tAA==")
        }
        #expect(s.complete(id: 101, result: .success(user: "carol")) == ["OK\t9\tuser=carol"])
    }

    @Test func loginWithInitialResponse() throws {
        let (s, _) = try makeSession()
        #expect(try s.receive(line: "AUTH\t9\tLOGIN\tservice=smtp\tresp=\(b64("carol"))") == ["CONT\t9\tUGFzc3dvcmQ6"])
    }

    @Test func perRequestFailuresKeepConnection() throws {
        let (s, log) = try makeSession()
        #expect(try s.receive(line: "AUTH\t1\tPLAIN\tservice=imap\tresp=!!!") ==
                ["FAIL\t1\tcode=invalid_base64\treason=Invalid base64 data in initial response"])
        #expect(try s.receive(line: "AUTH\t2\tPLAIN\tservice=imap\tresp=\(b64("nonul"))") == ["FAIL\t2"])
        #expect(try s.receive(line: "AUTH\t3\tPLAIN\tservice=imap\tresp=") == ["FAIL\t3"])
        #expect(try s.receive(line: "AUTH\t4\tPLAIN\tservice=imap\tresp=\(b64("x\0y\0z"))") == ["FAIL\t4"], "authzid mismatch")
        #expect(try s.receive(line: "CONT\t77\tAA==") == ["FAIL\t77\treason=Authentication request timed out"])
        #expect(try s.receive(line: "AUTH\t5\tLOGIN\tservice=imap") == ["CONT\t5\tVXNlcm5hbWU6"])
        #expect(try s.receive(line: "CONT\t5\t%%%") == ["FAIL\t5\tcode=invalid_base64\treason=Invalid base64 data in continued response"])
        #expect(try s.receive(line: "CONT\t5\tAA==") == ["FAIL\t5\treason=Authentication request timed out"])
        #expect(log.calls.isEmpty)
        // The connection still works.
        _ = try s.receive(line: "AUTH\t1\tPLAIN\tservice=imap\tresp=\(b64("\0a\0b"))")
        #expect(log.calls.count == 1)
    }

    @Test func cancelDropsPendingRequest() throws {
        let (s, _) = try makeSession()
        _ = try s.receive(line: "AUTH\t1\tPLAIN\tservice=imap\tresp=\(b64("\0a\0b"))")
        #expect(try s.receive(line: "CANCEL\t1") == [])
        #expect(s.complete(id: 101, result: .success(user: "a")) == [])
        // The id may be reused.
        _ = try s.receive(line: "AUTH\t1\tLOGIN\tservice=imap")
    }

    static let fatalSequences: [([String], AuthProtocolError)] = [
        (["CPID\t1"], .unexpected("client did not start with VERSION")),
        (["VERSION\t2\t0"], .versionMismatch(major: "2")),
        (["VERSION\t1\t0", "VERSION\t1\t0"], .unexpected("VERSION sent twice")),
        (["VERSION\t1\t0", "AUTH\t1\tPLAIN\tservice=imap"], .unexpected("AUTH before CPID")),
        (["VERSION\t1\t0", "CPID\t1", "CPID\t2"], .unexpected("CPID sent twice")),
        (["VERSION\t1\t0", "CPID\t1", "AUTH\t1\tCRAM-MD5\tservice=imap"], .unexpected("unsupported mechanism CRAM-MD5")),
        (["VERSION\t1\t0", "CPID\t1", "AUTH\t1\tLOGIN\tservice=imap", "AUTH\t1\tLOGIN\tservice=imap"],
         .unexpected("duplicate request id 1")),
        (["VERSION\t1\t0", "CPID\t1", "GARBAGE"], .unknownCommand("GARBAGE")),
        (["VERSION\t1\t0", "CPID\t1", "AUTH\t1"], .malformed(command: "AUTH", reason: "missing id or mechanism")),
    ]

    @Test(arguments: fatalSequences)
    func malformedLinesThrow(_ c: ([String], AuthProtocolError)) throws {
        let s = AuthProtocolServerSession(identity: Self.identity) { _, _, _ in 1 }
        for line in c.0.dropLast() { _ = try s.receive(line: line) }
        #expect(throws: c.1) { try s.receive(line: c.0.last!) }
    }

    @Test func onlyConfiguredMechanisms() throws {
        var id = Self.identity
        id.mechanisms = [.plain]
        let s = AuthProtocolServerSession(identity: id) { _, _, _ in 1 }
        #expect(s.handshakeLines.filter { $0.hasPrefix("MECH") } == ["MECH\tPLAIN\tplaintext"])
        _ = try s.receive(line: "VERSION\t1\t2")
        _ = try s.receive(line: "CPID\t1")
        #expect(throws: AuthProtocolError.unexpected("unsupported mechanism LOGIN")) {
            try s.receive(line: "AUTH\t1\tLOGIN\tservice=imap")
        }
    }
}

struct AuthProtocolClientTests {
    @Test func clientAgainstServerSession() throws {
        let log = VerifyLog()
        let server = AuthProtocolServerSession(identity: AuthProtocolServerTests.identity, verify: log.verify)
        var client = AuthProtocolClient(pid: "999")
        #expect(client.handshakeLines == ["VERSION\t1\t2", "CPID\t999"])
        for line in client.handshakeLines { #expect(try server.receive(line: line) == []) }
        var events: [AuthClientEvent?] = []
        for line in server.handshakeLines { events.append(try client.receive(line: line)) }
        #expect(events.dropLast().allSatisfy { $0 == nil })
        let handshake = AuthServerHandshake(majorVersion: 1, minorVersion: 2,
                                            mechanisms: ["PLAIN": ["plaintext"], "LOGIN": ["plaintext"]],
                                            serverPID: "1234", connectionID: "7",
                                            cookie: "0123456789abcdef0123456789abcdef")
        #expect(events.last == .handshakeComplete(handshake))
        #expect(client.handshake == handshake)

        // LOGIN with challenges.
        let (id, authLine) = client.authLine(AuthRequest(id: 0, mechanism: "LOGIN", service: "imap", secured: true))
        #expect(authLine == "AUTH\t1\tLOGIN\tservice=imap\tsecured")
        var reply = try server.receive(line: authLine)
        #expect(try client.receive(line: reply[0]) == .challenge(id: id, data: Array("Username:".utf8)))
        reply = try server.receive(line: client.continueLine(id: id, response: Array("dave".utf8)))
        #expect(try client.receive(line: reply[0]) == .challenge(id: id, data: Array("Password:".utf8)))
        #expect(try server.receive(line: client.continueLine(id: id, response: Array("pw".utf8))) == [])
        reply = server.complete(id: 101, result: .success(user: "dave", fields: [AuthField("nologin")]))
        #expect(try client.receive(line: reply[0]) == .success(id: id, user: "dave", fields: [AuthField("nologin")]))

        // PLAIN failure with initial response.
        let second = client.authLine(AuthRequest(id: 0, mechanism: "PLAIN", service: "imap"),
                                     initialResponse: Array("\0dave\0bad".utf8))
        #expect(second.id == 2)
        #expect(try server.receive(line: second.line) == [])
        reply = server.complete(id: 102, result: .failure(reason: "Authentication failed.", temporary: true))
        #expect(try client.receive(line: reply[0]) ==
                .failure(id: 2, user: "dave", reason: "Authentication failed.", temporary: true))

        // Replies for finished ids are protocol errors.
        #expect(throws: AuthProtocolError.unexpected("reply for unknown request id 2")) {
            try client.receive(line: "OK\t2\tuser=dave")
        }
    }

    @Test func handshakeErrors() {
        var c = AuthProtocolClient(pid: "1")
        #expect(throws: AuthProtocolError.unexpected("server did not start with VERSION")) { try c.receive(line: "SPID\t1") }
        var c2 = AuthProtocolClient(pid: "1")
        #expect(throws: AuthProtocolError.versionMismatch(major: "2")) { try c2.receive(line: "VERSION\t2\t0") }
        var c3 = AuthProtocolClient(pid: "1")
        _ = try? c3.receive(line: "VERSION\t1\t2")
        #expect(throws: AuthProtocolError.unexpected("handshake without SPID or COOKIE")) { try c3.receive(line: "DONE") }
        var c4 = AuthProtocolClient(pid: "1")
        _ = try? c4.receive(line: "VERSION\t1\t2")
        #expect(throws: AuthProtocolError.unexpected("reply before handshake DONE")) { try c4.receive(line: "OK\t1\tuser=x") }
        #expect(throws: AuthProtocolError.unknownCommand("BOGUS")) { try c4.receive(line: "BOGUS") }
    }

    @Test func cancelForgetsRequest() throws {
        var c = AuthProtocolClient(pid: "1")
        for line in ["VERSION\t1\t2", "SPID\t1", "COOKIE\tab", "DONE"] { _ = try c.receive(line: line) }
        let (id, _) = c.authLine(AuthRequest(id: 0, mechanism: "PLAIN", service: "pop3"))
        #expect(c.cancelLine(id: id) == "CANCEL\t1")
        #expect(throws: AuthProtocolError.self) { try c.receive(line: "CONT\t1\t") }
    }
}

struct AuthMasterProtocolTests {
    static let clientMessages: [AuthMasterClientMessage] = [
        .version(major: 1, minor: 1),
        .request(id: 1, clientPID: 555, authID: 9, cookie: "0123456789abcdef0123456789abcdef", fields: []),
        .request(id: 2, clientPID: 555, authID: 10, cookie: "0123456789ABCDEF0123456789abcdef",
                 fields: [AuthField("session_pid", "77")]),
        .userLookup(id: 3, user: "alice@example.com", fields: [AuthField("service", "lmtp")]),
    ]

    @Test(arguments: clientMessages)
    func clientRoundTrip(_ m: AuthMasterClientMessage) throws {
        #expect(try AuthMasterClientMessage(parsing: m.line) == m)
    }

    static let serverMessages: [AuthMasterServerMessage] = [
        .version(major: 1, minor: 1), .spid("1234"),
        .user(id: 1, user: "a", fields: [AuthField("uid", "5000"), AuthField("home", "/h/a b")]),
        .notFound(id: 2), .fail(id: 3, reason: nil), .fail(id: 4, reason: "passdb\tdown"),
    ]

    @Test(arguments: serverMessages)
    func serverRoundTrip(_ m: AuthMasterServerMessage) throws {
        #expect(try AuthMasterServerMessage(parsing: m.line) == m)
    }

    @Test func byteExactLines() {
        #expect(AuthMasterClientMessage.request(id: 1, clientPID: 555, authID: 9,
                                                cookie: "0123456789abcdef0123456789abcdef", fields: []).line
                == "REQUEST\t1\t555\t9\t0123456789abcdef0123456789abcdef")
        let user = AuthUser(username: "ann@example.org", uid: "vmail", gid: "vmail", home: "/var/vmail/example.org/ann",
                            mail: "maildir:~/Maildir", extraFields: ["quota_rule": "*:storage=1G"])
        let line = AuthMasterServerMessage.user(id: 1, user).line
        #expect(line == "USER\t1\tann@example.org\tuid=vmail\tgid=vmail\thome=/var/vmail/example.org/ann\tmail=maildir:~/Maildir\tquota_rule=*:storage=1G")
        #expect(AuthMasterServerMessage.notFound(id: 8).line == "NOTFOUND\t8")
        // USER reply back to an AuthUser.
        if case .user(_, let name, let fields) = try? AuthMasterServerMessage(parsing: line) {
            #expect(AuthUser(username: name, fields: fields) == user)
        } else {
            Issue.record("USER reply did not parse")
        }
    }

    static let badLines: [(String, AuthProtocolError)] = [
        ("REQUEST\t1\t2\t3", .malformed(command: "REQUEST", reason: "missing parameters")),
        ("REQUEST\t1\t2\t3\tnothex", .malformed(command: "REQUEST", reason: "invalid cookie")),
        ("REQUEST\tx\t2\t3\t0123456789abcdef0123456789abcdef", .malformed(command: "REQUEST", reason: "invalid id 'x'")),
        ("USER\t1\t", .malformed(command: "USER", reason: "missing user")),
        ("LIST\t1", .unknownCommand("LIST")),
        ("", .emptyLine),
    ]

    @Test(arguments: badLines)
    func malformedMasterLines(_ c: (String, AuthProtocolError)) {
        #expect(throws: c.1) { try AuthMasterClientMessage(parsing: c.0) }
    }

    @Test func malformedServerLines() {
        #expect(throws: AuthProtocolError.malformed(command: "NOTFOUND", reason: "invalid id 'z'")) {
            try AuthMasterServerMessage(parsing: "NOTFOUND\tz")
        }
        #expect(throws: AuthProtocolError.unknownCommand("OK")) { try AuthMasterServerMessage(parsing: "OK\t1") }
    }
}
