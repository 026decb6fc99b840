import Testing
@testable import MailMessage

/// The unparsed whole-message path (BODY[], RFC822) must give exactly what the parsed
/// section path gives, for CRLF, bare-LF and mixed messages, with and without partials.
struct WholeMessageTests {
    static let samples: [[UInt8]] = [
        Array("Subject: a\r\n\r\nbody\r\n".utf8),
        Array("Subject: a\n\nbody\nmore\n".utf8),
        Array("\nSubject: a\r\n\nx\r\ny\n".utf8),
        Array("no newline at all".utf8),
        [],
        Array("\r\n\n\r\r\n\n".utf8),
    ]

    @Test(arguments: samples)
    func matchesParsedSection(_ bytes: [UInt8]) {
        let parsed = MailMessage(bytes: bytes)
        #expect(MailMessage.wholeMessage(bytes) == parsed.section(BodySection()))
        for partial in [(0, 1), (2, 5), (1000, 3), (0, 10_000)] {
            var spec = BodySection()
            spec.partial = partial
            #expect(MailMessage.wholeMessage(bytes, partial: partial) == parsed.section(spec))
        }
    }

    @Test func bareLineFeedsBecomeCRLF() {
        #expect(crlfNormalized(Array("a\nb\r\nc\n".utf8), 0..<7) == Array("a\r\nb\r\nc\r\n".utf8))
        // An LF at the start of a range is bare even after a CR outside it.
        #expect(crlfNormalized(Array("\r\nx".utf8), 1..<3) == Array("\r\nx".utf8))
        #expect(crlfNormalized(Array("abc".utf8), 1..<1) == [])
    }
}
