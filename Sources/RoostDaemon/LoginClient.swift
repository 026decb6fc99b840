import Auth
import Dispatch
import Glibc
import MailCore
import Logging
import Reactor
import RoostSystem
import TLS

/// One pre-login client connection: feeds bytes to the IMAP login state machine and carries
/// out what it asks for; TLS (implicit or STARTTLS) is terminated here. Logs in Dovecot's
/// shapes (fail2ban's dovecot filter reads these).
///
/// Implementation notes:
/// - After login a plaintext connection's descriptor moves to the mail process. A TLS session
///   cannot move (no kernel TLS here), so this client stays and proxies plaintext over a
///   socketpair to the mail process, with back-pressure both ways.
/// - Bytes pipelined behind STARTTLS are dropped by the session, never executed.
final class LoginClient: ConnectionHandler {
    unowned let process: LoginProcess
    let connection: Connection
    let session: LoginSession
    let logger: Logger
    let sessionID = SessionID.make()
    let implicitTLS: Bool
    private(set) var secured: Bool
    private let started = DispatchTime.now()
    private var tls: TLSSession?
    private var tlsReady = false
    private var authID: UInt32?
    private var authTag: String?
    private var handingOff = false
    private var closeReason: String?
    private var proxy: ProxyPipe?

    init(process: LoginProcess, connection: Connection, session: LoginSession, secured: Bool,
         implicitTLS: Bool, tls: TLSSession?) {
        self.process = process
        self.connection = connection
        self.session = session
        self.logger = Logger(label: "\(session.protocolName)-login")
        self.secured = secured
        self.implicitTLS = implicitTLS
        self.tls = tls
    }

    func begin() {
        if implicitTLS {
            connection.idleTimeout = process.settings.handshakeTimeout
        } else {
            apply(session.greeting())
        }
    }

    var isProxying: Bool { proxy != nil }

    /// A client certificate that verified against ssl_ca (Dovecot's valid-client-cert).
    var hasValidClientCertificate: Bool { tlsReady && tls?.clientCertificate == .valid }

    /// The login name from a valid client certificate (Dovecot's cert_username), if any.
    var certificateUsername: String? {
        guard hasValidClientCertificate else { return nil }
        return tls?.clientCertificateField(process.settings.sslCertUsernameField)
    }

