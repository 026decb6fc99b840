import Auth
import Dispatch
import Foundation
import Glibc
import Logging
import Reactor
import RoostSystem

/// The auth process: verifies credentials for the login processes (Dovecot's auth protocol),
/// and answers the master's "who is the user behind this successful login?" requests with the
/// userdb record. Runs as root in production (PAM and shadow need it), never parses mail.
///
/// Implementation notes:
/// - Password checks run on a bounded worker pool, never on the loop.
/// - Every failure — unknown user, wrong password — is answered after the same
///   `auth_failure_delay`, so timing does not reveal which users exist.
/// - A login is handed to a mail process only for a (cookie, request id) pair that succeeded on
///   the connection holding that cookie, once: a compromised login process cannot name users.
final class AuthProcess: @unchecked Sendable {  // all state guarded by loop.queue
    let settings: DaemonSettings
    let loop = EventLoop(label: "roost.auth")
    let workers = WorkerPool(label: "roost.auth.workers", width: 8)
    let logger = Logger(label: "auth")
    let databases: AuthDatabases
    private var master: ControlChannel!
    private var clients: [ObjectIdentifier: AuthClientConnection] = [:]
    private var nextConnectionID: UInt32 = 1
    /// Successful logins awaiting the master's request: cookie → request id → user.
    private var successes: [String: [UInt32: (user: String, expires: UInt64)]] = [:]

    init(settings: DaemonSettings, databases: AuthDatabases) {
        self.settings = settings
        self.databases = databases
        loop.queue.sync {
            master = ControlChannel(fd: ChildDescriptor.control, queue: loop.queue,
                                    onMessage: { [unowned self] m, fds in self.masterMessage(m, fds) },
                                    onClose: { exit(0) })
            master.start()
        }
    }

    private func masterMessage(_ message: ControlMessage, _ fds: [Int32]) {
        switch message.kind {
        case "client":
            for fd in fds { addClient(fd: fd) }
        case "request":
            fds.forEach { Glibc.close($0) }
            answerRequest(message)
        case "shutdown":
            exit(0)
        default:
            fds.forEach { Glibc.close($0) }
        }
    }

    func addClient(fd: Int32) {
        let id = nextConnectionID
        nextConnectionID &+= 1
        let cookie = (try? AuthProtocol.randomCookie()) ?? SessionID.make()
        let client = AuthClientConnection(process: self, fd: fd, identity: AuthServerIdentity(
            pid: String(getpid()), connectionID: id, cookie: cookie))
        clients[ObjectIdentifier(client)] = client
        client.start()
    }

    func remove(_ client: AuthClientConnection) {
        clients.removeValue(forKey: ObjectIdentifier(client))
        successes.removeValue(forKey: client.identity.cookie)
    }

    /// Runs the passdb check off the loop, then answers after the failure delay if it failed.
    func verify(user: String, password: String, request: AuthRequest,
                completion: @escaping (AuthVerifyResult) -> Void) {
        let databases = self.databases
        let format = settings.authUsernameFormat
        let name = UsernameFormat.expand(format, user: user)
        let started = DispatchTime.now()
        workers.run({ databases.verify(user: name, password: password) }, on: loop) { [self] result in
            let context = "\(name),\(request.remoteIP ?? "")" + (request.session.map { ",<\($0)>" } ?? "")
            switch result {
            case .ok(let canonical, _):
                completion(.success(user: canonical))
                return
            case .unknownUser(let driver):
                if settings.authVerbose { logger.info("\(driver)(\(context)): unknown user") }
            case .mismatch(let driver):
                if settings.authVerbose { logger.info("\(driver)(\(context)): Password mismatch") }
            case .internalFailure(let driver, let reason):
                logger.error("\(driver)(\(context)): \(reason)")
            }
            // Same delay for every failure, counted from the request's arrival.
            let deadline = started + settings.authFailureDelay
            let temporary: Bool
            if case .internalFailure = result { temporary = true } else { temporary = false }
            let remaining = max(0, Double(deadline.uptimeNanoseconds) - Double(DispatchTime.now().uptimeNanoseconds)) / 1e9
            loop.schedule(after: remaining) {
                completion(.failure(reason: nil, temporary: temporary))
            }
        }
    }

    func recordSuccess(cookie: String, requestID: UInt32, user: String) {
        let expires = DispatchTime.now().uptimeNanoseconds + 60_000_000_000
        successes[cookie, default: [:]][requestID] = (user, expires)
    }

    /// The master asks for the user of a login the login process claims succeeded.
    private func answerRequest(_ message: ControlMessage) {
        let reply = { (fields: [String: String]) in
            var f = fields
            f["request"] = message["request"] ?? ""
            self.master.send(ControlMessage("user", f))
        }
        guard let cookie = message["cookie"], let idText = message["auth-id"], let id = UInt32(idText),
              let entry = successes[cookie]?.removeValue(forKey: id),
              entry.expires > DispatchTime.now().uptimeNanoseconds else {
            logger.error("Master request for an unknown or expired login (auth-id=\(message["auth-id"] ?? ""))")
            reply(["found": "0", "reason": "unknown login"])
            return
        }
        let databases = self.databases
        workers.run({ databases.lookupUser(entry.user) }, on: loop) { user in
            guard let user else {
                self.logger.error("userdb(\(entry.user)): user not found from any userdb")
                reply(["found": "0", "reason": "user not in userdb"])
                return
            }
            var fields = ["found": "1", "user": user.username]
            if let uid = user.uid { fields["uid"] = uid }
            if let gid = user.gid { fields["gid"] = gid }
            if let home = user.home { fields["home"] = home }
            if let mail = user.mail { fields["mail"] = mail }
            reply(fields)
        }
    }

    func run() -> Never {
        dispatchMain()
    }
}

/// One auth-protocol client (a login process today; Postfix's SASL later).
final class AuthClientConnection: ConnectionHandler {
    unowned let process: AuthProcess
    let identity: AuthServerIdentity
    let connection: Connection
    private var lines = AuthLineBuffer()
    private var session: AuthProtocolServerSession!
    private var nextPending: AuthPendingID = 1

    init(process: AuthProcess, fd: Int32, identity: AuthServerIdentity) {
        self.process = process
        self.identity = identity
        connection = Connection(fd: fd, loop: process.loop)
        session = AuthProtocolServerSession(identity: identity, maxRequests: 100_000) { [unowned self] user, password, request in
            let pending = nextPending
            nextPending += 1
            process.verify(user: user, password: password, request: request) { [weak self] result in
                guard let self else { return }
                if case .success(let name, _) = result {
                    process.recordSuccess(cookie: identity.cookie, requestID: request.id, user: name)
                }
                send(session.complete(id: pending, result: result))
            }
            return pending
        }
    }

    func start() {
        connection.handler = self
        connection.start()
        send(session.handshakeLines)
    }

    private func send(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        connection.write(Array(lines.map { $0 + "\n" }.joined().utf8))
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        do {
            for line in try lines.append(bytes) {
                send(try session.receive(line: line))
            }
        } catch {
            process.logger.error("auth client: \(error); disconnecting")
            connection.close()
        }
    }

    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {
        process.remove(self)
    }
}
