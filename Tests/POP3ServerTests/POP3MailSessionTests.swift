import Testing
@testable import POP3Server

@Suite struct POP3MailSessionTests {
    private func text(_ actions: [POP3MailSession.Action]) -> String {
        actions.compactMap { if case .send(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil } }.joined()
    }

    private func session() -> POP3MailSession {
        POP3MailSession(messages: [.init(uid: 1, size: 120), .init(uid: 7, size: 200)], uidValidity: 0x5f3a_0001)
    }

    @Test func statListUidlExactBytes() {
        let s = session()
        #expect(text(s.loggedIn()) == "+OK Logged in.\r\n")
        #expect(text(s.receive(Array("STAT\r\n".utf8))) == "+OK 2 320\r\n")
        #expect(text(s.receive(Array("LIST\r\n".utf8))) == "+OK 2 messages:\r\n1 120\r\n2 200\r\n.\r\n")
        #expect(text(s.receive(Array("LIST 2\r\n".utf8))) == "+OK 2 200\r\n")
        #expect(text(s.receive(Array("LIST 3\r\n".utf8))) == "-ERR There's no message 3.\r\n")
        // Dovecot's default %08Xu%08Xv, in lowercase hex as Dovecot 2.3 prints it.
        #expect(text(s.receive(Array("UIDL\r\n".utf8))) == "+OK\r\n1 000000015f3a0001\r\n2 000000075f3a0001\r\n.\r\n")
        #expect(text(s.receive(Array("UIDL 1\r\n".utf8))) == "+OK 1 000000015f3a0001\r\n")
    }

    @Test func deleIsUndoneByRsetAndCommittedAtQuit() {
        let s = session()
        #expect(text(s.receive(Array("DELE 1\r\n".utf8))) == "+OK Marked to be deleted.\r\n")
        #expect(text(s.receive(Array("DELE 1\r\n".utf8))) == "-ERR Message is deleted.\r\n")
        #expect(text(s.receive(Array("STAT\r\nRSET\r\nSTAT\r\n".utf8))) == "+OK 1 200\r\n+OK\r\n+OK 2 320\r\n")
        _ = s.receive(Array("DELE 2\r\n".utf8))
        let retr = s.receive(Array("RETR 1\r\nQUIT\r\n".utf8))
        #expect(retr == [.send(Array("+OK 120 octets\r\n".utf8)), .sendMessage(index: 0, bodyLines: nil)])
        #expect(s.messageSent() == [.commit(deleted: [7], seen: [1])])
        #expect(text(s.updateFinished(ok: true)) == "+OK Logging out.\r\n")
        #expect(s.stats.retrCount == 1 && s.stats.deletedCount == 1 && s.stats.deletedBytes == 200)
    }

    @Test func stufferDotStuffsAndNormalisesForEverySplit() {
        let input = Array("Subject: x\n\n.dot\r\nplain\nlast".utf8)
        let expected = Array("Subject: x\r\n\r\n..dot\r\nplain\r\nlast\r\n.\r\n".utf8)
        for split in 0...input.count {
            var s = POP3Stuffer(bodyLines: nil)
            let out = s.feed(input[..<split]) + s.feed(input[split...]) + s.finish()
            #expect(out == expected, "split \(split)")
        }
    }

    @Test func topSendsHeadersAndNLines() {
        var s = POP3Stuffer(bodyLines: 1)
        let out = s.feed(Array("A: 1\r\nB: 2\r\n\r\nline1\r\nline2\r\n".utf8)) + s.finish()
        #expect(String(decoding: out, as: UTF8.self) == "A: 1\r\nB: 2\r\n\r\nline1\r\n.\r\n")
        var zero = POP3Stuffer(bodyLines: 0)
        let headersOnly = zero.feed(Array("A: 1\r\n\r\nbody\r\n".utf8)) + zero.finish()
        #expect(String(decoding: headersOnly, as: UTF8.self) == "A: 1\r\n\r\n.\r\n")
    }
}
