import MailCore
import Testing
@testable import POP3Server

@Suite struct POP3LoginSessionTests {
    private func text(_ actions: [LoginAction]) -> String {
        actions.compactMap { if case .send(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil } }.joined()
    }

    private func session(plaintext: Bool = true, tls: Bool = false) -> POP3LoginSession {
        POP3LoginSession(settings: LoginSessionSettings(plaintextAllowed: plaintext, startTLSAvailable: tls))
    }

    @Test func greetingAndCapa() {
        let s = session(tls: true)
        #expect(text(s.greeting()) == "+OK Roost ready.\r\n")
        #expect(text(s.receive(Array("CAPA\r\n".utf8))) ==
            "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN\r\nIMPLEMENTATION Roost\r\n.\r\n")
    }

    @Test func userPassBecomesSaslPlain() {
        let s = session()
        #expect(text(s.receive(Array("USER pepa\r\n".utf8))) == "+OK\r\n")
        let actions = s.receive(Array("PASS secret\r\nSTAT\r\n".utf8))
        #expect(actions == [.authenticate(tag: "", mechanism: "PLAIN", initialResponse: Base64.encode(Array("\0pepa\0secret".utf8)))])
        // The pipelined STAT travels with the connection to the mail process.
        #expect(s.authFinished(success: true, user: "pepa", reason: nil, temporary: false) == [.handOff(tag: "", pending: Array("STAT\r\n".utf8))])
    }

    @Test func failuresUseRFC3206Codes() {
        let s = session()
        _ = s.receive(Array("USER pepa\r\nPASS x\r\n".utf8))
        #expect(text(s.authFinished(success: false, user: "pepa", reason: nil, temporary: false)) == "-ERR [AUTH] Authentication failed.\r\n")
        _ = s.receive(Array("USER pepa\r\nPASS x\r\n".utf8))
        #expect(text(s.authFinished(success: false, user: "pepa", reason: nil, temporary: true)) == "-ERR [SYS/TEMP] Temporary authentication failure.\r\n")
        #expect(s.failedAttempts == 2)
    }

    @Test func plaintextDisallowed() {
        let s = session(plaintext: false, tls: true)
        #expect(!s.capabilities.contains("USER"))
        #expect(text(s.receive(Array("USER pepa\r\n".utf8))) ==
            "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n")
    }

    @Test func stlsDropsPipelinedPlaintext() {
        let s = session(tls: true)
        let actions = s.receive(Array("STLS\r\nUSER evil\r\nPASS x\r\n".utf8))
        #expect(actions == [.send(Array("+OK Begin TLS negotiation now.\r\n".utf8)), .startTLS])
        s.tlsStarted(plaintextAllowed: true)
        #expect(!s.capabilities.contains("STLS"))
        #expect(text(s.receive(Array("PASS x\r\n".utf8))) == "-ERR No username given.\r\n")
    }

    @Test func authWithChallengeAndCancel() {
        let s = session()
        #expect(s.receive(Array("AUTH PLAIN\r\n".utf8)) == [.authenticate(tag: "", mechanism: "PLAIN", initialResponse: nil)])
        #expect(text(s.authChallenge("")) == "+ \r\n")
        #expect(s.receive(Array("*\r\n".utf8)) == [.authCancel, .send(Array("-ERR [AUTH] Authentication aborted by client.\r\n".utf8))])
        #expect(text(s.receive(Array("AUTH\r\n".utf8))) == "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n")
    }

    @Test func badInputAndLongLines() {
        let s = session()
        #expect(text(s.receive(Array("FROB\r\n".utf8))) == "-ERR Unknown command.\r\n")
        var long = [UInt8](repeating: 65, count: 70 * 1024)
        #expect(text(s.receive(long)) == "-ERR Input line too long.\r\n")
        long = Array("rest of it\r\nQUIT\r\n".utf8)
        #expect(s.receive(long) == [.send(Array("+OK Logging out\r\n".utf8)), .close(reason: "Logged out")])
    }

    @Test func everySplitGivesTheSameAnswers() {
        let input = Array("CAPA\r\nUSER a\r\nFROB\r\n".utf8)
        let whole = text(session().receive(input))
        for split in 1..<input.count {
            let s = session()
            let got = text(s.receive(Array(input[..<split]))) + text(s.receive(Array(input[split...])))
            #expect(got == whole, "split at \(split)")
        }
    }
}
