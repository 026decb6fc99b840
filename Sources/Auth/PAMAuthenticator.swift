import CPAM
import Glibc

/// `passdb { driver = pam  args = [session=yes] [setcred=yes] [failure_show_msg=yes]
/// [max_requests=N] [cache_key=…] [SERVICE] }` — system users through Linux-PAM.
///
/// Blocking: run on the auth worker pool (one PAM handle per call, never shared, never on a
/// loop queue). pam_unix's own ~2 s failure sleep is replaced by a no-op fail-delay callback;
/// the auth process applies one uniform delay to every failure instead.
public struct PAMArgs: Sendable, Equatable {
    /// PAM service name; Dovecot's default `dovecot`, so an existing /etc/pam.d/dovecot works.
    public var service = "dovecot"
    public var openSession = false
    public var setCredentials = false
    public var failureShowMessage = false
    public var maxRequests = 100

    public init() {}

    public init(parse args: String) {
        self.init()
        for token in args.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
            let parts = token.split(separator: "=", maxSplits: 1).map(String.init)
            let yes = parts.count == 2 && ["yes", "1", "y", "true"].contains(parts[1].lowercased())
            switch parts[0] {
            case "session": openSession = yes
            case "setcred": setCredentials = yes
            case "failure_show_msg": failureShowMessage = yes
            case "max_requests": maxRequests = parts.count == 2 ? Int(parts[1]) ?? 100 : 100
            case "cache_key", "blocking": break  // accepted for compatibility; Roost does not cache yet
            default:
                if parts.count == 1 { service = token.replacingPercentS() }
            }
        }
    }
}

extension String {
    /// Dovecot allows `%s` in the PAM service name (the protocol); Roost's protocols map to it.
    fileprivate func replacingPercentS() -> String { self == "%s" ? "dovecot" : self }
}

public enum PAMAuthenticator {
    public enum Outcome: Sendable, Equatable {
        case ok
        case unknownUser
        case mismatch(String)
        /// Account expired, locked for login, password change required, or refused by an account module.
        case accountRefused(String)
        case internalFailure(String)
    }

    /// Authenticates `user` with `password` through PAM service `args.service`, then runs the
    /// account checks (expired or locked accounts are refused), optionally opening a session.
    public static func authenticate(user: String, password: String, remoteIP: String?, args: PAMArgs,
                                    service protocolName: String = "imap") -> Outcome {
        guard let pw = strdup(password) else { return .internalFailure("out of memory") }
        defer {
            memset(pw, 0, strlen(pw))
            free(pw)
        }
        var handle: OpaquePointer?
        let started = roost_pam_start(args.service, user, pw, &handle)
        guard started == PAM_SUCCESS, let handle else {
            return .internalFailure("pam_start() failed: \(message(nil, started))")
        }
        var status = PAM_SUCCESS
        defer { pam_end(handle, status) }
        if let remoteIP { _ = pam_set_item(handle, PAM_RHOST, remoteIP) }
        _ = pam_set_item(handle, PAM_TTY, protocolName)  // Dovecot sets the tty to the service name
        status = pam_authenticate(handle, 0)
        switch status {
        case PAM_SUCCESS: break
        case PAM_USER_UNKNOWN: return .unknownUser
        case PAM_AUTH_ERR, PAM_MAXTRIES, PAM_CRED_INSUFFICIENT:
            return .mismatch("pam_authenticate() failed: \(message(handle, status))")
        default:
            return .internalFailure("pam_authenticate() failed: \(message(handle, status))")
        }
        status = pam_acct_mgmt(handle, 0)
        guard status == PAM_SUCCESS else {
            return .accountRefused("pam_acct_mgmt() failed: \(message(handle, status))")
        }
        if args.setCredentials {
            status = pam_setcred(handle, Int32(bitPattern: UInt32(PAM_ESTABLISH_CRED)))
            guard status == PAM_SUCCESS else { return .internalFailure("pam_setcred() failed: \(message(handle, status))") }
        }
        if args.openSession {
            status = pam_open_session(handle, 0)
            guard status == PAM_SUCCESS else { return .internalFailure("pam_open_session() failed: \(message(handle, status))") }
            _ = pam_close_session(handle, 0)
        }
        status = PAM_SUCCESS
        return .ok
    }

    private static func message(_ handle: OpaquePointer?, _ status: Int32) -> String {
        guard let text = pam_strerror(handle, status) else { return "error \(status)" }
        return String(cString: text)
    }
}
