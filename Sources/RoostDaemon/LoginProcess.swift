import Auth
import Config
import Dispatch
import Foundation
import Glibc
import IMAPServer
import MailCore
import POP3Server
import Logging
import Reactor
import RoostSystem
import TLS

/// The login process: TLS (later), pre-auth IMAP, SASL relayed to the auth process, and the
/// hand-over of authenticated connections to the master, which passes them to the user's mail
/// process. Runs unprivileged (default_login_user) with no access to mail or passwords.
///
/// Implementation notes:
/// - One serial loop runs everything here, as Dovecot's login processes are single-threaded;
///   the master runs several login processes for more cores.
/// - A connection that authenticated stops being read before it is handed over, so every byte
///   the client pipelined reaches the mail process exactly once.
final class LoginProcess: @unchecked Sendable {  // all state guarded by loop.queue
    let settings: DaemonSettings
    let loop: EventLoop
    let logger: Logger
    private var listeners: [Listener] = []
    private var auth: AuthClientLink?
    private var master: ControlChannel!
    private var clients: [ObjectIdentifier: LoginClient] = [:]
    private var pendingHandOffs: [String: LoginClient] = [:]
    private let trusted: NetworkMatcher?
    let tlsContext: ServerTLSContext?
    private let limiter: ConnectionLimiter
    private var stopping = false
    private var pendingSlots: [String: (fd: Int32, peer: SocketAddress?, spec: DaemonSettings.Listener?)] = [:]
    private var nextSlotRequest = 1

    init(settings: DaemonSettings, listenerFDs: [Int32], authFD: Int32) {
        self.settings = settings
        logger = Logger(label: "imap-login")
        loop = EventLoop(label: "roost.login")
        trusted = NetworkMatcher(cidrs: settings.loginTrustedNetworks)
        do {
            tlsContext = try LoginTLS.makeContext(settings)
        } catch {
            ChildProcessRuntime.fail("imap-login: \(error)")
        }
        let trustedCopy = trusted
        // login_max_ip_connections is counted by the master across all login processes (each
        // accepts from the same sockets); this limiter only keeps client_limit per process.
        limiter = ConnectionLimiter(maxPerIP: 0, maxTotal: settings.loginClientLimit,
                                    isExempt: { ip in trustedCopy?.contains(ipString: ip) ?? false })
        loop.queue.sync {
            master = ControlChannel(fd: ChildDescriptor.control, queue: loop.queue,
                                    onMessage: { [unowned self] m, fds in self.masterMessage(m, fds) },
                                    onClose: { exit(0) })
            master.start()
            attachAuth(fd: authFD)
        }
        let group = EventLoopGroup(count: 1)
        for (index, fd) in listenerFDs.enumerated() {
            let spec = index < settings.listeners.count ? settings.listeners[index] : nil
            let listener = Listener(fd: fd, name: spec?.name ?? "imap", group: group, limiter: limiter,
                                    onRefuse: { [unowned self] fd, peer, verdict in self.refuse(fd, peer, verdict, spec: spec) },
                                    onAccept: { [unowned self] fd, peer, _ in
                                        self.loop.execute { self.admit(fd, peer: peer, spec: spec) }
                                    })
            listeners.append(listener)
            listener.start()
        }
    }

    func run() -> Never { dispatchMain() }

    private func attachAuth(fd: Int32) {
        let link = AuthClientLink(fd: fd, loop: loop)
        link.onLost = { [weak self] in
            self?.logger.error("Lost connection to the auth process")
        }
        auth = link
    }

    private func refuse(_ fd: Int32, _ peer: SocketAddress?, _ verdict: ConnectionLimiter.Verdict,
                        spec: DaemonSettings.Listener?) {
        let why = verdict == .tooManyFromIP ? "Too many connections from your IP address." : "Server is busy, try again later."
        let text = spec?.service == "pop3-login" ? "-ERR [SYS/TEMP] \(why)\r\n" : "* BYE \(why)\r\n"
        _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        Glibc.close(fd)
        logger.warning("Connection refused (\(verdict == .tooManyFromIP ? "per-IP limit" : "client_limit") reached): rip=\(peer?.host ?? "")")
    }

    /// login_max_ip_connections: the master holds the count for all login processes, so a
    /// new client waits for its verdict (one control-channel round trip, only with the limit on).
    private func admit(_ fd: Int32, peer: SocketAddress?, spec: DaemonSettings.Listener?) {
        let ip = peer?.host ?? ""
        guard settings.loginMaxIPConnections > 0, !ip.isEmpty, !(trusted?.contains(ipString: ip) ?? false) else {
            accept(fd, peer: peer, spec: spec, holdsIPSlot: false)
            return
        }
        let key = String(nextSlotRequest)
        nextSlotRequest += 1
        pendingSlots[key] = (fd, peer, spec)
        if !master.send(ControlMessage("ip-acquire", ["request": key, "ip": ip])) {
            pendingSlots.removeValue(forKey: key)
            accept(fd, peer: peer, spec: spec, holdsIPSlot: false)
        }
    }

    private func slotVerdict(_ message: ControlMessage) {
        guard let key = message["request"], let p = pendingSlots.removeValue(forKey: key) else { return }
        if message["ok"] == "1" {
            accept(p.fd, peer: p.peer, spec: p.spec, holdsIPSlot: true)
        } else {
            limiter.release(ip: p.peer?.host ?? "")
            refuse(p.fd, p.peer, .tooManyFromIP, spec: p.spec)
        }
    }

