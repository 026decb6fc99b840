import Foundation
import Glibc
import Testing
@testable import IMAPServer
import Maildir

/// Several sessions on one folder told about one change with one `FolderScanRound` (as the
/// mail process does): one folder scan, and each session still gets its own view — its own
/// sequence numbers, its pending EXPUNGEs, \Recent in exactly one session.
@Suite struct SharedSyncTests {
    let h: SessionHarness
    let others: [IMAPMailSession]

    init() throws {
        let harness = try SessionHarness()
        h = harness
        others = try (0..<2).map { _ in IMAPMailSession(user: "tester", store: try MaildirStore(root: harness.root)) }
    }

    /// Session 0 is the harness's; 1 and 2 are the others.
    func send(_ i: Int, _ line: String) -> [String] {
        i == 0 ? h.transact(line) : h.lines(others[i - 1].receive(Array((line + "\r\n").utf8)))
    }

    /// Tells every session about a change to INBOX in one round; returns each one's output.
    func announce() -> [[String]] {
        let round = FolderScanRound()
        let outputs = ([h.session] + others).map { h.lines($0.mailboxChanged("INBOX", sharing: round)) }
        #expect(round.scanCount <= 1)
        return outputs
    }

    /// Drops a file into new/ as an outside delivery agent does.
    func dropIntoNew(_ subject: String) throws {
        let base = "\(Int(Date().timeIntervalSince1970)).M\(Int.random(in: 0..<1_000_000))P\(getpid()).test"
        let text = "From: a@example.org\r\nSubject: \(subject)\r\n\r\nbody\r\n"
        #expect(FileManager.default.createFile(atPath: h.root + "/tmp/" + base, contents: Data(text.utf8)))
        #expect(rename(h.root + "/tmp/" + base, h.root + "/new/" + base) == 0)
    }

    /// Sessions not in IDLE take the round's scan over at once (the next command lists
    /// nothing more for that change) and send the responses at their next command.
    @Test func sessionsNotIdlingShareTheScanAndAnswerLater() throws {
        for i in 0..<3 { _ = send(i, "s SELECT INBOX") }
        try dropIntoNew("one")
        #expect(send(0, "n NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n OK NOOP completed."])
        #expect(send(0, "f STORE 1 +FLAGS (\\Flagged)") == ["* 1 FETCH (FLAGS (\\Flagged \\Recent))", "f OK Store completed."])
        // Session 0's change, announced to the others (not idling): nothing is sent now.
        let round = FolderScanRound()
        #expect(others.allSatisfy { h.lines($0.mailboxChanged("INBOX", sharing: round)).isEmpty })
        #expect(round.scanCount == 1)
        // A later change nobody announced comes in the same NOOP, after the held-back one.
        try dropIntoNew("two")
        // Session 1 moves "two" out of new/ (\Recent is its); session 2 then finds it in cur/.
        #expect(send(1, "n NOOP") == ["* 2 EXISTS", "* 1 RECENT", "n OK NOOP completed."])
        #expect(send(2, "n NOOP") == ["* 2 EXISTS", "* 0 RECENT", "n OK NOOP completed."])
        #expect(send(1, "f FETCH 1:2 (FLAGS)") == ["* 1 FETCH (FLAGS (\\Flagged))", "* 2 FETCH (FLAGS (\\Recent))", "f OK Fetch completed."])
        // Held back: a flag change, then an expunge of a message the client never heard of.
        #expect(send(0, "g STORE 1 -FLAGS (\\Flagged)").last == "g OK Store completed.")
        let second = FolderScanRound()
        #expect(others.allSatisfy { h.lines($0.mailboxChanged("INBOX", sharing: second)).isEmpty })
        try dropIntoNew("three")
        #expect(send(0, "n NOOP").contains("* 3 EXISTS"))
        let third = FolderScanRound()
        #expect(others.allSatisfy { h.lines($0.mailboxChanged("INBOX", sharing: third)).isEmpty })
        #expect(send(0, "x STORE 3 +FLAGS.SILENT (\\Deleted)").last == "x OK Store completed.")
        #expect(send(0, "e EXPUNGE") == ["* 3 EXPUNGE", "* 1 RECENT", "e OK Expunge completed."])
        let fourth = FolderScanRound()
        #expect(others.allSatisfy { h.lines($0.mailboxChanged("INBOX", sharing: fourth)).isEmpty })
        #expect(send(2, "n NOOP") == ["* 1 FETCH (FLAGS ())", "n OK NOOP completed."])
    }

