import CSystem
import Maildir

/// The watcher as the selected folders' `FolderChangeMonitor` (see Maildir/FolderChangeMonitor.swift).
extension FolderWatcher: FolderChangeMonitor {
    func follow(_ view: ObjectIdentifier, path: String) -> Bool {
        // inotify sees only this kernel's changes: on a network file system other clients'
        // writes would go unnoticed, so views there keep comparing directory stamps.
        guard Self.isLocalFileSystem(path) else { return false }
        var f = watch(path)
        guard f.watches.count == 2, !f.broken else {
            unwatchIfUnused(path)
            return false
        }
        f.views.insert(view)
        folders[path] = f
        views[view] = ViewState(path: path, baseline: f.events, own: 0)
        return true
    }

    func unfollow(_ view: ObjectIdentifier) {
        guard let path = views.removeValue(forKey: view)?.path else { return }
        if lastAdopted?.scanner == view { lastAdopted = nil }  // its identifier may be reused
        folders[path]?.views.remove(view)
        unwatchIfUnused(path)
    }

    func changedByOthers(_ view: ObjectIdentifier) -> Bool {
        drain()
        guard let v = views[view], let f = folders[v.path], !f.broken else { return true }
        return f.events - v.baseline != v.own
    }

    func beginScan(_ view: ObjectIdentifier) {
        drain()
        guard let path = views[view]?.path, let f = folders[path] else { return }
        views[view] = ViewState(path: path, baseline: f.events, own: 0)
    }

    func adoptScan(_ view: ObjectIdentifier, of scanner: ObjectIdentifier) {
        guard var s = views[scanner], let v = views[view], s.path == v.path else { return }
        // Once per scan (not once per each of a thousand views): read the events of the
        // scanner's own renames, so they count as its own before the others copy its state.
        if lastAdopted?.scanner != scanner || lastAdopted?.baseline != s.baseline {
            drain()
            s = views[scanner] ?? s
            lastAdopted = (scanner, s.baseline)
        }
        views[view] = s
    }

    func expect(_ view: ObjectIdentifier, _ directory: MaildirSubdirectory, _ name: String, arrived: Bool) {
        guard let path = views[view]?.path else { return }
        if expected.count >= Self.maxExpected {
            // Expectations whose events never came (should not happen): start over, rescanning.
            expected = [:]
            for path in folders.keys { folders[path]?.events += 1 }
        }
        expected[Expectation(path: path, directory: directory, name: name, arrived: arrived)] = view
    }

    /// File systems whose every change this kernel makes itself (so inotify reports it).
    static func isLocalFileSystem(_ path: String) -> Bool {
        let local: Set<Int> = [
            0xEF53,      // ext2/3/4
            0x5846_5342, // xfs
            0x9123_683E, // btrfs
            0x0102_1994, // tmpfs
            0xF2F5_2010, // f2fs
            0x2FC1_2FC1, // zfs
            0x794C_7630, // overlayfs
        ]
        return local.contains(roost_fs_type(path))
    }
}
