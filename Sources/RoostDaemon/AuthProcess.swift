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
/// - Password checks run on a bounded worker pool, never on the loop; PAM itself runs in
///   auth-worker child processes (PAMWorkerPool), replaced after max_requests PAM requests.
/// - The auth cache (auth_cache_size) lives here, so it survives auth-worker restarts; a
///   SIGHUP to the master starts a new auth process, which starts with an empty cache.
/// - Every failure — unknown user, wrong password — is answered after the same
///   `auth_failure_delay`, so timing does not reveal which users exist.
/// - A login is handed to a mail process only for a (cookie, request id) pair that succeeded on
///   the connection holding that cookie, once: a compromised login process cannot name users.
final class AuthProcess: @unchecked Sendable {  // all state guarded by loop.queue
    let settings: DaemonSettings
    let loop = EventLoop(label: "roost.auth")
    /// Threads for blocking passdb/userdb work; also the most auth-worker (PAM) processes.
    static let workerCount = 8
    let workers = WorkerPool(label: "roost.auth.workers", width: AuthProcess.workerCount)
    let logger = Logger(label: "auth")
    let databases: AuthDatabases
    private var master: ControlChannel!
    private var clients: [ObjectIdentifier: AuthClientConnection] = [:]
    private var nextConnectionID: UInt32 = 1
    private var penalties = AuthPenalty()
    private var fairness = PerIPQueue(limit: 2)
    /// Successful logins awaiting the master's request: cookie → request id → user.
    private var successes: [String: [UInt32: (user: String, expires: UInt64)]] = [:]

    private var socketListeners: [Listener] = []
    private var signalSources: [DispatchSourceSignal] = []

    init(settings: DaemonSettings, databases: AuthDatabases, socketFDs: [Int32]) {
        self.settings = settings
        self.databases = databases
        let group = EventLoopGroup(count: 1, label: "roost.auth.accept")
        for (i, fd) in socketFDs.enumerated() {
            let listener = Listener(fd: fd, name: "auth-\(i)", group: group, limiter: nil) { [unowned self] client, _, _ in
                self.loop.execute { self.addClient(fd: client, trusted: false) }
            }
            socketListeners.append(listener)
            listener.start()
        }
        loop.queue.sync {
            master = ControlChannel(fd: ChildDescriptor.control, queue: loop.queue,
                                    onMessage: { [unowned self] m, fds in self.masterMessage(m, fds) },
                                    onClose: { exit(0) })
            master.start()
        }
        watchCacheSignals()
    }

