import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct MailboxTests {
    @Test func createDeleteRenameList() throws {
        let h = try SessionHarness()
        #expect(h.transact("a CREATE Archive/2023") == ["a OK Create completed."])
        #expect(h.transact("b CREATE Archive/2023") == ["b NO [ALREADYEXISTS] Mailbox already exists"])
        #expect(h.transact("c CREATE INBOX") == ["c NO [ALREADYEXISTS] Mailbox already exists"])
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
        #expect(h.transact("k RENAME Nope Other") == ["k NO [NONEXISTENT] Mailbox doesn't exist: Nope"])
        #expect(h.transact("l RENAME Old \"Sent Items\"") == ["l NO [ALREADYEXISTS] Mailbox already exists"])
        #expect(h.transact("m DELETE Old") == ["m OK Delete completed."])
        #expect(h.transact("n DELETE Old") == ["n NO [NONEXISTENT] Mailbox doesn't exist: Old"])
        #expect(h.transact("o DELETE INBOX") == ["o NO [CANNOT] INBOX can't be deleted."])
        #expect(h.transact("p CREATE a.b") == ["p NO [CANNOT] Invalid mailbox name: Mailbox name must not contain \".\"."])
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
    }

    @Test func status() throws {
        let h = try SessionHarness()
        let uv = try h.uidValidity()
        try h.deliver(simpleMessage, flags: .seen)
        try h.deliver(simpleMessage)
        #expect(h.transact("a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)") == [
            "* STATUS INBOX (MESSAGES 2 RECENT 1 UIDNEXT 3 UIDVALIDITY \(uv) UNSEEN 1)", "a OK Status completed."])
        #expect(h.transact("b STATUS Nope (MESSAGES)") == ["b NO [NONEXISTENT] Mailbox doesn't exist: Nope"])
        #expect(h.transact("c STATUS INBOX (BOGUS)") == ["c BAD Invalid status item BOGUS"])
    }
}
