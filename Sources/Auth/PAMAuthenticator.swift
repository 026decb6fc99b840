import CPAM
import Config
import Glibc

/// `passdb { driver = pam  args = [session=yes] [setcred=yes] [failure_show_msg=yes]
/// [max_requests=N] [cache_key=…] [SERVICE] }` — system users through Linux-PAM.
///
/// Blocking: in the auth process PAM runs in `auth-worker` child processes (PAMWorkerPool),
/// one PAM handle per call, never shared, never on a loop queue. pam_unix's own ~2 s failure
/// sleep is replaced by a no-op fail-delay callback; the auth process applies one uniform
/// delay to every failure instead.
public struct PAMArgs: Sendable, Equatable, Codable {
    /// PAM service name; Dovecot's default `dovecot`, so an existing /etc/pam.d/dovecot works.
    /// `%s` (and Dovecot's old `*`, meaning `%Ls`) becomes the protocol: imap, pop3, smtp.
    public var service = "dovecot"
    public var openSession = false
    public var setCredentials = false
    /// On failure, show the client the text of PAM's last password prompt (Dovecot's
    /// failure_show_msg, which does exactly that) instead of "Authentication failed."
    public var failureShowMessage = false
    /// PAM requests an auth-worker process serves before it is replaced; 0 = never.
    public var maxRequests = 100
    /// Auth cache key template (%u, %s, %r, ...); nil = this passdb is not cached (Dovecot
    /// caches pam only with a cache_key).
    public var cacheKey: String?

    public init() {}

    public init(parse args: String) {
        self.init()
        for token in args.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
            let parts = token.split(separator: "=", maxSplits: 1).map(String.init)
            let yes = parts.count == 2 && ["yes", "1", "y", "true"].contains(parts[1].lowercased())
            switch parts[0] {
            case "session": openSession = yes
            case "-session": openSession = true  // Dovecot 1.x spelling, still accepted there
            case "setcred": setCredentials = yes
            case "failure_show_msg": failureShowMessage = yes
            case "max_requests": maxRequests = parts.count == 2 ? Int(parts[1]) ?? 100 : 100
            case "cache_key": cacheKey = parts.count == 2 && !parts[1].isEmpty ? parts[1] : nil
            case "blocking": break  // accepted for compatibility: PAM always runs in auth workers
            case "*": service = "%Ls"
            default:
                if parts.count == 1 { service = token }
            }
        }
    }

    /// The PAM service for one request: `%s` expands to the protocol.
    public func serviceName(protocolName: String, user: String) -> String {
        service.contains("%") ? VariableExpander.expand(service, ["service": protocolName, "user": user]) : service
    }
}

/// One password check, as the auth process hands it to an auth-worker.
public struct PAMRequest: Sendable, Codable, Equatable {
    public var user: String
    public var password: String
    public var remoteIP: String?
    public var protocolName: String
    public var args: PAMArgs

    public init(user: String, password: String, remoteIP: String?, protocolName: String, args: PAMArgs) {
        self.user = user
        self.password = password
        self.remoteIP = remoteIP
        self.protocolName = protocolName
        self.args = args
    }
}

/// Runs a PAM request somewhere: in-process (`roost auth test`) or in an auth-worker process.
public typealias PAMRunner = @Sendable (PAMRequest) -> PAMAuthenticator.Verdict

public enum PAMAuthenticator {
    public enum Outcome: Sendable, Equatable, Codable {
        case ok
        case unknownUser
        case mismatch(String)
        /// Account expired, locked for login, password change required, or refused by an account module.
        case accountRefused(String)
        case internalFailure(String)
    }

    public struct Verdict: Sendable, Equatable, Codable {
        public var outcome: Outcome
        /// failure_show_msg: the reason to show the client; nil = the generic one.
        public var clientMessage: String?

        public init(_ outcome: Outcome, clientMessage: String? = nil) {
            self.outcome = outcome
            self.clientMessage = clientMessage
        }
    }

    public static let inProcess: PAMRunner = { authenticate($0) }