    /// A client silent through more changes than are kept: the rest comes from its own sync,
    /// and it still hears of every message exactly once.
    @Test func aSilentClientThroughManyChangesHearsOfAllOnce() throws {
        for i in 0..<2 { _ = send(i, "s SELECT INBOX") }
        for n in 1...(IMAPMailSession.maxDeferredBatches + 8) {
            try dropIntoNew("m\(n)")
            _ = send(0, "n NOOP")
            #expect(h.lines(others[0].mailboxChanged("INBOX", sharing: FolderScanRound())).isEmpty)
        }
        let total = IMAPMailSession.maxDeferredBatches + 8
        #expect(send(1, "n NOOP") == ["* \(total) EXISTS", "* 0 RECENT", "n OK NOOP completed."])
        #expect(send(1, "f FETCH 1:* (UID)").count == total + 1)
    }

    @Test func newMailReachesEveryIdlerAndRecentOnlyOne() throws {
        for i in 0..<3 {
            _ = send(i, "s SELECT INBOX")
            #expect(send(i, "i IDLE") == ["+ idling"])
        }
        try dropIntoNew("one")
        let outputs = announce()
        #expect(outputs.allSatisfy { $0.first == "* 1 EXISTS" && $0.count == 2 })
        #expect(outputs.map(\.last).sorted { ($0 ?? "") < ($1 ?? "") } == ["* 0 RECENT", "* 0 RECENT", "* 1 RECENT"])
        // The second round applies the first scan's delta in the sessions that took it over.
        try dropIntoNew("two")
        #expect(announce().allSatisfy { $0.first == "* 2 EXISTS" })
        let fetched = (0..<3).map { i -> [String] in
            _ = send(i, "DONE")
            return send(i, "f FETCH 1:2 (FLAGS)")
        }
        let recentCount = fetched.flatMap { $0 }.filter { $0.contains("\\Recent") }.count
        #expect(recentCount == 2)
    }

    @Test func expungeBookkeepingPerSessionAndNoneDuringFetchStoreSearch() throws {
        for s in ["a", "b", "c"] { try h.deliver(simpleMessage.replacingOccurrences(of: "Hello there", with: s), flags: .seen) }
        for i in 0..<3 { _ = send(i, "s SELECT INBOX") }
        // 0 and 2 idle; 1 is between commands.
        #expect(send(0, "i IDLE") == ["+ idling"])
        #expect(send(2, "i IDLE") == ["+ idling"])
        let other = try MaildirStore(root: h.root).openFolder("INBOX")
        try other.expunge(uids: [2])
        let outputs = announce()
        #expect(outputs[0] == ["* 2 EXPUNGE"] && outputs[2] == ["* 2 EXPUNGE"] && outputs[1] == [])
        // RFC 3501 §7.4.1: session 1 hears nothing during FETCH, STORE or SEARCH.
        #expect(send(1, "f FETCH 1:3 (UID)") == [
            "* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "f OK [EXPUNGEISSUED] Some messages were also expunged."])
        #expect(send(1, "t STORE 3 +FLAGS (\\Flagged)") == ["* 3 FETCH (FLAGS (\\Flagged \\Seen))", "t OK Store completed."])
        #expect(send(1, "r SEARCH ALL") == ["* SEARCH 1 3", "r OK Search completed."])
        // Session 1's STORE reaches the idlers in a round; its own EXPUNGE waits for NOOP.
        let flagged = announce()
        #expect(flagged[0] == ["* 2 FETCH (FLAGS (\\Flagged \\Seen))"] && flagged[2] == flagged[0])
        #expect(send(1, "n NOOP") == ["* 2 EXPUNGE", "n OK NOOP completed."])
        // A delivery: every view numbers it 3 (session 1 has announced its expunge by now).
        #expect(send(1, "j IDLE") == ["+ idling"])
        try dropIntoNew("d")
        let delivered = announce()
        #expect(delivered.allSatisfy { $0.first == "* 3 EXISTS" })
    }
}
