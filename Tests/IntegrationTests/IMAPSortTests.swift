import Foundation
import Testing

/// SORT and UID SORT (RFC 5256, SORT=DISPLAY of RFC 5957) through the real binary: a corpus of
/// twelve messages chosen for the corners (reply and forward markers, list tags, "[fwd: …]",
/// encoded words, missing and unparsable dates, obsolete zones, groups, "<>", empty display
/// names, equal keys), answered exactly as Dovecot 2.3 answers them. The expected lines were
/// taken from Dovecot; `sortAnswersEqualDovecots` checks them against a live one where it can.
@Suite struct IMAPSortTests {
    /// (internal date, message) in APPEND order.
    static let corpus: [(String, String)] = [
        ("01-Jan-2020 10:00:00 +0000", "From: Zed <zed@b.example>\r\nTo: amy@z.example\r\nCc: bob@a.example\r\nSubject: Re: hello\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\nx\r\n"),
        ("02-Jan-2020 10:00:00 +0000", "From: \"Amy Adams\" <zoe@a.example>\r\nTo: Carl <carl@c.example>\r\nSubject: hello\r\nDate: Tue, 1 Jul 2003 08:52:36 +0000\r\n\r\nlonger body here\r\n"),
        ("03-Jan-2020 10:00:00 +0000", "From: bob@c.example\r\nTo: undisclosed-recipients:;\r\nSubject: [list] Fwd: Hello (fwd)\r\nDate: garbage\r\n\r\nx\r\n"),
        ("04-Jan-2020 10:00:00 +0000", "From: =?UTF-8?Q?=C3=89mile?= <emile@x.example>\r\nSubject: =?UTF-8?Q?R=C3=A9sum=C3=A9?=\r\nDate: 2 Jul 2003 00:00 EST\r\n\r\nx\r\n"),
        ("05-Jan-2020 10:00:00 +0000", "Subject: [fwd: re: [x] Topic]\r\n\r\nno from at all, no date\r\n"),
        ("06-Jan-2020 10:00:00 +0000", "From: <>\r\nTo: a@b\r\nSubject: RE: RE:  re:topic   \r\nDate: Wed, 2 Jul 2003 05:00:00 +0500\r\n\r\nx\r\n"),
        ("07-Jan-2020 10:00:00 +0000", "From: Group: a@x.example, b@y.example;\r\nSubject: [a][b] fw: [c] re[d]: final\r\nDate: Thu, 03 Jul 2003 12:00:00 -0700\r\n\r\nbody\r\n"),
        ("07-Jan-2020 10:00:00 +0000", "From: AMY@z.example\r\nCc: Xavier <xav@x.example>, zed@z.example\r\nSubject: [only a blob]\r\nDate: Thu, 3 Jul 2003 12:00 -0700\r\n\r\nbody!\r\n"),
        ("08-Jan-2020 10:00:00 +0000", "From: amy@y.example\r\nSubject: Re[2]: hello\r\nDate: 29 Feb 2004 23:59:59 +1400\r\n\r\nbody\r\n"),
        ("09-Jan-2020 10:00:00 +0000", "From: \"\" <nobody@q.example>\r\nTo: \"Zed\" <aaa@z.example>\r\nSubject: Fw: Fwd: [x]\r\n\r\n\r\n"),
        ("01-Jan-2019 10:00:00 +0000", "From: Mary <mary@m.example>\r\nTo: =?ISO-8859-1?Q?=C9douard?= <ed@e.example>\r\nSubject: \t (fwd)  \r\nDate: Mon, 30 Jun 2003 23:00:00 GMT\r\n\r\nxx\r\n"),
        ("01-Jan-2019 10:00:00 +0000", "From: mary <mary@m.example>\r\nSubject: re:\r\nDate: Mon, 30 Jun 2003 23:00:00 GMT\r\n\r\nxx\r\n"),
    ]