    /// Authenticates through PAM: pam_authenticate, optionally pam_setcred, pam_acct_mgmt
    /// (expired or locked accounts are refused), optionally pam_open_session/pam_close_session —
    /// Dovecot's order.
    public static func authenticate(_ request: PAMRequest) -> Verdict {
        let data = UnsafeMutablePointer<roost_pam_appdata>.allocate(capacity: 1)
        data.initialize(to: roost_pam_appdata())
        guard let pw = strdup(request.password) else { return Verdict(.internalFailure("out of memory")) }
        data.pointee.password = UnsafePointer(pw)
        guard let user = strdup(request.user) else { return Verdict(.internalFailure("out of memory")) }
        data.pointee.user = UnsafePointer(user)
        defer {
            memset(pw, 0, strlen(pw))
            free(pw)
            free(user)
            data.deallocate()
        }
        let outcome = run(request, data)
        guard request.args.failureShowMessage, outcome != .ok else { return Verdict(outcome) }
        let prompt = withUnsafeBytes(of: &data.pointee.last_prompt) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Verdict(outcome, clientMessage: prompt.isEmpty ? nil : prompt)
    }

    private static func run(_ request: PAMRequest, _ data: UnsafeMutablePointer<roost_pam_appdata>) -> Outcome {
        let args = request.args
        var handle: OpaquePointer?
        let service = args.serviceName(protocolName: request.protocolName, user: request.user)
        let started = roost_pam_start(service, request.user, data, &handle)
        guard started == PAM_SUCCESS, let handle else {
            return .internalFailure("pam_start() failed: \(message(nil, started))")
        }
        var status = PAM_SUCCESS
        defer { pam_end(handle, status) }
        if let ip = request.remoteIP, !ip.isEmpty { _ = pam_set_item(handle, PAM_RHOST, ip) }
        _ = pam_set_item(handle, PAM_RUSER, request.user)
        // Dovecot sets the tty to "dovecot" (pam_access needs one); fail2ban's dovecot filter
        // matches pam_unix's "tty=dovecot" lines.
        _ = pam_set_item(handle, PAM_TTY, "dovecot")
        status = pam_authenticate(handle, 0)
        switch status {
        case PAM_SUCCESS: break
        case PAM_USER_UNKNOWN: return .unknownUser
        case PAM_NEW_AUTHTOK_REQD, PAM_ACCT_EXPIRED, PAM_AUTHTOK_EXPIRED, PAM_PERM_DENIED:
            return .accountRefused("pam_authenticate() failed: \(message(handle, status))")
        case PAM_AUTHINFO_UNAVAIL, PAM_SYSTEM_ERR, PAM_BUF_ERR:
            // Only a backend that cannot answer is an internal failure (which may fall back to
            // a cached success); every other refusal is a mismatch, as in Dovecot's passdb-pam.
            return .internalFailure("pam_authenticate() failed: \(message(handle, status))")
        default:
            return .mismatch("pam_authenticate() failed: \(message(handle, status)) (password mismatch?)")
        }
        if args.setCredentials {
            status = pam_setcred(handle, Int32(bitPattern: UInt32(PAM_ESTABLISH_CRED)))
            guard status == PAM_SUCCESS else { return .accountRefused("pam_setcred() failed: \(message(handle, status))") }
        }
        status = pam_acct_mgmt(handle, 0)
        guard status == PAM_SUCCESS else {
            return .accountRefused("pam_acct_mgmt() failed: \(message(handle, status))")
        }
        if args.openSession {
            status = pam_open_session(handle, 0)
            guard status == PAM_SUCCESS else { return .accountRefused("pam_open_session() failed: \(message(handle, status))") }
            status = pam_close_session(handle, 0)
            guard status == PAM_SUCCESS else { return .accountRefused("pam_close_session() failed: \(message(handle, status))") }
        }
        status = PAM_SUCCESS
        return .ok
    }

    private static func message(_ handle: OpaquePointer?, _ status: Int32) -> String {
        guard let text = pam_strerror(handle, status) else { return "error \(status)" }
        return String(cString: text)
    }
}
