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
        #expect(h.send(Array("a APPEND Nope {1+}\r\nx\r\n".utf8)) == ["a NO [TRYCREATE] Mailbox doesn't exist: Nope"])
        #expect(h.send(Array("b APPEND INBOX (\\Recent) {1+}\r\nx\r\n".utf8)) == ["b BAD Invalid system flag \\Recent"])
        #expect(h.transact("c APPEND INBOX") == ["c BAD Invalid arguments."])
    }
}
