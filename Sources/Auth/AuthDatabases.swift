import Config
import Glibc
import RoostSystem

/// The configured passdb and userdb chain: which drivers answer "is this password right?" and
/// "where does this user's mail live?". Blocking (files, PAM): call from a worker pool.
/// Passdbs with a `cache_key` go through the auth cache first when one is configured.
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

        public var driver: String {
            switch self {
            case .ok(_, let d), .unknownUser(let d), .mismatch(let d), .refused(let d, _), .internalFailure(let d, _): d
            }
        }
    }

    enum Passdb: Sendable {
        case passwdFile(PasswdFileArgs, PasswdFileDB)
        case staticPassword(String)  // passdb static { args = password=… } (tests, single-user setups)
        case pam(PAMArgs)

        var driverName: String {
            switch self {
            case .passwdFile: "passwd-file"
            case .staticPassword: "static"
            case .pam: "pam"
            }
        }
    }

    enum Userdb: Sendable {
        case passwdFile(PasswdFileArgs, PasswdFileDB)
        case staticArgs(UserdbStaticArgs)
        case systemPasswd
    }

    /// One password check: the login name (after auth_username_format) and where it came from.
    public struct PassdbRequest: Sendable {
        public var user: String
        public var password: String
        public var remoteIP: String?
        public var localIP: String?
        public var service: String

        public init(user: String, password: String, remoteIP: String? = nil, localIP: String? = nil,
                    service: String = "imap") {
            self.user = user
            self.password = password
            self.remoteIP = remoteIP
            self.localIP = localIP
            self.service = service
        }
    }

    public struct PassdbVerdict: Sendable, Equatable {
        public var result: PassdbResult
        /// A failure reason the passdb wants the client to see (pam failure_show_msg).
        public var clientReason: String?
        /// Answered by the auth cache, not the passdb.
        public var fromCache = false
    }

    let passdbs: [Passdb]
    let userdbs: [Userdb]
    let pamRunner: PAMRunner
    public let cache: AuthCache?

    /// `pamRunner`: where PAM runs (the auth process passes its auth-worker pool);
    /// `cache`: the auth cache (auth_cache_size > 0), used by passdbs with a cache_key.
    public init(passdbs: [(driver: String, args: String)], userdbs: [(driver: String, args: String)],
                pamRunner: @escaping PAMRunner = PAMAuthenticator.inProcess, cache: AuthCache? = nil) throws {
        self.pamRunner = pamRunner
        self.cache = cache
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
        authenticate(PassdbRequest(user: user, password: password, remoteIP: remoteIP, service: service)).result
    }

    /// `verify` with what a client may be told and whether the cache answered.
    public func authenticate(_ request: PassdbRequest) -> PassdbVerdict {
        var last = PassdbVerdict(result: .unknownUser(driver: "passdb"))
        for (index, passdb) in passdbs.enumerated() {
            let key = cacheKey(passdb, index: index, request)
            if let key, let cache {
                switch cache.lookup(key: key, password: request.password) {
                case .ok(let user): return PassdbVerdict(result: .ok(user: user, driver: passdb.driverName), fromCache: true)
                case .mismatch: return PassdbVerdict(result: .mismatch(driver: passdb.driverName), fromCache: true)
                case .unknownUser:
                    last = PassdbVerdict(result: .unknownUser(driver: passdb.driverName), fromCache: true)
                    continue
                case .miss: break
                }
            }
            var verdict = check(passdb, request)
            if let key, let cache {
                switch verdict.result {
                case .ok(let user, _): cache.storeSuccess(key: key, user: user, password: request.password)
                case .unknownUser: cache.storeUnknownUser(key: key)
                case .mismatch: cache.storeMismatch(key: key)
                case .refused: cache.remove(key: key)
                case .internalFailure:
                    if let user = cache.staleSuccess(key: key, password: request.password) {
                        verdict = PassdbVerdict(result: .ok(user: user, driver: passdb.driverName), fromCache: true)
                    }
                }
            }
            if case .unknownUser = verdict.result {
                last = verdict
                continue
            }
            return verdict
        }
        return last
    }

    /// `passdb { args = cache_key=… }` expanded for this request, prefixed with the passdb's
    /// position so two passdbs never share entries, and with the user name, so a key that
    /// forgets `%u` can never let one user's entry answer for another; nil when not cached.
    private func cacheKey(_ passdb: Passdb, index: Int, _ request: PassdbRequest) -> String? {
        guard cache != nil, case .pam(let args) = passdb, let template = args.cacheKey else { return nil }
        let vars = ["user": request.user, "service": request.service,
                    "rip": request.remoteIP ?? "", "lip": request.localIP ?? ""]
        return "\(index)\t\(request.user)\t" + VariableExpander.expand(template, vars)
    }

    private func check(_ passdb: Passdb, _ request: PassdbRequest) -> PassdbVerdict {
        let user = request.user, password = request.password
        switch passdb {
        case .passwdFile(let args, let db):
            let name = args.lookupName(for: user)
            do {
                guard let record = try db.lookup(name) else {
                    return PassdbVerdict(result: .unknownUser(driver: "passwd-file"))
                }
                return PassdbVerdict(result: try record.verify(password: password, defaultScheme: args.scheme)
                    ? .ok(user: name, driver: "passwd-file") : .mismatch(driver: "passwd-file"))
            } catch {
                return PassdbVerdict(result: .internalFailure(driver: "passwd-file", reason: "\(error)"))
            }
        case .pam(let args):
            let verdict = pamRunner(PAMRequest(user: user, password: password, remoteIP: request.remoteIP,
                                               protocolName: request.service, args: args))
            let result: PassdbResult
            switch verdict.outcome {
            case .ok: result = .ok(user: user, driver: "pam")
            case .unknownUser: result = .unknownUser(driver: "pam")
            case .mismatch: result = .mismatch(driver: "pam")
            case .accountRefused(let why): result = .refused(driver: "pam", reason: why)
            case .internalFailure(let why): result = .internalFailure(driver: "pam", reason: why)
            }
            return PassdbVerdict(result: result, clientReason: verdict.clientMessage)
        case .staticPassword(let stored):
            let ok = (try? PasswordScheme.verify(password: password, stored: stored, defaultScheme: "PLAIN")) ?? false
            return PassdbVerdict(result: ok ? .ok(user: user, driver: "static") : .mismatch(driver: "static"))
        }
    }

    /// What the userdb chain says about a user.
    public enum UserdbResult: Sendable, Equatable {
        case found(AuthUser)
        /// No userdb has the user, and every userdb could be asked.
        case unknown
        /// No userdb had the user, but one could not be read: the user may be in it, so the
        /// answer is "try again later", never "no such user" (which bounces mail).
        case internalFailure(String)

        public var user: AuthUser? {
            if case .found(let user) = self { return user }
            return nil
        }
    }

    /// The userdb record (home, uid, gid, mail) of a user, asking each userdb in turn. Dovecot's
    /// rule (auth_request_userdb_callback): the first userdb that has the user answers; when
    /// none has it and one failed, the result is an internal failure, not "unknown user".
    public func findUser(_ user: String) -> UserdbResult {
        var failure: String?
        for userdb in userdbs {
            switch userdb {
            case .passwdFile(let args, let db):
                do {
                    if let record = try db.lookup(args.lookupName(for: user)) { return .found(record.authUser) }
                } catch {
                    failure = failure ?? "\(error)"
                }
            case .staticArgs(let args):
                return .found(args.user(for: user))
            case .systemPasswd:
                if let pw = SystemUser.lookup(name: user) {
                    return .found(AuthUser(username: user, uid: String(pw.uid), gid: String(pw.gid), home: pw.home))
                }
            }
        }
        return failure.map { .internalFailure($0) } ?? .unknown
    }

    /// The userdb record of a user; nil when unknown or when a userdb failed (see `findUser`).
    public func lookupUser(_ user: String) -> AuthUser? {
        findUser(user).user
    }
}
