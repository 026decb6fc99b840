import Auth
import Config
import Dispatch
import Foundation
import Glibc
import Logging
import RoostLog
import RoostSystem

/// The master process (`roost serve`): reads the configuration, binds every listener, starts
/// and supervises the auth, login and mail processes, reloads on SIGHUP and stops on SIGTERM.
/// It never parses client input: it only moves descriptors between its children.
///
/// Implementation notes:
/// - All state lives on `queue`; signals arrive as Dispatch signal sources.
/// - A crashed auth or login process is restarted (at most once a second) and logged.
/// - SIGHUP with a broken configuration logs the error and keeps serving with the old one.
/// - SIGTERM: listeners close at once, children say BYE to their sessions, exit 0 within 5 s.
public final class Master: @unchecked Sendable {  // all state guarded by `queue`
    public struct Options: Sendable {
        public var configPath: String
        public var pidFile: String?
        public var devMode: Bool

        public init(configPath: String, pidFile: String? = nil, devMode: Bool = false) {
            self.configPath = configPath
            self.pidFile = pidFile
            self.devMode = devMode
        }
    }

    let options: Options
    let queue = DispatchQueue(label: "roost.master")
    var logger: Logger { Logger(label: "master") }
    var loaded: LoadedConfig
    var settings: DaemonSettings
    var listeners = ListenerSet()
    var children: [pid_t: MasterChild] = [:]
    var auth: MasterChild?
    var mails: [String: MasterChild] = [:]
    var pendingLogins: [String: PendingLogin] = [:]
    var authSockets: [(path: String, fd: Int32)] = []
    var lmtpSockets: [(name: String, fd: Int32, path: String?)] = []
    var lmtp: MasterChild?
    /// LMTP requests passed on to the auth process or a mail process, awaiting their answer.
    var lmtpRequests = LMTPRequestTable<MasterChild>()
    /// userdb records of recent LMTP recipients (RCPT looked them up; DATA needs them again).
    var lmtpUserCache = ExpiringCache<[String: String]>(lifetime: 30)
    /// Userdb answers by the name a RCPT looked up (kept apart from lmtpUserCache, which is by
    /// canonical user name, so no user name can shadow an address).
    var recipientCache = ExpiringCache<[String: String]>(lifetime: 5)
    /// Mail processes the lmtp process has a direct link to (see `linkLMTP`).
    var linkedMailProcesses: Set<pid_t> = []
    /// Old login and lmtp processes told to stop accepting by a reload that have not said they
    /// did: until then a new connection may still meet the old configuration.
    var reloadPending: Set<pid_t> = []
    var shuttingDown = false
    /// login_max_ip_connections across all login processes.
    var ipConnections = IPConnectionCounts()
    var logFDs = LogDescriptors()
    private var signalSources: [DispatchSourceSignal] = []
    private var lastRestart: [ProcessRole: UInt64] = [:]

    struct PendingLogin {
        let login: MasterChild
        let message: ControlMessage
        let fd: Int32
    }

    public init(options: Options, loaded: LoadedConfig) throws {
        self.options = options
        self.loaded = loaded
        self.settings = try SettingsBuilder.daemonSettings(loaded, devMode: options.devMode)
    }

    /// Binds, spawns and serves until SIGTERM. Errors before serving are returned to the caller.
    public func start() throws {
        try queue.sync {
            try logFDs.open(config: loaded.config)
            RoostLogging.bootstrap(ChildProcessRuntime.logSetup(settings.log, errorFD: logFDs.error,
                                                                 infoFD: logFDs.info, debugFD: logFDs.debug))
            for warning in loaded.warnings { logger.warning("\(warning)") }
            try preflight(settings)
            Master.raiseDescriptorLimit()
            try Files.makeDirectories(settings.baseDir, mode: 0o755)
            try bindListeners()
            if let pidFile = options.pidFile {
                try Files.writeAtomically(pidFile, Array("\(getpid())\n".utf8))
            }
            installSignalHandlers()
            try bindAuthSockets()
            try spawnAuth()
            try spawnLogins()
            try bindLMTPSockets()
            try spawnLMTP()
            logger.info("Roost v\(RoostVersion.string) starting up for \(activeProtocols.joined(separator: ", "))\(options.devMode ? " (dev mode)" : "")")
        }
    }

    public func run() -> Never {
        dispatchMain()
    }

