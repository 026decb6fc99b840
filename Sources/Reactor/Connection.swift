import Dispatch
import Glibc
import RoostSystem

/// What a protocol session implements to be driven by a `Connection`. Called on the loop queue.
public protocol ConnectionHandler: AnyObject {
    /// Bytes arrived. The handler frames them itself (see `LineFramer`, or a protocol parser).
    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer)
    /// Output fell below the low-water mark after having been above it: streaming producers resume.
    func connectionDidDrain(_ connection: Connection)
    /// The peer closed, an error happened, or `close()` completed. Called exactly once.
    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason)
    /// The connection was idle longer than its timeout; the handler says goodbye and closes.
    func connectionDidTimeOut(_ connection: Connection)
}

extension ConnectionHandler {
    public func connectionDidDrain(_ connection: Connection) {}
    public func connectionDidTimeOut(_ connection: Connection) { connection.close() }
}

/// A non-blocking stream socket driven by Dispatch read/write sources.
///
/// Implementation notes:
/// - All state is touched on `loop.queue` only.
/// - Back-pressure: reading stops while buffered output exceeds `outputHighWater` (the peer is
///   not reading what we send) or while the handler paused reading (e.g. a command waits on the
///   worker pool); it resumes below `outputLowWater`.
/// - Releasing a suspended Dispatch source traps: sources are resumed before they are cancelled,
///   and the descriptor is closed after the cancel handlers of both the read and the write
///   source have run (`DescriptorSources`): closed earlier, its number can be reused while
///   libdispatch still holds the write source's registration, and the new socket never reads.
public final class Connection: @unchecked Sendable {  // guarded by loop.queue
    public enum CloseReason: Sendable, Equatable {
        case peerClosed, error(Int32), local, timeout
    }

    public let fd: Int32
    public let loop: EventLoop
    public let peer: SocketAddress?
    public let local: SocketAddress?
    public weak var handler: ConnectionHandler?
    /// Idle timeout in seconds (0 = none).
    public var idleTimeout: Double = 0
    public var outputHighWater = 256 * 1024
    public var outputLowWater = 64 * 1024
    /// Bytes read and written, for Dovecot's "in=… out=…" log fields.
    public private(set) var bytesIn = 0
    public private(set) var bytesOut = 0
    /// Milliseconds to wait in poll(2) for the next command while alone on the loop (0 = never;
    /// see `awaitNextInput`).
    public var awaitNextCommand: Int32 = 0
    /// How often Dispatch reported input (tests: commands served by `awaitNextInput` add none).
    private(set) var dispatchReadEvents = 0
    /// Called once after close, for bookkeeping (limiter release).
    public var onClose: (@Sendable () -> Void)?

    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private lazy var sources = DescriptorSources(fd: fd)
    private var readSuspended = true
    private var writeSuspended = true
    private var handlerPaused = false
    /// Queued output as a list of chunks (no re-copying of a big buffer as it drains).
    private var output: [[UInt8]] = []
    private var outputOffset = 0   // into output[0]
    private var outputCount = 0
    private var closing = false
    private var closed = false
    private var lastActivity = DispatchTime.now().uptimeNanoseconds
    private var wasAboveHighWater = false
    /// Drain callbacks queued: the producer has more to send, so no waiting for input.
    private var drainsQueued = 0
    /// While the handler digests input, replies are collected and sent in one go afterwards
    /// (a pipelined batch of commands costs one send(), not one per reply).
    private var corked = false

