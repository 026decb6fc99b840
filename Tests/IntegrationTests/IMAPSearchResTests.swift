import Foundation
import Testing

/// SEARCHRES (RFC 5182) through the real binary: `SEARCH`/`SORT RETURN (SAVE …)` and `$` in
/// FETCH, STORE, COPY, MOVE, UID EXPUNGE and search keys, on eight messages in a new folder
/// "sr" (copies and moves go to "srt"), answered exactly as Dovecot 2.3 answers. Lines marked
/// "B:" run in a second session, which expunges behind the first one's back. The expected
/// lines were taken from Dovecot; `searchResAnswersEqualDovecots` checks them against a live one.
@Suite struct IMAPSearchResTests {
    static let messages = (1...8).map { "From: u\($0)@x\r\nSubject: s\(9 - $0)\r\n\r\nbody \($0)\r\n" }

    /// SELECT of "sr" with its eight messages, none \Recent any more.
    static let selectAnswer = [
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
        "* 8 EXISTS",
        "* 0 RECENT",
        "* OK [UNSEEN 1] First unseen.",
        "* OK [UIDVALIDITY V] UIDs valid",
        "* OK [UIDNEXT 9] Predicted next UID",
        "OK [READ-WRITE] Select completed.",
    ]

    /// Each command with Dovecot 2.3's answer: untagged lines, then the tagged line without tag
    /// and timing; ESEARCH tags read "TAG" and UIDVALIDITY numbers "V".
    static let expected: [(String, [String])] = [
        // `$` before any SAVE is empty: nothing fetched, nothing found, no error.
        ("FETCH $ UID", ["OK Fetch completed."]),
        ("SEARCH $", ["* SEARCH", "OK Search completed."]),
        ("UID FETCH $ UID", ["OK Fetch completed."]),
        // SAVE alone answers only OK; beside MIN and/or MAX alone it keeps just those.
        ("SEARCH RETURN (SAVE) 2:4", ["OK Search completed."]),
        ("FETCH $ UID", ["* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)", "OK Fetch completed."]),
        ("SEARCH RETURN (SAVE MIN) 5:6", ["* ESEARCH (TAG \"TAG\") MIN 5", "OK Search completed."]),
        ("FETCH $ UID", ["* 5 FETCH (UID 5)", "OK Fetch completed."]),
        ("SEARCH RETURN (SAVE MIN MAX) 2:6", ["* ESEARCH (TAG \"TAG\") MIN 2 MAX 6", "OK Search completed."]),
        ("FETCH $ UID", ["* 2 FETCH (UID 2)", "* 6 FETCH (UID 6)", "OK Fetch completed."]),
        ("SEARCH RETURN (SAVE ALL) 1,3", ["* ESEARCH (TAG \"TAG\") ALL 1,3", "OK Search completed."]),
        ("FETCH $ UID", ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "OK Fetch completed."]),
        ("SEARCH RETURN (SAVE COUNT MAX) 7:8", ["* ESEARCH (TAG \"TAG\") MAX 8 COUNT 2", "OK Search completed."]),
        ("FETCH $ UID", ["* 7 FETCH (UID 7)", "* 8 FETCH (UID 8)", "OK Fetch completed."]),
        // A BAD leaves `$` as it was; a NO (BADCHARSET) empties it (RFC 5182 §2.1).
        ("SEARCH RETURN (SAVE) NOSUCH", ["BAD Error in IMAP command SEARCH: Unknown argument NOSUCH."]),
        ("FETCH $ UID", ["* 7 FETCH (UID 7)", "* 8 FETCH (UID 8)", "OK Fetch completed."]),
        ("SEARCH RETURN (SAVE FOO) 1", ["BAD Error in IMAP command SEARCH: Unknown SEARCH return option."]),
        ("FETCH $ UID", ["* 7 FETCH (UID 7)", "* 8 FETCH (UID 8)", "OK Fetch completed."]),
        ("SEARCH RETURN (SAVE) CHARSET FOO ALL", ["NO [BADCHARSET] Unknown charset."]),
        ("FETCH $ UID", ["OK Fetch completed."]),
        // `$` and `UID $` as search keys, with others; a SAVE may use the `$` it replaces.
        ("SEARCH RETURN (SAVE) 2:3", ["OK Search completed."]),
        ("SEARCH $", ["* SEARCH 2 3", "OK Search completed."]),
        ("SEARCH UID $", ["* SEARCH 2 3", "OK Search completed."]),
        ("SEARCH $ 3", ["* SEARCH 3", "OK Search completed."]),
        ("SEARCH NOT $", ["* SEARCH 1 4 5 6 7 8", "OK Search completed."]),
        ("SEARCH OR $ 5", ["* SEARCH 2 3 5", "OK Search completed."]),
        ("UID SEARCH RETURN (ALL) UID $", ["* ESEARCH (TAG \"TAG\") UID ALL 2:3", "OK Search completed."]),
        ("SEARCH RETURN (SAVE) OR $ 8", ["OK Search completed."]),
        ("FETCH $ UID", ["* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "* 8 FETCH (UID 8)", "OK Fetch completed."]),
        // `$` only alone (RFC 5182 §2.1 grammar), never inside a set.
        ("FETCH 1,$ UID", ["BAD Error in IMAP command FETCH: Invalid messageset."]),
        ("FETCH $:3 UID", ["BAD Error in IMAP command FETCH: Invalid messageset."]),
        ("FETCH $,1 UID", ["BAD Error in IMAP command FETCH: Invalid messageset."]),
        ("SEARCH $,1", ["BAD Error in IMAP command SEARCH: Unknown argument $,1."]),
        ("SEARCH $:3", ["BAD Error in IMAP command SEARCH: Unknown argument $:3."]),
        ("SEARCH UID 1:$", ["BAD Error in IMAP command SEARCH: Invalid UID messageset."]),
        ("STORE 1:$ +FLAGS (\\Seen)", ["BAD Error in IMAP command STORE: Invalid messageset."]),
        // `$` is UIDs whichever command saved or uses it.
        ("UID SEARCH RETURN (SAVE) UID 3:5", ["OK Search completed."]),
        ("UID FETCH $ UID", ["* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)", "* 5 FETCH (UID 5)", "OK Fetch completed."]),
        ("STORE $ +FLAGS (\\Flagged)", [
            "* 3 FETCH (FLAGS (\\Flagged))",
            "* 4 FETCH (FLAGS (\\Flagged))",
            "* 5 FETCH (FLAGS (\\Flagged))",
            "OK Store completed.",
        ]),
        ("UID STORE $ -FLAGS (\\Flagged)", [
            "* 3 FETCH (UID 3 FLAGS ())",
            "* 4 FETCH (UID 4 FLAGS ())",
            "* 5 FETCH (UID 5 FLAGS ())",
            "OK Store completed.",
        ]),
        ("COPY $ srt", ["OK [COPYUID V 3:5 1:3] Copy completed."]),
        ("UID COPY $ srt", ["OK [COPYUID V 3:5 4:6] Copy completed."]),
        // ESORT with SAVE: MIN and MAX are first and last in sort order.
        ("SORT RETURN (SAVE) (SUBJECT) UTF-8 2:5", ["OK Sort completed."]),
        ("FETCH $ UID", [
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "* 4 FETCH (UID 4)",
            "* 5 FETCH (UID 5)",
            "OK Fetch completed.",
        ]),
        ("SORT RETURN (SAVE MIN) (SUBJECT) UTF-8 2:5", ["* ESEARCH (TAG \"TAG\") MIN 5", "OK Sort completed."]),
        ("FETCH $ UID", ["* 5 FETCH (UID 5)", "OK Fetch completed."]),
        ("UID SORT RETURN (SAVE MAX COUNT) (SUBJECT) UTF-8 2:5", [
            "* ESEARCH (TAG \"TAG\") UID MAX 2 COUNT 4",
            "OK Sort completed.",
        ]),
        ("FETCH $ UID", [
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "* 4 FETCH (UID 4)",
            "* 5 FETCH (UID 5)",
            "OK Fetch completed.",
        ]),
        ("SORT (SUBJECT) UTF-8 $", ["* SORT 5 4 3 2", "OK Sort completed."]),
        ("SORT RETURN (SAVE) (SUBJECT) FOO ALL", ["NO [BADCHARSET] Unknown charset."]),
        ("FETCH $ UID", ["OK Fetch completed."]),
        // SELECT, EXAMINE, CLOSE and UNSELECT forget `$`.
        ("SEARCH RETURN (SAVE) ALL", ["OK Search completed."]),
        ("UNSELECT", ["OK Unselect completed."]),
        ("SELECT sr", selectAnswer),
        ("FETCH $ UID", ["OK Fetch completed."]),
        ("SEARCH RETURN (SAVE) ALL", ["OK Search completed."]),
        ("EXAMINE sr", [
            "* OK [CLOSED] Previous mailbox closed.",
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS ()] Read-only mailbox.",
            "* 8 EXISTS",
            "* 0 RECENT",
            "* OK [UNSEEN 1] First unseen.",
            "* OK [UIDVALIDITY V] UIDs valid",
            "* OK [UIDNEXT 9] Predicted next UID",
            "OK [READ-ONLY] Examine completed.",
        ]),
        ("FETCH $ UID", ["OK Fetch completed."]),
        ("SEARCH RETURN (SAVE) ALL", ["OK Search completed."]),
        ("CLOSE", ["OK Close completed."]),
        ("SELECT sr", selectAnswer),
        ("FETCH $ UID", ["OK Fetch completed."]),
        // Expunged messages drop out of `$`, whoever expunged them; MOVE and UID EXPUNGE take `$`.
        ("SEARCH RETURN (SAVE) 2:4", ["OK Search completed."]),
        ("STORE 3 +FLAGS.SILENT (\\Deleted)", ["OK Store completed."]),
        ("EXPUNGE", ["* 3 EXPUNGE", "OK Expunge completed."]),
        ("FETCH $ UID", ["* 2 FETCH (UID 2)", "* 3 FETCH (UID 4)", "OK Fetch completed."]),
        ("B:SELECT sr", [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
            "* 7 EXISTS",
            "* 0 RECENT",
            "* OK [UNSEEN 1] First unseen.",
            "* OK [UIDVALIDITY V] UIDs valid",
            "* OK [UIDNEXT 9] Predicted next UID",
            "OK [READ-WRITE] Select completed.",
        ]),
        ("B:MOVE 2 srt", ["* OK [COPYUID V 2 7] Moved UIDs.", "* 2 EXPUNGE", "OK Move completed."]),
        ("NOOP", ["* 2 EXPUNGE", "OK NOOP completed."]),
        ("FETCH $ UID", ["* 2 FETCH (UID 4)", "OK Fetch completed."]),
        ("UID SEARCH $", ["* SEARCH 4", "OK Search completed."]),
        ("SEARCH RETURN (SAVE) 4:5", ["OK Search completed."]),
        ("MOVE $ srt", ["* OK [COPYUID V 6:7 8:9] Moved UIDs.", "* 5 EXPUNGE", "* 4 EXPUNGE", "OK Move completed."]),
        ("FETCH $ UID", ["OK Fetch completed."]),
        ("UID SEARCH RETURN (SAVE) UID 8", ["OK Search completed."]),
        ("UID MOVE $ srt", ["* OK [COPYUID V 8 10] Moved UIDs.", "* 4 EXPUNGE", "OK Move completed."]),
        ("UID FETCH $ UID", ["OK Fetch completed."]),
        ("UID SEARCH RETURN (SAVE) ALL", ["OK Search completed."]),
        ("STORE $ +FLAGS.SILENT (\\Deleted)", ["OK Store completed."]),
        ("UID EXPUNGE $", ["* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE", "OK Expunge completed."]),
        ("FETCH $ UID", ["OK Fetch completed."]),
        ("SEARCH $", ["* SEARCH", "OK Search completed."]),
    ]

