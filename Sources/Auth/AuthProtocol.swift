// Dovecot's auth protocol (v1.2, as spoken by Dovecot 2.3): the syntax layer.
// Lines end in LF; fields are separated by TAB; each field is tab-escaped with \001:
//   NUL → \001 0, \001 → \001 1, TAB → \001 t, CR → \001 r, LF → \001 n.
// An escape followed by any other character stands for that character.
// Optional parameters are `name=value` or bare booleans; unknown ones are ignored.
//
// Client (login process, Postfix smtpd) ↔ auth server, see AuthProtocolServerSession
// and AuthProtocolClient; the master side (REQUEST/USER) is in AuthMasterProtocol.swift.
//
//   S: VERSION 1 2 / MECH name [params] … / SPID pid / CUID n / COOKIE hex / DONE
//   C: VERSION 1 minor / CPID pid
//   C: AUTH id mech service=svc [secured] [valid-client-cert] [no-penalty] [lip= rip= lport= rport= session=] [resp=b64]
//   S: CONT id b64     C: CONT id b64     C: CANCEL id
//   S: OK id user=name [fields…]   S: FAIL id [user=name] [reason=…] [code=temp_fail] [temp]

public enum AuthProtocol {
    public static let majorVersion = 1
    public static let minorVersion = 2
    /// Longest line accepted (Dovecot's AUTH_CLIENT_MAX_LINE_LENGTH).
    public static let maxLineLength = 16384

