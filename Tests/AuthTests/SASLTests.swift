import Testing
@testable import Auth

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

struct SASLPlainTests {
    struct Case: Sendable {
        var message: [UInt8]
        var expected: SASLStep
        var line: Int
        init(_ message: [UInt8], _ expected: SASLStep, line: Int = #line) {
            self.message = message; self.expected = expected; self.line = line
        }
    }

    static let cases: [Case] = [
        Case(b("\0alice\0secret"), .credentials(user: "alice", password: "secret", authzid: nil)),
        Case(b("alice\0alice\0secret"), .credentials(user: "alice", password: "secret", authzid: "alice")),
        Case(b("\0al ice@ex.org\0pä ss"), .credentials(user: "al ice@ex.org", password: "pä ss", authzid: nil)),
        Case(b("\0alice\0"), .credentials(user: "alice", password: "", authzid: nil)),
        Case(b("bob\0alice\0secret"), .failure(.authzidMismatch)),
        Case(b("\0\0secret"), .failure(.malformed("empty authentication identity"))),
        Case(b("alice\0secret"), .failure(.malformed("expected 2 NUL separators, found 1"))),
        Case(b("alicesecret"), .failure(.malformed("expected 2 NUL separators, found 0"))),
        Case(b("\0alice\0sec\0ret"), .failure(.malformed("expected 2 NUL separators, found 3"))),
        Case(b("\0\0\0\0"), .failure(.malformed("expected 2 NUL separators, found 3"))),
        Case([], .failure(.malformed("expected 2 NUL separators, found 0"))),
        Case([0, 0x61, 0, 0xFF, 0xFE], .failure(.invalidUTF8)),
        Case([0] + b("alice") + [0] + [UInt8](repeating: 0x61, count: 9000), .failure(.tooLong)),
    ]

    @Test(arguments: cases)
    func initialResponse(_ c: Case) {
        var s = SASLSession(mechanism: .plain)
        #expect(s.start(initialResponse: c.message) == c.expected, "line \(c.line)")
        #expect(s.step(b("x")) == .failure(.unexpectedResponse), "line \(c.line)")
    }

    @Test(arguments: cases)
    func afterEmptyChallenge(_ c: Case) {
        var s = SASLSession(mechanism: .plain)
        #expect(s.start(initialResponse: nil) == .challenge([]))
        #expect(s.step(c.message) == c.expected, "line \(c.line)")
    }

    @Test func maximumFieldLengthsAccepted() {
        let long = String(repeating: "a", count: 255)
        var s = SASLSession(mechanism: .plain)
        #expect(s.start(initialResponse: b("\(long)\0\(long)\0\(long)")) ==
                .credentials(user: long, password: long, authzid: long))
    }
}

struct SASLLoginTests {
    @Test func fullExchange() {
        var s = SASLSession(mechanism: .login)
        #expect(s.start(initialResponse: nil) == .challenge(b("Username:")))
        #expect(s.step(b("alice@example.com")) == .challenge(b("Password:")))
        #expect(s.step(b("pw with spaces")) == .credentials(user: "alice@example.com", password: "pw with spaces", authzid: nil))
        #expect(s.step(b("more")) == .failure(.unexpectedResponse))
    }

    @Test func initialResponseIsUserName() {
        var s = SASLSession(mechanism: .login)
        #expect(s.start(initialResponse: b("alice")) == .challenge(b("Password:")))
        #expect(s.step(b("")) == .credentials(user: "alice", password: "", authzid: nil))
    }

    struct Bad: Sendable {
        var user: [UInt8]?
        var password: [UInt8]?
        var expected: SASLFailure
        var line: Int
        init(user: [UInt8]? = nil, password: [UInt8]? = nil, _ expected: SASLFailure, line: Int = #line) {
            self.user = user; self.password = password; self.expected = expected; self.line = line
        }
    }

    static let bad: [Bad] = [
        Bad(user: [], .malformed("empty user name")),
        Bad(user: b("al\0ice"), .malformed("NUL in response")),
        Bad(user: [0xC3], .invalidUTF8),
        Bad(user: [UInt8](repeating: 0x61, count: 8193), .tooLong),
        Bad(password: b("p\0w"), .malformed("NUL in response")),
        Bad(password: [0xFF], .invalidUTF8),
    ]

    @Test(arguments: bad)
    func malformedInput(_ c: Bad) {
        var s = SASLSession(mechanism: .login)
        _ = s.start(initialResponse: nil)
        if let user = c.user {
            #expect(s.step(user) == .failure(c.expected), "line \(c.line)")
        } else {
            _ = s.step(b("alice"))
            #expect(s.step(c.password!) == .failure(c.expected), "line \(c.line)")
        }
        #expect(s.step(b("x")) == .failure(.unexpectedResponse))
    }

    @Test func startTwiceFails() {
        var s = SASLSession(mechanism: .login)
        _ = s.start(initialResponse: nil)
        #expect(s.start(initialResponse: nil) == .failure(.unexpectedResponse))
    }
}

struct SASLBase64Tests {
    struct Case: Sendable {
        var line: String
        var equalsIsEmpty: Bool
        var expected: SASLClientResponse
        var sourceLine: Int
        init(_ line: String, equalsIsEmpty: Bool = false, _ expected: SASLClientResponse, sourceLine: Int = #line) {
            self.line = line; self.equalsIsEmpty = equalsIsEmpty; self.expected = expected; self.sourceLine = sourceLine
        }
    }

    static let cases: [Case] = [
        Case("AGFsaWNlAHNlY3JldA==", .data(b("\0alice\0secret"))),
        Case("VXNlcm5hbWU6", .data(b("Username:"))),
        Case("*", .cancel),
        Case("", .data([])),
        Case("=", equalsIsEmpty: true, .data([])),
        Case("=", .invalidBase64),
        Case("AGFsaWNlAHNlY3JldA", .invalidBase64),
        Case("AGFs aWNl", .invalidBase64),
        Case("AGFs!WNl", .invalidBase64),
        Case("****", .invalidBase64),
    ]

    @Test(arguments: cases)
    func decode(_ c: Case) {
        #expect(SASLBase64.decodeClientResponse(c.line, equalsIsEmpty: c.equalsIsEmpty) == c.expected, "line \(c.sourceLine)")
    }

    @Test func roundTrip() {
        for bytes in [[], [0], b("Password:"), [UInt8](0...255)] {
            #expect(SASLBase64.decode(SASLBase64.encode(bytes)) == bytes)
        }
    }

    @Test func mechanismNames() {
        #expect(SASLMechanism(name: "plain") == .plain)
        #expect(SASLMechanism(name: "Login") == .login)
        #expect(SASLMechanism(name: "CRAM-MD5") == nil)
    }
}
