// Client side of the auth protocol, for Roost's login processes. Pure: produces the lines
// to send and interprets the server's lines; the caller owns the socket.
//
// Implementation notes:
// - Until the server's DONE only handshake lines are accepted; afterwards only
//   CONT/OK/FAIL for ids this client issued. Anything else throws: close the connection.
// - Request ids start at 1 and increase; a finished id is forgotten.

public struct AuthServerHandshake: Sendable, Equatable {
    public var majorVersion: Int
    public var minorVersion: Int
    /// Mechanism names with their parameters (e.g. `plaintext`).
    public var mechanisms: [String: [String]]
    public var serverPID: String
    public var connectionID: String
    public var cookie: String
}

public enum AuthClientEvent: Sendable, Equatable {
    case handshakeComplete(AuthServerHandshake)
    /// The server wants more: answer with `continueLine(id:response:)`.
    case challenge(id: UInt32, data: [UInt8])
    case success(id: UInt32, user: String, fields: [AuthField])
    case failure(id: UInt32, user: String?, reason: String?, temporary: Bool)
}

public struct AuthProtocolClient: Sendable {
    public let pid: String
    public private(set) var handshake: AuthServerHandshake?
    private var partial = AuthServerHandshake(majorVersion: -1, minorVersion: 0, mechanisms: [:],
                                              serverPID: "", connectionID: "", cookie: "")
    private var nextID: UInt32 = 1
    private var outstanding: Set<UInt32> = []

    public init(pid: String) {
        self.pid = pid
    }

    /// The client's half of the handshake, sent on connect.
    public var handshakeLines: [String] {
        [AuthClientMessage.version(major: AuthProtocol.majorVersion, minor: AuthProtocol.minorVersion).line,
         AuthClientMessage.cpid(pid).line]
    }

    /// Starts an authentication. `initialResponse` is raw bytes (base64-encoded here).
    /// Fill `template` with service, secured, IPs …; its id is replaced.
    public mutating func authLine(_ template: AuthRequest, initialResponse: [UInt8]? = nil) -> (id: UInt32, line: String) {
        let id = nextID
        nextID = nextID == UInt32.max ? 1 : nextID + 1
        var request = template
        request.id = id
        if let initialResponse { request.initialResponse = SASLBase64.encode(initialResponse) }
        outstanding.insert(id)
        return (id, request.line)
    }

    public func continueLine(id: UInt32, response: [UInt8]) -> String {
        AuthClientMessage.cont(id: id, data: SASLBase64.encode(response)).line
    }

    public mutating func cancelLine(id: UInt32) -> String {
        outstanding.remove(id)
        return AuthClientMessage.cancel(id: id).line
    }

    /// Interprets one server line. Returns nil for handshake lines before DONE.
    public mutating func receive(line: String) throws(AuthProtocolError) -> AuthClientEvent? {
        let message = try AuthServerMessage(parsing: line)
        guard handshake != nil else { return try handshakeStep(message) }
        switch message {
        case .cont(let id, let data):
            try checkOutstanding(id)
            guard let bytes = SASLBase64.decode(data) ?? (data.isEmpty ? [] : nil) else {
                throw .malformed(command: "CONT", reason: "invalid base64")
            }
            return .challenge(id: id, data: bytes)
        case .ok(let id, let fields):
            try checkOutstanding(id)
            outstanding.remove(id)
            guard let user = fields.first(where: { $0.name == "user" })?.value else {
                throw .malformed(command: "OK", reason: "no user")
            }
            return .success(id: id, user: user, fields: fields.filter { $0.name != "user" })
        case .fail(let id, let fields):
            try checkOutstanding(id)
            outstanding.remove(id)
            return .failure(id: id,
                            user: fields.first { $0.name == "user" }?.value,
                            reason: fields.first { $0.name == "reason" }?.value,
                            temporary: fields.contains { $0.name == "temp" || ($0.name == "code" && $0.value == "temp_fail") })
        default:
            throw .unexpected("handshake line after DONE")
        }
    }

    private func checkOutstanding(_ id: UInt32) throws(AuthProtocolError) {
        guard outstanding.contains(id) else { throw .unexpected("reply for unknown request id \(id)") }
    }

    private mutating func handshakeStep(_ message: AuthServerMessage) throws(AuthProtocolError) -> AuthClientEvent? {
        if partial.majorVersion < 0 {
            guard case .version(let major, let minor) = message else {
                throw .unexpected("server did not start with VERSION")
            }
            guard major == AuthProtocol.majorVersion else { throw .versionMismatch(major: String(major)) }
            partial.majorVersion = major
            partial.minorVersion = minor
            return nil
        }
        switch message {
        case .mech(let name, let parameters): partial.mechanisms[name] = parameters
        case .spid(let pid): partial.serverPID = pid
        case .cuid(let n): partial.connectionID = n
        case .cookie(let c): partial.cookie = c
        case .done:
            guard !partial.serverPID.isEmpty, !partial.cookie.isEmpty else {
                throw .unexpected("handshake without SPID or COOKIE")
            }
            handshake = partial
            return .handshakeComplete(partial)
        default:
            throw .unexpected("reply before handshake DONE")
        }
        return nil
    }
}
