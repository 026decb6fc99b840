import Dispatch
import Logging
import Maildir
import Reactor
import RoostSystem

/// Notices changes that outside writers make to the folders this mail process's IDLE sessions
/// wait on: another delivery agent (procmail, maildrop, Dovecot's LDA) dropping a file into
/// new/, a client of another server renaming or deleting files in cur/.
///
/// Implementation notes:
/// - One inotify instance per mail process, never one per session: the kernel allows 128 per
///   uid by default, and Dovecot (one per IMAP process) falls back to 30 s polling beyond that.
///   A folder is watched while at least one session idles in it; its new/ and cur/ are watched
///   (as Dovecot's maildir_notify_changes does). dovecot-uidlist is not: every visible change
///   (new, expunged or re-flagged message) renames or removes a file in new/ or cur/.
/// - Events are read on the loop queue. The first batch is announced at once; later ones are
///   coalesced to at most one announcement per `minimumInterval`, so a burst of 1,000 files
///   costs a few resyncs, not 1,000.
/// - Renames that change nothing a client can see are ignored: a file moved from new/ to cur/
///   (or within cur/) with the same base name and the same flags, which is what every
///   session's sync does with new mail. That is the echo of Roost's own syncs.
/// - Roost's own writes are announced directly (`MailProcess.folderChanged`); just before
///   that, `absorb` reads the queued events and drops those of that folder: every session
///   syncs after the announcement, so it sees whatever those events stood for.
/// - Without inotify (instances exhausted, or a watch refused) a folder is re-checked every
///   `fallbackInterval` seconds instead, as Dovecot's mailbox_idle_check_interval.
final class FolderWatcher {  // loop-confined: every method runs on loop.queue
    static let minimumInterval = 0.010
    static let fallbackInterval = 30.0
    private static let events = Inotify.created | Inotify.deleted | Inotify.movedFrom | Inotify.movedTo |
        Inotify.selfGone

    private struct Folder {
        var name: String
        var sessions: Int
        var watches: [Int32]
    }

    private let loop: EventLoop
    private let logger: Logger
    private let inotify: Inotify?
    private var source: DispatchSourceRead?
    /// Watched folders by folder path.
    private var folders: [String: Folder] = [:]
    /// inotify watch → (folder path, "new" or "cur").
    private var byWatch: [Int32: (path: String, directory: String)] = [:]
    /// Folder paths with changes not yet announced.
    private var pending: Set<String> = []
    private var flushScheduled = false
    private var lastFlush: UInt64 = 0
    private var fallbackTimer: DispatchSourceTimer?
    private let announce: (String) -> Void

    /// `announce` gets a folder's mailbox name whenever it changed from outside.
    init(loop: EventLoop, logger: Logger, announce: @escaping (String) -> Void) {
        self.loop = loop
        self.logger = logger
        self.announce = announce
        do {
            inotify = try Inotify()
        } catch {
            inotify = nil
            logger.warning("inotify unavailable (\(error)); IDLE checks outside changes every \(Int(Self.fallbackInterval)) s")
        }
        if let inotify {
            let s = DispatchSource.makeReadSource(fileDescriptor: inotify.fd, queue: loop.queue)
            s.setEventHandler { [unowned self] in self.consume(self.inotify?.readEvents() ?? []) }
            s.resume()
            source = s
        }
    }

    /// A session started idling in the folder at `path`. True when the folder was not watched
    /// before: the caller then rechecks once, for changes made before the watch existed.
    @discardableResult
    func retain(name: String, path: String) -> Bool {
        if var f = folders[path] {
            f.sessions += 1
            folders[path] = f
            return false
        }
        var watches: [Int32] = []
        if let inotify {
            for directory in ["new", "cur"] {
                do {
                    let wd = try inotify.watchDirectory(path + "/" + directory, events: Self.events)
                    watches.append(wd)
                    byWatch[wd] = (path, directory)
                } catch {
                    logger.warning("Watching \(path)/\(directory) failed: \(error)")
                }
            }
        }
        folders[path] = Folder(name: name, sessions: 1, watches: watches)
        if watches.count < 2 { startFallback() }
        return true
    }

