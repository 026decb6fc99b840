import Foundation
import Glibc
import RoostSystem

/// Starting children and routing authenticated connections to mail processes.
extension Master {
    /// Spawns `roost process ROLE` with the standard descriptors plus `roleFDs` from fd 5 on,
    /// then sends it its start message.
    func spawn(_ role: ProcessRole, roleFDs: [Int32], start fields: [String: String] = [:],
               settings childSettings: DaemonSettings, user: String? = nil) throws -> MasterChild {
        let (mine, theirs) = try Sockets.socketPair(seqpacket: true)
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer {
            close(theirs)
            if devNull >= 0 { close(devNull) }
        }
        var map: [(from: Int32, to: Int32)] = [
            (devNull, 0), (logFDs.info, ChildDescriptor.infoLog), (logFDs.error, ChildDescriptor.errorLog),
            (theirs, ChildDescriptor.control), (logFDs.debug, ChildDescriptor.debugLog),
        ]
        for (i, fd) in roleFDs.enumerated() { map.append((fd, ChildDescriptor.firstRoleDescriptor + Int32(i))) }
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(arguments: [ProcessSpawner.executablePath, "process", role.rawValue],
                                           descriptors: map)
        } catch {
            close(mine)
            throw error
        }
        var child: MasterChild!
        let channel = ControlChannel(fd: mine, queue: queue,
                                     onMessage: { [unowned self] m, fds in self.childMessage(child, m, fds) },
                                     onClose: { [unowned self] in self.childChannelClosed(child) })
        child = MasterChild(pid: pid, role: role, channel: channel, user: user)
        children[pid] = child
        channel.start()
        var start = fields
        start["settings"] = String(decoding: try JSONEncoder().encode(childSettings), as: UTF8.self)
        channel.send(ControlMessage("start", start))
        return child
    }

    func spawnAuth() throws {
        var s = settings
        s.listeners = []
        s.authSocketPaths = authSockets.map(\.path)
        auth = try spawn(.auth, roleFDs: authSockets.map(\.fd), settings: s)
    }

    /// `service auth { unix_listener PATH { mode user group } }`: sockets where other programs
    /// (Postfix's `smtpd_sasl_type = dovecot`) speak Dovecot's auth protocol to the auth
    /// process. auth-userdb / auth-master carry Dovecot's master protocol, which Roost's
    /// processes do not use, so they are not bound.
    func bindAuthSockets() throws {
        closeAuthSockets()
        for listener in loaded.config.service("auth").unixListeners {
            let name = (listener.path as NSString).lastPathComponent
            if name == "auth-userdb" || name == "auth-master" { continue }
            let path = listener.path.hasPrefix("/") ? listener.path : settings.baseDir + "/" + listener.path
            let user = listener.user.isEmpty ? nil : SystemUser.lookup(name: listener.user)
            let group = listener.group.isEmpty ? nil : SystemUser.groupID(named: listener.group)
            if !listener.user.isEmpty && user == nil { throw MasterError("service auth: unix_listener \(path): unknown user \(listener.user)") }
            if !listener.group.isEmpty && group == nil { throw MasterError("service auth: unix_listener \(path): unknown group \(listener.group)") }
            let fd = try Sockets.listenUnix(path: path, mode: mode_t(listener.mode), owner: Privileges.isRoot ? user?.uid : nil,
                                            group: Privileges.isRoot ? group : nil)
            authSockets.append((path, fd))
            logger.info("auth: listening on \(path)")
        }
    }

    func closeAuthSockets() {
        for (path, fd) in authSockets {
            close(fd)
            unlink(path)
        }
        authSockets = []
    }

    /// Login processes: one per core (each single-threaded), sharing the listening sockets.
    func spawnLogins(count: Int? = nil) throws {
        guard !listeners.all.isEmpty else { return }
        let n = count ?? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4))
        for _ in 0..<n {
            guard let auth else { throw MasterError("no auth process") }
            let (loginEnd, authEnd) = try Sockets.socketPair()
            defer {
                close(loginEnd)
                close(authEnd)
            }
            var s = settings
            s.passdbs = []
            s.userdbs = []
            let login = try spawn(.login, roleFDs: [loginEnd] + listeners.all.map(\.fd), settings: s)
            login.authPID = auth.pid
            auth.channel.send(ControlMessage("client"), fds: [authEnd])
        }
    }

    func reconnectLoginsToAuth() throws {
        guard let auth else { return }
        for login in children.values where login.role == .login && !login.retiring {
            let (loginEnd, authEnd) = try Sockets.socketPair()
            login.channel.send(ControlMessage("auth-socket"), fds: [loginEnd])
            auth.channel.send(ControlMessage("client"), fds: [authEnd])
            login.authPID = auth.pid
            close(loginEnd)
            close(authEnd)
        }
    }

    func childMessage(_ child: MasterChild, _ message: ControlMessage, _ fds: [Int32]) {
        if message.kind == "stopped-accepting" {
            fds.forEach { close($0) }
            reloadAcknowledged(by: child.pid)
            return
        }
        switch (child.role, message.kind) {
        case (.login, "ip-acquire"):
            fds.forEach { close($0) }
            let ip = message["ip"] ?? ""
            let ok = ipConnections.acquire(ip: ip, by: child.pid, limit: settings.loginMaxIPConnections)
            child.channel.send(ControlMessage("ip-verdict", ["request": message["request"] ?? "", "ok": ok ? "1" : "0"]))
        case (.login, "ip-release"):
            fds.forEach { close($0) }
            ipConnections.release(ip: message["ip"] ?? "", by: child.pid)
        case (.login, "login"):
            guard let fd = fds.first, let request = message["request"] else {
                fds.forEach { close($0) }
                return
            }
            fds.dropFirst().forEach { close($0) }
            loginRequested(by: child, request: request, message: message, fd: fd)
        case (.auth, "user"):
            fds.forEach { close($0) }
            userLookedUp(message)
        case (.auth, "userdb-result"):
            fds.forEach { close($0) }
            lmtpUserdbAnswered(by: child, message)
        case (.lmtp, _):
            lmtpMessage(child, message, fds)
        case (.mail, "deliver-result"):
            fds.forEach { close($0) }
            deliveryStored(by: child, message)
        case (.mail, "lmtp-link-closed"):
            fds.forEach { close($0) }
            linkedMailProcesses.remove(child.pid)
        case (.mail, "idle"):
            fds.forEach { close($0) }
            // A link handed over after the process reported idle: it is busy again, and says
            // "idle" once more when the link closes.
            guard !linkedMailProcesses.contains(child.pid) else { break }
            if let user = child.user, mails[user] === child { mails.removeValue(forKey: user) }
            child.retiring = true
            child.channel.send(ControlMessage("exit"))
        default:
            fds.forEach { close($0) }
        }
    }

    private func loginRequested(by login: MasterChild, request: String, message: ControlMessage, fd: Int32) {
        // Ask the auth process the login talked to (it may be an older one after a reload).
        guard !shuttingDown,
              let authChild = children.values.first(where: { $0.role == .auth && $0.pid == login.authPID }) else {
            close(fd)
            login.channel.send(ControlMessage("login-result", ["request": request, "ok": "0", "reason": "Server shutting down"]))
            return
        }
        let key = "\(authChild.pid):\(request)"
        pendingLogins[key] = PendingLogin(login: login, message: message, fd: fd)
        authChild.channel.send(ControlMessage("request", [
            "request": key, "cookie": message["cookie"] ?? "", "auth-id": message["auth-id"] ?? "",
        ]))
    }

    func failPendingLogins(reason: String) {
        for (key, pending) in pendingLogins {
            close(pending.fd)
            pending.login.channel.send(ControlMessage("login-result", [
                "request": String(key.split(separator: ":", maxSplits: 1).last ?? ""), "ok": "0", "reason": reason,
            ]))
        }
        pendingLogins = [:]
    }

    private func userLookedUp(_ reply: ControlMessage) {
        guard let key = reply["request"], let pending = pendingLogins.removeValue(forKey: key) else { return }
        let request = String(key.split(separator: ":", maxSplits: 1).last ?? "")
        func fail(_ reason: String) {
            close(pending.fd)
            pending.login.channel.send(ControlMessage("login-result", ["request": request, "ok": "0", "reason": reason]))
        }
        guard reply["found"] == "1", let user = reply["user"] else {
            fail("Internal error occurred. Refer to server log for more information.")
            return
        }
        guard let mail = mailProcess(for: user, userdbFields: reply.fields, service: pending.message["service"] ?? "imap") else {
            fail("Internal error occurred. Refer to server log for more information.")
            return
        }
        var fields = pending.message.fields
        fields.removeValue(forKey: "cookie")
        fields.removeValue(forKey: "auth-id")
        let sent = mail.channel.send(ControlMessage("connection", fields), fds: [pending.fd])
        close(pending.fd)
        if sent {
            pending.login.channel.send(ControlMessage("login-result", ["request": request, "ok": "1", "mpid": String(mail.pid)]))
        } else {
            pending.login.channel.send(ControlMessage("login-result", ["request": request, "ok": "0", "reason": "Internal error"]))
        }
    }
}