    /// Dovecot's auth process signals: SIGHUP flushes the auth cache, SIGUSR2 logs its hit rate.
    private func watchCacheSignals() {
        for (sig, action) in [(SIGHUP, flushCache), (SIGUSR2, logCacheStatistics)] as [(Int32, () -> Void)] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: loop.queue)
            source.setEventHandler(handler: action)
            source.resume()
            signalSources.append(source)
        }
    }

    private func flushCache() {
        guard let cache = databases.cache else { return }
        logger.info("SIGHUP received - auth cache flushed (\(cache.flush()) entries)")
    }

    private func logCacheStatistics() {
        guard let cache = databases.cache else { return }
        let (hits, misses) = cache.statistics
        let total = hits + misses
        logger.info("Authentication cache hits \(hits)/\(total) (\(total == 0 ? 0 : hits * 100 / total)%), \(cache.count) entries")
    }

    private func masterMessage(_ message: ControlMessage, _ fds: [Int32]) {
        switch message.kind {
        case "client":
            for fd in fds { addClient(fd: fd, trusted: true) }
        case "request":
            fds.forEach { Glibc.close($0) }
            answerRequest(message)
        case "userdb":
            fds.forEach { Glibc.close($0) }
            answerUserdb(message)
        case "shutdown":
            exit(0)
        default:
            fds.forEach { Glibc.close($0) }
        }
    }

    /// `trusted`: one of Roost's login processes (thousands of concurrent requests allowed);
    /// otherwise an outside client on an auth socket, e.g. Postfix.
    func addClient(fd: Int32, trusted: Bool) {
        let id = nextConnectionID
        nextConnectionID &+= 1
        let cookie = (try? AuthProtocol.randomCookie()) ?? SessionID.make()
        let client = AuthClientConnection(process: self, fd: fd, identity: AuthServerIdentity(
            pid: String(getpid()), connectionID: id, cookie: cookie),
            maxRequests: trusted ? 100_000 : AuthProtocolServerSession.maxRequests)
        clients[ObjectIdentifier(client)] = client
        client.start()
    }

    func remove(_ client: AuthClientConnection) {
        clients.removeValue(forKey: ObjectIdentifier(client))
        successes.removeValue(forKey: client.identity.cookie)
    }

    /// Runs the passdb check off the loop, then answers after the failure delay if it failed.
    /// A client IP with recent failures waits first (Dovecot's auth penalty: 2, 4, 8 … up to
    /// 15 s), so brute force from one address slows down without slowing anyone else.
    func verify(user: String, password: String, request: AuthRequest,
                completion: @escaping (AuthVerifyResult) -> Void) {
        let databases = self.databases
        let name = UsernameFormat.expand(settings.authUsernameFormat, user: user)
        let started = DispatchTime.now()
        let ip = request.remoteIP ?? ""
        let penalty = request.noPenalty ? 0 : penalties.delay(for: ip)
        let service = request.service
        let check = { [self] in
            let passdbRequest = AuthDatabases.PassdbRequest(user: name, password: password, remoteIP: request.remoteIP,
                                                            localIP: request.localIP, service: service)
            workers.run({ databases.authenticate(passdbRequest) }, on: loop) { [self] verdict in
                fairness.finished(ip: ip)
                let result = verdict.result
                let context = "\(name),\(ip)" + (request.session.map { ",<\($0)>" } ?? "")
                if verdict.fromCache { logger.debug("\(result.driver)(\(context)): cache hit") }
                switch result {
                case .ok(let canonical, _):
                    penalties.succeeded(ip)
                    completion(.success(user: canonical))
                    return
                case .unknownUser(let driver):
                    if settings.authVerbose { logger.info("\(driver)(\(context)): unknown user") }
                case .mismatch(let driver):
                    if settings.authVerbose { logger.info("\(driver)(\(context)): Password mismatch") }
                case .refused(let driver, let reason):
                    logger.info("\(driver)(\(context)): \(reason)")
                case .internalFailure(let driver, let reason):
                    logger.error("\(driver)(\(context)): \(reason)")
                }
                var temporary = false
                if case .internalFailure = result { temporary = true } else { penalties.failed(ip) }
                // Same delay for every failure, counted from the request's arrival.
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                loop.schedule(after: max(0, penalty + settings.authFailureDelay - elapsed)) {
                    completion(.failure(reason: verdict.clientReason, temporary: temporary))
                }
            }
        }
        let start = { [self] in
            if penalty > 0 { loop.schedule(after: penalty, check) } else { check() }
        }
        fairness.submit(ip: ip, start)
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
        workers.run({ databases.findUser(entry.user) }, on: loop) { result in
            let user: AuthUser
            switch result {
            case .found(let found): user = found
            case .unknown:
                self.logger.error("userdb(\(entry.user)): user not found from any userdb")
                reply(["found": "0", "reason": "user not in userdb"])
                return
            case .internalFailure(let reason):
                self.logger.error("userdb(\(entry.user)): \(reason)")
                reply(["reason": reason])
                return
            }
            var fields = ["found": "1", "user": user.username]
            if let uid = user.uid { fields["uid"] = uid }
            if let gid = user.gid { fields["gid"] = gid }
            if let home = user.home { fields["home"] = home }
            if let mail = user.mail { fields["mail"] = mail }
            for (key, value) in user.extraFields { fields["userdb_" + key] = value }  // quota_rule, ...
            reply(fields)
        }
    }

    /// A userdb lookup without a login (LMTP recipients): auth_username_format applies.
    private func answerUserdb(_ message: ControlMessage) {
        let name = UsernameFormat.expand(settings.authUsernameFormat, user: message["user"] ?? "")
        let databases = self.databases
        workers.run({ databases.findUser(name) }, on: loop) { [self] result in
            var fields = ["request": message["request"] ?? ""]
            switch result {
            case .found(let user):
                fields["found"] = "1"
                fields["user"] = user.username
                if let uid = user.uid { fields["uid"] = uid }
                if let gid = user.gid { fields["gid"] = gid }
                if let home = user.home { fields["home"] = home }
                if let mail = user.mail { fields["mail"] = mail }
                for (key, value) in user.extraFields { fields["userdb_" + key] = value }  // quota_rule, ...
            case .unknown:
                fields["found"] = "0"
            case .internalFailure(let reason):
                // No "found": the master answers a temporary failure (451), never 550.
                logger.error("userdb(\(name)): \(reason)")
                fields["reason"] = reason
            }
            master.send(ControlMessage("userdb-result", fields))
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

    init(process: AuthProcess, fd: Int32, identity: AuthServerIdentity, maxRequests: Int) {
        self.process = process
        self.identity = identity
        connection = Connection(fd: fd, loop: process.loop)
        session = AuthProtocolServerSession(identity: identity, maxRequests: maxRequests) { [unowned self] user, password, request in
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
        session.certificatePolicy = ClientCertificatePolicy(
            requireValidCertificate: process.settings.authSSLRequireClientCert,
            usernameFromCertificate: process.settings.authSSLUsernameFromCert)
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

/// Failed authentications per client IP (Dovecot's auth penalty): the n-th recent failure
/// makes the next attempt from that IP wait 2^(n-1) s, at most 15 s; a success or an hour of
/// quiet clears it.
struct AuthPenalty {
    static let maxSeconds = 15.0
    static let forgetAfter: UInt64 = 3600 * 1_000_000_000
    private var failures: [String: (count: Int, last: UInt64)] = [:]

    func delay(for ip: String) -> Double {
        guard !ip.isEmpty, let entry = failures[ip],
              DispatchTime.now().uptimeNanoseconds - entry.last < Self.forgetAfter, entry.count > 0 else { return 0 }
        return min(Self.maxSeconds, pow(2, Double(entry.count - 1)))
    }

    mutating func failed(_ ip: String) {
        guard !ip.isEmpty else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        var entry = failures[ip] ?? (0, now)
        if now - entry.last >= Self.forgetAfter { entry.count = 0 }
        entry.count = min(entry.count + 1, 16)
        entry.last = now
        failures[ip] = entry
        if failures.count > 100_000 { failures.removeAll() }  // bounded memory under a spray of IPs
    }

    mutating func succeeded(_ ip: String) {
        failures.removeValue(forKey: ip)
    }
}

/// At most `limit` password checks per client IP at a time; the rest wait their turn, so a
/// burst from one address cannot fill the worker pool ahead of everyone else.
struct PerIPQueue {
    let limit: Int
    private var running: [String: Int] = [:]
    private var waiting: [String: [() -> Void]] = [:]

    init(limit: Int) { self.limit = limit }

    mutating func submit(ip: String, _ work: @escaping () -> Void) {
        if running[ip, default: 0] < limit {
            running[ip, default: 0] += 1
            work()
        } else {
            waiting[ip, default: []].append(work)
        }
    }

    mutating func finished(ip: String) {
        if var queue = waiting[ip], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[ip] = queue.isEmpty ? nil : queue
            next()
        } else {
            let n = running[ip, default: 1] - 1
            running[ip] = n > 0 ? n : nil
        }
    }
}