    /// Sets the folder up, selects it and returns each command's answer.
    static func answers(port: Int) throws -> [[String]] {
        let a = try IMAPClientTests.login(port)
        let b = try IMAPClientTests.login(port)
        _ = try a.command("m1", "CREATE sr")
        _ = try a.command("m2", "CREATE srt")
        for (i, message) in messages.enumerated() {
            let reply = try a.command("a\(i)", "APPEND sr {\(message.utf8.count)+}\r\n\(message)")
            #expect(reply.last?.hasPrefix("a\(i) OK") == true)
        }
        // A session that selected the folder and left took \Recent with it: when Roost and
        // Dovecot send RECENT is no part of SEARCHRES.
        let first = try IMAPClientTests.login(port)
        _ = try first.command("f1", "SELECT sr")
        _ = try first.command("f2", "LOGOUT")
        _ = try a.command("s", "SELECT sr")
        var answers: [[String]] = []
        for (i, (command, _)) in expected.enumerated() {
            let (client, text) = command.hasPrefix("B:") ? (b, String(command.dropFirst(2))) : (a, command)
            let tag = "c\(i)"
            let lines = try client.command(tag, text)
            guard let tagged = lines.last else { answers.append([]); continue }
            let answer = lines.dropLast() + IMAPDovecotDifferentialTests.normalized([String(tagged.dropFirst(tag.count + 1))])
            answers.append(answer.map {
                $0.replacingOccurrences(of: "(TAG \"\(tag)\")", with: "(TAG \"TAG\")")
                    .replacingOccurrences(of: #"(UIDVALIDITY|COPYUID) \d+"#, with: "$1 V", options: .regularExpression)
            })
        }
        _ = try a.command("z", "LOGOUT")
        _ = try b.command("z", "LOGOUT")
        return answers
    }

    @Test func searchResAnswersAsDovecotDoes() throws {
        try DovecotAnswerTable.expectRoostAnswers(Self.expected, script: Self.answers)
    }

    /// The same script against a private Dovecot: the expected answers are still Dovecot's.
    @Test(.enabled(if: IMAPDovecotDifferentialTests.enabled))
    func searchResAnswersEqualDovecots() throws {
        try DovecotAnswerTable.expectDovecotAnswers(Self.expected, script: Self.answers)
    }

    @Test func searchResIsAdvertisedAfterLogin() throws {
        let (roost, port, _) = try IMAPClientTests.start()
        defer { roost.stop() }
        let c = try IMAPClientTests.login(port)
        let caps = try c.command("c", "CAPABILITY").first ?? ""
        #expect(caps.contains(" ESEARCH ESORT SEARCHRES SORT "))
        #expect(try c.command("n", "FETCH $ UID") == ["n BAD No mailbox selected."])
    }
}
