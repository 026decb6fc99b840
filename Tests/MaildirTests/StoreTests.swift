import Testing
import Foundation
@testable import Maildir

@Suite struct StoreTests {
    @Test func createListAndAttributes() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path + "/Maildir")
        try store.createFolder("Sent")
        try store.createFolder("Archive/2023")
        try store.createFolder("Entwürfe")
        #expect(throws: MaildirError.folderExists("Sent")) { try store.createFolder("Sent") }
        #expect(throws: MaildirError.folderExists("INBOX")) { try store.createFolder("inbox") }
        let root = store.root
        #expect(FileManager.default.fileExists(atPath: root + "/.Sent/maildirfolder"))
        #expect(FileManager.default.fileExists(atPath: root + "/.Archive.2023/cur"))
        #expect(FileManager.default.fileExists(atPath: root + "/.Entw&APw-rfe/tmp"))
        #expect(text(root + "/.Sent/dovecot-uidlist").hasPrefix("3 V"))
        let list = try store.listFolders()
        #expect(list.map(\.name) == ["INBOX", "Archive", "Archive/2023", "Entwürfe", "Sent"])
        #expect(list[1].attributes == ["\\Noselect", "\\HasChildren"])
        #expect(list[2].attributes == ["\\HasNoChildren"])
        #expect(list[0].attributes == ["\\HasNoChildren"])
        // Each folder gets its own, increasing UIDVALIDITY.
        let v1 = try store.openFolder("Sent").uidValidity
        let v2 = try store.openFolder("Archive/2023").uidValidity
        #expect(v2 > v1)
    }

    @Test func deleteKeepsChildren() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        try store.createFolder("A")
        try store.createFolder("A/B")
        try store.openFolder("A").save(message("x"))
        try store.deleteFolder("A")
        #expect(try store.listFolders().map(\.name) == ["INBOX", "A", "A/B"])
        #expect(try store.listFolders()[1].noSelect)
        #expect(throws: MaildirError.noSuchFolder("A")) { try store.deleteFolder("A") }
        #expect(throws: MaildirError.cannotDeleteInbox) { try store.deleteFolder("INBOX") }
        #expect(!fileNames(tmp.path).contains { $0.hasPrefix("..") })
    }

    @Test func renameCarriesChildren() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        try store.createFolder("A")
        try store.createFolder("A/B")
        try store.createFolder("A/B/C")
        try store.createFolder("AB")
        let uidValidity = try store.openFolder("A/B").uidValidity
        try store.openFolder("A/B").save(message("kept"), flags: [.seen])
        try store.renameFolder("A", to: "Z/Y")
        #expect(try store.listFolders().map(\.name) == ["INBOX", "AB", "Z", "Z/Y", "Z/Y/B", "Z/Y/B/C"])
        let moved = try store.openFolder("Z/Y/B")
        #expect(moved.uidValidity == uidValidity)
        #expect(moved.messages.map(\.flags) == [[.seen]])
        #expect(throws: MaildirError.noSuchFolder("A")) { try store.renameFolder("A", to: "Q") }
        #expect(throws: MaildirError.folderExists("AB")) { try store.renameFolder("Z/Y", to: "AB") }
        #expect(throws: MaildirError.renameIntoItself("Z/Y/X")) { try store.renameFolder("Z/Y", to: "Z/Y/X") }
    }

    @Test func renameInboxMovesMessages() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let inbox = try store.openFolder("INBOX")
        try inbox.save(message("1"), flags: [.seen], keywords: ["work"])
        try inbox.save(message("2"))
        let next = try store.openFolder("INBOX").uidNext
        try store.renameFolder("INBOX", to: "Old")
        let old = try store.openFolder("Old")
        #expect(old.messages.map(\.uid) == [1, 2])
        #expect(old.messages[0].keywords == ["work"] && old.messages[0].flags == [.seen])
        let after = try store.openFolder("INBOX")
        #expect(after.messages.isEmpty)
        #expect(after.uidNext == next)
        #expect(try after.save(message("3")) == next)
    }

    @Test func subscriptions() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        try store.subscribe("Sent")
        try store.subscribe("Archive/2023")
        try store.subscribe("Entwürfe")
        try store.subscribe("Sent")
        try store.unsubscribe("Archive/2023")
        #expect(try store.subscriptions() == ["Sent", "Entwürfe"])
        #expect(text(tmp.path + "/subscriptions") == "V\t2\n\nSent\nEntw&APw-rfe\n")
        #expect(throws: MaildirError.self) { try store.subscribe("../x") }
    }

    @Test func refusesUnsafeNamesAndSymlinks() throws {
        let tmp = TempDir()
        let outside = TempDir("outside")
        let store = try MaildirStore(root: tmp.path + "/mail")
        for bad in ["../x", "..", "a/../..", "/etc", ".x", "a\u{0}b", "a\u{1}b", String(repeating: "n", count: 300)] {
            #expect(throws: MaildirError.self) { try store.createFolder(bad) }
            #expect(throws: MaildirError.self) { try store.openFolder(bad) }
            #expect(throws: MaildirError.self) { try store.renameFolder("INBOX", to: bad) }
        }
        // A folder directory that is a symlink is neither listed nor opened.
        for d in ["cur", "new", "tmp"] { try FileManager.default.createDirectory(atPath: outside.path + "/" + d, withIntermediateDirectories: true) }
        try FileManager.default.createSymbolicLink(atPath: store.root + "/.Evil", withDestinationPath: outside.path)
        #expect(!(try store.listFolders().map(\.name).contains("Evil")))
        #expect(throws: MaildirError.notAFolder(store.root + "/.Evil")) { try store.openFolder("Evil") }
        #expect(throws: MaildirError.noSuchFolder("Evil")) { try store.deleteFolder("Evil") }
        // A message file that is a symlink is not read.
        try "secret".write(toFile: outside.path + "/secret", atomically: true, encoding: .utf8)
        let inbox = try store.openFolder("INBOX")
        try FileManager.default.createSymbolicLink(atPath: store.root + "/cur/1.M1P1.h,S=6:2,", withDestinationPath: outside.path + "/secret")
        _ = try inbox.sync()
        #expect(inbox.messages.isEmpty)
        // cur/ replaced by a symlink: refused.
        try store.createFolder("Trap")
        try FileManager.default.removeItem(atPath: store.root + "/.Trap/cur")
        try FileManager.default.createSymbolicLink(atPath: store.root + "/.Trap/cur", withDestinationPath: outside.path + "/cur")
        #expect(throws: MaildirError.notAFolder(store.root + "/.Trap/cur")) { try store.openFolder("Trap") }
    }

    @Test func quotaMaildirsize() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        #expect(try store.quota.usage() == nil)
        let inbox = try store.openFolder("INBOX")
        try inbox.save(message("before quota"))
        try store.quota.recalculate(byteLimit: 1_000_000, messageLimit: 100)
        let base = try #require(try store.quota.usage())
        #expect(base.messages == 1 && base.byteLimit == 1_000_000 && base.messageLimit == 100)
        let data = message("counted")
        try inbox.save(data)
        _ = try inbox.sync()
        var u = try #require(try store.quota.usage())
        #expect(u.messages == 2 && u.bytes == base.bytes + Int64(data.count))
        try inbox.expunge(uids: [inbox.messages[0].uid])
        u = try #require(try store.quota.usage())
        #expect(u.messages == 1 && u.bytes == Int64(data.count))
        #expect(text(tmp.path + "/maildirsize").hasPrefix("1000000S,100C\n"))
    }
}