    /// A session stopped idling in the folder at `path`.
    func release(path: String) {
        guard var f = folders[path] else { return }
        f.sessions -= 1
        if f.sessions > 0 {
            folders[path] = f
            return
        }
        folders[path] = nil
        pending.remove(path)
        for wd in f.watches {
            inotify?.removeWatch(wd)
            byWatch[wd] = nil
        }
    }

    /// Roost itself changed `name` and is about to tell every session: queued events of that
    /// folder are covered by that announcement.
    func absorb(_ name: String) {
        guard let inotify, !folders.isEmpty else { return }
        consume(inotify.readEvents())
        let normalized = MailboxName.normalized(name)
        for path in pending where folders[path].map({ MailboxName.normalized($0.name) == normalized }) == true {
            pending.remove(path)
        }
    }

    // MARK: Events

    private func consume(_ events: [Inotify.Event]) {
        guard !events.isEmpty else { return }
        var movedFrom: [UInt32: (path: String, directory: String, name: String)] = [:]
        for e in events {
            if e.has(Inotify.overflow) {
                pending.formUnion(folders.keys)
                continue
            }
            guard let (path, directory) = byWatch[e.watch] else { continue }
            if e.has(Inotify.ignored) {
                byWatch[e.watch] = nil
                continue
            }
            if e.has(Inotify.selfGone) {
                pending.insert(path)  // the folder was deleted or renamed: sessions find out on sync
                continue
            }
            if e.has(Inotify.isDirectory) || e.name.hasPrefix(".") { continue }
            if e.has(Inotify.movedFrom) {
                movedFrom[e.cookie] = (path, directory, e.name)
                continue
            }
            if e.has(Inotify.movedTo), let from = movedFrom.removeValue(forKey: e.cookie),
               from.path == path, Self.sameMessageAndFlags(from.name, e.name) {
                continue  // new/ → cur/ (or a rename) that no client can see
            }
            pending.insert(path)
        }
        // A file moved away to somewhere unwatched (or its pair is in the next batch).
        for from in movedFrom.values { pending.insert(from.path) }
        if !pending.isEmpty { scheduleFlush() }
    }

    /// Same base name and same flag letters: `1.M2P3.host,S=9` in new/ and `1.M2P3.host,S=9:2,`
    /// in cur/ are one message without flags.
    static func sameMessageAndFlags(_ a: String, _ b: String) -> Bool {
        func split(_ n: String) -> (Substring, Substring) {
            guard let colon = n.lastIndex(of: ":") else { return (n[...], "") }
            let info = n[n.index(after: colon)...]
            return (n[..<colon], info.hasPrefix("2,") ? info.dropFirst(2) : info)
        }
        let (baseA, flagsA) = split(a), (baseB, flagsB) = split(b)
        return baseA == baseB && flagsA == flagsB
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        let now = DispatchTime.now().uptimeNanoseconds
        let earliest = lastFlush + UInt64(Self.minimumInterval * 1e9)
        let delay = earliest > now ? Double(earliest - now) / 1e9 : 0
        loop.schedule(after: delay) { [unowned self] in self.flush() }
    }

    private func flush() {
        flushScheduled = false
        lastFlush = DispatchTime.now().uptimeNanoseconds
        let paths = pending
        pending = []
        for path in paths {
            if let f = folders[path] { announce(f.name) }
        }
    }

    // MARK: Fallback polling

    private func startFallback() {
        guard fallbackTimer == nil else { return }
        let t = DispatchSource.makeTimerSource(queue: loop.queue)
        t.schedule(deadline: .now() + Self.fallbackInterval, repeating: Self.fallbackInterval, leeway: .seconds(1))
        t.setEventHandler { [unowned self] in
            for (path, f) in folders where f.watches.count < 2 { pending.insert(path) }
            if !pending.isEmpty { scheduleFlush() }
        }
        t.resume()
        fallbackTimer = t
    }
}
