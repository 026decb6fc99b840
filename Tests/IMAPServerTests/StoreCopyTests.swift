import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct StoreCopyTests {
    @Test func storeForms() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage, flags: .seen)
        try h.deliver(simpleMessage, flags: .seen)
        _ = h.transact("s SELECT INBOX")
        #expect(h.transact("a STORE 1:2 +FLAGS (\\Flagged $Work)") == [
            "* 1 FETCH (FLAGS (\\Flagged \\Seen $Work))", "* 2 FETCH (FLAGS (\\Flagged \\Seen $Work))", "a OK Store completed."])
        #expect(h.lastChanged == ["INBOX"])
        #expect(h.transact("b STORE 1 -FLAGS.SILENT (\\Flagged)") == ["b OK Store completed."])
        #expect(h.transact("c UID STORE 2 FLAGS \\Answered") == ["* 2 FETCH (UID 2 FLAGS (\\Answered))", "c OK Store completed."])
        #expect(h.transact("d STORE 1 +FLAGS (\\Seen)") == ["d OK Store completed."])
        #expect(h.transact("e STORE 1 FLAGS (\\Recent)") == ["e BAD Error in IMAP command STORE: Invalid system flag \\RECENT."])
        #expect(h.transact("f STORE 1 XFLAGS (\\Seen)") == ["f BAD Error in IMAP command STORE: Invalid arguments."])
        #expect(h.transact("g FETCH 1:* FLAGS") == [
            "* 1 FETCH (FLAGS (\\Seen $Work))", "* 2 FETCH (FLAGS (\\Answered))", "g OK Fetch completed."])
    }

    @Test func copyAndMoveWithCopyUID() throws {
        let h = try SessionHarness()
        for _ in 0..<3 { try h.deliver(simpleMessage, flags: .seen) }
        _ = h.transact("a CREATE Archive")
        let uv = try h.uidValidity("Archive")
        _ = h.transact("s SELECT INBOX")
        #expect(h.transact("b COPY 1:2 Archive") == ["b OK [COPYUID \(uv) 1:2 1:2] Copy completed."])
        #expect(h.lastChanged == ["Archive"])
        #expect(h.transact("c COPY 1 Nope") == ["c NO [TRYCREATE] Mailbox doesn't exist: Nope."])
        #expect(h.transact("d UID MOVE 2:3 Archive") == [
            "* OK [COPYUID \(uv) 2:3 3:4] Moved UIDs.", "* 3 EXPUNGE", "* 2 EXPUNGE", "d OK Move completed."])
        #expect(h.transact("e STATUS Archive (MESSAGES)") == ["* STATUS Archive (MESSAGES 4)", "e OK Status completed."])
        let inbox = try h.uidValidity()
        #expect(h.transact("f MOVE 1 INBOX") == [
            "* OK [COPYUID \(inbox) 1 4] Moved UIDs.", "* 1 EXPUNGE", "* 1 EXISTS", "* 0 RECENT", "f OK Move completed."])
        #expect(h.transact("g FETCH 1 UID") == ["* 1 FETCH (UID 4)", "g OK Fetch completed."])
    }
}

@Suite struct SearchTests {
    func harness() throws -> SessionHarness {
        let h = try SessionHarness()
        try h.deliver(simpleMessage, flags: .seen, date: Date(timeIntervalSince1970: 1_699_950_000)) // 14-Nov-2023
        try h.deliver(multipartMessage, flags: [.flagged], keywords: ["$Work"], date: Date(timeIntervalSince1970: 1_677_650_000)) // 1-Mar-2023
        try h.deliver("Subject: plain\n\nnothing here\n", flags: [.deleted, .seen], date: Date(timeIntervalSince1970: 1_710_000_000))
        try h.deliver("Subject: fresh\n\nunread\n", date: Date(timeIntervalSince1970: 1_710_000_000))
        _ = h.transact("s SELECT INBOX")
        return h
    }

    @Test func flagsSetsAndSizes() throws {
        let h = try harness()
        #expect(h.transact("a SEARCH ALL") == ["* SEARCH 1 2 3 4", "a OK Search completed."])
        #expect(h.transact("b SEARCH UNSEEN") == ["* SEARCH 2 4", "b OK Search completed."])
        #expect(h.transact("c SEARCH FLAGGED KEYWORD $work") == ["* SEARCH 2", "c OK Search completed."])
        #expect(h.transact("d SEARCH DELETED") == ["* SEARCH 3", "d OK Search completed."])
        #expect(h.transact("e SEARCH 2:*") == ["* SEARCH 2 3 4", "e OK Search completed."])
        #expect(h.transact("f UID SEARCH UID 1,3") == ["* SEARCH 1 3", "f OK Search completed."])
        #expect(h.transact("g SEARCH LARGER 100 SMALLER 200") == ["* SEARCH 1", "g OK Search completed."])
        #expect(h.transact("h SEARCH NEW") == ["* SEARCH 4", "h OK Search completed."])
        #expect(h.transact("i SEARCH OLD") == ["* SEARCH 1 2 3", "i OK Search completed."])
        #expect(h.transact("j SEARCH UNKEYWORD $Work NOT DELETED") == ["* SEARCH 1 4", "j OK Search completed."])
    }

    @Test func datesTextAndCombinations() throws {
        let h = try harness()
        #expect(h.transact("a SEARCH ON 14-Nov-2023") == ["* SEARCH 1", "a OK Search completed."])
        #expect(h.transact("b SEARCH BEFORE 1-Apr-2023") == ["* SEARCH 2", "b OK Search completed."])
        #expect(h.transact("c SEARCH SINCE 1-Apr-2023") == ["* SEARCH 1 3 4", "c OK Search completed."])
        #expect(h.transact("d SEARCH SENTON 1-Mar-2023") == ["* SEARCH 2", "d OK Search completed."])
        #expect(h.transact("e SEARCH SENTBEFORE 2-Mar-2023 SENTSINCE 1-Mar-2023") == ["* SEARCH 2", "e OK Search completed."])
        #expect(h.transact("f SEARCH FROM alice") == ["* SEARCH 1", "f OK Search completed."])
        #expect(h.transact("g SEARCH CHARSET UTF-8 SUBJECT \"grüße\"") == ["* SEARCH 2", "g OK Search completed."])
        #expect(h.transact("h SEARCH BODY \"zürich\"") == ["* SEARCH 2", "h OK Search completed."])
        #expect(h.transact("i SEARCH TEXT \"LUNCH\"") == ["* SEARCH 1", "i OK Search completed."])
        #expect(h.transact("j SEARCH OR FROM alice CC dave") == ["* SEARCH 1 2", "j OK Search completed."])
        #expect(h.transact("k SEARCH NOT (FROM alice SEEN)") == ["* SEARCH 2 3 4", "k OK Search completed."])
        #expect(h.transact("l SEARCH HEADER Message-ID \"\"") == ["* SEARCH 1", "l OK Search completed."])
        #expect(h.transact("m SEARCH TO bob BCC x") == ["* SEARCH", "m OK Search completed."])
        #expect(h.transact("n SEARCH CHARSET X-UNKNOWN ALL") == ["n NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("o SEARCH BOGUS") == ["o BAD Error in IMAP command SEARCH: Unknown argument BOGUS."])
        #expect(h.transact("p SEARCH ON 31-Foo-2023") == ["p BAD Error in IMAP command SEARCH: Invalid search date parameter."])
    }
}
