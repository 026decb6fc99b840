import Dispatch
import Foundation
import Glibc
import RoostSystem
import Synchronization

/// A serial Dispatch queue that owns a set of connections, plus the coarse idle-timeout sweep
/// for them. All state of a connection is touched only on its loop's queue.
public final class EventLoop: @unchecked Sendable {  // mutable state guarded by `queue`
    public let queue: DispatchQueue
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var sweepTimer: DispatchSourceTimer?
    /// One read buffer for every connection of this loop: reads run one at a time on `queue`,
    /// and handlers only see the bytes during their callback. Saves a zero-filled allocation
    /// per read event.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)

    public init(label: String) {
        queue = DispatchQueue(label: label)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + 1, repeating: 1.0, leeway: .milliseconds(250))
        timer.setEventHandler { [unowned self] in self.sweepIdle() }
        timer.resume()
        sweepTimer = timer
    }

    deinit {
        readBuffer.deallocate()
        if wakeDescriptor >= 0 { close(wakeDescriptor) }
    }

    /// Work handed over by `execute` that has not run yet, and whether a connection of this
    /// loop waits in poll for its client (`awaitInput`): each side sets its own flag, then
    /// reads the other's, so either the waiter sees the work or `execute` sees the waiter and
    /// wakes it through `wakeDescriptor`.
    private let queuedWork = Atomic<Int>(0)
    private let awaiting = Atomic<Bool>(false)
    private let wakeDescriptor = Sockets.eventDescriptor()
    /// `awaitInput`'s poll set: the connection, `wakeDescriptor`, `interruptingDescriptors`.
    private var pollSet: [pollfd] = []

    public func execute(_ work: @escaping @Sendable () -> Void) {
        queuedWork.add(1, ordering: .sequentiallyConsistent)
        if awaiting.load(ordering: .sequentiallyConsistent) {
            var one: UInt64 = 1
            _ = write(wakeDescriptor, &one, 8)
        }
        queue.async { [self] in
            queuedWork.subtract(1, ordering: .sequentiallyConsistent)
            work()
        }
    }

    /// Waits up to `timeout` ms for input on `fd` alone: false as soon as an interrupting
    /// descriptor is readable or `execute` hands the loop work (or it already had some).
    func awaitInput(on fd: Int32, timeout: Int32) -> Bool {
        guard wakeDescriptor >= 0 else { return false }
        if pollSet.isEmpty {
            pollSet = [pollfd(fd: -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
                + interruptingDescriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        }
        pollSet[0].fd = fd
        for i in pollSet.indices { pollSet[i].revents = 0 }
        awaiting.store(true, ordering: .sequentiallyConsistent)
        guard queuedWork.load(ordering: .sequentiallyConsistent) == 0 else {
            awaiting.store(false, ordering: .sequentiallyConsistent)
            return false
        }
        let n = poll(&pollSet, nfds_t(pollSet.count), timeout)
        awaiting.store(false, ordering: .sequentiallyConsistent)
        if pollSet[1].revents != 0 {
            var count: UInt64 = 0
            _ = read(wakeDescriptor, &count, 8)
        }
        guard n > 0, pollSet[0].revents != 0 else { return false }
        return !pollSet.dropFirst().contains { $0.revents != 0 }
    }

    /// Tests: a connection of this loop sits in `awaitInput`.
    var isAwaiting: Bool { awaiting.load(ordering: .sequentiallyConsistent) }

    /// Runs loop-confined work later on this loop. Call only from the loop itself: the closure
    /// may capture state owned by the loop, which is why it need not be Sendable.
    public func schedule(after seconds: Double, _ work: @escaping () -> Void) {
        assertOnLoop()
        let box = LoopBound(work)
        queue.asyncAfter(deadline: .now() + seconds) { box.value() }
    }

    public func assertOnLoop() {
        dispatchPrecondition(condition: .onQueue(queue))
    }

    public var connectionCount: Int {
        assertOnLoop()
        return connections.count
    }

    public var allConnections: [Connection] {
        assertOnLoop()
        return Array(connections.values)
    }

    /// Descriptors whose input should not wait for a connection's `awaitNextCommand` poll
    /// (control channels): readable, they end it. Loop-confined.
    public private(set) var interruptingDescriptors: [Int32] = []

    public func interruptAwaiting(on fd: Int32) {
        assertOnLoop()
        interruptingDescriptors.append(fd)
        pollSet = []
    }

    public func stopInterrupting(on fd: Int32) {
        assertOnLoop()
        interruptingDescriptors.removeAll { $0 == fd }
        pollSet = []
    }

    var soleConnection: Connection? { connections.count == 1 ? connections.first?.value : nil }

    func register(_ c: Connection) { connections[ObjectIdentifier(c)] = c }
    func unregister(_ c: Connection) { connections.removeValue(forKey: ObjectIdentifier(c)) }

    private func sweepIdle() {
        let now = DispatchTime.now().uptimeNanoseconds
        for c in connections.values { c.checkIdle(now: now) }
    }
}

/// A fixed set of loops (one per core by default); new connections are spread round-robin.
public final class EventLoopGroup: @unchecked Sendable {  // `next` guarded by `lock`
    public let loops: [EventLoop]
    private var nextIndex = 0
    private let lock = NSLock()

    public init(count: Int = max(1, ProcessInfo.processInfo.activeProcessorCount), label: String = "roost.loop") {
        loops = (0..<max(1, count)).map { EventLoop(label: "\(label).\($0)") }
    }

    public func next() -> EventLoop {
        lock.lock()
        defer { lock.unlock() }
        let loop = loops[nextIndex % loops.count]
        nextIndex &+= 1
        return loop
    }
}

/// A bounded pool for blocking work (PAM, fsync, spawning): never run those on a loop queue.
/// Work beyond `width` waits in a FIFO here rather than in blocked Dispatch threads: blocking
/// threads on a semaphore would exhaust Dispatch's thread pool and starve the loops.
public final class WorkerPool: @unchecked Sendable {  // `pending`, `running` guarded by `lock`
    private let queue: DispatchQueue
    private let width: Int
    private let lock = NSLock()
    private var pending: [@Sendable () -> Void] = []
    private var pendingHead = 0
    private var running = 0

    public init(label: String, width: Int) {
        queue = DispatchQueue(label: label, attributes: .concurrent)
        self.width = max(1, width)
    }

    /// Runs `work` on the pool, then `completion` with its result on `loop`.
    /// `completion` runs on `loop` and may capture loop-confined state (call `run` from that loop).
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T, on loop: EventLoop,
                                 completion: @escaping (T) -> Void) {
        let box = LoopBound(completion)
        submit {
            let result = work()
            loop.execute { box.value(result) }
        }
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        lock.lock()
        if running < width {
            running += 1
            lock.unlock()
            start(job)
        } else {
            pending.append(job)
            lock.unlock()
        }
    }

    private func start(_ job: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            job()
            lock.lock()
            if pendingHead < pending.count {
                let next = pending[pendingHead]
                pendingHead += 1
                if pendingHead > 1024 && pendingHead * 2 > pending.count {
                    pending.removeFirst(pendingHead)
                    pendingHead = 0
                }
                lock.unlock()
                start(next)
            } else {
                running -= 1
                lock.unlock()
            }
        }
    }
}

/// A value that is only ever used on one loop queue, carried across a Dispatch hop that
/// returns to that same loop. Not checked by the compiler: the loop is the guard.
struct LoopBound<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
