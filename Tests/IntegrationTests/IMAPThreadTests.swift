import Foundation
import Testing

/// THREAD and UID THREAD (RFC 5256 §3–4, and Dovecot's REFS) through the real binary: a corpus
/// chosen for the corners of threading — References, In-Reply-To (with text around its ids, and
/// ignored when References has one), parents that are missing (dummies) or come later, loops,
/// self-references, conflicting parents, duplicate and absent Message-IDs, ids that are not
/// ids, quoted ids, a References of 150 ids, roots joined by subject (reply under original,
/// two originals under a dummy, dummies merged), dates missing, unparsable or 1970 — answered
/// exactly as Dovecot 2.3 answers them. A message expunged first makes UIDs differ from
/// sequence numbers. `threadAnswersEqualDovecots` checks the table against a live Dovecot.
@Suite struct IMAPThreadTests {
    static func m(_ header: String) -> String { header.replacingOccurrences(of: "\n", with: "\r\n") + "\r\nx\r\n" }
    static let longReferences = (0..<150).map { " <r\($0)@x>" }.joined()

    /// (internal date, message) in APPEND order, after one that is expunged.
    static let corpus: [(String, String)] = [
        ("01-Jan-2020 10:00:00 +0000", m("Message-ID: <a@x>\nSubject: thread a\nDate: Tue, 1 Jul 2003 10:00:00 +0000\n")),
        ("02-Jan-2020 10:00:00 +0000", m("Message-ID: <b@x>\nReferences: <a@x>\nSubject: Re: thread a\nDate: Tue, 1 Jul 2003 12:00:00 +0000\n")),
        ("03-Jan-2020 10:00:00 +0000", m("Message-ID: <c@x>\nIn-Reply-To: Your message <b@x> (of yesterday) <zz@x>\nSubject: Re: thread a\nDate: Tue, 1 Jul 2003 11:00:00 +0000\n")),
        ("04-Jan-2020 10:00:00 +0000", m("Message-ID: <d@x>\nReferences: <missing1@x>\n <missing2@x>\nSubject: lost parent\nDate: Wed, 2 Jul 2003 10:00:00 +0000\n")),
        ("05-Jan-2020 10:00:00 +0000", m("Message-ID: <e@x>\nReferences: <missing1@x>\nSubject: Re: lost parent\nDate: Wed, 2 Jul 2003 09:00:00 +0000\n")),
        ("06-Jan-2020 10:00:00 +0000", m("Message-ID: <f@x>\nReferences: <g@x>\nSubject: loop\nDate: Thu, 3 Jul 2003 10:00:00 +0000\n")),
        ("07-Jan-2020 10:00:00 +0000", m("Message-ID: <g@x>\nReferences: <f@x>\nSubject: loop\nDate: Thu, 3 Jul 2003 09:00:00 +0000\n")),
        ("08-Jan-2020 10:00:00 +0000", m("Message-ID: <h@x>\nReferences: <h@x> <a@x> <h@x>\nSubject: self\n")),
        ("09-Jan-2020 10:00:00 +0000", m("Message-ID: <a@x>\nReferences: <d@x>\nSubject: Re: lost parent\nDate: garbage\n")),
        ("10-Jan-2020 10:00:00 +0000", m("References: <a@x>\nSubject: Re: thread a\nDate: Tue, 1 Jul 2003 10:30:00 +0000\n")),
        ("11-Jan-2020 10:00:00 +0000", m("Subject: Re: thread a\nDate: Mon, 30 Jun 2003 10:00:00 +0000\n")),
        ("12-Jan-2020 10:00:00 +0000", m("Message-ID: <t1@x>\nSubject: topic\nDate: Fri, 4 Jul 2003 10:00:00 +0000\n")),
        ("13-Jan-2020 10:00:00 +0000", m("Message-ID: <t2@x>\nSubject: [list] topic\nDate: Fri, 4 Jul 2003 09:00:00 +0000\n")),
        ("14-Jan-2020 10:00:00 +0000", m("Message-ID: <t3@x>\nSubject: Fwd: topic\nDate: Fri, 4 Jul 2003 08:00:00 +0000\n")),
        ("15-Jan-2020 10:00:00 +0000", m("Message-ID: <u1@x>\nSubject: Re: topic2\nDate: Sat, 5 Jul 2003 08:00:00 +0000\n")),
        ("16-Jan-2020 10:00:00 +0000", m("Message-ID: <u2@x>\nSubject: topic2 (fwd)\nDate: Sat, 5 Jul 2003 09:00:00 +0000\n")),
        ("17-Jan-2020 10:00:00 +0000", m("Message-ID: <u3@x>\nSubject: topic2\nDate: Sat, 5 Jul 2003 10:00:00 +0000\n")),
        ("18-Jan-2020 10:00:00 +0000", m("Message-ID: <k@x>\nReferences: <p1@x> <m@x>\nSubject: conflict\nDate: Sun, 6 Jul 2003 10:00:00 +0000\n")),
        ("19-Jan-2020 10:00:00 +0000", m("Message-ID: <l@x>\nReferences: <p2@x> <m@x>\nSubject: conflict2\nDate: Sun, 6 Jul 2003 11:00:00 +0000\n")),
        ("20-Jan-2020 10:00:00 +0000", m("Message-ID: <m@x>\nReferences: <p2@x>\nSubject: conflict3\nDate: Sun, 6 Jul 2003 09:00:00 +0000\n")),
        ("21-Jan-2020 10:00:00 +0000", m("Message-ID: <n@x>\nReferences: <noat> junk <\"quoted local\"@x> <s@x>\nSubject: =?UTF-8?Q?R=C3=A9sum=C3=A9?=\n")),
        ("22-Jan-2020 10:00:00 +0000", m("Message-ID: < \"quoted local\" @ x >\nSubject: Re: =?UTF-8?Q?r=C3=A9sum=C3=A9?=\nDate: Mon, 7 Jul 2003 10:00:00 +0000\n")),
        ("23-Jan-2020 10:00:00 +0000", m("Message-ID: <s@x>\nSubject:\nDate: Mon, 7 Jul 2003 11:00:00 +0000\n")),
        ("24-Jan-2020 10:00:00 +0000", m("Message-ID: <v@x>\nDate: Mon, 7 Jul 2003 12:00:00 +0000\n")),
        ("25-Jan-2020 10:00:00 +0000", m("Message-ID: <w@x>\nReferences: <v@x> <w2@x>\nIn-Reply-To: <a@x>\nSubject: Re: [fwd: other]\nDate: Mon, 7 Jul 2003 12:00:00 +0000\n")),
        ("26-Jan-2020 10:00:00 +0000", m("Message-ID: <w3@x>\nReferences: <w2@x>\nSubject: other\nDate: Tue, 8 Jul 2003 12:00:00 +0000\n")),
        ("27-Jan-2020 10:00:00 +0000", m("Message-ID: <y@x>\nReferences: <f@x> <g@x> <f@x>\nSubject: loop\n")),
        ("01-Jan-2019 10:00:00 +0000", m("Message-ID: <z@x>\nReferences: <missing3@x>\nSubject: other\n")),
        ("01-Jan-2019 10:00:00 +0000", m("Message-ID: <z2@x>\nReferences: <missing3@x>\nSubject: fw: other\nDate: Thu, 1 Jan 1970 00:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <p1@x>\nReferences: <missing4@x>\nSubject: pair\nDate: Wed, 9 Jul 2003 10:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <p2@x>\nReferences: <missing4@x>\nSubject: Re: pair\nDate: Wed, 9 Jul 2003 11:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <p3@x>\nReferences: <missing5@x>\nSubject: pair\nDate: Wed, 9 Jul 2003 12:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <p4@x>\nReferences: <missing5@x>\nSubject: pair\nDate: Wed, 9 Jul 2003 09:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <o1@x>\nSubject: Re: other\nDate: Thu, 10 Jul 2003 09:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <long@x>\nReferences:\(longReferences)\nSubject: long\nDate: Thu, 10 Jul 2003 10:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <noat> <q@x>\nReferences: <j@x>\nSubject: q\nDate: Fri, 11 Jul 2003 10:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <j@x>\nReferences: <q@x>\nSubject: Re: q\nDate: Fri, 11 Jul 2003 11:00:00 +0000\n")),
        ("02-Jan-2019 10:00:00 +0000", m("Message-ID: <j2@x>\nIn-Reply-To: <bogus> <q@x>\nSubject: Re: q\nDate: Fri, 11 Jul 2003 09:00:00 +0000\n")),
    ]

