// Server side of one auth-client connection (a Roost login process, or Postfix smtpd with
// `smtpd_sasl_type = dovecot`). Pure: the caller feeds received lines in and writes the
// returned lines (each + "\n") to the socket.
//
// Implementation notes:
// - The password check is not done here. When a SASL exchange yields credentials the
//   session calls `verify(user, password, request)`; the callback queues the check (on a
//   worker pool, with the failure delay) and returns a pending id. The caller later hands
//   the outcome to `complete(id:result:)`, which produces the OK/FAIL line. Do not call
//   `complete` from inside `verify`.
// - A thrown AuthProtocolError means the client is broken or hostile: log it and close the
//   connection (Dovecot does the same for "BUG: Authentication client sent …").
// - Per-request problems (bad base64, SASL syntax, CONT for an unknown id) answer FAIL and
//   keep the connection. Handshake and FAIL lines were checked byte for byte against
//   Dovecot 2.3.19's auth server; a temporary failure sends both `code=temp_fail` (2.3)
//   and `temp` (older clients, e.g. Postfix).
// - Not Sendable: one session belongs to the serial queue of its connection.

public typealias AuthPendingID = UInt64

/// The outcome of a credential check.
public enum AuthVerifyResult: Sendable, Equatable {
    /// `user` is the canonical name (after username_format); `fields` are passdb extra
    /// fields to pass on (e.g. `nologin`, `proxy`, `host=`).
    case success(user: String, fields: [AuthField] = [])
    /// Wrong password, unknown user or policy; `reason` is shown to the end user, so keep
    /// it generic. `temporary` marks internal failures (passdb unreachable).
    case failure(reason: String? = nil, temporary: Bool = false)
}

public struct AuthServerIdentity: Sendable, Equatable {
    /// Server pid (SPID), checked by the master side.
    public var pid: String
    /// Connection unique id (CUID).
    public var connectionID: UInt32
    /// 32 hex digits (COOKIE), see `AuthProtocol.randomCookie()`.
    public var cookie: String
    public var mechanisms: [SASLMechanism]

    public init(pid: String, connectionID: UInt32, cookie: String,
                mechanisms: [SASLMechanism] = [.plain, .login]) {
        self.pid = pid
        self.connectionID = connectionID
        self.cookie = cookie
        self.mechanisms = mechanisms
    }
}

/// Client-certificate rules (Dovecot's auth_ssl_require_client_cert and
/// auth_ssl_username_from_cert), applied to what the login process reports.
public struct ClientCertificatePolicy: Sendable, Equatable {
    public var requireValidCertificate: Bool
    /// `cert_username` replaces the name the SASL mechanism gave; the password is still checked.
    public var usernameFromCertificate: Bool

    public init(requireValidCertificate: Bool = false, usernameFromCertificate: Bool = false) {
        self.requireValidCertificate = requireValidCertificate
        self.usernameFromCertificate = usernameFromCertificate
    }
}

public final class AuthProtocolServerSession {
    public typealias Verifier = (_ user: String, _ password: String, _ request: AuthRequest) -> AuthPendingID

    /// Most concurrent requests one connection may have open (default for untrusted clients;
    /// Roost's own login processes, which multiplex thousands of clients, get more).
    public static let maxRequests = 1000
    public let maxRequests: Int

    public let identity: AuthServerIdentity
    public var certificatePolicy = ClientCertificatePolicy()
    /// The client's CPID once received.
    public private(set) var clientPID: String?
    public private(set) var clientMinorVersion: Int?

    private struct Request {
        var parameters: AuthRequest
        var sasl: SASLSession
        var user: String?
        var pending: AuthPendingID?
    }
    private var requests: [UInt32: Request] = [:]
    private var pendingToRequest: [AuthPendingID: UInt32] = [:]
    private let verify: Verifier

    public init(identity: AuthServerIdentity, maxRequests: Int = AuthProtocolServerSession.maxRequests,
                verify: @escaping Verifier) {
        self.identity = identity
        self.maxRequests = maxRequests
        self.verify = verify
    }

    /// Lines to send as soon as the client connects.
    public var handshakeLines: [String] {
        var messages: [AuthServerMessage] = [.version(major: AuthProtocol.majorVersion, minor: AuthProtocol.minorVersion)]
        messages += identity.mechanisms.map { .mech(name: $0.rawValue, parameters: ["plaintext"]) }
        messages += [.spid(identity.pid), .cuid(String(identity.connectionID)), .cookie(identity.cookie), .done]
        return messages.map(\.line)
    }

    /// Requests waiting for `complete`.
    public var pendingCount: Int { pendingToRequest.count }

