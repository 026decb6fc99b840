import Auth
import Dispatch
import Glibc
import RoostSystem

/// Entry point of `roost process ROLE`, the children the master spawns. Privileges are dropped
/// before anything but the master's start message has been read.
public enum ChildMain {
    public static func run(role: ProcessRole) -> Never {
        guard let start = ChildProcessRuntime.readStartMessage(),
              let settings = ChildProcessRuntime.decodeSettings(start) else {
            ChildProcessRuntime.fail("\(role.rawValue): no start message from the master (run `roost serve`, not this)")
        }
        switch role {
        case .login:
            dropToServiceUser(settings, name: settings.defaultLoginUser, setting: "default_login_user", what: "imap-login")
            watchParent()
            ChildProcessRuntime.setUpLogging(settings.log)
            let first = ChildDescriptor.firstRoleDescriptor
            let listenerFDs = (0..<settings.listeners.count).map { first + 1 + Int32($0) }
            LoginProcess(settings: settings, listenerFDs: listenerFDs, authFD: first).run()
        case .auth:
            watchParent()
            ChildProcessRuntime.setUpLogging(settings.log)
            let databases: AuthDatabases
            let pam = PAMWorkerPool(settings: settings, limit: AuthProcess.workerCount)
            let cache = settings.authCacheSize > 0
                ? AuthCache(.init(maxBytes: settings.authCacheSize, ttl: settings.authCacheTTL,
                                  negativeTTL: settings.authCacheNegativeTTL))
                : nil
            do {
                databases = try AuthDatabases(passdbs: settings.passdbs.map { ($0.driver, $0.args) },
                                              userdbs: settings.userdbs.map { ($0.driver, $0.args) },
                                              pamRunner: pam.runner, cache: cache)
            } catch {
                ChildProcessRuntime.fail("auth: \(error)")
            }
            let sockets = (0..<settings.authSocketPaths.count).map { ChildDescriptor.firstRoleDescriptor + Int32($0) }
            AuthProcess(settings: settings, databases: databases, socketFDs: sockets).run()
        case .lmtp:
            dropToServiceUser(settings, name: settings.defaultInternalUser, setting: "default_internal_user", what: "lmtp")
            watchParent()
            ChildProcessRuntime.setUpLogging(settings.log)
            let fds = (0..<settings.lmtpSocketNames.count).map { ChildDescriptor.firstRoleDescriptor + Int32($0) }
            LMTPProcess(settings: settings, listenerFDs: fds).run()
        case .mail:
            guard let user = start["user"], let uid = start["uid"].flatMap({ uid_t($0) }),
                  let gid = start["gid"].flatMap({ gid_t($0) }) else {
                ChildProcessRuntime.fail("imap: start message without user identity")
            }
            if Privileges.isRoot {
                let systemName = SystemUser.lookup(uid: uid)?.name
                dropOrDie(uid: uid, gid: gid, name: systemName, what: "imap(\(user))")
            }
            watchParent()
            ChildProcessRuntime.setUpLogging(settings.log)
            var extra: [String: String] = [:]
            for (key, value) in start.fields where key.hasPrefix("userdb_") { extra[String(key.dropFirst(7))] = value }
            MailProcess(settings: settings, user: user, home: start["home"] ?? "", mail: start["mail"] ?? "",
                        userdbFields: extra).run()
        }
    }

    /// Root only (not in dev mode): become the unprivileged service user or die.
    private static func dropToServiceUser(_ settings: DaemonSettings, name: String, setting: String, what: String) {
        guard Privileges.isRoot && !settings.devMode else { return }
        guard let user = SystemUser.lookup(name: name) else {
            ChildProcessRuntime.fail("\(what): \(setting) \(name) doesn't exist")
        }
        dropOrDie(uid: user.uid, gid: user.gid, name: user.name, what: what)
    }

    private static func dropOrDie(uid: uid_t, gid: gid_t, name: String?, what: String) {
        do {
            try Privileges.drop(to: uid, gid: gid, userName: name)
        } catch {
            ChildProcessRuntime.fail("\(what): dropping privileges failed: \(error)")
        }
    }

    /// Children notice the master's death through their control channel (EOF), not through
    /// PR_SET_PDEATHSIG: that signal fires when the spawning *thread* exits, and the master
    /// spawns from Dispatch worker threads that come and go.
    private static func watchParent() {
        if getppid() == 1 { exit(0) }
    }
}
