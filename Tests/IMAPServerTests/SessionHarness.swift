import Foundation
import Testing
@testable import IMAPServer
import Maildir

/// A scripted client around one pure IMAPMailSession over a fresh Maildir under /tmp.
final class SessionHarness {
    let root: String
    let store: MaildirStore
    let session: IMAPMailSession
    /// `.folderChanged` notes of the last transaction.
    var lastChanged: [String] = []

    init(mailboxes: [IMAPMailboxSettings] = []) throws {
        root = "/tmp/roost-imap-tests/\(UUID().uuidString)"
        store = try MaildirStore(root: root)
        session = IMAPMailSession(user: "tester", store: store, mailboxes: mailboxes)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Sends one command line and returns the response lines without CRLF.
    func transact(_ line: String) -> [String] { send(Array((line + "\r\n").utf8)) }

    func send(_ bytes: [UInt8]) -> [String] { lines(session.receive(bytes)) }

    func lines(_ actions: [IMAPMailSession.Action]) -> [String] {
        var out: [UInt8] = []
        lastChanged = []
        for action in actions {
            switch action {
            case .send(let b): out += b
            case .close: break
            case .folderChanged(let f): lastChanged.append(f)
            case .sendFile(let literal):
                let stream = MessageFileStream(literal)
                while let chunk = stream.next() { out += chunk }
                stream.close()
            }
        }
        var text = String(decoding: out, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast() }
        return text.isEmpty ? [] : text.components(separatedBy: "\r\n")
    }

    /// Saves a message the way another process would: through its own MaildirStore.
    @discardableResult
    func deliver(_ message: String, to folder: String = "INBOX", flags: MessageFlags = [], keywords: [String] = [],
                 date: Date = Date(timeIntervalSince1970: 1_700_000_000)) throws -> UInt32 {
        let other = try MaildirStore(root: root)
        let f = try other.openFolder(folder)
        defer { f.close() }
        return try f.save(Array(message.replacingOccurrences(of: "\n", with: "\r\n").utf8), flags: flags,
                          keywords: keywords, internalDate: date)
    }

    func uidValidity(_ folder: String = "INBOX") throws -> UInt32 {
        try MaildirStore(root: root).openFolder(folder, readOnly: true).uidValidity
    }
}

let simpleMessage = """
From: Alice <alice@example.org>
To: Bob <bob@example.org>
Subject: Hello there
Date: Tue, 14 Nov 2023 10:00:00 +0000
Message-ID: <1@example.org>

Hi Bob,
lunch tomorrow?

"""

let multipartMessage = """
From: Carol <carol@example.org>
To: Bob <bob@example.org>
Cc: Dave <dave@example.org>
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=
Date: Wed, 1 Mar 2023 08:30:00 +0100
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Sch=C3=B6ne Gr=C3=BC=C3=9Fe aus Z=C3=BCrich
--b1
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="a.bin"
Content-Transfer-Encoding: base64

AAECAw==
--b1--

"""
