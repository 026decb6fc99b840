import Glibc

/// A child process the master started and watches.
final class MasterChild {
    let pid: pid_t
    let role: ProcessRole
    let channel: ControlChannel
    /// For mail processes: whose.
    let user: String?
    /// For login processes: the auth process its auth socket leads to.
    var authPID: pid_t?
    /// Asked to finish its sessions and exit (reload or shutdown): no restart when it does.
    var retiring = false

    init(pid: pid_t, role: ProcessRole, channel: ControlChannel, user: String? = nil) {
        self.pid = pid
        self.role = role
        self.channel = channel
        self.user = user
    }

    /// Dovecot's service names, for log lines like `service(imap-login): child 123 killed …`.
    var serviceName: String {
        switch role {
        case .login: return "imap-login"
        case .auth: return "auth"
        case .mail: return "imap"
        case .lmtp: return "lmtp"
        }
    }
}
