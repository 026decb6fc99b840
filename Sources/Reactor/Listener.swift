import Dispatch
import Glibc
import RoostSystem

/// Accepts connections on a listening socket and hands each to `onAccept` on a loop chosen
/// from the group, after the connection limiter agreed.
public final class Listener: @unchecked Sendable {  // guarded by `queue`
    public let fd: Int32
    public let name: String
    private let group: EventLoopGroup
    private let limiter: ConnectionLimiter?
    private let queue: DispatchQueue
    private var source: DispatchSourceRead?
    private let onAccept: @Sendable (Int32, SocketAddress?, EventLoop) -> Void
    private let onRefuse: @Sendable (Int32, SocketAddress?, ConnectionLimiter.Verdict) -> Void

    public init(fd: Int32, name: String, group: EventLoopGroup, limiter: ConnectionLimiter?,
                onRefuse: @escaping @Sendable (Int32, SocketAddress?, ConnectionLimiter.Verdict) -> Void = { fd, _, _ in Glibc.close(fd) },
                onAccept: @escaping @Sendable (Int32, SocketAddress?, EventLoop) -> Void) {
        self.fd = fd
        self.name = name
        self.group = group
        self.limiter = limiter
        self.onAccept = onAccept
        self.onRefuse = onRefuse
        self.queue = DispatchQueue(label: "roost.listener.\(name)")
        Sockets.setNonBlocking(fd)
    }

    public func start() {
        queue.sync {
            let s = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            s.setEventHandler { [unowned self] in self.acceptAll() }
            let fd = self.fd
            s.setCancelHandler { Glibc.close(fd) }
            source = s
            s.resume()
        }
    }

    /// Stops accepting and closes the listening socket.
    public func stop() {
        queue.sync {
            source?.cancel()
            source = nil
        }
    }

    private func acceptAll() {
        for _ in 0..<256 {
            let accepted: (fd: Int32, peer: SocketAddress?)?
            do { accepted = try Sockets.accept(fd) } catch { return }  // EMFILE etc.: try again on next event
            guard let (client, peer) = accepted else { return }
            let ip = peer?.host ?? ""
            if let limiter {
                let verdict = limiter.acquire(ip: ip)
                guard verdict == .accepted else {
                    onRefuse(client, peer, verdict)
                    continue
                }
            }
            onAccept(client, peer, group.next())
        }
    }
}
