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
/// - It is also every selected folder view's `FolderChangeMonitor` (FolderWatcher+Monitor.swift):
///   a folder is watched while a session idles in it or a view follows it. An event a view
///   announced (`expect`) is that view's own and marks only the folder's other views as changed;
///   any other event marks them all.
final class FolderWatcher {  // loop-confined: every method runs on loop.queue
    static let minimumInterval = 0.010
    static let fallbackInterval = 30.0
    private static let events = Inotify.created | Inotify.deleted | Inotify.movedFrom | Inotify.movedTo |
        Inotify.selfGone

    struct Folder {
        /// The mailbox name announced to idling sessions.
        var name: String?
        var idlers = 0
        /// Views following the folder (FolderChangeMonitor).
        var views: Set<ObjectIdentifier> = []
        /// Events seen in new/ and cur/ so far (a view compares it with its own count).
        var events: UInt64 = 0
        var watches: [Int32] = []
        /// A watched directory went away: events can no longer be trusted to come.
        var broken = false
    }

    /// One change a view said it made: (folder path, directory, file name, arrived or left).
    struct Expectation: Hashable {
        var path: String
        var directory: MaildirSubdirectory
        var name: String
        var arrived: Bool
    }

    private let loop: EventLoop
    private let logger: Logger
    private let inotify: Inotify?
    private var source: DispatchSourceRead?
    /// Watched folders by folder path.
    var folders: [String: Folder] = [:]
    /// inotify watch → (folder path, new/ or cur/).
    private var byWatch: [Int32: (path: String, directory: MaildirSubdirectory)] = [:]
    /// Folder paths with changes not yet announced.
    private var pending: Set<String> = []
    private var flushScheduled = false
    private var lastFlush: UInt64 = 0
    private var fallbackTimer: DispatchSourceTimer?
    private let announce: (String) -> Void
    /// A following view: its folder, the folder's event count when it last began a scan, and
    /// how many events since then were its own. It is current while the two differences agree,
    /// so an event costs O(1) however many views share the folder.
    struct ViewState {
        var path: String
        var baseline: UInt64
        var own: UInt64
    }
    var views: [ObjectIdentifier: ViewState] = [:]
    /// The scan whose events `adoptScan` read last.
    var lastAdopted: (scanner: ObjectIdentifier, baseline: UInt64)?
    var expected: [Expectation: ObjectIdentifier] = [:]
    static let maxExpected = 100_000

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
            s.setEventHandler { [unowned self] in self.drain() }
            s.resume()
            source = s
        }
    }

    /// A session started idling in the folder at `path`. True when nobody idled there before:
    /// the caller then rechecks once, for changes made before it counted as idling.
    @discardableResult
    func retain(name: String, path: String) -> Bool {
        var f = watch(path)
        f.name = name
        f.idlers += 1
        folders[path] = f
        if f.watches.count < 2 { startFallback() }
        return f.idlers == 1
    }

    /// A session stopped idling in the folder at `path`.
    func release(path: String) {
        guard var f = folders[path] else { return }
        f.idlers -= 1
        folders[path] = f
        if f.idlers <= 0 { pending.remove(path) }
        unwatchIfUnused(path)
    }

    /// The folder's entry, with watches on new/ and cur/ added if it had none.
    func watch(_ path: String) -> Folder {
        if let f = folders[path] { return f }
        var f = Folder()
        if let inotify {
            for directory in [MaildirSubdirectory.new, .cur] {
                let dir = path + (directory == .new ? "/new" : "/cur")
                do {
                    let wd = try inotify.watchDirectory(dir, events: Self.events)
                    if let old = byWatch[wd], old.path != path { disown(wd, from: old.path) }
                    f.watches.append(wd)
                    byWatch[wd] = (path, directory)
                } catch {
                    logger.warning("Watching \(dir) failed: \(error)")
                }
            }
        }
        folders[path] = f
        return f
    }

    /// inotify gives one watch per directory: `wd`, watched for the folder at `path`, is now
    /// watched under another path, so that folder was renamed there. The old entry gives the
    /// watch up (unwatching it must not blind the new one) and its views always rescan.
    private func disown(_ wd: Int32, from path: String) {
        guard var f = folders[path] else { return }
        f.watches.removeAll { $0 == wd }
        f.broken = true
        f.events += 1
        folders[path] = f
        if f.idlers > 0 { startFallback() }
    }

    /// Drops the watches of a folder nobody idles in or follows any more.
    func unwatchIfUnused(_ path: String) {
        guard let f = folders[path], f.idlers <= 0, f.views.isEmpty else { return }
        folders[path] = nil
        pending.remove(path)
        for wd in f.watches {
            inotify?.removeWatch(wd)
            byWatch[wd] = nil
        }
        expected = expected.filter { $0.key.path != path }
    }

    /// Roost itself changed `name` and is about to tell every session: queued events of that
    /// folder are covered by that announcement.
    func absorb(_ name: String) {
        guard !folders.isEmpty else { return }
        drain()
        let normalized = MailboxName.normalized(name)
        for path in pending where folders[path]?.name.map({ MailboxName.normalized($0) == normalized }) == true {
            pending.remove(path)
        }
    }

    // MARK: Events

    /// Reads and handles every queued event.
    func drain() {
        guard let inotify else { return }
        consume(inotify.readEvents())
    }

    private func consume(_ events: [Inotify.Event]) {
        guard !events.isEmpty else { return }
        var movedFrom: [UInt32: (path: String, directory: MaildirSubdirectory, name: String)] = [:]
        for e in events {
            if e.has(Inotify.overflow) {
                // Lost events: every view rescans, every idling session rechecks.
                expected = [:]
                for (path, f) in folders {
                    folders[path]?.events += 1
                    if f.idlers > 0 { pending.insert(path) }
                }
                continue
            }
            guard let (path, directory) = byWatch[e.watch] else { continue }
            if e.has(Inotify.ignored) || e.has(Inotify.selfGone) {
                // The folder was deleted or renamed: sessions find out on sync, views always rescan.
                if e.has(Inotify.ignored) { byWatch[e.watch] = nil }
                folders[path]?.broken = true
                changed(path, except: nil)
                continue
            }
            if e.has(Inotify.isDirectory) || e.name.hasPrefix(".") { continue }
            let arrived = e.has(Inotify.movedTo) || e.has(Inotify.created)
            if let owner = expected.removeValue(forKey: Expectation(path: path, directory: directory, name: e.name, arrived: arrived)) {
                // A view's own change: its session announces it (MailProcess.folderChanged).
                changed(path, except: owner, announce: false)
                continue
            }
            changed(path, except: nil, announce: false)
            if e.has(Inotify.movedFrom) {
                movedFrom[e.cookie] = (path, directory, e.name)
                continue
            }
            if e.has(Inotify.movedTo), let from = movedFrom.removeValue(forKey: e.cookie),
               from.path == path, Self.sameMessageAndFlags(from.name, e.name) {
                continue  // new/ → cur/ (or a rename) that no client can see
            }
            changed(path, except: nil)
        }
        // A file moved away to somewhere unwatched (or its pair is in the next batch).
        for from in movedFrom.values { changed(from.path, except: nil) }
        if !pending.isEmpty { scheduleFlush() }
    }

    /// Marks the folder's views other than `except` as changed and, with `announce`, queues
    /// an announcement for its idling sessions.
    private func changed(_ path: String, except owner: ObjectIdentifier?, announce: Bool = true) {
        guard let f = folders[path] else { return }
        folders[path]?.events += 1
        if let owner { views[owner]?.own += 1 }
        if announce && f.idlers > 0 { pending.insert(path) }
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
            if let f = folders[path], f.idlers > 0, let name = f.name { announce(name) }
        }
    }

    // MARK: Fallback polling

    private func startFallback() {
        guard fallbackTimer == nil else { return }
        let t = DispatchSource.makeTimerSource(queue: loop.queue)
        t.schedule(deadline: .now() + Self.fallbackInterval, repeating: Self.fallbackInterval, leeway: .seconds(1))
        t.setEventHandler { [unowned self] in
            for (path, f) in folders where f.watches.count < 2 && f.idlers > 0 { pending.insert(path) }
            if !pending.isEmpty { scheduleFlush() }
        }
        t.resume()
        fallbackTimer = t
    }
}
