import Dispatch
import Foundation
import Glibc
import Reactor
import RoostSystem

/// One message between Roost's processes: a kind and string fields, JSON-encoded, sent as one
/// SOCK_SEQPACKET record so boundaries and attached descriptors (SCM_RIGHTS) stay together.
struct ControlMessage: Codable, Sendable, Equatable {
    var kind: String
    var fields: [String: String]

    init(_ kind: String, _ fields: [String: String] = [:]) {
        self.kind = kind
        self.fields = fields
    }

    subscript(_ key: String) -> String? { fields[key] }

    /// The record sent on a channel: the kind, then key, value, key, value …, each as a
    /// 4-byte little-endian length and its UTF-8 bytes. Every delivery and login crosses
    /// two or three channels, and Foundation's JSON coders cost more than the rest of the
    /// routing together; this costs a few copies.
    var wire: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + kind.utf8.count + fields.reduce(0) { $0 + 8 + $1.key.utf8.count + $1.value.utf8.count })
        func put(_ s: String) {
            let n = UInt32(s.utf8.count)
            out += [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
            out += s.utf8
        }
        put(kind)
        for (key, value) in fields {
            put(key)
            put(value)
        }
        return out
    }

    init?(wire bytes: [UInt8]) {
        var i = 0
        func take() -> String? {
            guard bytes.count - i >= 4 else { return nil }
            let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
            i += 4
            guard n <= bytes.count - i else { return nil }
            defer { i += n }
            return String(decoding: bytes[i..<(i + n)], as: UTF8.self)
        }
        guard let kind = take() else { return nil }
        var fields: [String: String] = [:]
        while i < bytes.count {
            guard let key = take(), let value = take() else { return nil }
            fields[key] = value
        }
        self.init(kind, fields)
    }
}

/// A control channel between the master and a child (or two children) over a seqpacket socket.
/// Incoming messages are delivered on `queue`. Sending never blocks: two processes that each
/// wait for the other to read would deadlock, so messages the socket cannot take yet wait in an
/// outbox (with duplicated descriptors) until a write source says there is room.
///
/// Implementation notes:
/// - The write source is made the first time the outbox is used; the descriptor is closed
///   only after every source on it has been cancelled (`DescriptorSources`). Closed in the
///   read source's cancel handler alone, its number could come back (the next child's
///   channel, a new link) while libdispatch still held the old channel's registration, and
///   the new channel's read source never fired. Seen under load after a mail process was
///   killed: the master's epoll set lacked the new mail process's channel, its answers piled
///   up unread, and every delivery through the master waited for the lmtp process's timeout.
final class ControlChannel: @unchecked Sendable {  // all state guarded by `queue`
    let fd: Int32
    let queue: DispatchQueue
    private var readSource: DispatchSourceRead?
    private var writeSource: DispatchSourceWrite?
    private let sources: DescriptorSources
    private var writeSuspended = true
    private var outbox: [(bytes: [UInt8], fds: [Int32])] = []
    private let onMessage: (ControlMessage, [Int32]) -> Void
    private let onClose: () -> Void
    private var closed = false

    init(fd: Int32, queue: DispatchQueue, onMessage: @escaping (ControlMessage, [Int32]) -> Void,
         onClose: @escaping () -> Void) {
        self.fd = fd
        self.queue = queue
        self.onMessage = onMessage
        self.onClose = onClose
        sources = DescriptorSources(fd: fd)
        Sockets.setNonBlocking(fd)
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    func start() {
        let rs = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        rs.setEventHandler { [unowned self] in self.readAll() }
        sources.guardSource(rs)
        readSource = rs
        rs.resume()
    }

    /// Waits for room in the socket: the outbox is not empty.
    private func watchForRoom() {
        if writeSource == nil {
            let ws = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
            ws.setEventHandler { [unowned self] in self.flush() }
            sources.guardSource(ws)
            writeSource = ws
            writeSuspended = true
        }
        if writeSuspended, let ws = writeSource {
            writeSuspended = false
            ws.resume()
        }
    }

    /// Sends a message (call on `queue`). Descriptors are duplicated into the receiver; the
    /// caller still owns its copies. False when the channel is closed or broken.
    @discardableResult
    func send(_ message: ControlMessage, fds: [Int32] = []) -> Bool {
        dispatchPrecondition(condition: .onQueue(queue))
        guard !closed else { return false }
        let bytes = message.wire
        if outbox.isEmpty {
            do {
                try DescriptorPassing.send(on: fd, message: bytes, fds: fds)
                return true
            } catch let error as SystemCallError where error.errno == EAGAIN || error.errno == ENOBUFS {
                // fall through to the outbox
            } catch {
                return false
            }
        }
        var copies: [Int32] = []
        for f in fds {
            let c = fcntl(f, F_DUPFD_CLOEXEC, 0)
            guard c >= 0 else {
                copies.forEach { Glibc.close($0) }
                return false
            }
            copies.append(c)
        }
        outbox.append((bytes, copies))
        watchForRoom()
        return true
    }

    private func flush() {
        while let first = outbox.first {
            do {
                try DescriptorPassing.send(on: fd, message: first.bytes, fds: first.fds)
            } catch let error as SystemCallError where error.errno == EAGAIN || error.errno == ENOBUFS {
                return
            } catch {
                // Broken channel: drop what cannot be delivered; the close path handles the rest.
            }
            first.fds.forEach { Glibc.close($0) }
            outbox.removeFirst()
        }
        if !writeSuspended, let ws = writeSource {
            writeSuspended = true
            ws.suspend()
        }
    }

    func cancel() {
        queue.async { [self] in finish(notify: false) }
    }

    private func readAll() {
        while !closed {
            let received: (bytes: [UInt8], fds: [Int32])?
            do {
                received = try DescriptorPassing.receive(on: fd, maxBytes: 1 << 20)
            } catch {
                finish(notify: true)
                return
            }
            guard let (bytes, fds) = received else { return }
            if bytes.isEmpty {
                fds.forEach { Glibc.close($0) }
                finish(notify: true)
                return
            }
            guard let message = ControlMessage(wire: bytes) else {
                fds.forEach { Glibc.close($0) }
                continue
            }
            onMessage(message, fds)
        }
    }

    private func finish(notify: Bool) {
        guard !closed else { return }
        closed = true
        for item in outbox { item.fds.forEach { Glibc.close($0) } }
        outbox = []
        if let ws = writeSource {
            if writeSuspended { ws.resume() }
            ws.cancel()
            writeSource = nil
        }
        if let rs = readSource {
            rs.cancel()  // the last cancel handler (read or write source) closes fd
            readSource = nil
        } else {
            sources.closeWithoutSources()
        }
        if notify { onClose() }
    }
}
