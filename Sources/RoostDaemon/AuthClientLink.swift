import Auth
import Glibc
import Reactor

/// The login process's connection to the auth process, speaking Dovecot's auth protocol
/// (VERSION/CPID handshake, AUTH/CONT requests, OK/CONT/FAIL replies). Runs on one loop.
final class AuthClientLink: ConnectionHandler {
    typealias Reply = (AuthServerMessage) -> Void

    private let connection: Connection
    private var lines = AuthLineBuffer()
    private var nextID: UInt32 = 1
    private var pending: [UInt32: Reply] = [:]
    private(set) var cookie: String?
    private(set) var serverPID: String?
    private var handshakeDone = false
    private var queued: [String] = []
    var onLost: (() -> Void)?

    init(fd: Int32, loop: EventLoop) {
        connection = Connection(fd: fd, loop: loop)
        connection.handler = self
        connection.start()
        send(AuthClientMessage.version(major: AuthProtocol.majorVersion, minor: AuthProtocol.minorVersion).line)
        send(AuthClientMessage.cpid(String(getpid())).line)
    }

    /// Starts a SASL exchange; `reply` sees each CONT and the final OK/FAIL.
    func authenticate(_ makeRequest: (UInt32) -> AuthRequest, reply: @escaping Reply) -> UInt32 {
        let id = nextID
        nextID &+= 1
        pending[id] = reply
        let line = AuthClientMessage.auth(makeRequest(id)).line
        if handshakeDone { send(line) } else { queued.append(line) }
        return id
    }

    func continueAuth(id: UInt32, response: String) {
        send(AuthClientMessage.cont(id: id, data: response).line)
    }

    func cancel(id: UInt32) {
        guard pending.removeValue(forKey: id) != nil else { return }
        send(AuthClientMessage.cancel(id: id).line)
    }

    func close() { connection.abort() }

    private func send(_ line: String) {
        connection.write(Array((line + "\n").utf8))
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard let received = try? lines.append(bytes) else {
            connection.abort()
            return
        }
        for line in received {
            guard let message = try? AuthServerMessage(parsing: line) else { continue }
            switch message {
            case .cookie(let c): cookie = c
            case .spid(let p): serverPID = p
            case .done:
                handshakeDone = true
                queued.forEach(send)
                queued = []
            case .cont(let id, _):
                pending[id]?(message)
            case .ok(let id, _), .fail(let id, _):
                pending.removeValue(forKey: id)?(message)
            default: break
            }
        }
    }

    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {
        let waiting = pending
        pending = [:]
        for (id, reply) in waiting { reply(.fail(id: id, fields: [AuthField("temp")])) }
        onLost?()
    }
}