extension Master {
    /// The user's running mail process, or a new one running as the identity the userdb gives
    /// (checked against first_valid_uid and friends). nil, with the reason logged, on failure.
    func mailProcess(for user: String, userdbFields: [String: String], service: String) -> MasterChild? {
        if let existing = mails[user], !existing.retiring { return existing }
        do {
            var identity = try MailIdentity.resolve(user: user, fields: userdbFields, settings: settings)
            identity.extra = userdbFields.filter { $0.key.hasPrefix("userdb_") }
            let mail = try spawn(.mail, roleFDs: [], start: identity.fields, settings: settings, user: user)
            mails[user] = mail
            return mail
        } catch {
            logger.error("\(service)(\(user)): \(error)")
            return nil
        }
    }
}

/// Who a mail process runs as, resolved and checked by the master before it spawns it.
struct MailIdentity {
    let user: String
    let uid: uid_t
    let gid: gid_t
    let home: String
    let mail: String
    /// The userdb's extra fields, keys prefixed `userdb_` (e.g. userdb_quota_rule).
    var extra: [String: String] = [:]

    var fields: [String: String] {
        extra.merging(["user": user, "uid": String(uid), "gid": String(gid), "home": home, "mail": mail]) { $1 }
    }

    static func resolve(user: String, fields: [String: String], settings: DaemonSettings) throws -> MailIdentity {
        let home = fields["home"] ?? ""
        let mail = fields["mail"] ?? settings.mailLocation
        if settings.devMode || !Privileges.isRoot {
            // Dev mode: everything runs as the invoking user.
            return MailIdentity(user: user, uid: geteuid(), gid: getegid(), home: home, mail: mail)
        }
        let uidText = (fields["uid"].flatMap { $0.isEmpty ? nil : $0 }) ?? settings.mailUID
        guard !uidText.isEmpty else { throw MasterError("user has no uid (set mail_uid or a userdb uid)") }
        let uid: uid_t
        var defaultGID: gid_t?
        if let n = uid_t(uidText) {
            uid = n
        } else if let pw = SystemUser.lookup(name: uidText) {
            uid = pw.uid
            defaultGID = pw.gid
        } else {
            throw MasterError("unknown uid user \(uidText)")
        }
        let gidText = (fields["gid"].flatMap { $0.isEmpty ? nil : $0 }) ?? settings.mailGID
        var gid: gid_t
        if !gidText.isEmpty {
            guard let g = SystemUser.groupID(named: gidText) else { throw MasterError("unknown gid \(gidText)") }
            gid = g
        } else if let g = defaultGID ?? SystemUser.lookup(uid: uid)?.gid {
            gid = g
        } else {
            throw MasterError("user has no gid (set mail_gid or a userdb gid)")
        }
        guard uid != 0 else { throw MasterError("Logins with UID 0 not permitted") }
        if uid < settings.firstValidUID || (settings.lastValidUID != 0 && uid > settings.lastValidUID) {
            throw MasterError("Mail access for users with UID \(uid) not permitted (see first_valid_uid in config file)")
        }
        if gid < settings.firstValidGID || (settings.lastValidGID != 0 && gid > settings.lastValidGID) {
            throw MasterError("Mail access for users with GID \(gid) not permitted (see first_valid_gid in config file)")
        }
        return MailIdentity(user: user, uid: uid, gid: gid, home: home, mail: mail)
    }
}