    /// Thousands of connections need thousands of descriptors; children inherit the limit.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        // Root may raise the hard limit too: 10,000 TLS clients cost a login process 20,000
        // descriptors (client socket + plaintext pipe), beyond common hard limits of 20,000.
        if geteuid() == 0 && limit.rlim_max < 1 << 16 {
            var raised = limit
            raised.rlim_max = 1 << 16
            raised.rlim_cur = 1 << 16
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return }
        }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Problems that must stop startup with a clear message rather than fail in a child.
    func preflight(_ s: DaemonSettings) throws {
        if Privileges.isRoot && !s.devMode {
            guard SystemUser.lookup(name: s.defaultLoginUser) != nil else {
                throw MasterError("default_login_user \(s.defaultLoginUser) doesn't exist (create it with: useradd --system --no-create-home --shell /usr/sbin/nologin \(s.defaultLoginUser))")
            }
        }
        _ = try AuthDatabases(passdbs: s.passdbs.map { ($0.driver, $0.args) },
                              userdbs: s.userdbs.map { ($0.driver, $0.args) })
        if s.passdbs.isEmpty { logger.warning("No passdbs configured: nobody can log in") }
        if let tls = try LoginTLS.makeContext(s), tls.secondsUntilExpiry < 30 * 86400 {
            logger.warning("\(s.tlsDefault?.certificateName ?? "ssl_cert"): certificate expires in \(tls.secondsUntilExpiry / 86400) days")
        }
    }

    /// Protocols from `protocols` that Roost serves today; the others are named in a warning.
    var activeProtocols: [String] {
        loaded.config.protocols.filter { ["imap", "pop3", "lmtp"].contains($0) }
    }

    private func bindListeners() throws {
        for p in loaded.config.protocols where !activeProtocols.contains(p) {
            logger.warning("protocols: \(p) is not implemented yet in Roost; its listeners are not started")
        }
        let (active, skipped) = SettingsBuilder.loginListeners(loaded.config.effective(forProtocol: "imap"))
        for text in skipped { logger.warning("login: listener \(text) not started") }
        try listeners.bind(active)
        for (spec, _) in listeners.all {
            logger.info("\(spec.service): listening on \(spec.address):\(listeners.boundPort(spec) ?? spec.port)")
        }
        settings.listeners = listeners.all.map(\.spec)
    }

    // MARK: signals

    private func installSignalHandlers() {
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { signal(sig, SIG_IGN) }
        func source(_ sig: Int32, _ handler: @escaping () -> Void) {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler(handler: handler)
            s.resume()
            signalSources.append(s)
        }
        source(SIGTERM) { [unowned self] in shutdown(signalName: "SIGTERM") }
        source(SIGINT) { [unowned self] in shutdown(signalName: "SIGINT") }
        source(SIGHUP) { [unowned self] in reload() }
        source(SIGCHLD) { [unowned self] in reapChildren() }
    }

    func shutdown(signalName: String) {
        guard !shuttingDown else { return }
        shuttingDown = true
        logger.info("\(signalName) received, shutting down")
        listeners.closeAll()
        closeAuthSockets()
        closeLMTPSockets()
        for child in children.values {
            child.retiring = true
            child.channel.send(ControlMessage("shutdown"))
        }
        for pending in pendingLogins.values { Glibc.close(pending.fd) }
        pendingLogins = [:]
        exitIfDone()
        // Children that do not finish in time are killed; the master still exits 0 within 5 s.
        queue.asyncAfter(deadline: .now() + 4) { [unowned self] in
            for pid in children.keys { kill(pid, SIGKILL) }
            finishExit()
        }
    }

    func exitIfDone() {
        if shuttingDown && children.isEmpty { finishExit() }
    }

    private func finishExit() {
        if let pidFile = options.pidFile { unlink(pidFile) }
        logger.info("Roost stopped")
        exit(0)
    }

    func reload() {
        logger.warning("SIGHUP received - reloading configuration")
        let newLoaded: LoadedConfig
        do {
            newLoaded = try ConfigLoader.load(path: options.configPath)
            let newSettings = try SettingsBuilder.daemonSettings(newLoaded, devMode: options.devMode)
            try preflight(newSettings)
            let (active, skipped) = SettingsBuilder.loginListeners(newLoaded.config.effective(forProtocol: "imap"))
            for text in skipped { logger.warning("login: listener \(text) not started") }
            try listeners.rebind(active)
            loaded = newLoaded
            settings = newSettings
            lmtpUserCache.removeAll()
            recipientCache.removeAll()
            settings.listeners = listeners.all.map(\.spec)
        } catch {
            logger.error("Config reload failed, keeping the old configuration: \(error)")
            return
        }
        for warning in newLoaded.warnings { logger.warning("\(warning)") }
        // New auth and login processes get the new settings; the old ones finish their sessions.
        let oldAuth = auth
        let oldLogins = children.values.filter { $0.role == .login || $0.role == .lmtp }
        oldAuth?.retiring = true
        for login in oldLogins {
            login.retiring = true
            if login.channel.send(ControlMessage("stop-accepting")) { reloadPending.insert(login.pid) }
        }
        do {
            try bindAuthSockets()
            try spawnAuth()
            try spawnLogins()
            try spawnLMTP()  // LMTP sockets stay bound across reloads (the old process may still hold a port)
        } catch {
            logger.error("Restarting processes after reload failed: \(error)")
        }
        retireAuthIfUnused(oldAuth)
        if reloadPending.isEmpty {
            logger.info("Configuration reloaded")
        } else {
            // A process that never answers (stuck) must not hold the message back for good.
            queue.asyncAfter(deadline: .now() + 2) { [weak self] in
                guard let self, !self.reloadPending.isEmpty else { return }
                self.reloadPending = []
                self.logger.info("Configuration reloaded")
            }
        }
    }

    /// An old login or lmtp process stopped accepting (or exited) after a reload.
    func reloadAcknowledged(by pid: pid_t) {
        guard reloadPending.remove(pid) != nil, reloadPending.isEmpty else { return }
        logger.info("Configuration reloaded")
    }

    func retireAuthIfUnused(_ old: MasterChild?) {
        guard let old, old.retiring, old !== auth else { return }
        let stillUsed = children.values.contains { $0.role == .login && $0.authPID == old.pid }
            || lmtpRequests.hasRequests(sentTo: old)
        if !stillUsed { old.channel.send(ControlMessage("shutdown")) }
    }

    // MARK: supervision

    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            guard let child = children.removeValue(forKey: pid) else { continue }
            child.channel.cancel()
            let how = describe(status: status)
            let clean = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
            if !clean && !child.retiring && !shuttingDown {
                logger.error("service(\(child.serviceName)): child \(pid) \(how)")
            }
            childExited(child, unexpectedly: !child.retiring && !shuttingDown)
        }
    }

    private func childExited(_ child: MasterChild, unexpectedly: Bool) {
        reloadAcknowledged(by: child.pid)
        if child.role == .login { ipConnections.forget(child.pid) }
        if child.role == .mail { linkedMailProcesses.remove(child.pid) }
        if child.role == .lmtp { linkedMailProcesses = [] }
        switch child.role {
        case .mail:
            if let user = child.user, mails[user] === child { mails.removeValue(forKey: user) }
            childChannelClosed(child)  // usually done already, when its channel closed
        case .auth:
            childChannelClosed(child)
            if auth === child {
                auth = nil
                failPendingLogins(reason: "Auth process restarting")
                if unexpectedly { scheduleRestart(.auth) }
            }
        case .lmtp:
            if lmtp === child { lmtp = nil }
            forgetLMTPRequests(askedBy: child)
            if unexpectedly { scheduleRestart(.lmtp) }
        case .login:
            if let oldAuth = children.values.first(where: { $0.role == .auth && $0.pid == child.authPID }) {
                retireAuthIfUnused(oldAuth)
            }
            if unexpectedly { scheduleRestart(.login) }
        }
        exitIfDone()
    }

    /// A child's control channel closed (it died, or is dying): what it owed the lmtp process
    /// fails now, before the exit is even reaped. Deliveries the mail process had not confirmed
    /// fail temporarily and the MTA retries them; so do recipient lookups the auth process had
    /// not answered.
    func childChannelClosed(_ child: MasterChild) {
        switch child.role {
        case .mail: failLMTPRequests(sentTo: child, reason: "Temporary internal error (mail process died)")
        case .auth: failLMTPRequests(sentTo: child, reason: "Temporary internal error (auth process died)")
        case .login, .lmtp: break
        }
    }

    private func scheduleRestart(_ role: ProcessRole) {
        let now = DispatchTime.now().uptimeNanoseconds
        let delay = now - (lastRestart[role] ?? 0) < 1_000_000_000 ? 1.0 : 0.0
        lastRestart[role] = now + UInt64(delay * 1e9)
        queue.asyncAfter(deadline: .now() + delay) { [unowned self] in
            guard !shuttingDown else { return }
            do {
                switch role {
                case .auth:
                    try spawnAuth()
                    try reconnectLoginsToAuth()
                case .login:
                    try spawnLogins(count: 1)
                case .mail:
                    break
                case .lmtp:
                    try spawnLMTP()
                }
            } catch {
                logger.error("Restarting \(role.rawValue) process failed: \(error)")
            }
        }
    }

    private func describe(status: Int32) -> String {
        let sig = status & 0x7f
        if sig != 0 { return "killed with signal \(sig)" }
        return "returned error \((status >> 8) & 0xff)"
    }
}

struct MasterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

public enum RoostVersion {
    public static let string = "0.1.0"
}

/// Pre-login connections per client IP over all login processes (login_max_ip_connections),
/// remembered per process so a login process that dies gives its slots back.
struct IPConnectionCounts {
    private var total: [String: Int] = [:]
    private var byProcess: [pid_t: [String: Int]] = [:]

    mutating func acquire(ip: String, by pid: pid_t, limit: Int) -> Bool {
        let n = total[ip, default: 0]
        guard limit <= 0 || n < limit else { return false }
        total[ip] = n + 1
        byProcess[pid, default: [:]][ip, default: 0] += 1
        return true
    }

    mutating func release(ip: String, by pid: pid_t) {
        guard let mine = byProcess[pid]?[ip], mine > 0 else { return }
        byProcess[pid]?[ip] = mine > 1 ? mine - 1 : nil
        let n = total[ip, default: 0]
        total[ip] = n > 1 ? n - 1 : nil
    }

    mutating func forget(_ pid: pid_t) {
        for (ip, count) in byProcess.removeValue(forKey: pid) ?? [:] {
            let n = total[ip, default: 0] - count
            total[ip] = n > 0 ? n : nil
        }
    }
}
