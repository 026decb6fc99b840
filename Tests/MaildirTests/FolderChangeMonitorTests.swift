import Foundation
import Glibc
import Testing
@testable import Maildir

/// A folder view with a `FolderChangeMonitor` tells it about its own renames and unlinks and
/// lists new/ and cur/ again only when the monitor reports someone else's change.
@Suite struct FolderChangeMonitorTests {
    /// A monitor the test drives: it reports a change only when told to.
    final class ScriptedMonitor: FolderChangeMonitor {
        var following: [ObjectIdentifier: String] = [:]
        var othersChanged = false
        var expectations: [(MaildirSubdirectory, String, Bool)] = []
        var scans = 0

        func follow(_ view: ObjectIdentifier, path: String) -> Bool { following[view] = path; return true }
        func unfollow(_ view: ObjectIdentifier) { following[view] = nil }
        func changedByOthers(_ view: ObjectIdentifier) -> Bool { othersChanged }
        func beginScan(_ view: ObjectIdentifier) { scans += 1; othersChanged = false }
        func adoptScan(_ view: ObjectIdentifier, of scanner: ObjectIdentifier) {}
        func expect(_ view: ObjectIdentifier, _ directory: MaildirSubdirectory, _ name: String, arrived: Bool) {
            expectations.append((directory, name, arrived))
        }
    }

    static func setUp() throws -> (TempDir, MaildirStore, ScriptedMonitor, MaildirFolder) {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let writer = try store.openFolder("INBOX")
        for s in ["a", "b", "c"] { try writer.save(message(s), flags: [.seen]) }
        writer.close()
        let monitor = ScriptedMonitor()
        return (tmp, store, monitor, try store.openFolder("INBOX", monitor: monitor))
    }

    @Test func ownChangesAreAnnouncedAndNeedNoRescan() throws {
        let (tmp, _, monitor, view) = try Self.setUp()
        #expect(monitor.following.values.first == tmp.path)
        let old = view.messages[0].fileName
        try view.setFlags(uids: [1], flags: [.flagged], mode: .add)
        let new = view.messages[0].fileName
        #expect(new != old && FileManager.default.fileExists(atPath: tmp.path + "/cur/" + new))
        #expect(monitor.expectations.map { "\($0.0) \($0.1) \($0.2)" } == ["cur \(old) false", "cur \(new) true"])
        monitor.expectations = []
        let gone = view.messages[1].fileName
        #expect(try view.expunge(uids: [2]) == [2])
        #expect(monitor.expectations.map { "\($0.0) \($0.1) \($0.2)" } == ["cur \(gone) false"])

        // Behind the view's back (the monitor is not told): unseen until the monitor reports it,
        // which shows that the sync listed nothing.
        let third = view.messages[1].fileName
        let base = String(third[..<third.lastIndex(of: ":")!])
        #expect(rename(tmp.path + "/cur/" + third, tmp.path + "/cur/" + base + ":2,DS") == 0)
        let scansBefore = monitor.scans
        #expect(try view.sync().isEmpty)
        #expect(monitor.scans == scansBefore)
        monitor.othersChanged = true
        let changes = try view.sync()
        #expect(changes.flagsChanged.map(\.uid) == [3] && changes.flagsChanged[0].flags == [.draft, .seen])
        #expect(monitor.scans == scansBefore + 1 && !monitor.othersChanged)
    }

    @Test func aMessageSavedIntoTheViewIsFoundByItsNextSync() throws {
        let (tmp, _, monitor, view) = try Self.setUp()
        defer { _ = tmp }
        let uid = try view.save(message("appended"))
        let changes = try view.sync()
        #expect(changes.added.map(\.uid) == [uid] && changes.added[0].recent)
        // Moving it out of new/ was the view's own doing.
        #expect(monitor.expectations.contains { $0.0 == .new && $0.2 == false })
        #expect(monitor.expectations.contains { $0.0 == .cur && $0.2 == true })
        #expect(try view.sync().isEmpty)
    }

    @Test func theUIDListAndKeywordsFilesAreStillCompared() throws {
        let (tmp, store, monitor, view) = try Self.setUp()
        defer { _ = tmp }
        // Another writer adds a keyword name without renaming any file: no directory event.
        let other = try store.openFolder("INBOX")
        try other.setFlags(uids: [1], flags: [], keywords: ["$Label1"], mode: .add)
        monitor.othersChanged = false
        let changes = try view.sync()
        #expect(view.keywordTable.names.contains("$Label1"))
        #expect(changes.flagsChanged.map(\.uid) == [1])
    }

    @Test func closingTrustsCurrentStampsOnlyWithoutOthersChanges() throws {
        let (tmp, store, monitor, view) = try Self.setUp()
        try view.setFlags(uids: [1], flags: [.answered], mode: .add)
        view.close()
        #expect(monitor.following.isEmpty)
        let cache = try #require(FolderIndex.load(tmp.path + "/" + FolderIndex.fileName))
        #expect(cache.entries.first { $0.uid == 1 }?.fileName.hasSuffix(":2,RS") == true)
        #expect(cache.curStamp == (try FileSystem.stamp(tmp.path + "/cur")))
        // With a change by someone else pending, the stamps are not trusted.
        let second = try store.openFolder("INBOX", monitor: monitor)
        monitor.othersChanged = true
        second.close()
        let untrusted = try #require(FolderIndex.load(tmp.path + "/" + FolderIndex.fileName))
        #expect(!untrusted.isSettled)
    }
}
