import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct UpdateTests {
    @Test func deliveryByAnotherProcessShowsAfterNextCommand() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage)
        _ = h.transact("s SELECT INBOX")
        try h.deliver(simpleMessage)
        #expect(h.lines(h.session.mailboxChanged("INBOX")) == [])
        #expect(h.transact("a NOOP") == ["* 2 EXISTS", "* 2 RECENT", "a OK NOOP completed."])
        #expect(h.transact("b NOOP") == ["b OK NOOP completed."])
    }

    @Test func expungeByOtherSessionIsHeldDuringFetch() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage, flags: .seen)
        try h.deliver(simpleMessage, flags: .seen)
        _ = h.transact("s SELECT INBOX")
        let other = try MaildirStore(root: h.root).openFolder("INBOX")
        try other.setFlags(uids: [2], flags: .flagged, mode: .add)
        try other.expunge(uids: [1])
        _ = h.session.mailboxChanged("INBOX")
        #expect(h.transact("a FETCH 1:2 FLAGS") == [
            "* 2 FETCH (FLAGS (\\Flagged \\Seen))", "* 2 FETCH (FLAGS (\\Flagged \\Seen))",
            "a OK [EXPUNGEISSUED] Some messages were also expunged."])
        #expect(h.transact("b SEARCH ALL") == ["* SEARCH 2", "b OK Search completed."])
        #expect(h.transact("c NOOP") == ["* 1 EXPUNGE", "c OK NOOP completed."])
        #expect(h.transact("d FETCH 1 UID") == ["* 1 FETCH (UID 2)", "d OK Fetch completed."])
    }

    /// Several changes by another session while this one was silent: one FETCH per message
    /// with its latest flags (also for a change undone), none for a message expunged after its
    /// change, FETCHes in sequence order before the EXPUNGE (as Dovecot answers).
    @Test func silentSessionHearsOneFetchPerMessage() throws {
        let h = try SessionHarness()
        for _ in 0..<4 { try h.deliver(simpleMessage, flags: .seen) }
        _ = h.transact("s SELECT INBOX")
        let other = IMAPMailSession(user: "tester", store: try MaildirStore(root: h.root))
        _ = other.receive(Array("o SELECT INBOX\r\n".utf8))
        for command in ["STORE 3 +FLAGS (\\Flagged)", "STORE 1 +FLAGS (\\Answered)", "STORE 3 -FLAGS (\\Flagged)",
                        "STORE 4 +FLAGS (\\Deleted)", "STORE 4 +FLAGS (\\Draft)", "EXPUNGE"] {
            _ = other.receive(Array("o \(command)\r\n".utf8))
            h.session.takeOverWithoutAnnouncing(FolderScanRound())
        }
        #expect(h.transact("a NOOP") == [
            "* 1 FETCH (FLAGS (\\Answered \\Seen))", "* 3 FETCH (FLAGS (\\Seen))", "* 4 EXPUNGE", "a OK NOOP completed."])
    }

    @Test func idleFlow() throws {
        let h = try SessionHarness()
        _ = h.transact("s SELECT INBOX")
        #expect(h.transact("a IDLE") == ["+ idling"])
        #expect(h.session.isIdling)
        try h.deliver(simpleMessage)
        #expect(h.lines(h.session.mailboxChanged("Other")) == [])
        #expect(h.lines(h.session.mailboxChanged("INBOX")) == ["* 1 EXISTS", "* 1 RECENT"])
        #expect(h.transact("done") == ["a OK Idle completed."])
        #expect(!h.session.isIdling)
        #expect(h.transact("b IDLE") == ["+ idling"])
        #expect(h.transact("nope") == ["b BAD Expected DONE."])
        #expect(h.transact("c NOOP") == ["c OK NOOP completed."])
    }

    @Test func idleWithoutSelectedMailboxAndPipelinedDone() throws {
        let h = try SessionHarness()
        #expect(h.transact("a IDLE\r\nDONE\r\nb NOOP") == ["+ idling", "a OK Idle completed.", "b OK NOOP completed."])
    }

    @Test func ownChangesAreAnnouncedToOthers() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage)
        let other = IMAPMailSession(user: "tester", store: try MaildirStore(root: h.root))
        _ = other.receive(Array("o SELECT INBOX\r\n".utf8))
        _ = h.transact("s SELECT INBOX")
        _ = h.transact("a STORE 1 +FLAGS (\\Deleted)")
        #expect(h.lastChanged == ["INBOX"])
        #expect(h.lines(other.mailboxChanged("INBOX")) == [])
        #expect(h.lines(other.receive(Array("o2 NOOP\r\n".utf8))) == [
            "* 1 FETCH (FLAGS (\\Deleted \\Recent))", "o2 OK NOOP completed."])
        _ = h.transact("b EXPUNGE")
        // The message was \Recent in `other`: its count changed, so RECENT too (as Dovecot).
        #expect(h.lines(other.receive(Array("o3 IDLE\r\n".utf8))) == ["* 1 EXPUNGE", "* 0 RECENT", "+ idling"])
    }
}