    /// Each command with Dovecot 2.3's answer (timing suffix dropped).
    static let expected: [(String, [String])] = [
        ("SORT (ARRIVAL) UTF-8 ALL", ["* SORT 11 12 1 2 3 4 5 6 7 8 9 10"]),
        ("SORT (REVERSE ARRIVAL) UTF-8 ALL", ["* SORT 10 9 7 8 6 5 4 3 2 1 11 12"]),
        ("SORT (DATE) UTF-8 ALL", ["* SORT 11 12 2 1 6 4 7 8 9 3 5 10"]),
        ("SORT (REVERSE DATE) UTF-8 ALL", ["* SORT 10 5 3 9 7 8 4 6 1 2 11 12"]),
        ("SORT (FROM) UTF-8 ALL", ["* SORT 5 8 9 3 4 7 11 12 6 10 1 2"]),
        ("SORT (REVERSE FROM) UTF-8 ALL", ["* SORT 2 1 10 6 11 12 7 4 3 8 9 5"]),
        ("SORT (TO) UTF-8 ALL", ["* SORT 4 5 7 8 9 12 6 10 1 2 11 3"]),
        ("SORT (CC) UTF-8 ALL", ["* SORT 2 3 4 5 6 7 9 10 11 12 1 8"]),
        ("SORT (SUBJECT) UTF-8 ALL", ["* SORT 11 12 7 1 2 3 9 4 5 6 8 10"]),
        ("SORT (REVERSE SUBJECT) UTF-8 ALL", ["* SORT 10 8 5 6 4 1 2 3 9 7 11 12"]),
        ("SORT (SIZE) UTF-8 ALL", ["* SORT 5 10 9 12 6 3 4 7 1 8 2 11"]),
        ("SORT (REVERSE SIZE) UTF-8 ALL", ["* SORT 11 2 8 1 7 4 3 6 9 12 10 5"]),
        ("SORT (DISPLAYFROM) UTF-8 ALL", ["* SORT 5 2 9 8 3 4 7 11 12 6 10 1"]),
        ("SORT (DISPLAYTO) UTF-8 ALL", ["* SORT 4 5 7 8 9 12 6 1 2 11 3 10"]),
        ("SORT (SUBJECT DATE) UTF-8 ALL", ["* SORT 11 12 7 2 1 9 3 4 6 5 8 10"]),
        ("SORT (FROM REVERSE DATE) UTF-8 ALL", ["* SORT 5 9 8 3 4 7 11 12 6 10 1 2"]),
        ("SORT (FROM REVERSE DATE FROM DATE REVERSE FROM) UTF-8 ALL", ["* SORT 5 9 8 3 4 7 11 12 6 10 1 2"]),
        ("UID SORT (SUBJECT) UTF-8 ALL", ["* SORT 11 12 7 1 2 3 9 4 5 6 8 10"]),
        ("SORT (SUBJECT) UTF-8 NOT FROM amy", ["* SORT 11 12 7 1 3 4 5 6 10"]),
        ("SORT (DATE) US-ASCII 2:6", ["* SORT 2 6 4 3 5"]),
        ("SORT (X-SCORE) UTF-8 ALL", ["* SORT 1 2 3 4 5 6 7 8 9 10 11 12"]),
        ("SORT (REVERSE X-SCORE) UTF-8 ALL", ["* SORT 1 2 3 4 5 6 7 8 9 10 11 12"]),
        ("UID SORT (REVERSE DISPLAYFROM) UTF-8 UID 3:*", ["* SORT 10 6 11 12 7 4 3 8 9 5"]),
        ("SORT (SUBJECT) UTF-8 SUBJECT hello", ["* SORT 1 2 3 9"]),
        ("SORT (DATE) UTF-8 SUBJECT nothing", ["* SORT"]),
        ("SORT (DATE) {5+}\r\nUTF-8 ALL", ["* SORT 11 12 2 1 6 4 7 8 9 3 5 10"]),
        ("SORT (\"DATE\") UTF-8 ALL", ["* SORT 11 12 2 1 6 4 7 8 9 3 5 10"]),
        ("SORT (foo) UTF-8 ALL", ["BAD Error in IMAP command SORT: Unknown sort argument: foo."]),
        ("SORT (reverse) UTF-8 ALL", ["BAD Error in IMAP command SORT: Sort list ends with REVERSE."]),
        ("SORT () UTF-8 ALL", ["BAD Error in IMAP command SORT: Empty sort program."]),
        ("SORT DATE UTF-8 ALL", ["BAD Error in IMAP command SORT: Invalid sort argument."]),
        ("SORT (DATE (SUBJECT)) UTF-8 ALL", ["BAD Error in IMAP command SORT: Invalid sort list argument."]),
        ("SORT (DATE) NIL ALL", ["NO [BADCHARSET] Unknown charset."]),
        ("SORT (DATE) X-UNKNOWN ALL", ["NO [BADCHARSET] Unknown charset."]),
        ("SORT (DATE) (UTF-8) ALL", ["BAD Error in IMAP command SORT: Invalid charset argument."]),
        ("SORT (DATE) UTF-8 FOO", ["BAD Error in IMAP command SORT: Unknown argument FOO."]),
        ("SORT (DATE) UTF-8", ["BAD Error in IMAP command SORT: Missing search parameters."]),
        ("SORT (DATE)", ["BAD Error in IMAP command SORT: Invalid charset argument."]),
        ("SORT", ["BAD Error in IMAP command SORT: Invalid sort argument."]),
        // ESORT (RFC 5267): MIN and MAX first and last in sort order, ALL in sort order.
        ("SORT RETURN (MIN MAX ALL COUNT) (SUBJECT) UTF-8 ALL", ["* ESEARCH (TAG \"TAG\") MIN 11 MAX 10 ALL 11:12,7,1:3,9,4:6,8,10 COUNT 12"]),
        ("SORT RETURN (ALL) (DATE) UTF-8 ALL", ["* ESEARCH (TAG \"TAG\") ALL 11:12,2,1,6,4,7:9,3,5,10"]),
        ("SORT RETURN () (ARRIVAL) UTF-8 ALL", ["* ESEARCH (TAG \"TAG\") ALL 11:12,1:10"]),
        ("SORT RETURN (COUNT) (SUBJECT) UTF-8 ALL", ["* ESEARCH (TAG \"TAG\") COUNT 12"]),
        ("SORT RETURN (MIN) (REVERSE ARRIVAL) UTF-8 ALL", ["* ESEARCH (TAG \"TAG\") MIN 10"]),
        ("UID SORT RETURN (MIN MAX ALL COUNT) (REVERSE SUBJECT) UTF-8 ALL", ["* ESEARCH (TAG \"TAG\") UID MIN 10 MAX 12 ALL 10,8,5:6,4,1:3,9,7,11:12 COUNT 12"]),
        ("SORT RETURN (ALL COUNT) (SUBJECT) UTF-8 SUBJECT nothing", ["* ESEARCH (TAG \"TAG\") COUNT 0"]),
        ("SORT RETURN (MIN MAX) (SUBJECT) UTF-8 SUBJECT nothing", ["* ESEARCH (TAG \"TAG\")"]),
        ("SORT RETURN (FOO) (SUBJECT) UTF-8 ALL", ["BAD Error in IMAP command SORT: Unknown SEARCH return option."]),
        ("SORT RETURN (ALL) (SIZE) UTF-8 1:4", ["* ESEARCH (TAG \"TAG\") ALL 3:4,1:2"]),
        ("SORT RETURN ALL (SUBJECT) UTF-8 ALL", ["BAD Error in IMAP command SORT: Invalid sort argument."]),
        ("SORT RETURN (ALL) UTF-8 ALL", ["BAD Error in IMAP command SORT: Invalid sort argument."]),
    ]

