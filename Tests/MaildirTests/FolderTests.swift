import Testing
import Foundation
@testable import Maildir

@Suite struct FolderTests {
    @Test func saveAndOpen() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let inbox = try store.openFolder("INBOX")
        let date = Date(timeIntervalSince1970: 1_683_356_889)
        let data = message("hi")
        let lf = data.filter { $0 == 10 }.count
        #expect(try inbox.save(data, flags: [.seen, .flagged], keywords: ["$Junk", "work"], internalDate: date) == 1)
        #expect(try inbox.save(message("plain")) == 2)
        let cur = fileNames(tmp.path + "/cur"), new = fileNames(tmp.path + "/new")
        #expect(cur.count == 1 && cur[0].hasSuffix(",S=\(data.count),W=\(data.count + lf):2,FSab"))
        #expect(new.count == 1 && !new[0].contains(":"))
        #expect(fileNames(tmp.path + "/tmp").isEmpty)
        #expect(text(tmp.path + "/dovecot-keywords") == "0 $Junk\n1 work\n")
        let uidlist = text(tmp.path + "/dovecot-uidlist").split(separator: "\n")
        #expect(uidlist.count == 3 && uidlist[1].hasPrefix("1 :") && uidlist[2].hasPrefix("2 :"))

        let changes = try inbox.sync()
        #expect(changes.added.map(\.uid) == [1, 2])
        let m = inbox.messages[0]
        #expect(m.flags == [.seen, .flagged] && m.keywords == ["$Junk", "work"])
        #expect(m.size == Int64(data.count) && m.virtualSize == Int64(data.count + lf))
        #expect(m.internalDate == date)
        #expect(try inbox.readMessage(uid: 1) == data)
        #expect(inbox.uidNext == 3)
        #expect(inbox.messages[1].recent && !inbox.messages[0].recent)
    }

    @Test func recentGoesToExactlyOneSession() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let a = try store.openFolder("INBOX")
        let b = try store.openFolder("INBOX")
        let examine = try store.openFolder("INBOX", readOnly: true)
        try store.openFolder("INBOX").save(message("new"))
        _ = try examine.sync()
        #expect(examine.messages.count == 1 && !examine.messages[0].recent && examine.messages[0].inNew)
        _ = try a.sync()
        _ = try b.sync()
        #expect(a.recentCount + b.recentCount == 1)
        #expect(a.recentCount == 1)
        #expect(fileNames(tmp.path + "/new").isEmpty)
        #expect(throws: MaildirError.readOnly) { try examine.save(message("x")) }
    }

    @Test func flagChangesAndSyncReportsThem() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let a = try store.openFolder("INBOX")
        try a.save(message("1"))
        try a.save(message("2"), flags: [.seen])
        _ = try a.sync()
        let b = try store.openFolder("INBOX")
        let changed = try a.setFlags(uids: [1, 2], flags: [.answered], keywords: ["todo"], mode: .add)
        #expect(changed.map(\.uid) == [1, 2])
        #expect(a.messages[1].flags == [.seen, .answered] && a.messages[1].keywords == ["todo"])
        #expect(try a.setFlags(uids: [1], flags: [.answered], mode: .add).isEmpty)
        let seen = try b.sync()
        #expect(seen.flagsChanged.map(\.uid) == [1, 2] && seen.added.isEmpty && seen.expunged.isEmpty)
        #expect(b.messages[0].flags == [.answered] && b.messages[0].keywords == ["todo"])
        try b.setFlags(uids: [2], flags: [.seen], keywords: ["todo"], mode: .remove)
        try b.setFlags(uids: [1], flags: [.draft], mode: .replace)
        _ = try a.sync()
        #expect(a.messages.map(\.flags) == [[.draft], [.answered]])
        #expect(a.messages.map(\.keywords) == [[], []])
        #expect(fileNames(tmp.path + "/cur").allSatisfy { $0.hasSuffix(":2,D") || $0.hasSuffix(":2,R") })
    }

    @Test func flagChangeFindsFileRenamedByAnotherProcess() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let a = try store.openFolder("INBOX")
        try a.save(message("1"), flags: [.seen])
        _ = try a.sync()
        // Someone else renames the file behind a's back.
        let old = try #require(fileNames(tmp.path + "/cur").first)
        try FileManager.default.moveItem(atPath: tmp.path + "/cur/" + old,
                                         toPath: tmp.path + "/cur/" + old.replacingOccurrences(of: ":2,S", with: ":2,FS"))
        let changed = try a.setFlags(uids: [1], flags: [.deleted], mode: .add)
        #expect(changed.first?.flags == [.seen, .flagged, .deleted])
        #expect(fileNames(tmp.path + "/cur").first?.hasSuffix(":2,FST") == true)
        #expect(try a.readMessage(uid: 1) == message("1"))
    }

    @Test func expungeAndChanges() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let a = try store.openFolder("INBOX")
        for i in 1...4 { try a.save(message("\(i)"), flags: i % 2 == 0 ? [.deleted] : []) }
        _ = try a.sync()
        let b = try store.openFolder("INBOX")
        #expect(try a.expungeDeleted() == [2, 4])
        #expect(a.messages.map(\.uid) == [1, 3])
        #expect(!text(tmp.path + "/dovecot-uidlist").contains("\n2 :"))
        try a.save(message("5"))
        _ = try a.sync()
        let changes = try b.sync()
        #expect(changes.expunged == [2, 4])
        #expect(changes.added.map(\.uid) == [5])
        #expect(b.uidNext == 6)
        // The highest UID expunged: never reused.
        #expect(try b.expunge(uids: [5]) == [5])
        #expect(try b.save(message("6")) == 6)
        #expect(try a.sync().expunged == [5])
    }

    /// An expunge takes its records out of dovecot-uidlist at once: a file restored under its
    /// old name gets a new UID, never the one clients were told is expunged.
    @Test func anExpungedUIDIsNeverGivenBack() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let a = try store.openFolder("INBOX", monitor: FolderChangeMonitorTests.ScriptedMonitor())
        for i in 1...8 { try a.save(message("\(i)"), flags: [.seen]) }
        _ = try a.sync()
        let name = a.messages[0].fileName
        #expect(link(tmp.path + "/cur/" + name, tmp.path + "/backup") == 0)
        #expect(try a.expunge(uids: [1]) == [1])
        #expect(!text(tmp.path + "/dovecot-uidlist").contains("\n1 :"))
        #expect(rename(tmp.path + "/backup", tmp.path + "/cur/" + name) == 0)
        let b = try store.openFolder("INBOX")
        #expect(b.messages.map(\.uid) == Array(2...9))
        #expect(b.messages.last?.fileName == name)
        // A view that knows the folder is unchanged since its scan also drops the records of
        // files that scan did not find (deleted by a program that left the uidlist alone).
        #expect(unlink(tmp.path + "/cur/" + b.messages[0].fileName) == 0)
        let c = try store.openFolder("INBOX", monitor: FolderChangeMonitorTests.ScriptedMonitor())
        #expect(c.messages.first?.uid == 3)
        #expect(try c.expunge(uids: [3]) == [3])
        let list = text(tmp.path + "/dovecot-uidlist")
        #expect(!list.contains("\n2 :") && !list.contains("\n3 :") && list.contains("\n9 :") && list.contains(" N10 "))
        // A uidlist recreated meanwhile (new UIDVALIDITY) is not ours to edit.
        let d = try store.openFolder("INBOX", monitor: FolderChangeMonitorTests.ScriptedMonitor())
        let recreated = text(tmp.path + "/dovecot-uidlist").replacingOccurrences(of: "3 V\(d.uidValidity) ", with: "3 V\(d.uidValidity + 1) ")
        try recreated.write(toFile: tmp.path + "/dovecot-uidlist", atomically: true, encoding: .utf8)
        #expect(try d.expunge(uids: [4]) == [4])
        #expect(text(tmp.path + "/dovecot-uidlist") == recreated)
    }

    @Test func copyAndMove() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        try store.createFolder("Archive")
        let inbox = try store.openFolder("INBOX")
        let archive = try store.openFolder("Archive")
        let date = Date(timeIntervalSince1970: 1_600_000_000)
        try inbox.save(message("a"), flags: [.seen], keywords: ["zeta"], internalDate: date)
        try inbox.save(message("b"), internalDate: date)
        try archive.save(message("c"), keywords: ["alpha"])
        _ = try inbox.sync()
        let pairs = try inbox.copy(uids: [1, 2], to: archive)
        #expect(pairs.map(\.source) == [1, 2] && pairs.map(\.target) == [2, 3])
        _ = try archive.sync()
        #expect(archive.messages.map(\.uid) == [1, 2, 3])
        #expect(archive.messages[1].keywords == ["zeta"] && archive.messages[1].flags == [.seen])
        #expect(archive.messages[1].internalDate == date)
        #expect(text(archive.path + "/dovecot-keywords") == "0 alpha\n1 zeta\n")
        var st = stat()
        lstat(archive.path + "/cur/" + archive.messages[1].fileName, &st)
        #expect(st.st_nlink == 2) // hard link
        let moved = try inbox.move(uids: [2], to: archive)
        #expect(moved.map(\.target) == [4])
        #expect(inbox.messages.map(\.uid) == [1])
        _ = try archive.sync()
        #expect(try archive.readMessage(uid: 4) == message("b"))
    }

    @Test func filesFromOtherDeliveryAgentsGetUIDs() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let inbox = try store.openFolder("INBOX")
        // Another MDA's files without S=/W= (and no uidlist entry).
        let body = "Subject: x\n\nline\n"
        try body.write(toFile: tmp.path + "/new/1000.M5P9.other", atomically: false, encoding: .utf8)
        try body.write(toFile: tmp.path + "/new/1000.M10P9.other", atomically: false, encoding: .utf8)
        try body.write(toFile: tmp.path + "/new/999.M999999P9.other", atomically: false, encoding: .utf8)
        let changes = try inbox.sync()
        #expect(changes.added.map(\.basename) == ["999.M999999P9.other", "1000.M5P9.other", "1000.M10P9.other"])
        #expect(inbox.messages[0].size == Int64(body.utf8.count) && inbox.messages[0].virtualSize == Int64(body.utf8.count + 3))
    }

    @Test func missingUIDListGetsNewUIDValidity() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let a = try store.openFolder("INBOX")
        try a.save(message("1"))
        let before = a.uidValidity
        _ = try a.sync()
        try FileManager.default.removeItem(atPath: tmp.path + "/dovecot-uidlist")
        let changes = try a.sync()
        #expect(changes.uidValidityChanged)
        #expect(a.uidValidity > before)
        #expect(a.messages.map(\.uid) == [1])
    }
}

