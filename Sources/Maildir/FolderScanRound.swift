// One folder scan shared by every view of that folder while a mail process tells its sessions
// about one change: the first view to sync scans the Maildir, the others take its result over
// and compute their own changes from it, with no directory listing, uidlist read or stat.
//
// Implementation notes
// - A round lives only for one synchronous fan-out on the mail process's loop queue (see
//   MailProcess.folderChanged): nothing else touches the Maildir from this process meanwhile,
//   and a change by someone else after the scan is announced again and starts a new round.
// - \Recent stays with the view whose rename moved the file out of new/ (the scanning one); a
//   view that takes a scan over keeps its own \Recent flags and gets none for added messages.
// - A read-write view takes over a scan only if that scan left nothing in new/ (a read-only
//   scan leaves new/ as it is): moving files new/ → cur/ stays the job of a read-write sync.
// - Every view carries a `ViewVersion`. A view still at the version the scan started from
//   applies the scan's delta (O(changes)); any other view diffs its messages against the
//   scan's (O(messages)) and is at the scan's version afterwards, so from the second round on
//   a thousand views of one folder each pay only for what changed.

/// The identity of one state of a folder view (compared with `===`).
final class ViewVersion {}

/// The scans made while one change is being announced, by folder path. Not Sendable: used on
/// the one queue that runs every session of the mail process.
public final class FolderScanRound {
    var scans: [String: SharedScan] = [:]

    public init() {}

    /// How many folders were scanned in this round (for tests).
    public var scanCount: Int { scans.count }
}

/// A sync result other views of the folder can take over.
struct SharedScan {
    var before: ViewVersion
    var after: ViewVersion
    var outcome: MaildirFolder.ScanOutcome
    var messages: [MaildirMessage]
    /// Files still in new/: a read-write view must move them itself.
    var leftInNew: Bool
    var uidValidity: UInt32
    var uidNext: UInt32
    var keywordTable: KeywordTable
    var stamps: MaildirFolder.Stamps
    var settled: Bool
    /// The view that scanned: a view taking its scan over is as current as it is.
    var scanner: ObjectIdentifier
}

extension MaildirFolder {
    /// `sync()`, sharing the scan with the other views of this folder that sync in `round`.
    public func sync(sharing round: FolderScanRound?) throws -> FolderChanges {
        guard let round else { return try sync() }
        if let scan = round.scans[path], !takesRecent || !scan.leftInNew {
            return takeOver(scan)
        }
        let before = version
        let outcome = try syncDetailed()
        round.scans[path] = SharedScan(
            before: before, after: version, outcome: outcome, messages: messages,
            leftInNew: messages.contains { $0.inNew }, uidValidity: uidValidity, uidNext: uidNext,
            keywordTable: keywordTable,
            stamps: Stamps(new: newStamp, cur: curStamp, uidList: uidListSeen, keywords: keywordsStamp),
            settled: settled, scanner: viewID)
        return outcome.changes
    }

    /// Moves this view to the state another view scanned; returns this view's changes.
    func takeOver(_ scan: SharedScan) -> FolderChanges {
        let changes: FolderChanges
        var recent: Int?
        if scan.before === version && !scan.outcome.changes.uidValidityChanged {
            // Added messages are not \Recent here: only expunges change the count.
            recent = recentCache.flatMap { $0.version === version ? $0.count : nil }
            if let r = recent, !scan.outcome.changes.expunged.isEmpty {
                let gone = Set(scan.outcome.changes.expunged)
                recent = r - messages.reduce(0) { $0 + ($1.recent && gone.contains($1.uid) ? 1 : 0) }
            }
            changes = applyDelta(scan.outcome)
        } else if scan.after !== version {
            changes = replaceMessages(with: scan.messages, uidValidity: scan.uidValidity)
        } else {
            changes = FolderChanges()  // already there
        }
        uidValidity = scan.uidValidity
        uidNext = scan.uidNext
        keywordTable = scan.keywordTable
        newStamp = scan.stamps.new
        curStamp = scan.stamps.cur
        uidListSeen = scan.stamps.uidList
        keywordsStamp = scan.stamps.keywords
        settled = scan.settled
        monitor?.adoptScan(viewID, of: scan.scanner)
        version = scan.after
        if let recent { recentCache = (version, recent) }
        for uid in changes.expunged { blobs[uid] = nil }
        return changes
    }

    /// The scanner's delta applied to a view that was where the scanner started.
    private func applyDelta(_ outcome: ScanOutcome) -> FolderChanges {
        var changes = FolderChanges()
        if !outcome.changes.expunged.isEmpty {
            let gone = Set(outcome.changes.expunged)
            messages.removeAll { gone.contains($0.uid) }
            changes.expunged = outcome.changes.expunged
        }
        for var m in outcome.replaced {
            guard let i = index(ofUID: m.uid) else { continue }
            m.recent = messages[i].recent
            messages[i] = m
        }
        if !outcome.changes.flagsChanged.isEmpty {
            changes.flagsChanged = outcome.changes.flagsChanged.map { m in
                var m = m
                m.recent = message(uid: m.uid)?.recent ?? false
                return m
            }
        }
        if !outcome.changes.added.isEmpty {
            changes.added = outcome.changes.added.map { m in
                var m = m
                m.recent = false
                return m
            }
            let inOrder = messages.last.map { $0.uid < changes.added[0].uid } ?? true
            messages += changes.added
            if !inOrder { messages.sort { $0.uid < $1.uid } }
        }
        return changes
    }

    /// The scanner's messages with this view's \Recent flags, diffed against this view.
    private func replaceMessages(with scanned: [MaildirMessage], uidValidity scannedValidity: UInt32) -> FolderChanges {
        let ownRecent = Set(messages.lazy.filter(\.recent).map(\.uid))
        let recreated = uidValidity != 0 && scannedValidity != uidValidity
        var fresh = scanned
        for i in fresh.indices {
            let recent = !recreated && ownRecent.contains(fresh[i].uid)
            if fresh[i].recent != recent { fresh[i].recent = recent }
        }
        var changes = FolderChanges()
        if recreated {
            changes.uidValidityChanged = true
            changes.expunged = messages.map(\.uid)
            changes.added = fresh
        } else {
            var replaced: [MaildirMessage] = []
            diff(old: messages, new: fresh, into: &changes, replaced: &replaced)
        }
        messages = fresh
        return changes
    }
}