    /// Handles one line from the client; returns the lines to send back.
    public func receive(line: String) throws(AuthProtocolError) -> [String] {
        let message = try AuthClientMessage(parsing: line)
        if clientMinorVersion == nil {
            guard case .version(let major, let minor) = message else {
                throw .unexpected("client did not start with VERSION")
            }
            guard major == AuthProtocol.majorVersion else { throw .versionMismatch(major: String(major)) }
            clientMinorVersion = minor
            return []
        }
        switch message {
        case .version:
            throw .unexpected("VERSION sent twice")
        case .cpid(let pid):
            guard clientPID == nil else { throw .unexpected("CPID sent twice") }
            clientPID = pid
            return []
        case .auth(let request):
            guard clientPID != nil else { throw .unexpected("AUTH before CPID") }
            return try begin(request)
        case .cont(let id, let data):
            guard clientPID != nil else { throw .unexpected("CONT before CPID") }
            return try proceed(id: id, data: data)
        case .cancel(let id):
            if let pending = requests.removeValue(forKey: id)?.pending { pendingToRequest[pending] = nil }
            return []
        }
    }

    /// Turns a finished credential check into the reply line. Returns no lines when the
    /// request is gone (cancelled, or the id is unknown).
    public func complete(id pending: AuthPendingID, result: AuthVerifyResult) -> [String] {
        guard let requestID = pendingToRequest.removeValue(forKey: pending),
              let request = requests.removeValue(forKey: requestID) else { return [] }
        switch result {
        case .success(let user, let fields):
            let extra = fields.filter { $0.name != "user" }
            return [AuthServerMessage.ok(id: requestID, fields: [AuthField("user", user)] + extra).line]
        case .failure(let reason, let temporary):
            return [failLine(requestID, user: request.user, reason: reason, temporary: temporary)]
        }
    }

    // MARK: - Requests

    private func begin(_ request: AuthRequest) throws(AuthProtocolError) -> [String] {
        guard requests[request.id] == nil else { throw .unexpected("duplicate request id \(request.id)") }
        guard let mechanism = SASLMechanism(name: request.mechanism), identity.mechanisms.contains(mechanism) else {
            throw .unexpected("unsupported mechanism \(request.mechanism)")
        }
        // Over the limit this request fails (temporarily); the connection and its others go on.
        guard requests.count < maxRequests else {
            return [failLine(request.id, user: nil, reason: "Too many concurrent requests", temporary: true)]
        }
        let certUser = request.otherFields.first { $0.name == "cert_username" }?.value.flatMap { $0.isEmpty ? nil : $0 }
        if certificatePolicy.requireValidCertificate {
            guard request.validClientCert else {
                return [failLine(request.id, user: nil, reason: "Client didn't present valid SSL certificate")]
            }
            guard !certificatePolicy.usernameFromCertificate || certUser != nil else {
                return [failLine(request.id, user: nil, reason: "SSL certificate didn't contain username")]
            }
        }
        var initial: [UInt8]?
        if let resp = request.initialResponse {
            guard let bytes = SASLBase64.decode(resp) ?? (resp.isEmpty ? [] : nil) else {
                return [failLine(request.id, user: nil, reason: "Invalid base64 data in initial response",
                                 code: "invalid_base64")]
            }
            initial = bytes
        }
        var state = Request(parameters: request, sasl: SASLSession(mechanism: mechanism))
        let step = state.sasl.start(initialResponse: initial)
        return handle(step, request: &state)
    }

    private func proceed(id: UInt32, data: String) throws(AuthProtocolError) -> [String] {
        guard var state = requests[id] else {
            // Dovecot answers a CONT for a forgotten request with a timeout failure.
            return [failLine(id, user: nil, reason: "Authentication request timed out")]
        }
        guard state.pending == nil else { throw .unexpected("CONT for request \(id) while it is being verified") }
        guard let bytes = SASLBase64.decode(data) ?? (data.isEmpty ? [] : nil) else {
            requests[id] = nil
            return [failLine(id, user: state.user, reason: "Invalid base64 data in continued response",
                             code: "invalid_base64")]
        }
        let step = state.sasl.step(bytes)
        return handle(step, request: &state)
    }

    private func handle(_ step: SASLStep, request state: inout Request) -> [String] {
        let id = state.parameters.id
        switch step {
        case .challenge(let bytes):
            requests[id] = state
            return [AuthServerMessage.cont(id: id, data: SASLBase64.encode(bytes)).line]
        case .failure:
            requests[id] = nil
            return [failLine(id, user: state.user, reason: nil)]
        case .credentials(var user, let password, _):
            if certificatePolicy.usernameFromCertificate, state.parameters.validClientCert,
               let certUser = state.parameters.otherFields.first(where: { $0.name == "cert_username" })?.value,
               !certUser.isEmpty {
                user = certUser
            }
            state.user = user
            let pending = verify(user, password, state.parameters)
            state.pending = pending
            requests[id] = state
            pendingToRequest[pending] = id
            return []
        }
    }

    private func failLine(_ id: UInt32, user: String?, reason: String?, temporary: Bool = false,
                          code: String? = nil) -> String {
        var fields: [AuthField] = []
        if let user { fields.append(AuthField("user", user)) }
        if let code { fields.append(AuthField("code", code)) }
        if let reason { fields.append(AuthField("reason", reason)) }
        if temporary { fields += [AuthField("code", "temp_fail"), AuthField("temp")] }
        return AuthServerMessage.fail(id: id, fields: fields).line
    }
}
