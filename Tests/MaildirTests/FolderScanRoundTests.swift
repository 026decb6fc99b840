import Foundation
import Glibc
import Testing
@testable import Maildir

/// Views of one folder that sync in one `FolderScanRound` share the first view's scan.
@Suite struct FolderScanRoundTests {
    /// Drops a file into new/ the way an outside delivery agent does (no UID yet).
    static func dropIntoNew(_ root: String, _ subject: String) throws -> String {
        let base = "\(Int(Date().timeIntervalSince1970)).M\(Int.random(in: 0..<1_000_000))P\(getpid()).test"
        let tmp = root + "/tmp/" + base
        guard FileManager.default.createFile(atPath: tmp, contents: Data(message(subject))) else { throw MaildirError.corrupt(tmp) }
        guard rename(tmp, root + "/new/" + base) == 0 else { throw MaildirError.corrupt(base) }
        return base
    }

    static func curName(_ root: String, _ base: String) -> String? {
        fileNames(root + "/cur").first { $0.hasPrefix(base + ":") }
    }

    @Test func oneScanServesEveryViewAndRecentGoesToTheScanner() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let views = try (0..<3).map { _ in try store.openFolder("INBOX") }
        _ = try Self.dropIntoNew(tmp.path, "one")
        let round = FolderScanRound()
        let first = try views[0].sync(sharing: round)
        #expect(first.added.map(\.uid) == [1] && first.added[0].recent)
        // Written after the scan: views that take the scan over do not look at the disk.
        _ = try Self.dropIntoNew(tmp.path, "late")
        for v in views.dropFirst() {
            let changes = try v.sync(sharing: round)
            #expect(changes.added.map(\.uid) == [1] && !changes.added[0].recent)
            #expect(v.messages.map(\.uid) == [1] && v.recentCount == 0)
            #expect(v.uidNext == views[0].uidNext && v.uidValidity == views[0].uidValidity)
        }
        #expect(round.scanCount == 1)
        // The next round (the late file's announcement) finds it.
        let next = FolderScanRound()
        #expect(try views[2].sync(sharing: next).added.map(\.uid) == [2])
        #expect(try views[0].sync(sharing: next).added.map(\.uid) == [2])
        #expect(views[2].recentCount == 1 && views[0].recentCount == 1)
        #expect(views[1].messages.map(\.uid) == [1])
        #expect(try views[1].sync().added.map(\.uid) == [2])
    }

    @Test func expungesAndFlagChangesReachEveryView() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let writer = try store.openFolder("INBOX")
        for s in ["a", "b", "c"] { try writer.save(message(s), flags: [.seen]) }
        let views = try (0..<3).map { _ in try store.openFolder("INBOX") }
        // A first round puts every view at the same version (a delta applies from then on).
        _ = try Self.dropIntoNew(tmp.path, "d")
        let warmup = FolderScanRound()
        for v in views { _ = try v.sync(sharing: warmup) }
        // Outside: delete UID 2, flag UID 3 by renaming.
        let byUID = views[0].messages.reduce(into: [UInt32: String]()) { $0[$1.uid] = $1.fileName }
        #expect(unlink(tmp.path + "/cur/" + byUID[2]!) == 0)
        let three = byUID[3]!
        #expect(rename(tmp.path + "/cur/" + three, tmp.path + "/cur/" + MaildirFolder.basename(of: three) + ":2,FS") == 0)
        let round = FolderScanRound()
        for v in views {
            let changes = try v.sync(sharing: round)
            #expect(changes.expunged == [2])
            #expect(changes.flagsChanged.map(\.uid) == [3] && changes.flagsChanged[0].flags == [.seen, .flagged])
            #expect(v.messages.map(\.uid) == [1, 3, 4])
            #expect(v.message(uid: 3)?.fileName == MaildirFolder.basename(of: three) + ":2,FS")
        }
        #expect(round.scanCount == 1)
        // \Recent of UID 4 stayed with the view that scanned in the warm-up round.
        #expect(views.map { $0.message(uid: 4)?.recent == true } == [true, false, false])
        // Deleted outside; view 1 scans first, view 0 applies the delta and loses its \Recent.
        #expect(views[0].recentCount == 1)
        #expect(unlink(tmp.path + "/cur/" + views[0].message(uid: 4)!.fileName) == 0)
        let third = FolderScanRound()
        for v in [views[1], views[0], views[2]] { #expect(try v.sync(sharing: third).expunged == [4]) }
        #expect(views.map(\.recentCount) == [0, 0, 0])
    }

    @Test func aViewThatChangedItselfCatchesUpByDiff() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        try store.openFolder("INBOX").save(message("a"), flags: [.seen])
        let a = try store.openFolder("INBOX"), b = try store.openFolder("INBOX")
        _ = try a.sync(); _ = try b.sync()
        // b flags UID 1 itself (its view moves on); then mail arrives and a scans first.
        _ = try b.setFlags(uids: [1], flags: [.answered], mode: .add)
        _ = try Self.dropIntoNew(tmp.path, "b")
        let round = FolderScanRound()
        let fromA = try a.sync(sharing: round)
        #expect(fromA.added.map(\.uid) == [2] && fromA.flagsChanged.map(\.uid) == [1])
        let fromB = try b.sync(sharing: round)
        #expect(fromB.added.map(\.uid) == [2] && fromB.flagsChanged.isEmpty && fromB.expunged.isEmpty)
        #expect(b.messages.map(\.flags) == [[.seen, .answered], []])
        #expect(b.recentCount == 0 && a.recentCount == 1)
    }

    @Test func aReadWriteViewDoesNotTakeOverAReadOnlyScan() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path)
        let examine = try store.openFolder("INBOX", readOnly: true)
        let select = try store.openFolder("INBOX")
        let base = try Self.dropIntoNew(tmp.path, "new")
        let round = FolderScanRound()
        #expect(try examine.sync(sharing: round).added.first?.inNew == true)
        let changes = try select.sync(sharing: round)
        #expect(changes.added.map(\.uid) == [1] && changes.added[0].recent && !changes.added[0].inNew)
        #expect(fileNames(tmp.path + "/new").isEmpty && Self.curName(tmp.path, base) != nil)
        // A second read-only view takes the read-write scan over.
        let examine2 = try store.openFolder("INBOX", readOnly: true)
        _ = try examine2.sync(sharing: round)
        #expect(examine2.messages.first?.inNew == false && !(examine2.messages.first?.recent ?? true))
    }
}
