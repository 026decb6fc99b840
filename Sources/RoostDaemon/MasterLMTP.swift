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
            let (user, detail) = splitDetail(message["address"] ?? "")
            // A recipient seen a moment ago is answered from the record its delivery used
            // (a burst to one mailbox then costs no auth round trip per message).
            if let cached = recipientCache.value(for: user) {
                recipientLookedUp(lmtp: child, request: request, name: nil, detail: detail, reply: cached)
                return
            }
            let unavailable = ControlMessage("rcpt-result", ["request": request, "status": "tempfail", "reason": "auth process unavailable"])
            guard let auth else {
                child.channel.send(unavailable)
                return
            }
            let key = lmtpRequests.add(.init(lmtp: child, request: request, sentTo: auth,
                                             stage: .recipientLookup(name: user, detail: detail)))
            if !auth.channel.send(ControlMessage("userdb", ["request": key, "user": user])) {
                lmtpRequests.remove(key)
                child.channel.send(unavailable)
            }
        case "deliver":
            guard let fd = fds.first else { return }
            fds.dropFirst().forEach { close($0) }
            deliver(for: child, request: request, message: message, spool: fd)
            close(fd)
        default:
            fds.forEach { close($0) }
        }
    }

    /// The auth process answered a userdb lookup for LMTP: a recipient, or a delivery's identity.
    func lmtpUserdbAnswered(by auth: MasterChild, _ reply: ControlMessage) {
        defer { retireAuthIfUnused(auth) }  // an auth process retired by a reload waits for its LMTP lookups
        guard let key = reply["request"], let entry = lmtpRequests.take(key, answeredBy: auth) else { return }
        switch entry.stage {
        case .recipientLookup(let name, let detail):
            recipientLookedUp(lmtp: entry.lmtp, request: entry.request, name: name, detail: detail, reply: reply.fields)
        case .deliveryIdentity(let message, let spool):
            identityKnown(lmtp: entry.lmtp, request: entry.request, message: message, spool: spool, reply: reply.fields)
            close(spool)
        case .quotaCheck, .delivery:
            break  // never sent to an auth process
        }
    }

    /// `name`: the name looked up, for the recipient cache (nil when the answer came from it).
    private func recipientLookedUp(lmtp: MasterChild, request: String, name: String?, detail: String, reply: [String: String]) {
        var fields = ["request": request]
        if reply["found"] == "1", let user = reply["user"] {
            fields["status"] = "ok"
            fields["user"] = user
            // The delivery that follows needs the same record: keep it briefly.
            lmtpUserCache.store(reply, for: user)
            if let name {
                recipientCache.store(reply, for: name)
            }
            fields["detail"] = detail
            if settings.lmtpRcptCheckQuota && settings.quotaProtocols.contains("lmtp") {
                checkQuota(for: lmtp, request: request, user: user, detail: detail, fields: reply)
                return
            }
            fields["cache"] = "1"  // the answer depends on the userdb only: the lmtp process may keep it
        } else if reply["found"] == "0" {
            fields["status"] = "unknown"
        } else {
            fields["status"] = "tempfail"
            fields["reason"] = reply["reason"] ?? "userdb lookup failed"
        }
        lmtp.channel.send(ControlMessage("rcpt-result", fields))
    }

    private func deliver(for lmtpChild: MasterChild, request: String, message: ControlMessage, spool: Int32) {
        func fail(_ reason: String) {
            lmtpChild.channel.send(ControlMessage("deliver-result", ["request": request, "status": "tempfail", "reason": reason]))
        }
        guard let user = message["user"] else { return fail("no user") }
        // Identity comes from a userdb record the master got itself (the RCPT's, or a fresh
        // lookup): the lmtp process only names the user.
        if let cached = lmtpUserCache.value(for: user) {
            identityKnown(lmtp: lmtpChild, request: request, message: message, spool: spool, reply: cached)
            return
        }
        guard let auth else { return fail("auth process unavailable") }
        let dup = fcntl(spool, F_DUPFD_CLOEXEC, 0)
        guard dup >= 0 else { return fail("out of descriptors") }
        let key = lmtpRequests.add(.init(lmtp: lmtpChild, request: request, sentTo: auth,
                                         stage: .deliveryIdentity(message: message, spool: dup)))
        if !auth.channel.send(ControlMessage("userdb", ["request": key, "user": user])) {
            lmtpRequests.remove(key)
            close(dup)
            fail("auth process unavailable")
        }
    }

    /// Second half of a delivery: identity known, hand the spool to the user's mail process.
    /// The caller keeps (and closes) `spool`.
    private func identityKnown(lmtp: MasterChild, request: String, message: ControlMessage, spool: Int32, reply: [String: String]) {
        func fail(_ reason: String) {
            lmtp.channel.send(ControlMessage("deliver-result", ["request": request, "status": "tempfail", "reason": reason]))
        }
        guard reply["found"] == "1", let user = reply["user"] else { return fail("user lookup failed") }
        guard let mail = mailProcess(for: user, userdbFields: reply, service: "lmtp") else {
            return fail("Temporary internal error")
        }
        linkLMTP(lmtp, to: mail, user: user)
        let key = lmtpRequests.add(.init(lmtp: lmtp, request: request, sentTo: mail, stage: .delivery(user: user)))
        var fields = message.fields
        fields["request"] = key
        if !mail.channel.send(ControlMessage("deliver", fields), fds: [spool]) {
            lmtpRequests.remove(key)
            fail("Temporary internal error")
        }
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
        let failed = ControlMessage("rcpt-result", ["request": request, "status": "tempfail", "reason": "Temporary internal error"])
        guard let mail = mailProcess(for: user, userdbFields: fields, service: "lmtp") else {
            lmtpChild.channel.send(failed)
            return
        }
        let key = lmtpRequests.add(.init(lmtp: lmtpChild, request: request, sentTo: mail, stage: .quotaCheck(user: user)))
        if !mail.channel.send(ControlMessage("quota-check", ["request": key, "user": user, "detail": detail])) {
            lmtpRequests.remove(key)
            lmtpChild.channel.send(failed)
        }
    }

    /// A mail process stored (or failed to store) a delivery, or answered a quota check. Only
    /// the process the request went to can finish it.
    func deliveryStored(by mail: MasterChild, _ reply: ControlMessage) {
        guard let key = reply["request"] else { return }
        guard let entry = lmtpRequests.take(key, answeredBy: mail) else {
            if lmtpRequests.contains(key) {
                logger.error("lmtp: mail process \(mail.pid) (\(mail.user ?? "")) answered a request it was not given; ignored")
            }
            return
        }
        var fields = reply.fields
        fields["request"] = entry.request
        entry.lmtp.channel.send(ControlMessage(entry.stage.answerKind, fields))
    }

    /// `child` (auth or mail) went away: the requests it owed fail temporarily now, so the MTA
    /// gets its 4xx at once instead of after the lmtp process's answer timeout, and retries.
    func failLMTPRequests(sentTo child: MasterChild, reason: String) {
        for entry in lmtpRequests.removeAll(sentTo: child) {
            if case .deliveryIdentity(_, let spool) = entry.stage { close(spool) }
            entry.lmtp.channel.send(ControlMessage(entry.stage.answerKind, ["request": entry.request, "status": "tempfail", "reason": reason]))
        }
    }

    /// The lmtp process went away: nobody waits for its answers.
    func forgetLMTPRequests(askedBy lmtpChild: MasterChild) {
        for entry in lmtpRequests.removeAll(askedBy: lmtpChild) {
            if case .deliveryIdentity(_, let spool) = entry.stage { close(spool) }
        }
        for old in children.values where old.role == .auth { retireAuthIfUnused(old) }
    }
}
