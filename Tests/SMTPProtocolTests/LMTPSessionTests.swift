import Testing
@testable import SMTPProtocol

@Suite struct LMTPSessionTests {
    private func text(_ actions: [LMTPSession.Action]) -> String {
        actions.compactMap { if case .send(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil } }.joined()
    }

    private func data(_ actions: [LMTPSession.Action]) -> [UInt8] {
        actions.flatMap { if case .dataChunk(let b) = $0 { return b } else { return [] } }
    }

    private func session(max: Int = 0) -> LMTPSession {
        LMTPSession(settings: .init(hostname: "mx.test", maxMessageSize: max))
    }

    @Test func multiRecipientTransactionWithPerRecipientReplies() {
        let s = session()
        #expect(text(s.greeting()) == "220 mx.test Roost LMTP ready\r\n")
        #expect(text(s.receive(Array("LHLO client\r\n".utf8))) ==
            "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE\r\n")
        // Pipelined: MAIL, two RCPTs and DATA in one packet; answers come in order.
        var a = s.receive(Array("MAIL FROM:<s@x> BODY=8BITMIME\r\nRCPT TO:<a@x>\r\nRCPT TO:<nobody@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n".utf8))
        #expect(text(a) == "250 2.1.0 OK\r\n")
        #expect(a.last == .checkRecipient("a@x"))
        a = s.recipientChecked(.ok)
        #expect(a == [.send(Array("250 2.1.5 OK\r\n".utf8)), .checkRecipient("nobody@x")])
        a = s.recipientChecked(.unknownUser)
        #expect(text(a) == "550 5.1.1 <nobody@x> User doesn't exist: nobody@x\r\n")
        #expect(a.last == .checkRecipient("b@x"))
        a = s.recipientChecked(.ok)
        #expect(text(a) == "250 2.1.5 OK\r\n354 OK\r\n")
        a = s.receive(Array("Subject: t\r\n\r\n..dot\r\nbody\r\n.\r\nNOOP\r\n".utf8))
        #expect(data(a) == Array("Subject: t\r\n\r\n.dot\r\nbody\r\n".utf8))
        #expect(a.last == .deliver(sender: "s@x", recipients: ["a@x", "b@x"]))
        a = s.deliveryFinished([.delivered("abc Saved"), .overQuota(temporary: true, message: "Quota exceeded (mailbox for user is full)")])
        #expect(text(a) == "250 2.0.0 <a@x> abc Saved\r\n452 4.2.2 <b@x> Quota exceeded (mailbox for user is full)\r\n250 2.0.0 OK\r\n")
    }

    @Test func overQuotaRecipientGetsDovecotsReply() {
        let s = session()
        _ = s.receive(Array("LHLO c\r\nMAIL FROM:<s@x>\r\n".utf8))
        _ = s.receive(Array("RCPT TO:<full@x>\r\n".utf8))
        #expect(text(s.recipientChecked(.overQuota(temporary: false, message: "Quota exceeded (mailbox for user is full)")))
                == "552 5.2.2 <full@x> Quota exceeded (mailbox for user is full)\r\n")
        _ = s.receive(Array("RCPT TO:<full@x>\r\n".utf8))
        #expect(text(s.recipientChecked(.overQuota(temporary: true, message: "Over quota"))) == "452 4.2.2 <full@x> Over quota\r\n")
    }

    /// RFC 3207 §4.2 and §5: commands pipelined behind STARTTLS are thrown away, the session
    /// starts over (LHLO again), and STARTTLS is no longer offered.
    @Test func startTLSDiscardsPipelinedPlaintextAndResets() {
        let s = LMTPSession(settings: .init(hostname: "mx.test", startTLSAvailable: true))
        let lhlo = text(s.receive(Array("LHLO c\r\n".utf8)))
        #expect(lhlo.contains("250-SIZE\r\n250 STARTTLS\r\n"))
        let a = s.receive(Array("STARTTLS\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<victim@x>\r\n".utf8))
        #expect(a == [.send(Array("220 2.0.0 Begin TLS negotiation now.\r\n".utf8)), .startTLS])
        // Nothing else happens until the handshake is done.
        #expect(s.receive(Array("NOOP\r\n".utf8)).isEmpty)
        s.tlsStarted()
        #expect(text(s.receive(Array("MAIL FROM:<a@x>\r\n".utf8))) == "503 5.5.1 LHLO first\r\n")
        let again = text(s.receive(Array("LHLO c\r\n".utf8)))
        #expect(!again.contains("STARTTLS"))
        #expect(text(s.receive(Array("RCPT TO:<victim@x>\r\n".utf8))) == "503 5.5.1 MAIL needed first\r\n")
        #expect(text(s.receive(Array("STARTTLS\r\n".utf8))).hasPrefix("502 "))
    }

    @Test func dotStuffingRoundTripsForEverySplit() {
        // Work on bytes: in Swift "\r\n" is one Character, so String splitting would miss it.
        let lines: [[UInt8]] = ["a\r", ".\r", "..\r", "...x\r", ".y\r", "bare", "lf\r", "\r", "end"].map { Array($0.utf8) }
        let stuffed = lines.map { $0.first == UInt8(ascii: ".") ? [UInt8(ascii: ".")] + $0 : $0 }
        var input: [UInt8] = []
        for l in stuffed.dropLast() { input += l + [10] }
        input += stuffed.last! + Array("\r\n.\r\n".utf8)
        var expected: [UInt8] = []
        for l in lines { expected += (l.last == 13 ? l.dropLast() : l[...]) + [13, 10] }
        for split in 0...input.count {
            let s = session()
            _ = s.receive(Array("LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@x>\r\n".utf8))
            _ = s.recipientChecked(.ok)
            var actions = s.receive(Array("DATA\r\n".utf8))
            actions += s.receive(Array(input[..<split]))
            actions += s.receive(Array(input[split...]))
            #expect(data(actions) == expected, "split at \(split)")
            #expect(actions.last == .deliver(sender: "", recipients: ["a@x"]))
        }
    }

    @Test func sizeLimitIsEnforcedWhileStreaming() {
        let s = session(max: 100)
        _ = s.receive(Array("LHLO x\r\nMAIL FROM:<s@x> SIZE=50\r\nRCPT TO:<a@x>\r\n".utf8))
        _ = s.recipientChecked(.ok)
        _ = s.receive(Array("DATA\r\n".utf8))
        var actions: [LMTPSession.Action] = []
        for _ in 0..<100 { actions += s.receive([UInt8](repeating: 65, count: 1000) + [13, 10]) }
        #expect(actions.contains(.discardData))
        #expect(data(actions).count <= 100)
        #expect(text(s.receive(Array(".\r\n".utf8))) == "552 5.3.4 <a@x> Message size exceeds fixed maximum message size\r\n")
        #expect(text(s.receive(Array("MAIL FROM:<s@x> SIZE=500\r\n".utf8))) == "552 5.3.4 Message size exceeds fixed maximum message size\r\n")
    }

    @Test func unbracketedAddressesAreRefused() {
        #expect(SMTPPath.parse("FROM:bad address", keyword: "FROM") == nil)
        #expect(SMTPPath.parse("FROM: <a@b> SIZE=10", keyword: "FROM") == SMTPPath(address: "a@b", parameters: ["SIZE": "10"]))
        #expect(SMTPPath.parse("TO:<@relay:u@h>", keyword: "TO")?.address == "u@h")
    }

    @Test func malformedCommandsGetErrorsAndSessionContinues() {
        let s = session()
        #expect(text(s.receive(Array("MAIL FROM:<a@b>\r\n".utf8))) == "503 5.5.1 LHLO first\r\n")
        _ = s.receive(Array("LHLO x\r\n".utf8))
        #expect(text(s.receive(Array("EHLO x\r\n".utf8))).hasPrefix("500 5.5.1"))
        #expect(text(s.receive(Array("MAIL FROM:bad address\r\n".utf8))).hasPrefix("501 5.5.4"))
        #expect(text(s.receive(Array("RCPT TO:<a@x>\r\n".utf8))) == "503 5.5.1 MAIL needed first\r\n")
        #expect(text(s.receive(Array("DATA\r\n".utf8))) == "503 5.5.1 MAIL needed first\r\n")
        #expect(text(s.receive(Array("FROB\r\n".utf8))) == "500 5.5.2 Unknown command\r\n")
        #expect(text(s.receive(Array("VRFY x\r\n".utf8))) == "252 2.3.3 Try RCPT instead\r\n")
        #expect(text(s.receive([UInt8](repeating: 65, count: 10_000) + Array("\r\nNOOP\r\n".utf8))) == "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n")
        #expect(text(s.receive(Array("QUIT\r\n".utf8))) == "221 2.0.0 Bye\r\n")
    }

    /// Dovecot's lib-smtp (smtp_server_command_submit_reply): only *consecutive* 500/501/503
    /// answers count, so a long healthy session with a bad command now and then stays open.
    @Test func badCommandsSpreadOverAHealthySessionNeverCloseIt() {
        let s = session()
        _ = s.receive(Array("LHLO x\r\n".utf8))
        for i in 0..<100 {
            #expect(text(s.receive(Array("FROB\r\n".utf8))) == "500 5.5.2 Unknown command\r\n", "round \(i)")
            _ = s.receive(Array("MAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\n".utf8))
            _ = s.recipientChecked(.ok)
            _ = s.receive(Array("DATA\r\nhi\r\n.\r\n".utf8))
            #expect(text(s.deliveryFinished([.delivered("id Saved")])) == "250 2.0.0 <a@x> id Saved\r\n", "round \(i)")
        }
        // Neither 502 nor 554 is a bad command in Dovecot's count, and NOOP starts it again.
        for _ in 0..<30 {
            #expect(text(s.receive(Array("STARTTLS\r\n".utf8))).hasPrefix("502 "))
            _ = s.receive(Array("RSET\r\nMAIL FROM:<s@x>\r\n".utf8))
            #expect(text(s.receive(Array("DATA\r\n".utf8))) == "554 5.5.1 No valid recipients\r\n")
            #expect(text(s.receive(Array("RSET\r\nXYZZY\r\nXYZZY\r\nNOOP\r\n".utf8))).hasSuffix("250 2.0.0 OK\r\n"))
        }
        #expect(text(s.receive(Array("QUIT\r\n".utf8))) == "221 2.0.0 Bye\r\n")
    }

    /// SMTP_SERVER_DEFAULT_MAX_BAD_COMMANDS = 10: the eleventh bad command in a row is answered,
    /// then the session ends with smtp_server_connection_terminate's 421.
    @Test func theEleventhConsecutiveBadCommandClosesTheSession() {
        let s = session()
        _ = s.receive(Array("LHLO x\r\n".utf8))
        for i in 1...10 {
            let a = s.receive(Array("FROB\r\n".utf8))
            #expect(a == [.send(Array("500 5.5.2 Unknown command\r\n".utf8))], "bad command \(i)")
        }
        let a = s.receive(Array("RCPT TO:<a@x>\r\nNOOP\r\n".utf8))
        #expect(a == [.send(Array("503 5.5.1 MAIL needed first\r\n".utf8)),
                      .send(Array("421 4.7.0 mx.test Too many invalid commands.\r\n".utf8)), .close])
        #expect(s.receive(Array("NOOP\r\n".utf8)).isEmpty)
    }

    /// lmtp-local.c answers any failed lookup with the same words and logs the cause.
    @Test func failedRecipientLookupGetsDovecotsReply() {
        let s = session()
        _ = s.receive(Array("LHLO x\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\n".utf8))
        #expect(text(s.recipientChecked(.temporaryFailure)) == "451 4.3.0 <a@x> Temporary internal error\r\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(of a: String, with b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while !rest.isEmpty {
            if rest.hasPrefix(a) {
                out += b
                rest = rest.dropFirst(a.count)
            } else {
                out.append(rest.removeFirst())
            }
        }
        return out
    }
}
