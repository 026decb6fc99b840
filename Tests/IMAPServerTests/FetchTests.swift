import Foundation
import Testing
@testable import IMAPServer
import Maildir

@Suite struct FetchTests {
    func selected(_ messages: [String]) throws -> SessionHarness {
        let h = try SessionHarness()
        for m in messages { try h.deliver(m) }
        _ = h.transact("s SELECT INBOX")
        return h
    }

    @Test func simpleItemsAndMacros() throws {
        let h = try selected([simpleMessage])
        #expect(h.transact("a FETCH 1 (UID FLAGS RFC822.SIZE)") == [
            "* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE 178)", "a OK Fetch completed."])
        #expect(h.transact("b UID FETCH 1 FLAGS") == ["* 1 FETCH (UID 1 FLAGS (\\Recent))", "b OK Fetch completed."])
        #expect(h.transact("c FETCH 1 FAST") == [
            "* 1 FETCH (FLAGS (\\Recent) INTERNALDATE \"14-Nov-2023 22:13:20 +0000\" RFC822.SIZE 178)", "c OK Fetch completed."])
        #expect(h.transact("d FETCH 1 ENVELOPE") == [
            "* 1 FETCH (ENVELOPE (\"Tue, 14 Nov 2023 10:00:00 +0000\" \"Hello there\" ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<1@example.org>\"))",
            "d OK Fetch completed."])
        #expect(h.transact("e FETCH 1 BODY") == [
            "* 1 FETCH (BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 26 2))", "e OK Fetch completed."])
        #expect(h.transact("f FETCH 2 FLAGS") == ["f BAD Error in IMAP command FETCH: Invalid messageset."])
        #expect(h.transact("g UID FETCH 5 FLAGS") == ["g OK Fetch completed."])
        #expect(h.transact("h FETCH 1 (BOGUS)") == ["h BAD Error in IMAP command FETCH: Unknown parameter: BOGUS."])
    }

    @Test func bodySectionsSetSeenUnlessPeek() throws {
        let h = try selected([simpleMessage])
        #expect(h.transact("a FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject From)]") == [
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {57}",
            "From: Alice <alice@example.org>", "Subject: Hello there", "", ")", "a OK Fetch completed."])
        #expect(h.transact("b FETCH 1 BODY.PEEK[TEXT]<0.6>") == [
            "* 1 FETCH (BODY[TEXT]<0> {6}", "Hi Bob)", "b OK Fetch completed."])
        #expect(h.transact("c FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Recent))", "c OK Fetch completed."])
        #expect(h.transact("d FETCH 1 BODY[TEXT]") == [
            "* 1 FETCH (BODY[TEXT] {26}", "Hi Bob,", "lunch tomorrow?", " FLAGS (\\Seen \\Recent))", "d OK Fetch completed."])
        #expect(h.lastChanged == ["INBOX"])
        #expect(h.transact("e FETCH 1 RFC822.HEADER").first == "* 1 FETCH (RFC822.HEADER {152}")
    }

    @Test func multipartSections() throws {
        let h = try selected([multipartMessage])
        #expect(h.transact("a FETCH 1 (BODY.PEEK[1.MIME] BODY.PEEK[2])") == [
            "* 1 FETCH (BODY[1.MIME] {88}",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable", "",
            " BODY[2] {8}", "AAECAw==)", "a OK Fetch completed."])
        let structure = h.transact("b FETCH 1 BODYSTRUCTURE")
        #expect(structure.first?.hasPrefix("* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\")") == true)
        #expect(structure.last == "b OK Fetch completed.")
    }
}

@Suite struct FetchPartialBoundsTests {
    /// <offset.count> are RFC 3501 numbers (32-bit, unsigned, count non-zero): anything else is
    /// BAD, never a trap, and the session goes on; huge but valid numbers are clamped.
    @Test func signedOversizedAndZeroPartialsAreRefused() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage, flags: .seen)
        _ = h.transact("s SELECT INBOX")
        for (tag, partial) in [("a", "<-5.10>"), ("b", "<+1.5>"), ("c", "<1.9223372036854775807>"), ("d", "<0.0>"),
                               ("e", "<4294967296.1>"), ("f", "<.5>")] {
            let reply = h.transact("\(tag) FETCH 1 BODY.PEEK[]\(partial)")
            #expect(reply.last?.hasPrefix("\(tag) BAD ") == true, "\(partial): \(reply)")
        }
        let huge = h.transact("g FETCH 1 BODY.PEEK[]<4294967295.4294967295>")
        #expect(huge.first == "* 1 FETCH (BODY[]<4294967295> {0}", "\(huge)")
        // Repeats collapse to one answer; more than 32 distinct sections is refused.
        let repeated = h.transact("i FETCH 1 (" + Array(repeating: "BODY.PEEK[]", count: 500).joined(separator: " ") + ")")
        #expect(repeated.filter { $0.contains("BODY[]") }.count == 1, "\(repeated.prefix(3))")
        let many = (0..<33).map { "BODY.PEEK[]<\($0).10>" }.joined(separator: " ")
        #expect(h.transact("j FETCH 1 (\(many))").last?.hasPrefix("j BAD ") == true)
        #expect(h.transact("h NOOP").last == "h OK NOOP completed.")
    }
}
