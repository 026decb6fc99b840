import Testing
@testable import MailMessage

private func msg(_ s: String, crlf: Bool = true) -> MailMessage {
    MailMessage(crlf ? s.replacingLF() : s)
}

extension String {
    func replacingLF() -> String {
        var out = ""
        for ch in self { if ch == "\n" { out += "\r\n" } else { out.append(ch) } }
        return out
    }
}

@Suite struct HeaderTests {
    @Test func lookupIsCaseInsensitiveAndUnfolds() {
        let m = msg("SUBJECT: hello\n  world\nx-a: 1\nX-A: 2\n\nbody\n")
        #expect(m.header.value("subject") == "hello  world")
        #expect(m.header.fields(named: "x-a").count == 2)
        #expect(m.header.fullValue(m.header.first("Subject")!) == Array("hello\n  world".utf8))
        #expect(m.header.endsWithBlankLine)
    }

    @Test func brokenHeaderLinesAreKept() {
        let m = msg("From: a@b\nno colon here\nSubject : spaced\n\nbody\n")
        #expect(m.header.fields.count == 3)
        #expect(m.header.name(of: m.header.fields[1]) == "no colon here")
        #expect(m.header.fields[1].valueRange == nil)
        #expect(m.header.value("subject") == "spaced")
    }

    @Test func headerOnlyMessage() {
        let m = msg("Subject: x\nFrom: y@z", crlf: false)
        #expect(m.header.fields.count == 2)
        #expect(!m.header.endsWithBlankLine)
        #expect(m.root.bodyRange.isEmpty)
    }

    @Test func eightBitHeaderBytesSurvive() {
        let bytes: [UInt8] = Array("Subject: caf".utf8) + [0xE9] + Array("\r\n\r\nb".utf8)
        let m = MailMessage(bytes: bytes)
        #expect(m.header.unfoldedValue(m.header.first("subject")!) == Array("caf".utf8) + [0xE9])
    }
}

@Suite struct MIMEStructureTests {
    @Test func nestedMultipartWithPreambleAndEpilogue() {
        let m = msg("""
        Content-Type: multipart/mixed; boundary=o

        preamble
        --o
        Content-Type: multipart/alternative; boundary=i

        --i
        Content-Type: text/plain

        plain
        --i
        Content-Type: text/html

        <b>html</b>
        --i--
        --o
        Content-Type: application/octet-stream

        data
        --o--
        epilogue

        """)
        #expect(m.root.children.count == 2)
        #expect(m.root.children[0].children.count == 2)
        #expect(m.section(BodySection.parse("1.1")!) == Array("plain".utf8))
        #expect(m.section(BodySection.parse("1.2")!) == Array("<b>html</b>".utf8))
        #expect(m.section(BodySection.parse("2")!) == Array("data".utf8))
        #expect(m.part(at: [3]) == nil)
    }

    @Test func missingFinalBoundaryEndsAtEOF() {
        let m = msg("Content-Type: multipart/mixed; boundary=x\n\n--x\n\none\n--x\n\ntwo\n")
        #expect(m.root.children.count == 2)
        #expect(m.section(BodySection.parse("2")!) == Array("two\r\n".utf8))
    }

    @Test func outerBoundaryClosesUnterminatedInner() {
        let m = msg("""
        Content-Type: multipart/mixed; boundary=O

        --O
        Content-Type: multipart/alternative; boundary=I

        --I

        inner
        --O

        outer
        --O--
        """)
        #expect(m.root.children.count == 2)
        #expect(m.root.children[0].children.count == 1)
        #expect(m.section(BodySection.parse("2")!) == Array("outer".utf8))
    }

    @Test func messageRFC822IsParsedAndNumbered() {
        let m = msg("""
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: message/rfc822

        Subject: inner
        Content-Type: multipart/mixed; boundary=c

        --c

        first
        --c
        Content-Type: text/plain

        second
        --c--
        --b--
        """)
        #expect(m.root.children[0].isMessageRFC822)
        #expect(m.section(BodySection.parse("1.HEADER.FIELDS (SUBJECT)")!) == Array("Subject: inner\r\n\r\n".utf8))
        #expect(m.section(BodySection.parse("1.2")!) == Array("second".utf8))
        let bs = String(decoding: m.bodyStructure(extended: false), as: UTF8.self)
        #expect(bs.hasPrefix("((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" "))
        #expect(bs.contains("(NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL)"))
    }

    @Test func bareLFCountsAsCRLF() {
        let m = MailMessage("Subject: x\n\none\ntwo\n")
        #expect(m.rfc822Size == "Subject: x\r\n\r\none\r\ntwo\r\n".utf8.count)
        #expect(m.section(BodySection(path: [])) == Array("Subject: x\r\n\r\none\r\ntwo\r\n".utf8))
        #expect(m.root.bodyLines == 2)
        #expect(m.root.bodySize == 10)
    }

    @Test func deepNestingIsBounded() {
        var s = ""
        for i in 0..<400 { s += "Content-Type: multipart/mixed; boundary=b\(i)\r\n\r\n--b\(i)\r\n" }
        s += "\r\nleaf\r\n"
        let m = MailMessage(s)
        var depth = 0
        var p = m.root
        while let c = p.children.first { p = c; depth += 1 }
        #expect(depth <= 100)
        #expect(!m.bodyStructure(extended: true).isEmpty)
    }

    @Test func multipartWithoutBoundaryGetsEmptyStandIn() {
        let m = msg("Content-Type: multipart/mixed\n\n--x\n\nhi\n")
        #expect(String(decoding: m.bodyStructure(extended: false), as: UTF8.self)
                == "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")")
    }

    @Test func digestDefaultsToMessageRFC822() {
        let m = msg("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nx\n--d--\n")
        #expect(m.root.children.first?.isMessageRFC822 == true)
    }

    @Test func extensionDataInBodyStructure() {
        let m = msg("""
        MIME-Version: 1.0
        Content-Type: text/plain; charset=utf-8; format=flowed
        Content-ID: <id@x>
        Content-Description: desc
        Content-Transfer-Encoding: quoted-printable
        Content-MD5: abc=
        Content-Disposition: inline; filename="a b.txt"
        Content-Language: en, de
        Content-Location: http://x/y

        hi
        """)
        #expect(String(decoding: m.bodyStructure(extended: true), as: UTF8.self) ==
            "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") \"<id@x>\" \"desc\" "
            + "\"quoted-printable\" 2 0 \"abc=\" (\"inline\" (\"filename\" \"a b.txt\")) (\"en\" \"de\") \"http://x/y\")")
    }

    @Test func contentTypeWithoutMIMEVersionStillCounts() {
        let m = msg("Content-Transfer-Encoding: base64\n\naGk=\n")
        // No MIME-Version and no Content-Type: the Content-* data is ignored (RFC 2045 §4).
        #expect(m.root.content.transferEncoding == nil)
        let m2 = msg("MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\naGk=\n")
        #expect(m2.root.decodedBody() == Array("hi".utf8))
    }
}
