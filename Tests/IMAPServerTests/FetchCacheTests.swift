import Foundation
import Testing
@testable import IMAPServer
import Maildir
import MailMessage

/// FETCH through roost.cache: what the cache returns is byte for byte what the MIME library
/// computes, and a cached folder answers ENVELOPE/BODYSTRUCTURE without its message files.
@Suite struct FetchCacheTests {
    static let corpus: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/messages")

    static func corpusMessages() -> [[UInt8]] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { try? [UInt8](Data(contentsOf: corpus.appendingPathComponent($0))) }
    }

    func session(_ h: SessionHarness) -> IMAPMailSession {
        IMAPMailSession(user: "tester", store: h.store, mailboxes: [])
    }

    @Test func cachedDataIsByteIdenticalToTheMIMELibrary() throws {
        let messages = Self.corpusMessages()
        #expect(messages.count >= 60)
        let h = try SessionHarness()
        let inbox = try h.store.openFolder("INBOX")
        for m in messages { try inbox.save(m) }
        inbox.close()
        let items = "(ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (From Subject Content-Type)] BODY.PEEK[HEADER] RFC822.HEADER BODY.PEEK[HEADER.FIELDS.NOT (Subject)]<3.40>)"
        _ = h.transact("s SELECT INBOX")
        let cold = h.transact("a FETCH 1:* \(items)")        // parses every message, fills roost.cache
        let b = session(h)
        _ = h.lines(b.receive(Array("s SELECT INBOX\r\n".utf8)))
        let warm = h.lines(b.receive(Array("a FETCH 1:* \(items)\r\n".utf8)))  // from the cache
        #expect(cold.count > messages.count)
        #expect(cold == warm)

        let folder = try h.store.openFolder("INBOX", readOnly: true)
        #expect(folder.messages.count == messages.count)
        let sections = [BodySection(text: .header), BodySection(text: .headerFields(["FROM", "TO", "SUBJECT", "CONTENT-TYPE"])),
                        BodySection(text: .headerFieldsNot(["SUBJECT", "RECEIVED"])),
                        BodySection(text: .headerFields(["DATE"]), partial: (2, 10))]
        for m in folder.messages {
            let bytes = try folder.readMessage(uid: m.uid)
            let parsed = MailMessage(bytes: bytes)
            let cached = try #require(folder.cachedData(for: m), "UID \(m.uid) not cached")
            #expect(cached.envelope == parsed.envelopeBytes(), "UID \(m.uid)")
            #expect(cached.body == parsed.bodyStructure(extended: false), "UID \(m.uid)")
            #expect(cached.bodyStructure == parsed.bodyStructure(extended: true), "UID \(m.uid)")
            // Header sections from the header alone equal those from the whole message.
            let head = MailMessage(bytes: try folder.readMessagePrefix(uid: m.uid, length: cached.headerSize))
            for spec in sections { #expect(head.section(spec) == parsed.section(spec), "UID \(m.uid) \(spec)") }
        }
    }

    /// The equivalent of making the files unreadable (root reads through mode 000): every file
    /// is overwritten with garbage of the same length, so any re-read would change the answer.
    @Test func cachedFolderAnswersWithoutItsMessageFiles() throws {
        let h = try SessionHarness()
        for i in 0..<5 { try h.deliver(i % 2 == 0 ? simpleMessage : multipartMessage) }
        _ = h.transact("s SELECT INBOX")
        let before = h.transact("a FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)")
        #expect(before.count == 6 && before[0].contains("ENVELOPE (\"Tue, 14 Nov 2023"))
        _ = h.transact("c CLOSE")

        let folder = try h.store.openFolder("INBOX", readOnly: true)
        for m in folder.messages {
            let path = folder.path + (m.inNew ? "/new/" : "/cur/") + m.fileName
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            try Data(repeating: UInt8(ascii: "X"), count: size).write(to: URL(fileURLWithPath: path))
            chmod(path, 0)
        }
        let b = session(h)
        _ = h.lines(b.receive(Array("s SELECT INBOX\r\n".utf8)))
        let after = h.lines(b.receive(Array("a FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)\r\n".utf8)))
        #expect(after == before)
        // The files really are garbage now (root can still read them).
        if geteuid() == 0 {
            let text = h.lines(b.receive(Array("t FETCH 1 BODY.PEEK[]\r\n".utf8)))
            #expect(text.contains { $0.contains("XXXX") })
        }
    }
}