@Suite struct CacheTests {
    func makeFolder(_ tmp: TempDir, count: Int) throws -> MaildirStore {
        let store = try MaildirStore(root: tmp.path)
        let f = try store.openFolder("INBOX")
        for i in 0..<count { try f.save(message("\(i)"), flags: i % 3 == 0 ? [.seen] : []) }
        return store
    }

    /// Makes the directories' mtimes old enough for the cache to be trusted.
    func age(_ path: String) {
        for d in ["/cur", "/new"] {
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
            utimensat(AT_FDCWD, path + d, &times, 0)
        }
    }

    @Test func warmOpenUsesCacheAndMatchesScan() throws {
        let tmp = TempDir()
        let store = try makeFolder(tmp, count: 20)
        _ = try store.openFolder("INBOX").sync()
        age(tmp.path)
        let cold = try store.openFolder("INBOX")
        #expect(!cold.lastLoadUsedCache)
        cold.setCachedBlob([1, 2, 3], uid: 7)
        cold.close()
        let warm = try store.openFolder("INBOX")
        #expect(warm.lastLoadUsedCache)
        #expect(warm.messages == cold.messages)
        #expect(warm.cachedBlob(uid: 7) == [1, 2, 3])
        #expect(try warm.sync().isEmpty)
    }

    @Test func staleCacheIsRebuilt() throws {
        let tmp = TempDir()
        let store = try makeFolder(tmp, count: 5)
        _ = try store.openFolder("INBOX").sync()
        age(tmp.path)
        try store.openFolder("INBOX").close()
        // Another process changes flags: cur/'s mtime changes, the cache must not be trusted.
        let other = try store.openFolder("INBOX")
        try other.setFlags(uids: [2], flags: [.flagged], mode: .add)
        let reopened = try store.openFolder("INBOX")
        #expect(!reopened.lastLoadUsedCache)
        #expect(reopened.message(uid: 2)?.flags.contains(.flagged) == true)
    }

    @Test func corruptOrTruncatedCacheIsIgnored() throws {
        let tmp = TempDir()
        let store = try makeFolder(tmp, count: 5)
        _ = try store.openFolder("INBOX").sync()
        age(tmp.path)
        try store.openFolder("INBOX").close()
        let path = tmp.path + "/roost.index"
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: path))
        let a = try store.openFolder("INBOX")
        #expect(!a.lastLoadUsedCache && a.messages.count == 5)
        try Data(bytes.prefix(30)).write(to: URL(fileURLWithPath: path))
        let b = try store.openFolder("INBOX")
        #expect(!b.lastLoadUsedCache && b.messages.count == 5)
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(try store.openFolder("INBOX").messages.count == 5)
    }
}

@Suite struct BenchmarkSmokeTests {
    @Test func benchmarkRunsOnASmallFolder() {
        let tmp = TempDir("bench")
        let r = MaildirBenchmark.run(root: tmp.path + "/Maildir", count: 50)
        #expect(r["error"] == nil)
        #expect(r["warm_used_cache"] == 1)
        #expect(r["open_cold_ms"] != nil && r["save_ms"] != nil)
    }
}
