import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct AppendTests {
    @Test func appendWithLiteralFlagsAndDate() throws {
        let h = try SessionHarness()
        let uv = try h.uidValidity()
        let msg = "Subject: hi\r\n\r\nbody\r\n"
        #expect(h.transact("a APPEND INBOX (\\Seen $Work) \"14-Nov-2023 10:00:00 +0100\" {\(msg.utf8.count)}") == ["+ OK"])
        #expect(h.send(Array((msg + "\r\n").utf8)) == ["a OK [APPENDUID \(uv) 1] Append completed."])
        #expect(h.lastChanged == ["INBOX"])
        _ = h.transact("b SELECT INBOX")
        #expect(h.transact("c FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)") == [
            "* 1 FETCH (FLAGS (\\Seen $Work) INTERNALDATE \"14-Nov-2023 09:00:00 +0000\" RFC822.SIZE 21)",
            "c OK Fetch completed."])
        // Non-synchronizing literal, into the selected mailbox: EXISTS comes before the tagged OK.
        #expect(h.send(Array("d APPEND INBOX {\(msg.utf8.count)+}\r\n\(msg)\r\n".utf8)) == [
            "* 2 EXISTS", "* 1 RECENT", "d OK [APPENDUID \(uv) 2] Append completed."])
    }

    @Test func appendErrors() throws {
        let h = try SessionHarness()
        #expect(h.send(Array("a APPEND Nope {1+}\r\nx\r\n".utf8)) == ["a NO [TRYCREATE] Mailbox doesn't exist: Nope."])
        #expect(h.send(Array("b APPEND INBOX (\\Recent) {1+}\r\nx\r\n".utf8)) == ["b BAD Error in IMAP command APPEND: Invalid system flag \\RECENT."])
        #expect(h.transact("c APPEND INBOX") == ["c BAD Error in IMAP command APPEND: Missing message size."])
    }
}

@Suite struct StreamedAppendRefusalTests {
    func tmpFiles(_ h: SessionHarness) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: h.root + "/tmp")) ?? []
    }

    /// A streamed literal whose command is then refused (extra arguments after it) leaves no
    /// tmp file and no pending state: a later APPEND with the same tag stores its own message.
    @Test func refusedAfterTheLiteralLeavesNothingBehind() throws {
        let h = try SessionHarness()
        let size = IMAPMailSession.streamingThreshold
        let body = Array(repeating: UInt8(ascii: "x"), count: size - 2) + [13, 10]
        _ = h.send(Array("A APPEND INBOX {\(size)+}\r\n".utf8))
        _ = h.send(body)
        let refused = h.send(Array(" x y z\r\n".utf8))
        #expect(refused.last?.hasPrefix("A BAD") == true, "\(refused)")
        #expect(tmpFiles(h).isEmpty, "tmp/ holds \(tmpFiles(h))")
        let ok = h.send(Array("A APPEND INBOX {12+}\r\nSubject: s\r\n\r\n".utf8))
        #expect(ok.last?.hasPrefix("A OK [APPENDUID ") == true, "\(ok)")
        let inbox = try MaildirStore(root: h.root).openFolder("INBOX", readOnly: true)
        #expect(inbox.messages.count == 1)
        #expect(inbox.messages.first.map { $0.virtualSize } == 12)
        // A second streamed APPEND while one is unfinished replaces it without a leak.
        _ = h.send(Array("B APPEND INBOX {\(size)+}\r\n".utf8))
        _ = h.send(Array(body.prefix(100)))
        h.session.connectionClosed()
        #expect(tmpFiles(h).isEmpty)
    }
}
