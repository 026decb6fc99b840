import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct MailboxTests {
    @Test func createDeleteRenameList() throws {
        let h = try SessionHarness()
        #expect(h.transact("a CREATE Archive/2023") == ["a OK Create completed."])
        #expect(h.transact("b CREATE Archive/2023") == ["b NO [ALREADYEXISTS] Mailbox already exists."])
        #expect(h.transact("c CREATE INBOX") == ["c NO [ALREADYEXISTS] Mailbox already exists."])
        #expect(h.transact("d CREATE \"Sent Items\"") == ["d OK Create completed."])
        #expect(h.transact("e LIST \"\" *") == [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\Noselect \\HasChildren) \"/\" Archive",
            "* LIST (\\HasNoChildren) \"/\" Archive/2023",
            "* LIST (\\HasNoChildren) \"/\" \"Sent Items\"",
            "e OK List completed."])
        #expect(h.transact("f LIST \"\" %") == [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\Noselect \\HasChildren) \"/\" Archive",
            "* LIST (\\HasNoChildren) \"/\" \"Sent Items\"",
            "f OK List completed."])
        #expect(h.transact("g LIST Archive/ %") == ["* LIST (\\HasNoChildren) \"/\" Archive/2023", "g OK List completed."])
        #expect(h.transact("h LIST \"\" \"\"") == ["* LIST (\\Noselect) \"/\" \"\"", "h OK List completed."])
        #expect(h.transact("i LIST \"\" inbox") == ["* LIST (\\HasNoChildren) \"/\" INBOX", "i OK List completed."])
        #expect(h.transact("j RENAME Archive/2023 Old") == ["j OK Rename completed."])
        #expect(h.transact("k RENAME Nope Other") == ["k NO [NONEXISTENT] Mailbox doesn't exist: Nope."])
        #expect(h.transact("l RENAME Old \"Sent Items\"") == ["l NO [ALREADYEXISTS] Target mailbox already exists."])
        #expect(h.transact("m DELETE Old") == ["m OK Delete completed."])
        #expect(h.transact("n DELETE Old") == ["n NO [NONEXISTENT] Mailbox doesn't exist: Old."])
        #expect(h.transact("o DELETE INBOX") == ["o NO INBOX can't be deleted."])
        #expect(h.transact("p CREATE a.b") == ["p NO [CANNOT] Character not allowed in mailbox name: '.'."])
    }

    @Test func modifiedUTF7Names() throws {
        let h = try SessionHarness()
        #expect(h.transact("a CREATE Entw&APw-rfe") == ["a OK Create completed."])
        #expect(h.store.folderExists("Entwürfe"))
        #expect(h.transact("b LIST \"\" Entw*") == ["* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe", "b OK List completed."])
    }

    @Test func renameInboxMovesMessages() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage)
        #expect(h.transact("a RENAME INBOX Saved") == ["a OK Rename completed."])
        #expect(h.transact("b STATUS INBOX (MESSAGES UIDNEXT)") == ["* STATUS INBOX (MESSAGES 0 UIDNEXT 2)", "b OK Status completed."])
        #expect(h.transact("c STATUS Saved (MESSAGES UNSEEN)") == ["* STATUS Saved (MESSAGES 1 UNSEEN 1)", "c OK Status completed."])
    }

    @Test func subscriptionsAndLsub() throws {
        let h = try SessionHarness()
        _ = h.transact("a CREATE Lists/swift")
        #expect(h.transact("b SUBSCRIBE Lists/swift") == ["b OK Subscribe completed."])
        #expect(h.transact("c SUBSCRIBE INBOX") == ["c OK Subscribe completed."])
        #expect(h.transact("d LSUB \"\" *") == ["* LSUB () \"/\" Lists/swift", "* LSUB () \"/\" INBOX", "d OK Lsub completed."])
        #expect(h.transact("e LSUB \"\" %") == ["* LSUB () \"/\" INBOX", "* LSUB (\\Noselect) \"/\" Lists", "e OK Lsub completed."])
        #expect(h.transact("f UNSUBSCRIBE Lists/swift") == ["f OK Unsubscribe completed."])
        #expect(h.transact("g LSUB \"\" *") == ["* LSUB () \"/\" INBOX", "g OK Lsub completed."])
        // Dovecot's checks: SUBSCRIBE wants a mailbox that exists (RFC 3501 §6.3.6 lets it
        // check), UNSUBSCRIBE a valid name, either one argument.
        #expect(h.transact("h SUBSCRIBE Lists") == ["h NO Mailbox doesn't exist: Lists."])
        #expect(h.transact("i SUBSCRIBE Nope") == ["i NO Mailbox doesn't exist: Nope."])
        #expect(h.transact("j UNSUBSCRIBE a//b") == ["j NO [CANNOT] Invalid mailbox name: Has adjacent hierarchy separators."])
        #expect(h.transact("k SUBSCRIBE") == ["k BAD Error in IMAP command SUBSCRIBE: Missing arguments."])
        #expect(h.transact("l UNSUBSCRIBE a b") == ["l BAD Error in IMAP command UNSUBSCRIBE: Invalid arguments."])
    }

    /// RENAME's refusals in Dovecot's order: names, onto itself, source, under itself, target.
    @Test func renameRefusals() throws {
        let h = try SessionHarness()
        _ = h.transact("a CREATE x")
        #expect(h.transact("b RENAME x a.b") == ["b NO [CANNOT] Character not allowed in mailbox name: '.'."])
        #expect(h.transact("c RENAME x/ y") == ["c NO [CANNOT] Invalid mailbox name: Ends with hierarchy separator."])
        #expect(h.transact("d RENAME nosuch nosuch") == ["d NO [ALREADYEXISTS] Can't rename mailbox to itself."])
        #expect(h.transact("e RENAME nosuch y") == ["e NO [NONEXISTENT] Mailbox doesn't exist: nosuch."])
        #expect(h.transact("f RENAME x x/y") == ["f NO Can't rename mailbox under its own child."])
        #expect(h.transact("g RENAME x INBOX") == ["g NO [ALREADYEXISTS] Target mailbox already exists."])
        #expect(h.transact("h RENAME x") == ["h BAD Error in IMAP command RENAME: Missing arguments."])
        #expect(h.transact("i SELECT /a") == ["i NO [CANNOT] Invalid mailbox name: Begins with hierarchy separator."])
        #expect(h.transact("j CREATE a%b") == ["j NO [CANNOT] Character not allowed in mailbox name: '%'."])
    }

    @Test func status() throws {
        let h = try SessionHarness()
        let uv = try h.uidValidity()
        try h.deliver(simpleMessage, flags: .seen)
        try h.deliver(simpleMessage)
        #expect(h.transact("a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)") == [
            "* STATUS INBOX (MESSAGES 2 RECENT 1 UIDNEXT 3 UIDVALIDITY \(uv) UNSEEN 1)", "a OK Status completed."])
        #expect(h.transact("b STATUS Nope (MESSAGES)") == ["b NO Mailbox doesn't exist: Nope."])
        #expect(h.transact("c STATUS INBOX (BOGUS)") == ["c BAD Error in IMAP command STATUS: Invalid status item BOGUS."])
    }
}