    /// Each command with Dovecot 2.3's answer (timing suffix dropped).
    static let expected: [(String, [String])] = [
        ("THREAD REFERENCES UTF-8 ALL", ["* THREAD (11)((5)(4 9))(7 6 27)((13 14)(12))(17 (15)(16))(22)(23 21)(24 (25)(26))((33)(30)(31 20 (18)(19))(32))((34)(28)(29))(35)(37 36 38)(8 1 (10)(2 3))"]),
        ("UID THREAD REFERENCES UTF-8 ALL", ["* THREAD (12)((6)(5 10))(8 7 28)((14 15)(13))(18 (16)(17))(23)(24 22)(25 (26)(27))((34)(31)(32 21 (19)(20))(33))((35)(29)(30))(36)(38 37 39)(9 2 (11)(3 4))"]),
        ("THREAD ORDEREDSUBJECT UTF-8 ALL", ["* THREAD (11 (1)(10)(3)(2))(5 (4)(9))(7 (6)(27))(14 (13)(12))(15 (16)(17))(20)(18)(19)(22 21)(23 24)(25 (26)(34)(28)(29))(33 (30)(31)(32))(35)(38 (36)(37))(8)"]),
        ("UID THREAD ORDEREDSUBJECT UTF-8 ALL", ["* THREAD (12 (2)(11)(4)(3))(6 (5)(10))(8 (7)(28))(15 (14)(13))(16 (17)(18))(21)(19)(20)(23 22)(24 25)(26 (27)(35)(29)(30))(34 (31)(32)(33))(36)(39 (37)(38))(9)"]),
        ("THREAD REFS UTF-8 ALL", ["* THREAD (11)(14)(13)(12)(15)(16)(17)(22)(24 (25)(26))((30)(31 20 (18)(19)))((33)(32))(34)(35)(37 36 38)((28)(29))(8 1 (10)(2 3))((5)(4 9))(23 21)(7 6 27)"]),
        ("UID THREAD REFS UTF-8 ALL", ["* THREAD (12)(15)(14)(13)(16)(17)(18)(23)(25 (26)(27))((31)(32 21 (19)(20)))((34)(33))(35)(36)(38 37 39)((29)(30))(9 2 (11)(3 4))((6)(5 10))(24 22)(8 7 28)"]),
        ("THREAD REFERENCES UTF-8 NOT SUBJECT loop", ["* THREAD (11)((5)(4 9))((13 14)(12))(17 (15)(16))(22)(23 21)(24 (25)(26))((33)(30)(31 20 (18)(19))(32))((34)(28)(29))(35)(37 36 38)(8 1 (10)(2 3))"]),
        ("THREAD REFERENCES US-ASCII 5:12", ["* THREAD (11)((5)(9 10))(7 6)(12)(8)"]),
        ("UID THREAD REFERENCES UTF-8 UID 3:*", ["* THREAD (12)((6)(5 10 (11)(3 4)))(8 7 28)((14 15)(13))(18 (16)(17))(23)(24 22)(25 (26)(27))((34)(31)(32 21 (19)(20))(33))((35)(29)(30))(36)(38 37 39)(9)"]),
        ("THREAD ORDEREDSUBJECT UTF-8 2:20", ["* THREAD (11 (10)(3)(2))(5 (4)(9))(7 6)(14 (13)(12))(15 (16)(17))(20)(18)(19)(8)"]),
        ("THREAD REFERENCES UTF-8 OR SUBJECT topic SUBJECT conflict", ["* THREAD ((13 14)(12))(17 (15)(16))(20 (18)(19))"]),
        ("THREAD REFERENCES UTF-8 SUBJECT thread", ["* THREAD (1 (11)(10)(2 3))"]),
        ("THREAD references utf-8 ALL", ["* THREAD (11)((5)(4 9))(7 6 27)((13 14)(12))(17 (15)(16))(22)(23 21)(24 (25)(26))((33)(30)(31 20 (18)(19))(32))((34)(28)(29))(35)(37 36 38)(8 1 (10)(2 3))"]),
        ("THREAD REFERENCES UTF-8 SUBJECT nothing", ["* THREAD "]),
        ("THREAD ORDEREDSUBJECT UTF-8 SUBJECT nothing", ["* THREAD "]),
        ("THREAD FOO UTF-8 ALL", ["BAD Error in IMAP command THREAD: Unknown thread algorithm."]),
        ("THREAD REFERENCES UTF-8", ["BAD Error in IMAP command THREAD: Missing search parameters."]),
        ("THREAD REFERENCES", ["BAD Error in IMAP command THREAD: Invalid arguments."]),
        ("THREAD", ["BAD Error in IMAP command THREAD: Invalid arguments."]),
        ("THREAD REFERENCES X-UNKNOWN ALL", ["NO [BADCHARSET] Unknown charset."]),
        ("THREAD REFERENCES NIL ALL", ["NO [BADCHARSET] Unknown charset."]),
        ("THREAD (REFERENCES) UTF-8 ALL", ["BAD Error in IMAP command THREAD: Invalid arguments."]),
        ("THREAD REFERENCES (UTF-8) ALL", ["BAD Error in IMAP command THREAD: Invalid arguments."]),
        ("THREAD REFERENCES UTF-8 FOO", ["BAD Error in IMAP command THREAD: Unknown argument FOO."]),
        ("THREAD \"REFERENCES\" {5+}\r\nUTF-8 ALL", ["* THREAD (11)((5)(4 9))(7 6 27)((13 14)(12))(17 (15)(16))(22)(23 21)(24 (25)(26))((33)(30)(31 20 (18)(19))(32))((34)(28)(29))(35)(37 36 38)(8 1 (10)(2 3))"]),
        ("THREAD FOO X-UNKNOWN ALL", ["BAD Error in IMAP command THREAD: Unknown thread algorithm."]),
        ("THREAD FOO UTF-8", ["BAD Error in IMAP command THREAD: Unknown thread algorithm."]),
        ("THREAD REFS UTF-8 1:3", ["* THREAD (1 2 3)"]),
        ("THREAD REFERENCES UTF-8 30:*", ["* THREAD ((33)(30)(31)(32))(34)(35)(37 36 38)"]),
        ("UID THREAD ORDEREDSUBJECT UTF-8 SINCE 1-Jan-2020", ["* THREAD (12 (2)(11)(4)(3))(6 (5)(10))(8 (7)(28))(15 (14)(13))(16 (17)(18))(21)(19)(20)(23 22)(24 25)(26 27)(9)"]),
        ("UID THREAD REFS UTF-8 NOT 28", ["* THREAD (12)(15)(14)(13)(16)(17)(18)(23)(25 (26)(27))((31)(32 21 (19)(20)))((34)(33))(35)(36)(38 37 39)(30)(9 2 (11)(3 4))((6)(5 10))(24 22)(8 7 28)"]),
        // Again: now from the header keys the mail process kept.
        ("THREAD REFERENCES UTF-8 ALL", ["* THREAD (11)((5)(4 9))(7 6 27)((13 14)(12))(17 (15)(16))(22)(23 21)(24 (25)(26))((33)(30)(31 20 (18)(19))(32))((34)(28)(29))(35)(37 36 38)(8 1 (10)(2 3))"]),
    ]

