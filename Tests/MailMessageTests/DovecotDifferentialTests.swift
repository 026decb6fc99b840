// Differential test: Roost's FETCH data against answers recorded from Dovecot 2.3.19.
//
// Tests/Fixtures/messages/NAME.* are the messages; Tests/Fixtures/dovecot-fetch/NAME.txt
// holds Dovecot's answers (written by record.py there). Where Dovecot departs
// from the RFCs, NAME.override.txt (same format) holds Roost's expected answer
// and NOTES.md says why.

import Foundation
import Testing
@testable import MailMessage

enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let messages = root.appendingPathComponent("messages")
    static let recorded = root.appendingPathComponent("dovecot-fetch")

    static var messageNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: messages.path)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
    }

    static func bytes(_ url: URL) -> [UInt8]? {
        (try? Data(contentsOf: url)).map { [UInt8]($0) }
    }

    /// Parses ">>> ITEM LEN\n<LEN bytes>\n" records.
    static func records(_ data: [UInt8]) -> [(item: String, value: [UInt8])] {
        var out: [(String, [UInt8])] = []
        var i = 0
        while i < data.count {
            guard let nl = data[i...].firstIndex(of: 0x0A) else { break }
            let line = String(decoding: data[i..<nl], as: UTF8.self)
            guard line.hasPrefix(">>> "), let sp = line.lastIndex(of: " "),
                  let len = Int(line[line.index(after: sp)...]) else { break }
            let item = String(line[line.index(line.startIndex, offsetBy: 4)..<sp])
            out.append((item, Array(data[(nl + 1)..<(nl + 1 + len)])))
            i = nl + 1 + len + 1
        }
        return out
    }

    /// The bytes of an IMAP nstring as recorded: literal, quoted or NIL.
    static func nstringValue(_ v: [UInt8]) -> [UInt8] {
        if v.first == UInt8(ascii: "{"), let crlf = v.firstIndex(of: 0x0A) { return Array(v[(crlf + 1)...]) }
        if v.first == UInt8(ascii: "\"") {
            var out: [UInt8] = []
            var i = 1
            while i < v.count - 1 {
                if v[i] == UInt8(ascii: "\\") { i += 1 }
                out.append(v[i]); i += 1
            }
            return out
        }
        return []
    }
}

/// Roost's answer for one recorded FETCH item, in the recorded value's form.
func roostAnswer(_ m: MailMessage, item: String) -> [UInt8]? {
    switch item {
    case "RFC822.SIZE": return Array(String(m.rfc822Size).utf8)
    case "ENVELOPE": return m.envelopeBytes()
    case "BODY": return m.bodyStructure(extended: false)
    case "BODYSTRUCTURE": return m.bodyStructure(extended: true)
    default:
        guard item.hasPrefix("BODY.PEEK["), let close = item.lastIndex(of: "]") else { return nil }
        let inner = String(item[item.index(item.startIndex, offsetBy: 10)..<close])
        guard var spec = BodySection.parse(inner) else { return nil }
        let tail = item[item.index(after: close)...]
        if tail.hasPrefix("<") {
            let nums = tail.dropFirst().dropLast().split(separator: ".").compactMap { Int($0) }
            spec.partial = (nums[0], nums[1])
        }
        return m.section(spec)
    }
}

func isSectionItem(_ item: String) -> Bool { item.hasPrefix("BODY.PEEK[") }

@Suite struct DovecotDifferentialTests {
    static let names = Fixtures.messageNames

    @Test func corpusIsPresent() {
        #expect(Self.names.count >= 60, "fixtures not found under \(Fixtures.messages.path)")
    }

    @Test(arguments: names)
    func matchesDovecot(_ name: String) throws {
        let base = (name as NSString).deletingPathExtension
        let msg = try #require(Fixtures.bytes(Fixtures.messages.appendingPathComponent(name)))
        let rec = try #require(Fixtures.bytes(Fixtures.recorded.appendingPathComponent(base + ".txt")),
                               "no recording for \(name)")
        var expected = Fixtures.records(rec)
        if let o = Fixtures.bytes(Fixtures.recorded.appendingPathComponent(base + ".override.txt")) {
            for (item, value) in Fixtures.records(o) {
                if let i = expected.firstIndex(where: { $0.item == item }) { expected[i].value = value }
            }
        }
        let m = MailMessage(bytes: msg)
        #expect(expected.count > 10)
        for (item, value) in expected {
            guard let got = roostAnswer(m, item: item) else {
                Issue.record("\(name): cannot compute \(item)"); continue
            }
            let want = isSectionItem(item) ? Fixtures.nstringValue(value) : value
            #expect(got == want, "\(name) \(item):\n  roost:   \(String(decoding: got.prefix(600), as: UTF8.self).debugDescription)\n  dovecot: \(String(decoding: want.prefix(600), as: UTF8.self).debugDescription)")
        }
    }
}
