import Dispatch
import Foundation
import Glibc
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
}

/// A control channel between the master and a child (or two children) over a seqpacket socket.
/// Incoming messages are delivered on `queue`; sends are synchronous and safe from any queue.
final class ControlChannel: @unchecked Sendable {  // `source` guarded by `queue`; sends serialized by `sendLock`
    let fd: Int32
    let queue: DispatchQueue
    private var source: DispatchSourceRead?
    private let sendLock = NSLock()
    private let onMessage: (ControlMessage, [Int32]) -> Void
    private let onClose: () -> Void
    private var closed = false

    init(fd: Int32, queue: DispatchQueue, onMessage: @escaping (ControlMessage, [Int32]) -> Void,
         onClose: @escaping () -> Void) {
        self.fd = fd
        self.queue = queue
        self.onMessage = onMessage
        self.onClose = onClose
        Sockets.setNonBlocking(fd)
    }

    func start() {
        let s = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        s.setEventHandler { [unowned self] in self.readAll() }
        let fd = self.fd
        s.setCancelHandler { Glibc.close(fd) }
        source = s
        s.resume()
    }

    /// Sends a message; descriptors are duplicated into the receiver (the caller still owns its copies).
    @discardableResult
    func send(_ message: ControlMessage, fds: [Int32] = []) -> Bool {
        guard let data = try? JSONEncoder().encode(message) else { return false }
        sendLock.lock()
        defer { sendLock.unlock() }
        for _ in 0..<200 {
            do {
                try DescriptorPassing.send(on: fd, message: Array(data), fds: fds)
                return true
            } catch let error as SystemCallError where error.errno == EAGAIN || error.errno == ENOBUFS {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 50)
            } catch {
                return false
            }
        }
        return false
    }

    func cancel() {
        queue.async { [self] in
            guard !closed else { return }
            closed = true
            source?.cancel()
            source = nil
        }
    }

    private func readAll() {
        while !closed {
            let received: (bytes: [UInt8], fds: [Int32])?
            do {
                received = try DescriptorPassing.receive(on: fd, maxBytes: 1 << 20)
            } catch {
                finish()
                return
            }
            guard let (bytes, fds) = received else { return }
            if bytes.isEmpty {
                fds.forEach { Glibc.close($0) }
                finish()
                return
            }
            guard let message = try? JSONDecoder().decode(ControlMessage.self, from: Data(bytes)) else {
                fds.forEach { Glibc.close($0) }
                continue
            }
            onMessage(message, fds)
        }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        source?.cancel()
        source = nil
        onClose()
    }
}