    /// Appends the corpus, selects INBOX and returns each command's answer: its untagged lines
    /// and, for a tagged OK, nothing more; else the tagged line without tag and timing.
    static func answers(port: Int) throws -> [[String]] {
        let c = try IMAPClientTests.login(port)
        for (i, (date, message)) in corpus.enumerated() {
            let reply = try c.command("a\(i)", "APPEND INBOX \"\(date)\" {\(message.utf8.count)+}\r\n\(message)")
            #expect(reply.last?.hasPrefix("a\(i) OK") == true)
        }
        _ = try c.command("s", "SELECT INBOX")
        var answers: [[String]] = []
        for (i, (command, _)) in expected.enumerated() {
            let lines = IMAPDovecotDifferentialTests.normalized(try c.command("c\(i)", command))
                .map { $0.replacingOccurrences(of: "(TAG \"c\(i)\")", with: "(TAG \"TAG\")") }
            answers.append(DovecotAnswerTable.answer(lines, tag: "c\(i)"))
        }
        _ = try c.command("z", "LOGOUT")
        return answers
    }

    @Test func sortAnswersAsDovecotDoes() throws {
        try DovecotAnswerTable.expectRoostAnswers(Self.expected, script: Self.answers)
    }

    /// The same script against a private Dovecot: the expected answers are still Dovecot's.
    @Test(.enabled(if: IMAPDovecotDifferentialTests.enabled))
    func sortAnswersEqualDovecots() throws {
        try DovecotAnswerTable.expectDovecotAnswers(Self.expected, script: Self.answers)
    }

