// The client's view of the selected folder: sequence numbers ↔ UIDs, and the sync that
// turns folder changes into untagged EXPUNGE / FETCH / EXISTS / RECENT (RFC 3501 §7.3, §7.4).
import IMAPProtocol
import Maildir

final class SelectedMailbox {
    let folder: MaildirFolder
    /// Sequence number n is `uids[n - 1]`.
    var uids: [UInt32]
    /// Gone from the folder but not yet announced with EXPUNGE.
    var pendingExpunged: Set<UInt32> = []
    /// The daemon reported a change by someone else.
    var needsSync = false
    /// Changes the folder view took over from a shared scan while the client was not idling:
    /// their untagged responses go out at the next command.
    var deferred: [FolderChanges] = []
    /// The \Recent count the client last heard of, kept when the first batch is deferred: the
    /// folder then no longer knows whether an expunged message was \Recent.
    var recentBeforeDeferred = 0
    /// The last SEARCH RETURN (SAVE) result, `$` (RFC 5182), as UIDs so that it survives
    /// EXPUNGE: an expunged UID no longer resolves. Nil when empty; a new SELECT starts empty.
    var savedResult: SequenceSet?

    init(folder: MaildirFolder) {
        self.folder = folder
        uids = folder.messages.map(\.uid)
    }

    var readOnly: Bool { folder.readOnly }