    // MARK: connection events

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard let tls else {
            apply(session.receive(bytes))
            return
        }
        let result = tls.receive(bytes)
        if !result.output.isEmpty { connection.write(result.output) }
        switch result.event {
        case .handshakeCompleted?:
            tlsReady = true
            secured = true
            connection.idleTimeout = process.settings.loginIdleTimeout
            session.tlsStarted(plaintextAllowed: true)
            if implicitTLS { apply(session.greeting()) }
        case .failed(let reason)?:
            closeReason = tlsReady ? "TLS error: \(reason)" : "TLS handshake failed: \(reason)"
            connection.abort()
            return
        case .closed?:
            closeReason = "Connection closed"
            connection.close()
            return
        case nil:
            break
        }
        guard !result.plaintext.isEmpty else { return }
        if let proxy {
            proxy.connection.write(result.plaintext)
            if proxy.connection.pendingOutput > proxy.connection.outputHighWater { connection.pauseReading() }
        } else {
            apply(session.receive(result.plaintext))
        }
    }

    func connectionDidDrain(_ connection: Connection) {
        proxy?.connection.resumeReading()
    }

    func connectionDidTimeOut(_ connection: Connection) {
        if proxy != nil { return }  // the mail process owns autologout once logged in
        closeReason = tlsReady || tls == nil ? "Inactivity" : "TLS handshake timed out"
        if tls == nil || tlsReady {
            send(Array((session.protocolName == "pop3" ? "-ERR Disconnected for inactivity.\r\n" : "* BYE Disconnected for inactivity.\r\n").utf8))
        }
        finish()
    }

    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {
        if let authID { process.cancelAuth(id: authID) }
        if let proxy {
            proxy.connection.close()
            self.proxy = nil
        } else if !handingOff {
            let why = (closeReason ?? (reason == .peerClosed ? "Connection closed" : "Disconnected")) + certificateProblem()
            logger.info("Disconnected: \(why) (\(attemptSummary())): \(logFields())")
        }
        process.forget(self)
        process.exitIfDone()
    }

    func shutdown() {
        guard proxy == nil else { return }  // the mail process says BYE through the proxy
        apply(session.shutdownMessage())
    }

    // MARK: output

    /// Writes to the client, encrypting once TLS is up.
    func send(_ bytes: [UInt8]) {
        if let tls, tlsReady {
            connection.write(tls.send(bytes))
        } else {
            connection.write(bytes)
        }
    }

    /// Graceful close: close_notify first when TLS is up.
    func finish() {
        if let tls, tlsReady { connection.write(tls.shutdown()) }
        connection.close()
    }

    private func apply(_ actions: [LoginAction]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                send(bytes)
            case .close(let reason):
                closeReason = reason
                finish()
            case .authenticate(let tag, let mechanism, let initial):
                authTag = tag
                authID = process.startAuth(for: self, mechanism: mechanism, initialResponse: initial)
                if authID == nil {
                    apply(session.authFinished(success: false, user: nil, reason: "Temporary authentication failure.", temporary: true))
                }
            case .authContinue(let response):
                if let authID { process.continueAuth(id: authID, response: response) }
            case .authCancel:
                if let authID { process.cancelAuth(id: authID) }
                authID = nil
            case .handOff(let tag, let pending):
                guard let authID else { continue }
                handingOff = true
                authTag = tag
                handOff(authID: authID, tag: tag, pending: pending)
            case .startTLS:
                guard let context = process.tlsContext, let fresh = try? TLSSession(context: context) else {
                    closeReason = "TLS initialization failed"
                    finish()
                    return
                }
                tls = fresh
                connection.idleTimeout = process.settings.handshakeTimeout
            }
        }
    }

    private func handOff(authID: UInt32, tag: String, pending: [UInt8]) {
        connection.pauseReading()
        guard tls != nil else {
            process.handOff(self, descriptor: connection.fd, authID: authID, tag: tag, pending: pending)
            return
        }
        // TLS stays here: the mail process gets one end of a socketpair carrying plaintext.
        guard let (mine, theirs) = try? Sockets.socketPair() else {
            handOffFailed(reason: "Internal error")
            return
        }
        let pipe = ProxyPipe(client: self, connection: Connection(fd: mine, loop: connection.loop))
        proxy = pipe
        process.handOff(self, descriptor: theirs, authID: authID, tag: tag, pending: pending)
        Glibc.close(theirs)
    }

    func authReply(_ message: AuthServerMessage) {
        switch message {
        case .cont(_, let data):
            apply(session.authChallenge(data))
        case .ok(_, let fields):
            let user = fields.first { $0.name == "user" }?.value
            apply(session.authFinished(success: true, user: user, reason: nil, temporary: false))
        case .fail(_, let fields):
            authID = nil
            let user = fields.first { $0.name == "user" }?.value
            let temporary = fields.contains { $0.name == "temp" }
            let reason = fields.first { $0.name == "reason" }?.value
            apply(session.authFinished(success: false, user: user, reason: reason, temporary: temporary))
        default:
            break
        }
    }

    /// The mail process has the connection now.
    func handedOff(mpid: String) {
        logger.info("Login: user=<\(session.lastUser ?? "")>, method=\(session.lastMechanism ?? "PLAIN"), \(addressFields()), mpid=\(mpid)\(tlsField()), session=<\(sessionID)>")
        authID = nil
        if let proxy {
            connection.idleTimeout = 0
            proxy.start()
            connection.resumeReading()
            return
        }
        // Plaintext: our copy of the descriptor just closes (no shutdown: the peer keeps it).
        connection.handler = nil
        connection.abort()
        process.forget(self)
        process.exitIfDone()
    }

    func handOffFailed(reason: String) {
        handingOff = false
        proxy?.connection.abort()
        proxy = nil
        closeReason = "Internal login failure"
        let text = session.protocolName == "pop3" ? "-ERR [SYS/TEMP] \(reason)" : "\(authTag ?? "*") NO [UNAVAILABLE] \(reason)"
        send(Array((text + "\r\n").utf8))
        finish()
    }

    // MARK: log fields

    private func attemptSummary() -> String {
        let secs = Int((DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000_000)
        if session.failedAttempts > 0 {
            return "auth failed, \(session.failedAttempts) attempts in \(secs) secs"
        }
        return "no auth attempts in \(secs) secs"
    }

    /// Dovecot's extra disconnect reason when a client certificate is required.
    private func certificateProblem() -> String {
        guard process.settings.authSSLRequireClientCert, let tls, tlsReady else { return "" }
        switch tls.clientCertificate {
        case .valid: return ""
        case .none: return " (client didn't send a cert)"
        case .invalid(let why): return " (client sent an invalid cert: \(why))"
        }
    }

    private func addressFields() -> String {
        "rip=\(connection.peer?.host ?? ""), lip=\(connection.local?.host ?? "")"
    }

    private func tlsField() -> String {
        guard let tls else { return "" }
        guard tlsReady else { return ", TLS handshaking" }
        if let sni = tls.serverName { return ", TLS: SNI=\(sni)" }
        return ", TLS"
    }

    private func logFields() -> String {
        var parts = ["user=<\(session.lastUser ?? "")>"]
        if session.failedAttempts > 0, let m = session.lastMechanism { parts.append("method=\(m)") }
        parts.append(addressFields() + tlsField())
        parts.append("session=<\(sessionID)>")
        return parts.joined(separator: ", ")
    }
}

/// The login process's end of the plaintext socketpair to the mail process, for TLS clients.
final class ProxyPipe: ConnectionHandler {
    unowned let client: LoginClient
    let connection: Connection

    init(client: LoginClient, connection: Connection) {
        self.client = client
        self.connection = connection
    }

    func start() {
        connection.handler = self
        connection.start()
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        client.send(Array(bytes))
        if client.connection.pendingOutput > client.connection.outputHighWater { connection.pauseReading() }
    }

    func connectionDidDrain(_ connection: Connection) {
        client.connection.resumeReading()
    }

    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {
        // The mail process ended the session: close the client too (close_notify first).
        client.finish()
    }

    func connectionDidTimeOut(_ connection: Connection) {}
}