    @Test func sortIsAdvertisedAfterLogin() throws {
        let (roost, port, _) = try IMAPClientTests.start()
        defer { roost.stop() }
        let c = try IMAPClientTests.login(port)
        let caps = try c.command("c", "CAPABILITY").first ?? ""
        #expect(caps.hasSuffix(" ESEARCH ESORT SEARCHRES SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT"))
        #expect(try c.command("n", "SORT (DATE) UTF-8 ALL") == ["n BAD No mailbox selected."])
    }

    /// A SORT after changes sees them; the header keys of a message are read once per mail
    /// process (a Maildir file's content never changes), and the first SORT fills roost.cache.
    @Test func laterSortsSeeChangesAndReuseWhatTheyRead() throws {
        let (roost, port, _) = try IMAPClientTests.start()
        defer { roost.stop() }
        let c = try IMAPClientTests.login(port)
        for (i, subject) in ["b", "c", "a"].enumerated() {
            let m = "Subject: \(subject)\r\n\r\nx\r\n"
            _ = try c.command("a\(i)", "APPEND INBOX {\(m.utf8.count)+}\r\n\(m)")
        }
        _ = try c.command("s", "SELECT INBOX")
        #expect(try c.command("1", "SORT (SUBJECT) UTF-8 ALL") == ["* SORT 3 1 2", "1 OK Sort completed."])
        let inbox = IMAPClientTests.maildir(roost)
        #expect(FileManager.default.fileExists(atPath: inbox + "/roost.cache"))
        // Rewritten behind Roost's back (no Maildir writer does this): the keys it read stay.
        let files = IMAPClientTests.messageFiles(inbox)
        let second = try #require(files.first { (try? String(contentsOfFile: inbox + "/" + $0, encoding: .utf8))?.contains("Subject: c") == true })
        try "Subject: 0\r\n\r\nx\r\n".write(toFile: inbox + "/" + second, atomically: false, encoding: .utf8)
        #expect(try c.command("2", "SORT (SUBJECT) UTF-8 ALL") == ["* SORT 3 1 2", "2 OK Sort completed."])
        // New and expunged messages are seen.
        let m = "Subject: aa\r\n\r\nx\r\n"
        _ = try c.command("a9", "APPEND INBOX {\(m.utf8.count)+}\r\n\(m)")
        _ = try c.command("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = try c.command("e", "EXPUNGE")
        #expect(try c.command("3", "SORT (SUBJECT) UTF-8 ALL") == ["* SORT 2 3 1", "3 OK Sort completed."])
        #expect(try c.command("4", "UID SORT (REVERSE SUBJECT) UTF-8 ALL") == ["* SORT 2 4 3", "4 OK Sort completed."])
    }
}