    func sequenceNumber(ofUID uid: UInt32) -> Int? {
        var lo = 0, hi = uids.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if uids[mid] == uid { return mid + 1 }
            if uids[mid] < uid { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    /// Messages in the view that are \Recent in this session. With a thousand IDLE sessions
    /// this runs a thousand times per delivery: when the view holds exactly the folder's
    /// messages, the folder's kept count answers.
    var recentCount: Int {
        if pendingExpunged.isEmpty && uids.count == folder.messages.count { return folder.recentCount }
        let messages = folder.messages
        var n = 0
        for i in messages.indices where messages[i].recent && sequenceNumber(ofUID: messages[i].uid) != nil { n += 1 }
        return n
    }

    /// Sequence numbers (ascending) a set names. Message sequence numbers beyond the view are
    /// an error (nil); UIDs that do not exist are skipped (RFC 3501 §6.4.8).
    func resolve(_ set: SequenceSet, byUID: Bool) -> [Int]? {
        if byUID {
            guard let last = uids.last else { return [] }
            var result: [Int] = []
            for range in set.resolved(last: last) {
                var i = lowerIndex(range.lowerBound)
                while i < uids.count && uids[i] <= range.upperBound { result.append(i + 1); i += 1 }
            }
            return result
        }
        let count = UInt32(uids.count)
        var result: [Int] = []
        for range in set.resolved(last: count) {
            guard range.lowerBound >= 1, range.upperBound <= count else { return nil }
            result += (Int(range.lowerBound)...Int(range.upperBound)).map { $0 }
        }
        return result
    }

    private func lowerIndex(_ uid: UInt32) -> Int {
        var lo = 0, hi = uids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if uids[mid] < uid { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

extension IMAPMailSession {
    /// The selected folder's directory (for watching it while idling).
    public var selectedFolderPath: String? { selected?.folder.path }

    /// Syncs the selected folder and queues the untagged updates: FETCH FLAGS for changed flags,
    /// EXPUNGE (only when allowed), then EXISTS and RECENT for new messages. With a `round`,
    /// the folder scan is shared with the other sessions syncing in that round.
    func syncSelected(allowExpunge: Bool, round: FolderScanRound? = nil) {
        guard let s = selected else { return }
        s.needsSync = false
        // RFC 3501 §7.3.2: RECENT again when expunges change it (Dovecot does).
        let recentBefore = s.deferred.isEmpty ? s.recentCount : s.recentBeforeDeferred
        var batches = s.deferred
        s.deferred = []
        if let changes = try? s.folder.sync(sharing: round) { batches.append(changes) }
        // Batches in order, answered as Dovecot does: one FETCH per message with its latest
        // flags (none for a message expunged meanwhile), in sequence order, then the EXPUNGEs,
        // then new messages once, without those a later batch expunged again (the client never
        // knew them).
        var added: [UInt32] = []
        var stillNew = Set<UInt32>()
        var flagged: [UInt32: MaildirMessage] = [:]
        for changes in batches {
            if changes.uidValidityChanged {
                // The folder was recreated: every sequence number the client knows is wrong.
                untagged("BYE Mailbox UIDVALIDITY changed, have to disconnect.")
            }
            for uid in changes.expunged {
                flagged[uid] = nil
                if s.sequenceNumber(ofUID: uid) != nil { s.pendingExpunged.insert(uid) } else { stillNew.remove(uid) }
            }
            for m in changes.flagsChanged { flagged[m.uid] = m }
            for m in changes.added where m.uid > (s.uids.last ?? 0) && stillNew.insert(m.uid).inserted { added.append(m.uid) }
        }
        let fetches = flagged.values.compactMap { m in
            s.pendingExpunged.contains(m.uid) ? nil : s.sequenceNumber(ofUID: m.uid).map { ($0, m) }
        }
        for (seq, m) in fetches.sorted(by: { $0.0 < $1.0 }) { untagged("\(seq) FETCH (FLAGS \(flagList(m)))") }
        if allowExpunge { announceExpunges(s.pendingExpunged.sorted()) }  // also those held back earlier
        added = added.filter { stillNew.contains($0) }
        if !added.isEmpty {
            s.uids += added.sorted()
            untagged("\(s.uids.count) EXISTS")
            untagged("\(s.recentCount) RECENT")
        } else if allowExpunge {
            announceRecent(ifChangedFrom: recentBefore)
        }
    }

    /// A session not in IDLE told of a change: its folder view takes the round's scan over now
    /// (one scan for every session of the folder, not one each at their next command), and
    /// the responses wait for the next command.
    func takeOverWithoutAnnouncing(_ round: FolderScanRound) {
        // A client silent through many changes: keep a bounded number of batches; the view then
        // stays where the last one left it, and the next command's own sync covers the rest.
        guard let s = selected, s.deferred.count < Self.maxDeferredBatches else { return }
        let recent = s.deferred.isEmpty ? s.recentCount : s.recentBeforeDeferred  // O(1) while view = folder
        guard let changes = try? s.folder.sync(sharing: round), !changes.isEmpty else { return }
        s.recentBeforeDeferred = recent
        s.deferred.append(changes)
    }

    static let maxDeferredBatches = 32

    /// `* n RECENT` when expunges changed the count (RFC 3501 §7.3.2; Dovecot sends it after
    /// EXPUNGE, MOVE and others' expunges alike). `before`: the count before the folder changed.
    func announceRecent(ifChangedFrom before: Int) {
        guard let s = selected else { return }
        let now = s.recentCount
        if now != before { untagged("\(now) RECENT") }
    }

    /// Sends `* n EXPUNGE` for each UID still in the view, highest sequence number first (as
    /// Dovecot), and drops them from the view.
    func announceExpunges(_ expunged: [UInt32]) {
        guard let s = selected else { return }
        let seqs = expunged.compactMap { s.sequenceNumber(ofUID: $0) }.sorted(by: >)
        for seq in seqs {
            untagged("\(seq) EXPUNGE")
            s.pendingExpunged.remove(s.uids[seq - 1])
            s.uids.remove(at: seq - 1)
        }
    }

    /// `(\Seen \Recent $Label)`: system flags in Dovecot's order, \Recent, then keywords.
    func flagList(_ m: MaildirMessage) -> String {
        var names = m.flags.imapNames
        if m.recent { names.append("\\Recent") }
        names += m.keywords
        return "(" + names.joined(separator: " ") + ")"
    }

    func closeSelected() {
        selected?.folder.close()
        selected = nil
    }
}