    /// Appends the corpus, selects INBOX, expunges the first message and returns each
    /// command's answer: its untagged lines and, for a tagged OK, nothing more; else the
    /// tagged line without tag and timing.
    static func answers(port: Int) throws -> [[String]] {
        let c = try IMAPClientTests.login(port)
        let gone = m("Message-ID: <missing3@x>\nSubject: other\n")
        for (i, (date, message)) in ([("01-Jan-2019 09:00:00 +0000", gone)] + corpus).enumerated() {
            let reply = try c.command("a\(i)", "APPEND INBOX \"\(date)\" {\(message.utf8.count)+}\r\n\(message)")
            #expect(reply.last?.hasPrefix("a\(i) OK") == true)
        }
        _ = try c.command("s", "SELECT INBOX")
        _ = try c.command("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = try c.command("e", "EXPUNGE")
        var answers: [[String]] = []
        for (i, (command, _)) in expected.enumerated() {
            let lines = IMAPDovecotDifferentialTests.normalized(try c.command("c\(i)", command))
            answers.append(DovecotAnswerTable.answer(lines, tag: "c\(i)"))
        }
        _ = try c.command("z", "LOGOUT")
        return answers
    }

    @Test func threadAnswersAsDovecotDoes() throws {
        try DovecotAnswerTable.expectRoostAnswers(Self.expected, script: Self.answers)
    }

    /// The same script against a private Dovecot: the expected answers are still Dovecot's.
    @Test(.enabled(if: IMAPDovecotDifferentialTests.enabled))
    func threadAnswersEqualDovecots() throws {
        try DovecotAnswerTable.expectDovecotAnswers(Self.expected, script: Self.answers)
    }

    @Test func threadIsAdvertisedAfterLogin() throws {
        let (roost, port, _) = try IMAPClientTests.start()
        defer { roost.stop() }
        let c = try IMAPClientTests.login(port)
        let caps = try c.command("c", "CAPABILITY").first ?? ""
        #expect(caps.hasSuffix(" SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT"))
        #expect(try c.command("n", "THREAD REFERENCES UTF-8 ALL") == ["n BAD No mailbox selected."])
    }
}
