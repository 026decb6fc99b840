import Auth
import Dispatch
import Glibc
import IMAPServer
import Logging
import Reactor

/// One pre-login client connection: feeds bytes to the IMAP login state machine and carries
/// out what it asks for. Logs in Dovecot's shapes (fail2ban's dovecot filter reads these).
final class LoginClient: ConnectionHandler {
    unowned let process: LoginProcess
    let connection: Connection
    let session: IMAPLoginSession
    let secured: Bool
    let sessionID = SessionID.make()
    private let started = DispatchTime.now()
    private var authID: UInt32?
    private var authTag: String?
    private var handingOff = false
    private var closeReason: String?

    init(process: LoginProcess, connection: Connection, session: IMAPLoginSession, secured: Bool) {
        self.process = process
        self.connection = connection
        self.session = session
        self.secured = secured
    }

    func begin() { apply(session.greeting()) }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        apply(session.receive(bytes))
    }

    func connectionDidTimeOut(_ connection: Connection) {
        closeReason = "Inactivity"
        connection.write("* BYE Disconnected for inactivity.\r\n")
        connection.close()
    }

    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {
        if let authID { process.cancelAuth(id: authID) }
        if !handingOff {
            let why = closeReason ?? (reason == .peerClosed ? "Connection closed" : "Disconnected")
            process.logger.info("Disconnected: \(why) (\(attemptSummary())): \(logFields())")
        }
        process.forget(self)
        process.exitIfDone()
    }

    func shutdown() { apply(session.shutdownMessage()) }

    private func apply(_ actions: [IMAPLoginSession.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                connection.write(bytes)
            case .close(let reason):
                closeReason = reason
                connection.close()
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
                connection.pauseReading()
                authTag = tag
                process.handOff(self, authID: authID, tag: tag, pending: pending)
            case .startTLS:
                break  // TLS arrives with its own issue; STARTTLS is not advertised until then.
            }
        }
    }

    func authReply(_ message: AuthServerMessage) {
        switch message {
        case .cont(_, let data):
            apply(session.authChallenge(data))
        case .ok(_, let fields):
            let user = fields.first { $0.name == "user" }?.value
            apply(session.authFinished(success: true, user: user))
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

    /// The mail process has the connection now; our copy of the descriptor just closes.
    func handedOff(mpid: String) {
        process.logger.info("Login: user=<\(session.lastUser ?? "")>, method=\(session.lastMechanism ?? "PLAIN"), \(addressFields()), mpid=\(mpid), session=<\(sessionID)>")
        authID = nil
        connection.handler = nil
        connection.abort()
        process.forget(self)
        process.exitIfDone()
    }

    func handOffFailed(reason: String) {
        handingOff = false
        closeReason = "Internal login failure"
        connection.write("\(authTag ?? "*") NO [UNAVAILABLE] \(reason)\r\n")
        connection.close()
    }

    private func attemptSummary() -> String {
        let secs = Int((DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000_000)
        if session.failedAttempts > 0 {
            return "auth failed, \(session.failedAttempts) attempts in \(secs) secs"
        }
        return "no auth attempts in \(secs) secs"
    }

    private func addressFields() -> String {
        "rip=\(connection.peer?.host ?? ""), lip=\(connection.local?.host ?? "")" + (secured && connection.peer?.isLoopback == false ? ", secured" : "")
    }

    private func logFields() -> String {
        var parts = ["user=<\(session.lastUser ?? "")>"]
        if session.failedAttempts > 0, let m = session.lastMechanism { parts.append("method=\(m)") }
        parts.append(addressFields())
        parts.append("session=<\(sessionID)>")
        return parts.joined(separator: ", ")
    }
}
