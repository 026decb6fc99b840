// Malformed input must never trap: truncate and mutate every corpus message and
// ask for every kind of FETCH data.

import Testing
@testable import MailMessage

private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func exercise(_ bytes: [UInt8]) {
    let m = MailMessage(bytes: bytes)
    _ = m.envelopeBytes()
    _ = m.bodyStructure(extended: true)
    _ = m.rfc822Size
    for spec in ["", "HEADER", "TEXT", "1", "1.MIME", "2.1", "1.HEADER.FIELDS (FROM)", "2.HEADER.FIELDS.NOT (TO)", "1.1.TEXT"] {
        _ = m.section(BodySection.parse(spec)!)
    }
    for p in m.root.children { _ = p.decodedText(); _ = p.decodedBody() }
    _ = m.header.decodedValue("subject")
}

@Suite struct RobustnessTests {
    @Test(arguments: Fixtures.messageNames)
    func truncatedAndMutatedMessagesDoNotTrap(_ name: String) throws {
        let bytes = try #require(Fixtures.bytes(Fixtures.messages.appendingPathComponent(name)))
        let step = max(1, bytes.count / 40)
        for cut in stride(from: 0, through: bytes.count, by: step) { exercise(Array(bytes[..<cut])) }
        var rng = SplitMix64(state: UInt64(bytes.count))
        let interesting: [UInt8] = Array("-\r\n:;\"=?()<>@\\ \t".utf8) + [0, 0x80, 0xFF]
        for _ in 0..<30 {
            var b = bytes
            for _ in 0..<8 where !b.isEmpty {
                let i = Int.random(in: 0..<b.count, using: &rng)
                b[i] = interesting.randomElement(using: &rng)!
            }
            exercise(b)
        }
    }

    @Test func tinyInputs() {
        for s in ["", "\n", "\r\n", "-", "--", ":", "\r", "a", "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n"] {
            exercise(Array(s.utf8))
        }
    }
}
