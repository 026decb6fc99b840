import Foundation
import Testing
@testable import IMAPServer
import Maildir

/// SEARCH CHARSET (RFC 3501 §6.4.4): search strings in any charset MailMessage decodes. The
/// expected lines are Dovecot 2.3.19's answers on the same six messages, its timing suffix
/// " (0.001 + 0.000 secs)." written as ".".
@Suite struct SearchCharsetTests {
    /// Each character of `text` as one byte (U+0000…U+00FF), so a test can write raw
    /// latin-1, latin-2 or UTF-8 bytes: "caf\u{E9}" is c a f 0xE9.
    static func bytes(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8($0.value) } }

    static let messages = [
        "Subject: =?UTF-8?Q?caf=C3=A9?=\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
            + "Content-Transfer-Encoding: 8bit\n\nun caf\u{E9} noir\n",
        "Subject: plain\n\nnothing here\n",
        "Subject: =?ISO-8859-15?Q?prix_=A4?=\n\n5 euro\n",
        "Subject: =?UTF-8?Q?CAF=C3=89?=\n\nup\n",
        "Subject: =?ISO-8859-2?Q?=B1=E6?=\n\nPolish\n",
        "Subject: x\nContent-Type: text/plain; charset=iso-8859-2\nContent-Transfer-Encoding: 8bit\n\nZ\u{B3}oty\n",
    ]

    static func harness() throws -> SessionHarness {
        let h = try SessionHarness()
        let folder = try MaildirStore(root: h.root).openFolder("INBOX")
        defer { folder.close() }
        for m in messages {
            try folder.save(bytes(m.replacingOccurrences(of: "\n", with: "\r\n")), flags: [], keywords: [],
                            internalDate: Date(timeIntervalSince1970: 1_700_000_000))
        }
        #expect(h.transact("s SELECT INBOX").last?.hasPrefix("s OK") == true)
        return h
    }

    /// Sends `line` (one byte per character) and CRLF.
    static func search(_ h: SessionHarness, _ line: String) -> [String] { h.send(bytes(line + "\r\n")) }

    @Test func latin1LiteralFindsHeaderAndBody() throws {
        let h = try Self.harness()
        // Subjects =?UTF-8?Q?caf=C3=A9?= and =?UTF-8?Q?CAF=C3=89?=; the body of 1 is ISO-8859-1.
        #expect(Self.search(h, "a SEARCH CHARSET ISO-8859-1 SUBJECT {4+}\r\ncaf\u{E9}") == [
            "* SEARCH 1 4", "a OK Search completed."])
        #expect(Self.search(h, "b SEARCH CHARSET ISO-8859-1 BODY {4+}\r\ncaf\u{E9}") == [
            "* SEARCH 1", "b OK Search completed."])
        #expect(Self.search(h, "c SEARCH CHARSET latin1 SUBJECT {4+}\r\ncaf\u{E9}") == [
            "* SEARCH 1 4", "c OK Search completed."])
        #expect(Self.search(h, "d SEARCH CHARSET ISO-8859-1 SUBJECT \"caf\u{E9}\"") == [
            "* SEARCH 1 4", "d OK Search completed."])
        #expect(Self.search(h, "e SEARCH charset iso-8859-1 subject {4}\r\ncaf\u{E9}").suffix(2) == [
            "* SEARCH 1 4", "e OK Search completed."])
        #expect(Self.search(h, "f SEARCH CHARSET UTF-8 SUBJECT {5+}\r\ncaf\u{C3}\u{A9}") == [
            "* SEARCH 1 4", "f OK Search completed."])
        // Dovecot reads US-ASCII as UTF-8.
        #expect(Self.search(h, "g SEARCH CHARSET US-ASCII SUBJECT {5+}\r\ncaf\u{C3}\u{A9}") == [
            "* SEARCH 1 4", "g OK Search completed."])
        #expect(Self.search(h, "h UID SEARCH RETURN (COUNT) CHARSET ISO-8859-1 SUBJECT {4+}\r\ncaf\u{E9}") == [
            "* ESEARCH (TAG \"h\") UID COUNT 2", "h OK Search completed."])
    }

    @Test func iso885915EuroSignAndLatin1CurrencySign() throws {
        let h = try Self.harness()
        #expect(Self.search(h, "a SEARCH CHARSET ISO-8859-15 SUBJECT {1+}\r\n\u{A4}") == [
            "* SEARCH 3", "a OK Search completed."])
        // 0xA4 is ¤ in latin-1, not €.
        #expect(Self.search(h, "b SEARCH CHARSET ISO-8859-1 SUBJECT {1+}\r\n\u{A4}") == [
            "* SEARCH", "b OK Search completed."])
        #expect(Self.search(h, "c SEARCH CHARSET windows-1252 SUBJECT {1+}\r\n\u{80}") == [
            "* SEARCH 3", "c OK Search completed."])
        #expect(Self.search(h, "d SEARCH CHARSET UTF-8 SUBJECT {3+}\r\n\u{E2}\u{82}\u{AC}") == [
            "* SEARCH 3", "d OK Search completed."])
    }

    @Test func iso88592() throws {
        let h = try Self.harness()
        #expect(Self.search(h, "a SEARCH CHARSET ISO-8859-2 SUBJECT {2+}\r\n\u{B1}\u{E6}") == [
            "* SEARCH 5", "a OK Search completed."])
        #expect(Self.search(h, "b SEARCH CHARSET ISO-8859-2 BODY {4+}\r\nZ\u{B3}ot") == [
            "* SEARCH 6", "b OK Search completed."])
        // The same byte in latin-1 is ³.
        #expect(Self.search(h, "c SEARCH CHARSET ISO-8859-1 TEXT {4+}\r\nZ\u{B3}OT") == [
            "* SEARCH", "c OK Search completed."])
    }

    @Test func caseInsensitiveAcrossCharsets() throws {
        let h = try Self.harness()
        // É in latin-1 finds é in a UTF-8 word and in a latin-1 body.
        #expect(Self.search(h, "a SEARCH CHARSET ISO-8859-1 TEXT {4+}\r\nCAF\u{C9}") == [
            "* SEARCH 1 4", "a OK Search completed."])
        // Ą Ć in latin-2 find ą ć; Ł finds ł in a latin-2 body.
        #expect(Self.search(h, "b SEARCH CHARSET ISO-8859-2 SUBJECT {2+}\r\n\u{A1}\u{C6}") == [
            "* SEARCH 5", "b OK Search completed."])
        #expect(Self.search(h, "c SEARCH CHARSET ISO-8859-2 BODY {5+}\r\nZ\u{A3}OTY") == [
            "* SEARCH 6", "c OK Search completed."])
    }

    @Test func unknownCharset() throws {
        let h = try Self.harness()
        #expect(h.transact("a SEARCH CHARSET X-UNKNOWN ALL") == ["a NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("b SEARCH CHARSET X-UNKNOWN SUBJECT foo") == ["b NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("c UID SEARCH CHARSET X-UNKNOWN UID 1") == ["c NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("d SEARCH RETURN (ALL) CHARSET X-UNKNOWN ALL") == ["d NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("e SEARCH CHARSET ISO-8859-12 ALL") == ["e NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("f SEARCH CHARSET NIL ALL") == ["f NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("g SEARCH CHARSET ISO-8859-1*en ALL") == ["g NO [BADCHARSET] Unknown charset."])
        // The charset is checked at the first text key, else once every key parsed: a bad key
        // before that is BAD (Dovecot's text starts "Error in IMAP command SEARCH: ").
        #expect(h.transact("h SEARCH CHARSET X-UNKNOWN SUBJECT foo BADKEY") == ["h NO [BADCHARSET] Unknown charset."])
        #expect(h.transact("i SEARCH CHARSET X-UNKNOWN BADKEY SUBJECT foo")
            == ["i BAD Error in IMAP command SEARCH: Unknown argument BADKEY."])
        #expect(h.transact("j SEARCH CHARSET X-UNKNOWN foo") == ["j BAD Error in IMAP command SEARCH: Unknown argument FOO."])
        #expect(h.transact("k UID SEARCH CHARSET") == ["k BAD Error in IMAP command UID SEARCH: Invalid charset argument."])
        #expect(h.transact("l SEARCH CHARSET (UTF-8) ALL") == ["l BAD Error in IMAP command SEARCH: Invalid charset argument."])
    }

    @Test func knownCharsetsWithoutTextKeys() throws {
        let h = try Self.harness()
        for (tag, charset) in [("a", "KOI8-R"), ("b", "ISO-8859-11"), ("c", "cp1252"), ("d", "latin-9"), ("e", "\"\""),
                               ("f", "Shift_JIS"), ("g", "utf8")] {
            #expect(h.transact("\(tag) SEARCH CHARSET \(charset) ALL") == [
                "* SEARCH 1 2 3 4 5 6", "\(tag) OK Search completed."], "\(charset)")
        }
    }

    @Test func bytesThatAreNotTextInTheCharsetGetBAD() throws {
        let h = try Self.harness()
        let bad = "BAD Error in IMAP command SEARCH: Invalid search key."
        #expect(Self.search(h, "a SEARCH CHARSET UTF-8 SUBJECT {4+}\r\ncaf\u{E9}") == ["a \(bad)"])
        #expect(Self.search(h, "b SEARCH SUBJECT {4+}\r\ncaf\u{E9}") == ["b \(bad)"])
        #expect(Self.search(h, "c SEARCH CHARSET US-ASCII SUBJECT {4+}\r\ncaf\u{E9}") == ["c \(bad)"])
        #expect(Self.search(h, "d SEARCH CHARSET ISO-8859-3 SUBJECT {1+}\r\n\u{A5}") == ["d \(bad)"])
        #expect(Self.search(h, "e SEARCH CHARSET windows-1252 SUBJECT {1+}\r\n\u{81}") == ["e \(bad)"])
        #expect(Self.search(h, "f SEARCH CHARSET \"\" SUBJECT {5+}\r\ncaf\u{C3}\u{A9}") == ["f \(bad)"])
        #expect(Self.search(h, "g SEARCH CHARSET UTF-8 HEADER {4+}\r\ncaf\u{E9} x") == ["g \(bad)"])
        #expect(Self.search(h, "h SEARCH RETURN (ALL) CHARSET UTF-8 SUBJECT {4+}\r\ncaf\u{E9}") == ["h \(bad)"])
        #expect(Self.search(h, "i UID SEARCH CHARSET UTF-8 SUBJECT {4+}\r\ncaf\u{E9}") == [
            "i BAD Error in IMAP command UID SEARCH: Invalid search key."])
        // Keywords are not converted.
        #expect(Self.search(h, "j SEARCH CHARSET UTF-8 KEYWORD {4+}\r\ncaf\u{E9}") == ["* SEARCH", "j OK Search completed."])
    }
}
