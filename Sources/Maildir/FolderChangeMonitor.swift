// How a folder view learns, without listing new/ and cur/, that nobody else changed them.
//
// Without a monitor a view trusts an unchanged directory mtime only when it is a couple of
// seconds old (timestamps are coarse: two changes in one clock tick leave one mtime), so after
// each of its own changes a busy session relists both directories at every command. With a
// monitor (inotify in the mail process, see RoostDaemon/FolderWatcher.swift) the view tells it
// every rename and unlink it makes itself; any other change to new/ or cur/ — another session,
// a delivery, another process — marks the view as changed, and only then does it rescan.
//
// Implementation notes
// - A monitor and its views live on one serial queue: events are read only when a view asks,
//   so a view's own change is announced (`expect`) before its event can be read.
// - A change becomes visible a moment before its event is queued; a sync in that moment misses
//   it, and the next sync sees the event. That is the same as the change coming a moment later.
// - Anything a monitor cannot account for (a lost event, an overflow, a watched directory gone)
//   marks every view of the folder as changed: the fallback is always a rescan.

/// new/ or cur/ of a folder.
public enum MaildirSubdirectory: UInt8, Sendable {
    case new, cur
}

/// Watches folders' new/ and cur/ for changes their views did not make themselves.
public protocol FolderChangeMonitor: AnyObject {
    /// Starts watching the folder at `path` for `view`; false when it cannot (no inotify, a
    /// network file system whose other clients' changes it would not see), and the view then
    /// compares directory stamps as before.
    func follow(_ view: ObjectIdentifier, path: String) -> Bool
    func unfollow(_ view: ObjectIdentifier)
    /// Reads queued events; true when new/ or cur/ changed, other than as `view` announced,
    /// since its last `beginScan`.
    func changedByOthers(_ view: ObjectIdentifier) -> Bool
    /// `view` is about to list the directories: reads queued events, then forgets the changes
    /// seen so far.
    func beginScan(_ view: ObjectIdentifier)
    /// `view` takes over the scan `scanner` just made (see FolderScanRound.swift): it is now as
    /// current as `scanner`, and changed by others exactly when `scanner` is.
    func adoptScan(_ view: ObjectIdentifier, of scanner: ObjectIdentifier)
    /// `view` just renamed or removed `name` in `directory` (`arrived`: a file appeared there).
    func expect(_ view: ObjectIdentifier, _ directory: MaildirSubdirectory, _ name: String, arrived: Bool)
}