    public init(fd: Int32, loop: EventLoop, peer: SocketAddress? = nil) {
        self.fd = fd
        self.loop = loop
        self.peer = peer ?? SocketAddress.peer(of: fd)
        self.local = SocketAddress.local(of: fd)
        Sockets.setNonBlocking(fd)
        if local?.family == .inet || local?.family == .inet6 {
            // Replies are small and often several per client packet (pipelining): without
            // TCP_NODELAY, Nagle waits for the client's delayed ACK (40 ms) between them.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Starts reading; call on the loop queue after setting `handler`.
    public func start() {
        loop.assertOnLoop()
        loop.register(self)
        let rs = DispatchSource.makeReadSource(fileDescriptor: fd, queue: loop.queue)
        rs.setEventHandler { [unowned self] in self.readAvailable() }
        sources.guardSource(rs)
        readSource = rs
        updateReading()
    }

    public var isClosed: Bool { closed || closing }
    public var pendingOutput: Int { outputCount }

    /// Queues bytes for the peer. Never blocks; call `pauseReading` or watch `pendingOutput` to bound producers.
    public func write(_ bytes: some Collection<UInt8>) {
        guard !closed, !closing, !bytes.isEmpty else { return }
        // Small writes join the last chunk so many short replies become one send().
        if let last = output.indices.last, output[last].count < 16 * 1024, bytes.count < 16 * 1024, output.count > 1 || outputOffset == 0 {
            output[last].append(contentsOf: bytes)
        } else {
            output.append(Array(bytes))
        }
        outputCount += bytes.count
        // A producer that stops at the high-water mark is owed a drain callback, even if the
        // bytes then leave in one send (corked writes are not flushed one by one).
        if outputCount >= outputHighWater { wasAboveHighWater = true }
        if !corked || outputCount > outputHighWater { flush() }
    }

    public func write(_ string: String) { write(Array(string.utf8)) }

    /// Stops delivering input until `resumeReading` (while a command runs elsewhere).
    public func pauseReading() {
        handlerPaused = true
        updateReading()
    }

    public func resumeReading() {
        handlerPaused = false
        updateReading()
    }

    /// Closes after the queued output is written.
    public func close() {
        guard !closed, !closing else { return }
        closing = true
        if pendingOutput == 0 { finish(.local) } else { updateReading() }
    }

    /// Closes now, dropping queued output.
    public func abort(_ reason: CloseReason = .local) {
        finish(reason)
    }

    func checkIdle(now: UInt64) {
        guard idleTimeout > 0, !closed else { return }
        if Double(now - lastActivity) / 1e9 > idleTimeout {
            lastActivity = now
            if closing { finish(.timeout) } else { handler?.connectionDidTimeOut(self) }
        }
    }

    /// Resets the idle clock (e.g. IDLE re-arms the autologout timer).
    public func touch() { lastActivity = DispatchTime.now().uptimeNanoseconds }

    private func readAvailable() {
        guard !closed else { return }
        dispatchReadEvents += 1
        let started = DispatchTime.now().uptimeNanoseconds
        while readAll() && awaitNextInput(since: started) {}
        updateReading()
    }

    /// Reads what is there and hands it over chunk by chunk (so the handler can pause us), then
    /// sends the replies. False once the connection is closed.
    private func readAll() -> Bool {
        let buffer = loop.readBuffer
        corked = true
        defer {
            corked = false
            if !closed && pendingOutput > 0 { flush() }
        }
        while !closed, !closing, !handlerPaused, pendingOutput <= outputHighWater {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                bytesIn += n
                lastActivity = DispatchTime.now().uptimeNanoseconds
                handler?.connection(self, didRead: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                if n < buffer.count { break }
            } else if n == 0 {
                finish(.peerClosed)
                return false
            } else {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { break }
                finish(.error(e))
                return false
            }
        }
        return !closed
    }

    /// A client that sends its next command as soon as it has the reply (a POP3 download, an
    /// IMAP sync) is waited for here, in poll(2), for up to `awaitNextCommand` ms. Going back to
    /// Dispatch instead costs three thread hand-offs per command on Linux (the manager thread's
    /// epoll wakes a worker, and re-arming the one-shot source goes back to the manager), which
    /// is most of the time a 1 KB POP3 RETR takes. Only when this connection is alone on its
    /// loop with nothing queued for the peer, so no other session waits; the loop's control
    /// descriptors and work handed over by `EventLoop.execute` (a finished delivery) end the
    /// wait at once. Other work on the queue (timers, cancel handlers) waits at most
    /// `loopHoldLimit`: after that the connection goes back to Dispatch even if its client
    /// never paused.
    private func awaitNextInput(since started: UInt64) -> Bool {
        guard awaitNextCommand > 0, !closing, !handlerPaused, pendingOutput == 0, drainsQueued == 0,
              loop.soleConnection === self else { return false }
        let held = DispatchTime.now().uptimeNanoseconds &- started
        guard held < loopHoldLimit else { return false }
        let timeout = min(awaitNextCommand, Int32(min((loopHoldLimit - held) / 1_000_000, 1 << 30)))
        return timeout > 0 && loop.awaitInput(on: fd, timeout: timeout)
    }

    /// Nanoseconds one Dispatch read event may keep the loop's queue (`awaitNextInput`).
    var loopHoldLimit: UInt64 = 50_000_000

    private func flush() {
        guard !closed else { return }
        while let first = output.first {
            let n = first.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + outputOffset, first.count - outputOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outputOffset += n
                outputCount -= n
                bytesOut += n
                lastActivity = DispatchTime.now().uptimeNanoseconds
                if outputOffset == first.count {
                    output.removeFirst()
                    outputOffset = 0
                }
            } else {
                let e = errno
                if n < 0 && (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) { break }
                finish(.error(n < 0 ? e : EPIPE))
                return
            }
        }
        if output.isEmpty && closing { finish(.local); return }
        if pendingOutput >= outputHighWater { wasAboveHighWater = true }
        setWriteInterest(pendingOutput > 0)
        updateReading()
        if wasAboveHighWater && pendingOutput <= outputLowWater {
            wasAboveHighWater = false
            drainsQueued += 1
            // Never call back into a producer from inside its own write(): hop once.
            loop.queue.async { [weak self] in
                guard let self else { return }
                self.drainsQueued -= 1
                guard !self.closed else { return }
                self.handler?.connectionDidDrain(self)
            }
        }
    }

    private func setWriteInterest(_ on: Bool) {
        // Made the first time the socket refuses output: most connections (an idle IMAP
        // session, a short login) never need one, and 10,000 idle TLS clients saved ~10 MB.
        if on && writeSource == nil && !closed {
            let ws = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: loop.queue)
            ws.setEventHandler { [unowned self] in self.flush() }
            sources.guardSource(ws)
            writeSource = ws
            writeSuspended = true
        }
        guard let ws = writeSource else { return }
        if on && writeSuspended { ws.resume(); writeSuspended = false }
        if !on && !writeSuspended { ws.suspend(); writeSuspended = true }
    }

    private func updateReading() {
        guard let rs = readSource, !closed else { return }
        let want = !closing && !handlerPaused && pendingOutput <= outputHighWater
        if want && readSuspended { rs.resume(); readSuspended = false }
        if !want && !readSuspended { rs.suspend(); readSuspended = true }
    }

    private func finish(_ reason: CloseReason) {
        guard !closed else { return }
        closed = true
        closing = false
        if let ws = writeSource {
            if writeSuspended { ws.resume(); writeSuspended = false }
            ws.cancel()
        }
        if let rs = readSource {
            if readSuspended { rs.resume(); readSuspended = false }
            rs.cancel()  // the last cancel handler (read or write source) closes fd
        } else {
            sources.closeWithoutSources()
        }
        output = []
        outputCount = 0
        loop.unregister(self)
        onClose?()
        onClose = nil
        let h = handler
        handler = nil
        h?.connectionDidClose(self, reason: reason)
        // Break the sources' retain cycles now that both are cancelled.
        readSource = nil
        writeSource = nil
    }
}
