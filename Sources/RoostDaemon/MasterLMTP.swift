import Dispatch
import Foundation
import Glibc
import RoostSystem

/// LMTP plumbing in the master: binding the lmtp service's sockets, starting the (unprivileged)
/// lmtp process, and routing its recipient checks to the auth process and its deliveries to
/// each recipient's mail process.
extension Master {
    var lmtpEnabled: Bool { loaded.config.protocols.contains("lmtp") }

    func bindLMTPSockets() throws {
        guard lmtpEnabled, lmtpSockets.isEmpty else { return }
        let service = loaded.config.service("lmtp")
        for listener in service.unixListeners {
            let path = listener.path.hasPrefix("/") ? listener.path : settings.baseDir + "/" + listener.path
            let user = listener.user.isEmpty ? nil : SystemUser.lookup(name: listener.user)
            let group = listener.group.isEmpty ? nil : SystemUser.groupID(named: listener.group)
            if !listener.user.isEmpty && user == nil { throw MasterError("service lmtp: unix_listener \(path): unknown user \(listener.user)") }
            if !listener.group.isEmpty && group == nil { throw MasterError("service lmtp: unix_listener \(path): unknown group \(listener.group)") }
            let fd = try Sockets.listenUnix(path: path, mode: mode_t(listener.mode), owner: Privileges.isRoot ? user?.uid : nil,
                                            group: Privileges.isRoot ? group : nil)
            lmtpSockets.append((path, fd, path))
            logger.info("lmtp: listening on \(path)")
        }
        for listener in service.enabledInetListeners {
            for address in listener.addresses {
                for fd in try Sockets.listenTCP(host: address, port: listener.port) {
                    let local = SocketAddress.local(of: fd)
                    lmtpSockets.append((local?.description ?? address, fd, nil))
                    logger.info("lmtp: listening on \(local?.description ?? address)")
                }
            }
        }
    }

    func closeLMTPSockets() {
        for s in lmtpSockets {
            close(s.fd)
            if let path = s.path { unlink(path) }
        }
        lmtpSockets = []
    }

    func spawnLMTP() throws {
        guard lmtpEnabled, !lmtpSockets.isEmpty else { return }
        var s = settings
        s.passdbs = []
        s.userdbs = []
        s.lmtpSocketNames = lmtpSockets.map(\.name)
        s.spoolDir = try makeSpoolDirectory()
        lmtp = try spawn(.lmtp, roleFDs: lmtpSockets.map(\.fd), settings: s)
    }

    /// base_dir/lmtp-spool, writable only by the lmtp process's user.
    private func makeSpoolDirectory() throws -> String {
        let dir = settings.baseDir + "/lmtp-spool"
        try Files.makeDirectories(dir, mode: 0o700)
        if Privileges.isRoot && !options.devMode, let user = SystemUser.lookup(name: settings.defaultInternalUser) {
            _ = chown(dir, user.uid, user.gid)
            chmod(dir, 0o700)
        } else if Privileges.isRoot && !options.devMode {
            throw MasterError("default_internal_user \(settings.defaultInternalUser) doesn't exist (create it with: useradd --system --no-create-home --shell /usr/sbin/nologin \(settings.defaultInternalUser))")
        }
        return dir
    }

    /// Splits `user+detail@domain` at recipient_delimiter (Dovecot's rule: the first delimiter
    /// character found in the local part).
    func splitDetail(_ address: String) -> (user: String, detail: String) {
        let delimiters = Set(settings.recipientDelimiter)
        guard !delimiters.isEmpty else { return (address, "") }
        let at = address.lastIndex(of: "@") ?? address.endIndex
        let local = address[..<at]
        guard let d = local.firstIndex(where: { delimiters.contains($0) }) else { return (address, "") }
        return (String(local[..<d]) + address[at...], String(local[local.index(after: d)...]))
    }

    func lmtpMessage(_ child: MasterChild, _ message: ControlMessage, _ fds: [Int32]) {
        guard let request = message["request"] else {
            fds.forEach { close($0) }
            return
        }
        switch message.kind {
        case "rcpt":
            fds.forEach { close($0) }
            guard let auth else {
                child.channel.send(ControlMessage("rcpt-result", ["request": request, "status": "tempfail", "reason": "auth process unavailable"]))
                return
            }
            let (user, detail) = splitDetail(message["address"] ?? "")
            let key = "r\(nextMasterRequest)"
            nextMasterRequest += 1
            pendingDeliveries[key] = (child, request, detail, nil)
            // A recipient seen a moment ago is answered from the record its delivery used
            // (a burst to one mailbox then costs no auth round trip per message).
            if let cached = recipientCache[user], DispatchTime.now().uptimeNanoseconds - cached.at < Self.recipientCacheNanoseconds {
                var reply = ControlMessage("userdb-result", cached.fields)
                reply.fields["request"] = key
                userdbAnswered(reply)
                return
            }
            recipientLookups[key] = user
            auth.channel.send(ControlMessage("userdb", ["request": key, "user": user]))
        case "deliver":
            guard let fd = fds.first else { return }
            fds.dropFirst().forEach { close($0) }
            deliver(for: child, request: request, message: message, spool: fd)
            close(fd)
        default:
            fds.forEach { close($0) }
        }
    }

    /// How long a userdb answer stands in for a new RCPT lookup of the same user.
    static let recipientCacheNanoseconds: UInt64 = 5_000_000_000

