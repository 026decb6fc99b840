// The "auth master" side of Dovecot's auth protocol: after a login process's AUTH got OK,
// the process that starts the mail session asks the auth server who logged in, proving it
// with the login process's pid, the auth request id and the connection cookie.
// Also userdb lookups by name (LMTP delivery, doveadm). Syntax only.
//
//   S: VERSION 1 1 / SPID pid                     (on connect)
//   C: VERSION 1 1
//   C: REQUEST id client-pid auth-id cookie [fields]
//   C: USER id name [service=… fields]           (userdb lookup)
//   S: USER id name [uid=… gid=… home=… …]  |  NOTFOUND id  |  FAIL id [reason=…]

public enum AuthMasterProtocol {
    public static let majorVersion = 1
    public static let minorVersion = 1
}

/// Lines a master client (mail-process launcher, LMTP) sends to the auth server.
public enum AuthMasterClientMessage: Sendable, Equatable {
    case version(major: Int, minor: Int)
    /// `clientPID` is the login process's CPID; `authID` the id of its successful AUTH.
    case request(id: UInt32, clientPID: UInt32, authID: UInt32, cookie: String, fields: [AuthField])
    case userLookup(id: UInt32, user: String, fields: [AuthField])

    public var line: String {
        switch self {
        case .version(let ma, let mi):
            return AuthProtocol.line(["VERSION", String(ma), String(mi)])
        case .request(let id, let pid, let authID, let cookie, let fields):
            return AuthProtocol.line(["REQUEST", String(id), String(pid), String(authID), cookie]
                                     + fields.map(\.description))
        case .userLookup(let id, let user, let fields):
            return AuthProtocol.line(["USER", String(id), user] + fields.map(\.description))
        }
    }

    public init(parsing line: String) throws(AuthProtocolError) {
        let f = AuthProtocol.fields(of: line)
        guard let command = f.first, !command.isEmpty else { throw .emptyLine }
        switch command {
        case "VERSION":
            guard f.count >= 3, let ma = Int(f[1]), let mi = Int(f[2]) else {
                throw .malformed(command: command, reason: "invalid version")
            }
            self = .version(major: ma, minor: mi)
        case "REQUEST":
            guard f.count >= 5 else { throw .malformed(command: command, reason: "missing parameters") }
            let id = try parseID(f[1], command: command)
            let pid = try parseID(f[2], command: command)
            let authID = try parseID(f[3], command: command)
            let cookie = f[4]
            guard cookie.utf8.count == 32, cookie.utf8.allSatisfy(\.isHexDigit) else {
                throw .malformed(command: command, reason: "invalid cookie")
            }
            self = .request(id: id, clientPID: pid, authID: authID, cookie: cookie,
                            fields: f.dropFirst(5).map(AuthField.init(parsing:)))
        case "USER":
            guard f.count >= 3, !f[2].isEmpty else { throw .malformed(command: command, reason: "missing user") }
            self = .userLookup(id: try parseID(f[1], command: command), user: f[2],
                               fields: f.dropFirst(3).map(AuthField.init(parsing:)))
        default:
            throw .unknownCommand(command)
        }
    }
}

/// Lines the auth server sends to a master client.
public enum AuthMasterServerMessage: Sendable, Equatable {
    case version(major: Int, minor: Int)
    case spid(String)
    /// The user and their userdb fields (see `AuthUser.userdbFields`).
    case user(id: UInt32, user: String, fields: [AuthField])
    case notFound(id: UInt32)
    case fail(id: UInt32, reason: String?)

    /// A `USER` reply for `user`.
    public static func user(id: UInt32, _ user: AuthUser) -> AuthMasterServerMessage {
        .user(id: id, user: user.username, fields: user.userdbFields)
    }

    public var line: String {
        switch self {
        case .version(let ma, let mi): return AuthProtocol.line(["VERSION", String(ma), String(mi)])
        case .spid(let pid): return AuthProtocol.line(["SPID", pid])
        case .user(let id, let user, let fields):
            return AuthProtocol.line(["USER", String(id), user] + fields.map(\.description))
        case .notFound(let id): return AuthProtocol.line(["NOTFOUND", String(id)])
        case .fail(let id, let reason):
            return AuthProtocol.line(["FAIL", String(id)] + (reason.map { ["reason=\($0)"] } ?? []))
        }
    }

    public init(parsing line: String) throws(AuthProtocolError) {
        let f = AuthProtocol.fields(of: line)
        guard let command = f.first, !command.isEmpty else { throw .emptyLine }
        switch command {
        case "VERSION":
            guard f.count >= 3, let ma = Int(f[1]), let mi = Int(f[2]) else {
                throw .malformed(command: command, reason: "invalid version")
            }
            self = .version(major: ma, minor: mi)
        case "SPID":
            guard f.count >= 2 else { throw .malformed(command: command, reason: "missing pid") }
            self = .spid(f[1])
        case "USER":
            guard f.count >= 3 else { throw .malformed(command: command, reason: "missing user") }
            self = .user(id: try parseID(f[1], command: command), user: f[2],
                         fields: f.dropFirst(3).map(AuthField.init(parsing:)))
        case "NOTFOUND":
            guard f.count >= 2 else { throw .malformed(command: command, reason: "missing id") }
            self = .notFound(id: try parseID(f[1], command: command))
        case "FAIL":
            guard f.count >= 2 else { throw .malformed(command: command, reason: "missing id") }
            let reason = f.dropFirst(2).map(AuthField.init(parsing:)).first { $0.name == "reason" }?.value
            self = .fail(id: try parseID(f[1], command: command), reason: reason)
        default:
            throw .unknownCommand(command)
        }
    }
}
