import Testing
@testable import MailMessage

@Suite struct AddressParserTests {
    private func render(_ s: String) -> [String] {
        AddressParser.parse(s).map { a in
            [a.name, a.route, a.mailbox, a.domain].map { $0.map { String(decoding: $0, as: UTF8.self) } ?? "NIL" }
                .joined(separator: "|")
        }
    }

    @Test func forms() {
        #expect(render("a@b") == ["NIL|NIL|a|b"])
        #expect(render("\"Doe, J\" <j@d.example>") == ["Doe, J|NIL|j|d.example"])
        #expect(render("j@d (John Doe)") == ["John Doe|NIL|j|d"])
        #expect(render("\"a b\"@c") == ["NIL|NIL|a b|c"])
        #expect(render("<@r1,@r2:x@y>") == ["NIL|@r1,@r2|x|y"])
        #expect(render("G: a@b, c@d;, e@f") == ["NIL|NIL|G|NIL", "NIL|NIL|a|b", "NIL|NIL|c|d", "NIL|NIL|NIL|NIL", "NIL|NIL|e|f"])
        #expect(render("undisclosed-recipients:;") == ["NIL|NIL|undisclosed-recipients|NIL", "NIL|NIL|NIL|NIL"])
        #expect(render("Bücher <info@bücher.example>") == ["Bücher|NIL|info|bücher.example"])
        #expect(render("noat") == ["NIL|NIL|noat|MISSING_DOMAIN"])
        #expect(render("Name <>") == ["Name|NIL|MISSING_MAILBOX|MISSING_DOMAIN"])
        #expect(render("") == [])
    }
}

@Suite struct DecodingTests {
    @Test func base64() {
        #expect(TransferEncoding.decodeBase64(Array("SGVsbG8g\r\nV29ybGQh".utf8)) == Array("Hello World!".utf8))
        #expect(TransferEncoding.decodeBase64(Array("YQ==".utf8)) == Array("a".utf8))
        #expect(TransferEncoding.decodeBase64(Array("YWI".utf8)) == Array("ab".utf8))
    }

    @Test func quotedPrintable() {
        #expect(TransferEncoding.decodeQuotedPrintable(Array("Caf=E9 =\r\nau lait=20\r\nx  \r\n=ZZ".utf8))
                == Array("Caf".utf8) + [0xE9] + Array(" au lait \r\nx\r\n=ZZ".utf8))
        #expect(TransferEncoding.decodeQuotedPrintable(Array("a_b".utf8), underscoreIsSpace: true) == Array("a b".utf8))
    }

    @Test func encodedWords() {
        #expect(HeaderDecoder.decodeEncodedWords("=?UTF-8?B?SGVsbG8g?= =?UTF-8?B?V29ybGQ=?= and =?iso-8859-1?q?caf=E9?=")
                == "Hello World and café")
        #expect(HeaderDecoder.decodeEncodedWords("=?ISO-8859-1?Q?Keld_J=F8rn?= <k@x>") == "Keld Jørn <k@x>")
        // A multi-byte character split across two words.
        #expect(HeaderDecoder.decodeEncodedWords("=?utf-8?B?4oI=?=\r\n =?utf-8?B?rA==?=") == "€")
        #expect(HeaderDecoder.decodeEncodedWords("=?KOI8-R?B?8NLJ18XU?=") == "Привет")
        #expect(HeaderDecoder.decodeEncodedWords("=?x-unknown?Q?abc?=") == "abc")
        #expect(HeaderDecoder.decodeEncodedWords("not =?broken") == "not =?broken")
        #expect(HeaderDecoder.decodeEncodedWords("a =?utf-8?q?b?= c") == "a b c")
    }

    @Test func charsets() {
        #expect(Charset.decode([0x63, 0xE9], name: "Latin1") == "cé")
        #expect(Charset.decode([0xA4], name: "ISO-8859-15") == "€")
        #expect(Charset.decode([0x80], name: "cp1252") == "€")
        #expect(Charset.decode([0xC0], name: "windows-1251") == "А")
        #expect(Charset.decode([0xF0, 0xD2], name: "koi8-r") == "Пр")
        #expect(Charset.decode([0x1B, 0x24, 0x42, 0x24, 0x33, 0x1B, 0x28, 0x42], name: "ISO-2022-JP") == "こ")
        #expect(Charset.decode([0x41], name: "no-such-charset") == nil)
        #expect(Charset.decodeUnlabelled([0xE9]) == "é")
        #expect(Charset.canonicalName("UTF8") == "utf-8")
        #expect(Charset.canonicalName("iso_8859-2:1987") == "iso-8859-2")
    }

    @Test func decodedPartText() {
        let m = MailMessage("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\nSubject: =?utf-8?q?=C3=A9t=C3=A9?=\r\n\r\nCaf=E9\r\n")
        #expect(m.root.decodedText() == "Café\r\n")
        #expect(m.header.decodedValue("subject") == "été")
    }
}
