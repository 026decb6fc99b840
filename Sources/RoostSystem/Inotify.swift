// Linux inotify: one non-blocking, close-on-exec instance and its watches, with the kernel's
// packed event records decoded into values. The caller drives it (a Dispatch read source on
// `fd`, then `readEvents()` until it returns nothing).
//
// The kernel allows 128 instances per uid by default (fs.inotify.max_user_instances) but
// 8,192+ watches: a process should own one instance and add watches to it, never one instance
// per session or folder.
#if canImport(Glibc)
import Glibc
#endif

public final class Inotify {
    public struct Event: Sendable, Equatable {
        public var watch: Int32
        public var mask: UInt32
        public var cookie: UInt32
        /// The entry's name inside the watched directory ("" for events on the directory itself).
        public var name: String

        public init(watch: Int32, mask: UInt32, cookie: UInt32, name: String) {
            self.watch = watch
            self.mask = mask
            self.cookie = cookie
            self.name = name
        }

        public func has(_ bits: UInt32) -> Bool { mask & bits != 0 }
    }

    public static let created = UInt32(IN_CREATE)
    public static let deleted = UInt32(IN_DELETE)
    public static let movedFrom = UInt32(IN_MOVED_FROM)
    public static let movedTo = UInt32(IN_MOVED_TO)
    /// The watched directory itself went away or was moved (the watch is dead or stale).
    public static let selfGone = UInt32(IN_DELETE_SELF | IN_MOVE_SELF)
    /// The kernel dropped the watch (after IN_DELETE_SELF, or on inotify_rm_watch).
    public static let ignored = UInt32(IN_IGNORED)
    /// The event queue overflowed: events were lost, everything must be rechecked.
    public static let overflow = UInt32(IN_Q_OVERFLOW)
    public static let isDirectory = UInt32(IN_ISDIR)

    public let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 16 * 1024)

    public init() throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw SystemCallError("inotify_init1") }
    }

    deinit { Glibc.close(fd) }

    /// Watches a directory (never following a symlink: IN_DONT_FOLLOW | IN_ONLYDIR). Adding
    /// the same directory twice returns the same descriptor.
    public func watchDirectory(_ path: String, events: UInt32) throws -> Int32 {
        let wd = inotify_add_watch(fd, path, events | UInt32(IN_DONT_FOLLOW | IN_ONLYDIR))
        guard wd >= 0 else { throw SystemCallError("inotify_add_watch", context: path) }
        return wd
    }

    public func removeWatch(_ wd: Int32) {
        _ = inotify_rm_watch(fd, wd)
    }

    /// The events queued now (empty when there are none); never blocks.
    public func readEvents() -> [Event] {
        var events: [Event] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { b in retryingEINTR { read(fd, b.baseAddress, b.count) } }
            guard n > 0 else { return events }
            buffer.withUnsafeBytes { raw in
                var offset = 0
                let header = MemoryLayout<inotify_event>.size
                while offset + header <= n {
                    let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let cookie = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameBytes = raw[(offset + header)..<min(n, offset + header + length)]
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    events.append(Event(watch: wd, mask: mask, cookie: cookie, name: name))
                    offset += header + length
                }
            }
        }
    }
}