    /// Tab-escapes one field.
    public static func escape(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 <= 0x0D }) else { return field }
        var out = ""
        out.reserveCapacity(field.utf8.count + 4)
        for ch in field.unicodeScalars {
            switch ch {
            case "\0": out += "\u{1}0"
            case "\u{1}": out += "\u{1}1"
            case "\t": out += "\u{1}t"
            case "\r": out += "\u{1}r"
            case "\n": out += "\u{1}n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Reverses `escape`. A trailing lone \001 is dropped.
    public static func unescape(_ field: Substring) -> String {
        guard field.contains("\u{1}") else { return String(field) }
        var out = ""
        var escaped = false
        for ch in field.unicodeScalars {
            if escaped {
                switch ch {
                case "0": out += "\0"
                case "1": out += "\u{1}"
                case "t": out += "\t"
                case "r": out += "\r"
                case "n": out += "\n"
                default: out.unicodeScalars.append(ch)
                }
                escaped = false
            } else if ch == "\u{1}" {
                escaped = true
            } else {
                out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// Joins escaped fields into one line, without the trailing LF.
    public static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: "\t")
    }

    /// Splits a line (without LF) into unescaped fields.
    public static func fields(of line: String) -> [String] {
        line.split(separator: "\t", omittingEmptySubsequences: false).map(unescape)
    }

    /// The 32 lowercase hex digits of a fresh 128-bit cookie (Dovecot's MASTER_AUTH_COOKIE_SIZE).
    public static func randomCookie() throws(PasswordSchemeError) -> String {
        try randomBytes(16).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

public enum AuthProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case invalidUTF8
    case emptyLine
    case unknownCommand(String)
    /// A known command whose required parameters are missing or wrong.
    case malformed(command: String, reason: String)
    case versionMismatch(major: String)
    /// A command that is valid but not in this state (AUTH before handshake, ...).
    case unexpected(String)

    public var description: String {
        switch self {
        case .lineTooLong: return "line too long"
        case .invalidUTF8: return "line is not valid UTF-8"
        case .emptyLine: return "empty line"
        case .unknownCommand(let c): return "unknown command \(c)"
        case .malformed(let c, let r): return "malformed \(c): \(r)"
        case .versionMismatch(let v): return "protocol major version mismatch: \(v)"
        case .unexpected(let what): return what
        }
    }
}

/// Collects bytes from a stream socket and yields complete lines (LF removed).
public struct AuthLineBuffer: Sendable {
    private var pending: [UInt8] = []
    public let maxLineLength: Int

    public init(maxLineLength: Int = AuthProtocol.maxLineLength) {
        self.maxLineLength = maxLineLength
    }

    /// Appends `bytes` and returns every line now complete. After an error the
    /// connection should be closed; the buffer is left empty.
    public mutating func append(_ bytes: some Sequence<UInt8>) throws(AuthProtocolError) -> [String] {
        pending.append(contentsOf: bytes)
        var lines: [String] = []
        var start = 0
        while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            guard nl - start <= maxLineLength else { pending.removeAll(); throw .lineTooLong }
            guard let line = String(validating: pending[start..<nl], as: UTF8.self) else {
                pending.removeAll(); throw .invalidUTF8
            }
            lines.append(line)
            start = nl + 1
        }
        pending.removeFirst(start)
        if pending.count > maxLineLength { pending.removeAll(); throw .lineTooLong }
        return lines
    }
}

func parseID(_ text: String, command: String) throws(AuthProtocolError) -> UInt32 {
    guard let id = UInt32(text), !text.hasPrefix("+") else {
        throw .malformed(command: command, reason: "invalid id '\(text)'")
    }
    return id
}

// MARK: - AUTH parameters

/// The parameters of an `AUTH` command: what the server knows about the login attempt.
public struct AuthRequest: Sendable, Equatable {
    public var id: UInt32
    public var mechanism: String
    public var service: String
    /// The client connection is TLS-protected (or local).
    public var secured: Bool
    public var validClientCert: Bool
    /// Do not apply the failure delay (trusted callers).
    public var noPenalty: Bool
    public var localIP: String?
    public var remoteIP: String?
    public var localPort: UInt16?
    public var remotePort: UInt16?
    public var session: String?
    /// The base64 text of `resp=`, if given (`""` is an empty initial response).
    public var initialResponse: String?
    /// Parameters Roost does not interpret (kept in order, e.g. `nologin`, `cert_username`).
    public var otherFields: [AuthField]

    public init(id: UInt32, mechanism: String, service: String, secured: Bool = false,
                validClientCert: Bool = false, noPenalty: Bool = false,
                localIP: String? = nil, remoteIP: String? = nil,
                localPort: UInt16? = nil, remotePort: UInt16? = nil, session: String? = nil,
                initialResponse: String? = nil, otherFields: [AuthField] = []) {
        self.id = id
        self.mechanism = mechanism
        self.service = service
        self.secured = secured
        self.validClientCert = validClientCert
        self.noPenalty = noPenalty
        self.localIP = localIP
        self.remoteIP = remoteIP
        self.localPort = localPort
        self.remotePort = remotePort
        self.session = session
        self.initialResponse = initialResponse
        self.otherFields = otherFields
    }

    /// Parses the fields after `AUTH` (id, mechanism, parameters).
    public init(parameters: ArraySlice<String>) throws(AuthProtocolError) {
        guard parameters.count >= 2 else {
            throw .malformed(command: "AUTH", reason: "missing id or mechanism")
        }
        let p = Array(parameters)
        self.init(id: try parseID(p[0], command: "AUTH"), mechanism: p[1], service: "")
        guard !mechanism.isEmpty else { throw .malformed(command: "AUTH", reason: "empty mechanism") }
        var haveService = false
        for text in p.dropFirst(2) {
            let field = AuthField(parsing: text)
            func port() throws(AuthProtocolError) -> UInt16 {
                guard let v = field.value, let port = UInt16(v) else {
                    throw .malformed(command: "AUTH", reason: "invalid \(field.name)")
                }
                return port
            }
            switch field.name {
            case "service":
                service = field.value ?? ""
                haveService = true
            case "secured": secured = true
            case "valid-client-cert": validClientCert = true
            case "no-penalty": noPenalty = true
            case "lip": localIP = field.value
            case "rip": remoteIP = field.value
            case "lport": localPort = try port()
            case "rport": remotePort = try port()
            case "session": session = field.value
            case "resp": initialResponse = field.value ?? ""
            default: otherFields.append(field)
            }
        }
        guard haveService, !service.isEmpty else {
            throw .malformed(command: "AUTH", reason: "service parameter missing")
        }
    }

    /// The `AUTH` line (without LF).
    public var line: String {
        var f = ["AUTH", String(id), mechanism, "service=\(service)"]
        if secured { f.append("secured") }
        if validClientCert { f.append("valid-client-cert") }
        if noPenalty { f.append("no-penalty") }
        if let localIP { f.append("lip=\(localIP)") }
        if let remoteIP { f.append("rip=\(remoteIP)") }
        if let localPort { f.append("lport=\(localPort)") }
        if let remotePort { f.append("rport=\(remotePort)") }
        if let session { f.append("session=\(session)") }
        f += otherFields.map(\.description)
        // Dovecot requires resp= to be the last parameter.
        if let initialResponse { f.append("resp=\(initialResponse)") }
        return AuthProtocol.line(f)
    }
}

// MARK: - Messages

/// Lines the auth server sends to a client.
public enum AuthServerMessage: Sendable, Equatable {
    case version(major: Int, minor: Int)
    case mech(name: String, parameters: [String])
    case spid(String)
    case cuid(String)
    case cookie(String)
    case done
    /// A base64 challenge (possibly empty).
    case cont(id: UInt32, data: String)
    case ok(id: UInt32, fields: [AuthField])
    case fail(id: UInt32, fields: [AuthField])

    public var line: String {
        switch self {
        case .version(let ma, let mi): return AuthProtocol.line(["VERSION", String(ma), String(mi)])
        case .mech(let name, let params): return AuthProtocol.line(["MECH", name] + params)
        case .spid(let pid): return AuthProtocol.line(["SPID", pid])
        case .cuid(let n): return AuthProtocol.line(["CUID", n])
        case .cookie(let c): return AuthProtocol.line(["COOKIE", c])
        case .done: return "DONE"
        case .cont(let id, let data): return AuthProtocol.line(["CONT", String(id), data])
        case .ok(let id, let fields): return AuthProtocol.line(["OK", String(id)] + fields.map(\.description))
        case .fail(let id, let fields): return AuthProtocol.line(["FAIL", String(id)] + fields.map(\.description))
        }
    }

    public init(parsing line: String) throws(AuthProtocolError) {
        let f = AuthProtocol.fields(of: line)
        guard let command = f.first, !command.isEmpty else { throw .emptyLine }
        func need(_ n: Int) throws(AuthProtocolError) {
            guard f.count >= n else { throw .malformed(command: command, reason: "missing parameters") }
        }
        switch command {
        case "VERSION":
            try need(3)
            guard let ma = Int(f[1]), let mi = Int(f[2]) else {
                throw .malformed(command: command, reason: "non-numeric version")
            }
            self = .version(major: ma, minor: mi)
        case "MECH":
            try need(2)
            self = .mech(name: f[1], parameters: Array(f.dropFirst(2)))
        case "SPID": try need(2); self = .spid(f[1])
        case "CUID": try need(2); self = .cuid(f[1])
        case "COOKIE": try need(2); self = .cookie(f[1])
        case "DONE": self = .done
        case "CONT":
            try need(2)
            self = .cont(id: try parseID(f[1], command: command), data: f.count > 2 ? f[2] : "")
        case "OK":
            try need(2)
            self = .ok(id: try parseID(f[1], command: command), fields: f.dropFirst(2).map(AuthField.init(parsing:)))
        case "FAIL":
            try need(2)
            self = .fail(id: try parseID(f[1], command: command), fields: f.dropFirst(2).map(AuthField.init(parsing:)))
        default:
            throw .unknownCommand(command)
        }
    }
}

/// Lines a client sends to the auth server.
public enum AuthClientMessage: Sendable, Equatable {
    case version(major: Int, minor: Int)
    case cpid(String)
    case auth(AuthRequest)
    /// A base64 response to a challenge.
    case cont(id: UInt32, data: String)
    case cancel(id: UInt32)

    public var line: String {
        switch self {
        case .version(let ma, let mi): return AuthProtocol.line(["VERSION", String(ma), String(mi)])
        case .cpid(let pid): return AuthProtocol.line(["CPID", pid])
        case .auth(let request): return request.line
        case .cont(let id, let data): return AuthProtocol.line(["CONT", String(id), data])
        case .cancel(let id): return AuthProtocol.line(["CANCEL", String(id)])
        }
    }

    public init(parsing line: String) throws(AuthProtocolError) {
        let f = AuthProtocol.fields(of: line)
        guard let command = f.first, !command.isEmpty else { throw .emptyLine }
        func need(_ n: Int) throws(AuthProtocolError) {
            guard f.count >= n else { throw .malformed(command: command, reason: "missing parameters") }
        }
        switch command {
        case "VERSION":
            try need(3)
            guard let ma = Int(f[1]), let mi = Int(f[2]) else {
                throw .malformed(command: command, reason: "non-numeric version")
            }
            self = .version(major: ma, minor: mi)
        case "CPID":
            try need(2)
            guard !f[1].isEmpty, f[1].allSatisfy(\.isASCIIDigit) else {
                throw .malformed(command: command, reason: "invalid pid '\(f[1])'")
            }
            self = .cpid(f[1])
        case "AUTH":
            self = .auth(try AuthRequest(parameters: f.dropFirst()))
        case "CONT":
            try need(2)
            self = .cont(id: try parseID(f[1], command: command), data: f.count > 2 ? f[2] : "")
        case "CANCEL":
            try need(2)
            self = .cancel(id: try parseID(f[1], command: command))
        default:
            throw .unknownCommand(command)
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
