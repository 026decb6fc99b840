import Testing
import IMAPProtocol

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Test func statusResponses() {
    #expect(text(IMAPResponse.tagged(tag: "a1", status: .ok, code: "READ-WRITE", text: "SELECT completed").encoded)
        == "a1 OK [READ-WRITE] SELECT completed\r\n")
    #expect(text(IMAPResponse.tagged(tag: "a1", status: .no, code: nil, text: "nope").encoded) == "a1 NO nope\r\n")
    #expect(text(IMAPResponse.untaggedStatus(status: .ok, code: "UIDVALIDITY 3857529045", text: "UIDs valid").encoded)
        == "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n")
    #expect(text(IMAPResponse.untagged("3 EXISTS").encoded) == "* 3 EXISTS\r\n")
    #expect(text(IMAPResponse.continuation("Ready for literal data").encoded) == "+ Ready for literal data\r\n")
    #expect(text(IMAPResponse.continuation("").encoded) == "+ \r\n")
    #expect(text(IMAPResponse.bad(tag: nil, text: "Empty command line").encoded) == "* BAD Empty command line\r\n")
    #expect(text(IMAPResponse.bad(tag: "x", text: "Invalid").encoded) == "x BAD Invalid\r\n")
    // Text can never end the line early.
    #expect(text(IMAPResponse.tagged(tag: "a", status: .bad, code: nil, text: "evil\r\n* OK injected").encoded)
        == "a BAD evil  * OK injected\r\n")
}

@Test func parseErrorsHaveMessages() {
    let errors: [IMAPParseError] = [.emptyLine, .invalidTag, .missingCommand, .unexpectedCharacter(0x0D), .invalidLiteral]
    for error in errors { #expect(!error.message.isEmpty) }
    #expect(IMAPParseError.unexpectedCharacter(0x0D).message == "Invalid characters in atom")
    #expect(IMAPParseError.unexpectedCharacter(0xC3).message == "8bit data in atom")
}

typealias EncodeRow = Row<String, String>

let astringRows: [EncodeRow] = [
    EncodeRow("INBOX", "INBOX"),
    EncodeRow("Sent]", "Sent]"),
    EncodeRow("", "\"\""),
    EncodeRow("a b", "\"a b\""),
    EncodeRow("a\"b\\c", #""a\"b\\c""#),
    EncodeRow("NIL", "\"NIL\""),
    EncodeRow("nil", "\"nil\""),
    EncodeRow("%*", "\"%*\""),
    EncodeRow("(x)", "\"(x)\""),
    EncodeRow("{3}", "\"{3}\""),
    EncodeRow("Grün", "{5}\r\nGrün"),
    EncodeRow("a\r\nb", "{4}\r\na\r\nb"),
    EncodeRow("a\0b", "{3}\r\na\0b"),
]

@Test("astring encoding", arguments: astringRows)
func astringEncoding(row: EncodeRow) {
    #expect(text(IMAPEncoder.astring(row.input)) == row.expected, sourceLocation: row.location)
}

@Test func nstringEncoding() {
    #expect(text(IMAPEncoder.quotedOrLiteral(nil as String?)) == "NIL")
    #expect(text(IMAPEncoder.quotedOrLiteral("INBOX")) == "\"INBOX\"")
    #expect(text(IMAPEncoder.quotedOrLiteral("Grün")) == "{5}\r\nGrün")
    #expect(text(IMAPEncoder.quotedOrLiteral("Grün", allowUTF8: true)) == "\"Grün\"")
    #expect(IMAPEncoder.quotedOrLiteral([0xFF], allowUTF8: true) == Array("{1}\r\n".utf8) + [0xFF])
    let long = String(repeating: "x", count: IMAPEncoder.maxQuotedLength + 1)
    #expect(text(IMAPEncoder.quotedOrLiteral(long)).hasPrefix("{1025}\r\n"))
}

@Test("encoded strings parse back to themselves",
      arguments: ["INBOX", "", " ", "a b", "\"", "\\", "a\"b\\c", "NIL", "nil", "()", "{5}", "[x]", "%*",
                  "Grün", "日本語", "a\r\nb", "\r", "\n", "x\0y", String(repeating: "y", count: 2000)])
func encoderRoundTrip(value: String) {
    let original = Array(value.utf8)
    var line = Array("a LOGIN ".utf8)
    line += IMAPEncoder.astring(original)
    line += Array(" ".utf8)
    line += IMAPEncoder.quotedOrLiteral(original)
    line += Array(" (".utf8)
    line += IMAPEncoder.quotedOrLiteral(original, allowUTF8: true)
    line += Array(")\r\n".utf8)
    for chunkSize in [nil, 1] {
        let events = parseEvents(line, chunkSize: chunkSize)
        guard case .command(let parsed)? = events.last else {
            Issue.record("no command for \(value.debugDescription): \(events)")
            continue
        }
        #expect(events.dropLast().allSatisfy { $0 == .continuationNeeded })
        #expect(parsed.astring(at: 0) == original)
        #expect(parsed.argument(at: 1)?.stringBytes == original)
        #expect(parsed.list(at: 2)?.first?.stringBytes == original)
    }
}

@Test func nilRoundTrip() {
    let line = Array("a X ".utf8) + IMAPEncoder.quotedOrLiteral(nil as [UInt8]?) + Array("\r\n".utf8)
    #expect(parseEvents(line) == [command("a", "X", .nil)])
}

@Test func capabilitySet() {
    var capabilities = CapabilitySet()
    capabilities.insert("LITERAL+")
    capabilities.insert("SASL-IR")
    capabilities.insert("imap4rev1")
    capabilities.insert("AUTH=PLAIN")
    #expect(capabilities.capabilities == ["IMAP4rev1", "LITERAL+", "SASL-IR", "AUTH=PLAIN"])
    #expect(capabilities.line == "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN")
    #expect(capabilities.contains("sasl-ir"))
    capabilities.remove("auth=plain")
    #expect(capabilities.responseCode == "CAPABILITY IMAP4rev1 LITERAL+ SASL-IR")
    #expect(text(capabilities.response.encoded) == "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR\r\n")
    #expect(CapabilitySet(["IMAP4rev1", "IDLE", "IDLE"]).capabilities == ["IMAP4rev1", "IDLE"])
}