    private func accept(_ fd: Int32, peer: SocketAddress?, spec: DaemonSettings.Listener?, holdsIPSlot: Bool) {
        let connection = Connection(fd: fd, loop: loop, peer: peer)
        let ip = peer?.host ?? ""
        connection.onClose = { [limiter, weak self] in
            limiter.release(ip: ip)
            if holdsIPSlot { self?.master.send(ControlMessage("ip-release", ["ip": ip])) }
        }
        guard !stopping else {
            connection.write("* BYE Server shutting down.\r\n")
            connection.start()
            connection.close()
            return
        }
        let implicitTLS = spec?.ssl == true
        var tls: TLSSession?
        if implicitTLS {
            guard let context = tlsContext, let session = try? TLSSession(context: context) else {
                connection.abort()  // through finish(): the connection slots are given back
                return
            }
            tls = session
        }
        let secured = isSecured(connection) || implicitTLS
        // ssl = required: no authentication at all before TLS, not even from localhost.
        let plaintextAllowed = settings.ssl == "required" ? implicitTLS : (secured || !settings.disablePlaintextAuth)
        let sessionSettings = LoginSessionSettings(
            greeting: settings.loginGreeting,
            mechanisms: settings.authMechanisms.map { $0.uppercased() },
            plaintextAllowed: plaintextAllowed,
            startTLSAvailable: tlsContext != nil && !implicitTLS)
        let session: LoginSession = spec?.service == "pop3-login"
            ? POP3LoginSession(settings: sessionSettings) : IMAPLoginSession(settings: sessionSettings)
        let client = LoginClient(process: self, connection: connection, session: session,
                                 secured: secured, implicitTLS: implicitTLS, tls: tls)
        clients[ObjectIdentifier(client)] = client
        connection.idleTimeout = settings.loginIdleTimeout
        connection.handler = client
        connection.start()
        client.begin()
    }

    /// Dovecot's rule: TLS, a connection whose remote address is the local address (the host
    /// talking to itself), or a trusted network counts as secure. 127.0.0.2 → 127.0.0.1 does not.
    private func isSecured(_ c: Connection) -> Bool {
        guard let peer = c.peer else { return true }
        if peer.family == .unix { return true }
        if let local = c.local, local.host == peer.host { return true }
        return trusted?.contains(ipString: peer.host) ?? false
    }

    func forget(_ client: LoginClient) {
        clients.removeValue(forKey: ObjectIdentifier(client))
    }

    // MARK: authentication relay

    func startAuth(for client: LoginClient, mechanism: String, initialResponse: String?) -> UInt32? {
        guard let auth else { return nil }
        let c = client.connection
        return auth.authenticate({ id in
            AuthRequest(id: id, mechanism: mechanism, service: client.session.protocolName, secured: client.secured,
                        validClientCert: client.hasValidClientCertificate,
                        localIP: c.local?.host, remoteIP: c.peer?.host,
                        localPort: c.local.map { UInt16($0.port) }, remotePort: c.peer.map { UInt16($0.port) },
                        session: client.sessionID, initialResponse: initialResponse,
                        otherFields: client.certificateUsername.map { [AuthField("cert_username", $0)] } ?? [])
        }, reply: { [weak client] message in client?.authReply(message) })
    }

    func continueAuth(id: UInt32, response: String) { auth?.continueAuth(id: id, response: response) }
    func cancelAuth(id: UInt32) { auth?.cancel(id: id) }

    /// Asks the master to move the connection to the user's mail process.
    func handOff(_ client: LoginClient, descriptor: Int32, authID: UInt32, tag: String, pending: [UInt8]) {
        let request = SessionID.make()
        pendingHandOffs[request] = client
        let c = client.connection
        let message = ControlMessage("login", [
            "request": request, "auth-id": String(authID), "cookie": auth?.cookie ?? "",
            "service": client.session.protocolName, "session": client.sessionID, "tag": tag,
            "pending": Data(pending).base64EncodedString(),
            "rip": c.peer?.host ?? "", "lip": c.local?.host ?? "",
            "rport": String(c.peer?.port ?? 0), "lport": String(c.local?.port ?? 0),
        ])
        if !master.send(message, fds: [descriptor]) {
            pendingHandOffs.removeValue(forKey: request)
            client.handOffFailed(reason: "Internal error")
        }
    }

    private func masterMessage(_ message: ControlMessage, _ fds: [Int32]) {
        if message.kind == "auth-socket", let fd = fds.first {
            replaceAuth(fd: fd)
            return
        }
        fds.forEach { Glibc.close($0) }
        switch message.kind {
        case "login-result":
            guard let request = message["request"], let client = pendingHandOffs.removeValue(forKey: request) else { return }
            if message["ok"] == "1" {
                client.handedOff(mpid: message["mpid"] ?? "")
            } else {
                client.handOffFailed(reason: message["reason"] ?? "Internal error")
            }
        case "ip-verdict":
            slotVerdict(message)
        case "stop-accepting":
            stopAccepting()
        case "shutdown":
            shutdown()
        default:
            break
        }
    }

    private func stopAccepting() {
        stopping = true
        listeners.forEach { $0.stop() }
        listeners = []
        // The master says "Configuration reloaded" once no old process takes connections.
        master.send(ControlMessage("stopped-accepting"))
        exitIfDone()
    }

    private func shutdown() {
        stopAccepting()
        for client in clients.values { client.shutdown() }
        exitIfDone()
    }

    func exitIfDone() {
        if stopping && clients.isEmpty {
            exit(0)
        }
    }
}

extension LoginProcess {
    /// The auth process was restarted: the master handed us a fresh connection to it.
    func replaceAuth(fd: Int32) {
        auth?.onLost = nil
        auth?.close()
        attachAuth(fd: fd)
    }
}