    /// The auth process answered a recipient check.
    func userdbAnswered(_ reply: ControlMessage) {
        guard let key = reply["request"], let pending = pendingDeliveries.removeValue(forKey: key) else { return }
        let lookedUp = recipientLookups.removeValue(forKey: key)
        var fields = ["request": pending.request]
        if reply["found"] == "1", let user = reply["user"] {
            fields["status"] = "ok"
            fields["user"] = user
            // The delivery that follows needs the same record: keep it briefly.
            if lmtpUserCache.count > 10_000 { lmtpUserCache.removeAll() }
            lmtpUserCache[user] = (reply.fields, DispatchTime.now().uptimeNanoseconds)
            if let lookedUp {
                if recipientCache.count > 10_000 { recipientCache.removeAll() }
                recipientCache[lookedUp] = (reply.fields, DispatchTime.now().uptimeNanoseconds)
            }
            fields["detail"] = pending.user  // the detail part travels in this slot for checks
            if settings.lmtpRcptCheckQuota && settings.quotaProtocols.contains("lmtp") {
                checkQuota(for: pending.lmtp, request: pending.request, user: user, detail: pending.user, fields: reply.fields)
                return
            }
        } else if reply["found"] == "0" {
            fields["status"] = "unknown"
        } else {
            fields["status"] = "tempfail"
            fields["reason"] = reply["reason"] ?? "userdb lookup failed"
        }
        pending.lmtp.channel.send(ControlMessage("rcpt-result", fields))
    }

    private func deliver(for lmtpChild: MasterChild, request: String, message: ControlMessage, spool: Int32) {
        func fail(_ reason: String) {
            lmtpChild.channel.send(ControlMessage("deliver-result", ["request": request, "status": "tempfail", "reason": reason]))
        }
        guard let auth, let user = message["user"] else { return fail("auth process unavailable") }
        // Identity comes from a fresh userdb lookup: the lmtp process only names the user.
        let key = "d\(nextMasterRequest)"
        nextMasterRequest += 1
        guard let dup = Optional(fcntl(spool, F_DUPFD_CLOEXEC, 0)), dup >= 0 else { return fail("out of descriptors") }
        pendingSpools[key] = (lmtpChild, request, message, dup)
        if let cached = lmtpUserCache[user], DispatchTime.now().uptimeNanoseconds - cached.at < 30_000_000_000 {
            var reply = ControlMessage("userdb-result", cached.fields)
            reply.fields["request"] = key
            _ = deliveryIdentityAnswered(reply)
            return
        }
        auth.channel.send(ControlMessage("userdb", ["request": key, "user": user]))
    }

    /// Second half of a delivery: identity known, hand the spool to the user's mail process.
    func deliveryIdentityAnswered(_ reply: ControlMessage) -> Bool {
        guard let key = reply["request"], let pending = pendingSpools.removeValue(forKey: key) else { return false }
        defer { close(pending.spool) }
        func fail(_ reason: String) {
            pending.lmtp.channel.send(ControlMessage("deliver-result", ["request": pending.request, "status": "tempfail", "reason": reason]))
        }
        guard reply["found"] == "1", let user = reply["user"] else { fail("user lookup failed"); return true }
        guard let mail = mailProcess(for: user, userdbFields: reply.fields, service: "lmtp") else {
            fail("Temporary internal error")
            return true
        }
        linkLMTP(pending.lmtp, to: mail, user: user)
        let mkey = "m\(nextMasterRequest)"
        nextMasterRequest += 1
        pendingDeliveries[mkey] = (pending.lmtp, pending.request, user, mail)
        var fields = pending.message.fields
        fields["request"] = mkey
        if !mail.channel.send(ControlMessage("deliver", fields), fds: [pending.spool]) {
            pendingDeliveries.removeValue(forKey: mkey)
            fail("Temporary internal error")
        }
        return true
    }

    /// After a delivery through the master, the lmtp process gets a socket straight to the
    /// user's mail process for the ones that follow (each would otherwise cost two hops through
    /// the master). The identity check already happened: a link reaches only this user's process.
    private func linkLMTP(_ lmtpChild: MasterChild, to mail: MasterChild, user: String) {
        guard lmtpChild === lmtp, !mail.retiring, !linkedMailProcesses.contains(mail.pid),
              let (a, b) = try? Sockets.socketPair(seqpacket: true) else { return }
        defer {
            close(a)
            close(b)
        }
        guard mail.channel.send(ControlMessage("lmtp-link"), fds: [a]) else { return }
        lmtpChild.channel.send(ControlMessage("mail-link", ["user": user]), fds: [b])
        linkedMailProcesses.insert(mail.pid)
    }

    /// lmtp_rcpt_check_quota: the recipient's mail process (running as the user) reads its
    /// maildirsize; its answer becomes the RCPT reply (see `deliveryStored`).
    private func checkQuota(for lmtpChild: MasterChild, request: String, user: String, detail: String, fields: [String: String]) {
        guard let mail = mailProcess(for: user, userdbFields: fields, service: "lmtp") else {
            lmtpChild.channel.send(ControlMessage("rcpt-result", ["request": request, "status": "tempfail", "reason": "Temporary internal error"]))
            return
        }
        let key = "q\(nextMasterRequest)"
        nextMasterRequest += 1
        pendingDeliveries[key] = (lmtpChild, request, user, mail)
        if !mail.channel.send(ControlMessage("quota-check", ["request": key, "user": user, "detail": detail])) {
            pendingDeliveries.removeValue(forKey: key)
            lmtpChild.channel.send(ControlMessage("rcpt-result", ["request": request, "status": "tempfail", "reason": "Temporary internal error"]))
        }
    }

    /// The mail process stored (or failed to store) a delivery, or answered a quota check.
    func deliveryStored(_ reply: ControlMessage) {
        guard let key = reply["request"], let pending = pendingDeliveries.removeValue(forKey: key) else { return }
        var fields = reply.fields
        fields["request"] = pending.request
        pending.lmtp.channel.send(ControlMessage(key.hasPrefix("q") ? "rcpt-result" : "deliver-result", fields))
    }
}
