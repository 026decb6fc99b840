import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct SelectTests {
    @Test func capabilityNoopIdNamespaceEnable() throws {
        let h = try SessionHarness()
        #expect(h.transact("a CAPABILITY") == [
            "* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN UIDPLUS MOVE LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH ESORT SEARCHRES SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT",
            "a OK Capability completed."])
        #expect(h.transact("b NOOP") == ["b OK NOOP completed."])
        #expect(h.transact("c ID NIL") == ["* ID (\"name\" \"Roost\")", "c OK ID completed."])
        #expect(h.transact("d NAMESPACE") == ["* NAMESPACE ((\"\" \"/\")) NIL NIL", "d OK Namespace completed."])
        #expect(h.transact("e ENABLE CONDSTORE") == ["* ENABLED", "e OK Enabled."])
        #expect(h.transact("f LOGIN a b") == ["f BAD Error in IMAP command LOGIN: Unknown command."])
        #expect(h.transact("g FOO") == ["g BAD Error in IMAP command FOO: Unknown command."])
        #expect(h.transact("h LOGOUT") == ["* BYE Logging out", "h OK Logout completed."])
    }

    @Test func selectEmptyAndWithMessages() throws {
        let h = try SessionHarness()
        let uv = try h.uidValidity()
        #expect(h.transact("a SELECT INBOX") == [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
            "* 0 EXISTS", "* 0 RECENT",
            "* OK [UIDVALIDITY \(uv)] UIDs valid", "* OK [UIDNEXT 1] Predicted next UID",
            "a OK [READ-WRITE] Select completed."])
        #expect(h.session.selectedFolder == "INBOX")
        try h.deliver(simpleMessage, flags: .seen)
        try h.deliver(simpleMessage)
        #expect(h.transact("b SELECT inbox") == [
            "* OK [CLOSED] Previous mailbox closed.",
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
            "* 2 EXISTS", "* 1 RECENT", "* OK [UNSEEN 2] First unseen.",
            "* OK [UIDVALIDITY \(uv)] UIDs valid", "* OK [UIDNEXT 3] Predicted next UID",
            "b OK [READ-WRITE] Select completed."])
    }

    @Test func examineIsReadOnly() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage)
        let uv = try h.uidValidity()
        #expect(h.transact("a EXAMINE INBOX") == [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS ()] Read-only mailbox.",
            "* 1 EXISTS", "* 0 RECENT", "* OK [UNSEEN 1] First unseen.",
            "* OK [UIDVALIDITY \(uv)] UIDs valid", "* OK [UIDNEXT 2] Predicted next UID",
            "a OK [READ-ONLY] Examine completed."])
        #expect(h.transact("b STORE 1 +FLAGS (\\Seen)") == ["b OK Store ignored with read-only mailbox."])
        #expect(h.transact("c FETCH 1 (BODY[TEXT])").last == "c OK Fetch completed.")
        #expect(h.transact("d FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS ())", "d OK Fetch completed."])
        #expect(h.transact("e EXPUNGE") == ["e OK Expunge completed."])
    }

    @Test func selectErrorsAndStateErrors() throws {
        let h = try SessionHarness()
        #expect(h.transact("a SELECT Nope") == ["a NO Mailbox doesn't exist: Nope."])
        #expect(h.session.selectedFolder == nil)
        #expect(h.transact("b FETCH 1 FLAGS") == ["b BAD No mailbox selected."])
        #expect(h.transact("c EXPUNGE") == ["c BAD No mailbox selected."])
        #expect(h.transact("d CLOSE") == ["d BAD No mailbox selected."])
        #expect(h.transact("e SELECT") == ["e BAD Error in IMAP command SELECT: Invalid arguments."])
    }

    /// Dovecot's texts for lines the parser refuses: the command named, or "Unknown command"
    /// when it is not one (its arguments are never read then).
    @Test func parseErrorsNameTheCommand() throws {
        let h = try SessionHarness()
        #expect(h.transact("a SELECT \"INBOX") == ["a BAD Error in IMAP command SELECT: Missing '\"'."])
        #expect(h.transact("b STATUS INBOX (MESSAGES") == ["b BAD Error in IMAP command STATUS: Missing ')'."])
        #expect(h.transact("c LIST \"\" *)") == ["c BAD Error in IMAP command LIST: Unexpected ')'."])
        #expect(h.transact("d SELECT {abc}") == ["d BAD Error in IMAP command SELECT: Invalid literal size."])
        #expect(h.transact("e FROB ((") == ["e BAD Error in IMAP command FROB: Unknown command."])
        #expect(h.transact("f UID") == ["f BAD Error in IMAP command: Invalid command name."])
        #expect(h.transact("") == ["* BAD Error in IMAP tag: Invalid tag."])
        #expect(h.transact("g SELECT a[b") == ["g NO Mailbox doesn't exist: a[b."])
    }

    /// Twenty bad commands in a row end the session; any other answer starts the count again
    /// (Dovecot's bad_counter), "No mailbox selected." included.
    @Test func badCommandsCountOnlyInARow() throws {
        let h = try SessionHarness()
        for i in 0..<19 { #expect(h.transact("a\(i) FROB") == ["a\(i) BAD Error in IMAP command FROB: Unknown command."]) }
        #expect(h.transact("b FETCH 1 FLAGS") == ["b BAD No mailbox selected."])
        for i in 0..<19 { _ = h.transact("c\(i) FROB") }
        #expect(h.transact("d NOOP") == ["d OK NOOP completed."])
        for i in 0..<19 { _ = h.transact("e\(i) FROB") }
        #expect(h.transact("f FROB") == [
            "f BAD Error in IMAP command FROB: Unknown command.", "* BYE Too many invalid IMAP commands."])
    }

    @Test func closeExpungesSilentlyAndUnselectDoesNot() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage, flags: [.deleted])
        try h.deliver(simpleMessage)
        _ = h.transact("a SELECT INBOX")
        #expect(h.transact("b UNSELECT") == ["b OK Unselect completed."])
        _ = h.transact("c SELECT INBOX")
        #expect(h.transact("d CLOSE") == ["d OK Close completed."])
        #expect(h.lastChanged == ["INBOX"])
        #expect(h.session.selectedFolder == nil)
        #expect(h.transact("e STATUS INBOX (MESSAGES)") == ["* STATUS INBOX (MESSAGES 1)", "e OK Status completed."])
    }

    @Test func expungeAndUIDExpunge() throws {
        let h = try SessionHarness()
        for _ in 0..<4 { try h.deliver(simpleMessage, flags: [.deleted]) }
        _ = h.transact("a SELECT INBOX")
        #expect(h.transact("b UID EXPUNGE 2:3") == ["* 3 EXPUNGE", "* 2 EXPUNGE", "b OK Expunge completed."])
        #expect(h.lastChanged == ["INBOX"])
        #expect(h.transact("c EXPUNGE") == ["* 2 EXPUNGE", "* 1 EXPUNGE", "c OK Expunge completed."])
        #expect(h.transact("d EXPUNGE") == ["d OK Expunge completed."])
    }
}
