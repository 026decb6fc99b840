import Testing
@testable import MailMessage

@Suite struct BodySectionParseTests {
    @Test(arguments: [
        ("", [Int](), BodySection.Text?.none),
        ("HEADER", [], .header),
        ("text", [], .text),
        ("1.2.MIME", [1, 2], .mime),
        ("2.1.3", [2, 1, 3], nil),
        ("1.HEADER.FIELDS (FROM TO)", [1], .headerFields(["FROM", "TO"])),
        ("HEADER.FIELDS.NOT (Received)", [], .headerFieldsNot(["RECEIVED"])),
    ] as [(String, [Int], BodySection.Text?)])
    func valid(_ input: String, _ path: [Int], _ text: BodySection.Text?) {
        let s = BodySection.parse(input)
        #expect(s?.path == path)
        #expect(s?.text == text)
    }

    @Test(arguments: ["MIME", "0", "1.0", "FOO", "HEADER.FIELDS", "HEADER.FIELDS ()"])
    func invalid(_ input: String) {
        #expect(BodySection.parse(input) == nil)
    }

    @Test func partialSlicesNormalisedBytes() {
        let m = MailMessage("Subject: x\n\n0123456789\n")
        var s = BodySection.parse("TEXT")!
        s.partial = (2, 5)
        #expect(m.section(s) == Array("23456".utf8))
        s.partial = (100, 5)
        #expect(m.section(s).isEmpty)
    }

    @Test func headerFieldsKeepsFoldingAndOrder() {
        let m = MailMessage("To: a\r\nSubject: s\r\n t\r\nFrom: f\r\n\r\nb")
        #expect(m.section(BodySection.parse("HEADER.FIELDS (FROM SUBJECT)")!) == Array("Subject: s\r\n t\r\nFrom: f\r\n\r\n".utf8))
        #expect(m.section(BodySection.parse("HEADER.FIELDS.NOT (FROM SUBJECT)")!) == Array("To: a\r\n\r\n".utf8))
    }
}

@Suite struct EnvelopeTests {
    @Test func basicEnvelope() {
        let m = MailMessage("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: Hi\r\nFrom: \"A B\" <a@b.c>\r\nTo: x@y, z@w\r\nMessage-ID: <m@x>\r\n\r\n")
        #expect(String(decoding: m.envelopeBytes(), as: UTF8.self) ==
            "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"Hi\" ((\"A B\" NIL \"a\" \"b.c\")) ((\"A B\" NIL \"a\" \"b.c\")) "
            + "((\"A B\" NIL \"a\" \"b.c\")) ((NIL NIL \"x\" \"y\")(NIL NIL \"z\" \"w\")) NIL NIL NIL \"<m@x>\")")
    }

    @Test func eightBitAndFoldedSubjectsBecomeLiterals() {
        let m = MailMessage("Subject: caf\u{E9}\r\n\r\n")
        #expect(String(decoding: m.envelopeBytes(), as: UTF8.self).hasPrefix("(NIL {5}\r\ncafé NIL"))
        let f = MailMessage("Subject: a\r\n b\r\n\r\n")
        #expect(String(decoding: f.envelopeBytes(), as: UTF8.self).hasPrefix("(NIL {3}\r\na b NIL"))
    }
}

@Suite struct IMAPQuotingTests {
    @Test(arguments: [
        ("plain", "\"plain\""),
        ("a\"b", "\"a\\\"b\""),
        ("a\\\\\\\\\\b", "{7}\r\na\\\\\\\\\\b"),
        ("line\nbreak", "{10}\r\nline\nbreak"),
    ])
    func nstring(_ input: String, _ wire: String) {
        var w = IMAPWriter()
        w.nstring(Array(input.utf8))
        #expect(String(decoding: w.out, as: UTF8.self) == wire)
    }

    @Test func nilAndHumanStrings() {
        var w = IMAPWriter()
        w.nstring(nil)
        w.humanString(Array("  ".utf8))
        w.humanString(Array("a\tb".utf8))
        #expect(String(decoding: w.out, as: UTF8.self) == "NIL\"\"{3}\r\na b")
    }
}
