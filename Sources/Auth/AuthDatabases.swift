import Glibc
import RoostSystem

/// The configured passdb and userdb chain: which drivers answer "is this password right?" and
/// "where does this user's mail live?". Blocking (files, later PAM): call from a worker pool.
public final class AuthDatabases: Sendable {
    public enum DriverError: Error, CustomStringConvertible, Sendable {
        case unknownDriver(kind: String, driver: String)
        case badArgs(kind: String, driver: String, reason: String)
        public var description: String {
            switch self {
            case .unknownDriver(let kind, let driver): return "\(kind) driver '\(driver)' is unknown (or not yet supported by Roost)"
            case .badArgs(let kind, let driver, let reason): return "\(kind) \(driver): invalid args: \(reason)"
            }
        }
    }

    public enum PassdbResult: Sendable, Equatable {
        case ok(user: String, driver: String)
        case unknownUser(driver: String)
        case mismatch(driver: String)
        /// PAM's account checks refused an otherwise valid login (expired, locked).
        case refused(driver: String, reason: String)
        case internalFailure(driver: String, reason: String)
    }

    enum Passdb: Sendable {
        case passwdFile(PasswdFileArgs, PasswdFileDB)
        case staticPassword(String)  // passdb static { args = password=… } (tests, single-user setups)
        case pam(PAMArgs)
    }

    enum Userdb: Sendable {
        case passwdFile(PasswdFileArgs, PasswdFileDB)
        case staticArgs(UserdbStaticArgs)
        case systemPasswd
    }

    let passdbs: [Passdb]
    let userdbs: [Userdb]

    public init(passdbs: [(driver: String, args: String)], userdbs: [(driver: String, args: String)]) throws {
        var cache: [String: PasswdFileDB] = [:]
        func fileDB(_ path: String) -> PasswdFileDB {
            if let db = cache[path] { return db }
            let db = PasswdFileDB(path: path)
            cache[path] = db
            return db
        }
        self.passdbs = try passdbs.map { spec in
            switch spec.driver {
            case "passwd-file":
                do {
                    let args = try PasswdFileArgs(parse: spec.args)
                    return .passwdFile(args, fileDB(args.path))
                } catch { throw DriverError.badArgs(kind: "passdb", driver: spec.driver, reason: "\(error)") }
            case "static":
                let fields = spec.args.split(separator: " ").map { AuthField(parsing: String($0)) }
                guard let pass = fields.first(where: { $0.name == "password" })?.value else {
                    throw DriverError.badArgs(kind: "passdb", driver: "static", reason: "password= missing")
                }
                return .staticPassword(pass)
            case "pam":
                return .pam(PAMArgs(parse: spec.args))
            default:
                throw DriverError.unknownDriver(kind: "passdb", driver: spec.driver)
            }
        }
        self.userdbs = try userdbs.map { spec in
            switch spec.driver {
            case "passwd-file":
                do {
                    let args = try PasswdFileArgs(parse: spec.args)
                    return .passwdFile(args, fileDB(args.path))
                } catch { throw DriverError.badArgs(kind: "userdb", driver: spec.driver, reason: "\(error)") }
            case "static":
                do { return .staticArgs(try UserdbStaticArgs(parse: spec.args)) }
                catch { throw DriverError.badArgs(kind: "userdb", driver: "static", reason: "\(error)") }
            case "passwd":
                return .systemPasswd
            default:
                throw DriverError.unknownDriver(kind: "userdb", driver: spec.driver)
            }
        }
    }

    /// Checks a password against the passdb chain: the first passdb that knows the user decides.
    public func verify(user: String, password: String, remoteIP: String? = nil, service: String = "imap") -> PassdbResult {
        var last: PassdbResult = .unknownUser(driver: "passdb")
        for passdb in passdbs {
            switch passdb {
            case .passwdFile(let args, let db):
                let name = args.lookupName(for: user)
                do {
                    guard let record = try db.lookup(name) else {
                        last = .unknownUser(driver: "passwd-file")
                        continue
                    }
                    do {
                        return try record.verify(password: password, defaultScheme: args.scheme)
                            ? .ok(user: name, driver: "passwd-file") : .mismatch(driver: "passwd-file")
                    } catch {
                        return .internalFailure(driver: "passwd-file", reason: "\(error)")
                    }
                } catch {
                    return .internalFailure(driver: "passwd-file", reason: "\(error)")
                }
            case .pam(let args):
                switch PAMAuthenticator.authenticate(user: user, password: password, remoteIP: remoteIP,
                                                     args: args, service: service) {
                case .ok: return .ok(user: user, driver: "pam")
                case .unknownUser: last = .unknownUser(driver: "pam"); continue
                case .mismatch: return .mismatch(driver: "pam")
                case .accountRefused(let why): return .refused(driver: "pam", reason: why)
                case .internalFailure(let why): return .internalFailure(driver: "pam", reason: why)
                }
            case .staticPassword(let stored):
                let ok = (try? PasswordScheme.verify(password: password, stored: stored, defaultScheme: "PLAIN")) ?? false
                return ok ? .ok(user: user, driver: "static") : .mismatch(driver: "static")
            }
        }
        return last
    }

    /// The userdb record (home, uid, gid, mail) of an authenticated user; nil when unknown.
    public func lookupUser(_ user: String) -> AuthUser? {
        for userdb in userdbs {
            switch userdb {
            case .passwdFile(let args, let db):
                if let record = try? db.lookup(args.lookupName(for: user)) {
                    return record.authUser
                }
            case .staticArgs(let args):
                return args.user(for: user)
            case .systemPasswd:
                if let pw = SystemUser.lookup(name: user) {
                    return AuthUser(username: user, uid: String(pw.uid), gid: String(pw.gid), home: pw.home)
                }
            }
        }
        return nil
    }
}
