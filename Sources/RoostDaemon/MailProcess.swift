import Dispatch
import Foundation
import Glibc
import IMAPServer
import Logging
import Maildir
import Reactor
import RoostSystem

/// The per-user mail process: every post-login IMAP (later POP3) session of one user, running
/// with that user's uid/gid (dropped and verified before anything else happens).
///
/// Implementation notes:
/// - Connections arrive from the master over the control channel (SCM_RIGHTS), with the tag of
///   the LOGIN/AUTHENTICATE to answer and any bytes the client pipelined behind it.
/// - When the last session ends the process tells the master it is idle and exits when the
///   master agrees; a session that arrives meanwhile keeps it alive.
final class MailProcess: @unchecked Sendable {  // all state guarded by loop.queue
    let settings: DaemonSettings
    let user: String
    let loop = EventLoop(label: "roost.mail")
    /// The user's Maildir root, when mail_location names one.
    let mailRoot: String?
    private let deliveries = WorkerPool(label: "roost.mail.deliver", width: 2)
    private var master: ControlChannel!
    private var sessions: [ObjectIdentifier: AnyObject] = [:]
    private var pop3Active = 0
    private var perIP: [String: Int] = [:]
    private var idleCheck: DispatchWorkItem?
    private var shuttingDown = false
    /// The quota plugin's policy per protocol ("imap", "pop3", "lmtp"), where mail_plugins has it.
    private var quota: [String: QuotaPolicy] = [:]
    /// A userdb quota setting that does not parse: deliveries fail temporarily until fixed.
    private var quotaError: String?
    static let idleExitDelay = 10.0
    /// How long (ms) a session alone in this process waits in poll(2) for its client's next
    /// command before going back to Dispatch: a chatty client (a POP3 download) then costs one
    /// thread wake-up per command instead of three (`Connection.awaitNextInput`).
    static let awaitNextCommand: Int32 = 10
    /// Outside writers' changes to folders that sessions idle in (loop-confined).
    private(set) lazy var watcher = FolderWatcher(loop: loop, logger: Logger(label: "imap(\(user))")) { [unowned self] folder in
        self.folderChanged(folder, by: nil)
    }

    init(settings: DaemonSettings, user: String, home: String, mail: String, userdbFields: [String: String] = [:]) {
        self.settings = settings
        self.user = user
        let logger = Logger(label: "imap(\(user))")
        if !settings.quotaProtocols.isEmpty {
            do {
                if let policy = try QuotaPolicy.make(plugin: settings.plugin, userdb: userdbFields) {
                    for p in settings.quotaProtocols { quota[p] = policy }
                    for skipped in policy.ignored { logger.warning("quota: ignored \(skipped)") }
                }
            } catch {
                quotaError = "\(error)"
                logger.error("quota: \(error)")
            }
        }
        // No mail_location at all: Maildir in the home directory (Dovecot would autodetect).
        let setting = !mail.isEmpty ? mail : !settings.mailLocation.isEmpty ? settings.mailLocation : (home.isEmpty ? "" : "maildir:~/Maildir")
        let location = MailLocation(setting, user: user, home: home)
        mailRoot = location?.format == "maildir" ? location?.path : nil
        if let location {
            do {
                try location.ensureMaildir()
            } catch {
                logger.error("Creating the mail directory failed: \(error)")
            }
        } else if !setting.isEmpty {
            logger.error("mail_location \(setting) cannot be resolved (home=\(home))")
        }
        loop.queue.sync {
            master = ControlChannel(fd: ChildDescriptor.control, queue: loop.queue,
                                    onMessage: { [unowned self] m, fds in self.masterMessage(m, fds) },
                                    onClose: { [unowned self] in self.shutdown() })
            master.start()
            loop.interruptAwaiting(on: ChildDescriptor.control)
        }
    }

    private func masterMessage(_ message: ControlMessage, _ fds: [Int32]) {
        switch message.kind {
        case "connection":
            guard let fd = fds.first else { return }
            fds.dropFirst().forEach { Glibc.close($0) }
            accept(fd: fd, message: message)
        case "deliver":
            guard let fd = fds.first else { return }
            fds.dropFirst().forEach { Glibc.close($0) }
            deliver(message, spool: fd)
        case "lmtp-link":
            guard let fd = fds.first else { return }
            fds.dropFirst().forEach { Glibc.close($0) }
            acceptLMTPLink(fd)
        case "quota-check":
            fds.forEach { Glibc.close($0) }
            checkQuota(message)
        case "exit":
            // Not with a direct link open: the lmtp process may be sending on it.
            if sessions.isEmpty && deliveriesInFlight == 0 && lmtpLinks.isEmpty { exit(0) }
            scheduleIdleCheck()  // busy after all: ask again later
        case "shutdown":
            fds.forEach { Glibc.close($0) }
            shutdown()
        default:
            fds.forEach { Glibc.close($0) }
        }
    }

    private func accept(fd: Int32, message: ControlMessage) {
        idleCheck?.cancel()
        idleCheck = nil
        if message["service"] == "pop3" {
            acceptPOP3(fd: fd, message: message)
            return
        }
        let connection = Connection(fd: fd, loop: loop)
        let ip = message["rip"] ?? ""
        let sessionID = message["session"] ?? SessionID.make()
        let logger = Logger(label: "imap(\(user))<\(getpid())><\(sessionID)>")
        guard let root = mailRoot, let store = try? MaildirStore(root: root, quota: quota["imap"]) else {
            logger.error("mail_location is not a usable Maildir")
            connection.write("\(message["tag"] ?? "*") NO [SERVERBUG] Internal error occurred. Refer to server log for more information.\r\n")
            connection.start()
            connection.close()
            return
        }
        let session = IMAPMailSession(user: user, store: store, mailboxes: settings.imapMailboxes)
        session.changeMonitor = watcher
        session.quotaCommands = settings.imapQuotaCommands
        let handler = MailSessionConnection(process: self, connection: connection, session: session,
                                            logger: logger, ip: ip)
        sessions[ObjectIdentifier(handler)] = handler
        connection.handler = handler
        connection.idleTimeout = settings.imapIdleTimeout
        connection.awaitNextCommand = Self.awaitNextCommand
        connection.start()
        let count = perIP[ip, default: 0] + 1
        perIP[ip] = count
        let limit = settings.mailMaxUserIPConnections
        if limit > 0 && count > limit {
            handler.refuse("* BYE Maximum number of connections from user+IP exceeded (mail_max_userip_connections=\(limit))\r\n")
            return
        }
        handler.start(tag: message["tag"] ?? "*", pending: Data(base64Encoded: message["pending"] ?? "") ?? Data())
    }

    /// POP3: INBOX as of login, one POP3 session per user at a time (the maildrop lock).
    private func acceptPOP3(fd: Int32, message: ControlMessage) {
        let connection = Connection(fd: fd, loop: loop)
        let ip = message["rip"] ?? ""
        let logger = Logger(label: "pop3(\(user))<\(getpid())><\(message["session"] ?? "")>")
        connection.idleTimeout = 10 * 60  // RFC 1939 §3: at least 10 minutes
        connection.awaitNextCommand = Self.awaitNextCommand
        guard let root = mailRoot else {
            connection.write("-ERR [SYS/TEMP] mail_location is not a Maildir.\r\n")
            connection.start()
            connection.close()
            return
        }
        let folder: MaildirFolder
        do {
            let store = try MaildirStore(root: root, quota: quota["pop3"])
            folder = try store.openFolder("INBOX")
            _ = try folder.sync()
        } catch {
            logger.error("Couldn't open INBOX: \(error)")
            connection.write("-ERR [SYS/TEMP] Couldn't open INBOX.\r\n")
            connection.start()
            connection.close()
            return
        }
        let handler = POP3Connection(process: self, connection: connection, folder: folder, logger: logger, ip: ip,
                                     uidlFormat: settings.pop3UIDLFormat, noFlagUpdates: settings.pop3NoFlagUpdates,
                                     deleteByFlag: settings.pop3DeleteType == "flag")
        sessions[ObjectIdentifier(handler)] = handler
        connection.handler = handler
        connection.start()
        perIP[ip, default: 0] += 1
        if pop3Active > 0 && settings.pop3LockSession {
            handler.refuse("-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n")
            return
        }
        let limit = settings.mailMaxUserIPConnections
        if limit > 0 && perIP[ip, default: 0] > limit {
            handler.refuse("-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=\(limit))\r\n")
            return
        }
        pop3Active += 1
        handler.holdsLock = true
        handler.start(pending: Array(Data(base64Encoded: message["pending"] ?? "") ?? Data()))
    }

    func ended(_ handler: POP3Connection) {
        if handler.holdsLock { pop3Active -= 1 }
        forget(handler, ip: handler.ip)
    }

    func ended(_ handler: MailSessionConnection) {
        forget(handler, ip: handler.ip)
    }

    private func forget(_ handler: AnyObject, ip: String) {
        sessions.removeValue(forKey: ObjectIdentifier(handler))
        if let n = perIP[ip] { perIP[ip] = n > 1 ? n - 1 : nil }
        guard sessions.isEmpty else { return }
        if shuttingDown && deliveriesInFlight == 0 { exit(0) }
        scheduleIdleCheck()
    }

    private func scheduleIdleCheck() {
        idleCheck?.cancel()
        let work = DispatchWorkItem { [unowned self] in
            if sessions.isEmpty && deliveriesInFlight == 0 && lmtpLinks.isEmpty {
                master.send(ControlMessage("idle", ["user": user]))
            }
        }
        idleCheck = work
        loop.queue.asyncAfter(deadline: .now() + Self.idleExitDelay, execute: work)
    }

    private var deliveriesInFlight = 0

    /// Direct links from the lmtp process (set up by the master after the first delivery), so
    /// a delivery to this user skips the master's two hops. The lmtp process closes a link it
    /// has not used for a while, and only with nothing in flight on it; this process does not
    /// go idle while it has one, so nothing sent on a link is ever lost to an idle exit.
    private var lmtpLinks: [ObjectIdentifier: ControlChannel] = [:]

    private func acceptLMTPLink(_ fd: Int32) {
        var link: ControlChannel?
        link = ControlChannel(fd: fd, queue: loop.queue, onMessage: { [unowned self] m, fds in
            guard m.kind == "deliver", let spool = fds.first, let link else {
                fds.forEach { Glibc.close($0) }
                return
            }
            fds.dropFirst().forEach { Glibc.close($0) }
            deliver(m, spool: spool, replyTo: link)
        }, onClose: { [unowned self] in
            guard let l = link else { return }
            lmtpLinks.removeValue(forKey: ObjectIdentifier(l))
            loop.stopInterrupting(on: l.fd)
            link = nil
            master.send(ControlMessage("lmtp-link-closed"))
            if sessions.isEmpty && deliveriesInFlight == 0 { scheduleIdleCheck() }
        })
        guard let l = link else { return }
        lmtpLinks[ObjectIdentifier(l)] = l
        loop.interruptAwaiting(on: l.fd)
        l.start()
    }

    /// A session or a delivery changed `folder`: every other IMAP session of this user that has
    /// it selected hears at once (IDLE gets the untagged responses now, others at their next
    /// command). This is how Roost's own deliveries reach IDLE without polling.
    /// The idling sessions share one folder scan (a `FolderScanRound`): the first one scans,
    /// the others take its result over, so a change costs one scan, not one per session.
    func folderChanged(_ folder: String, by origin: AnyObject?) {
        watcher.absorb(folder)
        let round = FolderScanRound()
        for case let s as MailSessionConnection in sessions.values where s !== origin {
            s.mailboxChanged(folder, sharing: round)
        }
    }

    /// Stores an LMTP delivery off the loop (fsync), then reports on `replyTo` (the master, or
    /// the lmtp process's direct link).
    private func deliver(_ message: ControlMessage, spool: Int32, replyTo channel: ControlChannel? = nil) {
        let replyTo = channel ?? master!
        guard let root = mailRoot else {
            Glibc.close(spool)
            replyTo.send(ControlMessage("deliver-result", ["request": message["request"] ?? "", "status": "tempfail",
                                                           "reason": "mail_location is not a Maildir"]))
            return
        }
        if quotaError != nil || (channel != nil && message["user"] != user) {
            Glibc.close(spool)
            replyTo.send(ControlMessage("deliver-result", ["request": message["request"] ?? "", "status": "tempfail",
                                                           "reason": "Temporary internal error"]))
            return
        }
        idleCheck?.cancel()
        deliveriesInFlight += 1
        let (user, saveToDetail, hostname) = (self.user, settings.lmtpSaveToDetailMailbox, settings.hostname)
        let (policy, tempfail) = (quota["lmtp"], settings.quotaFullTempfail)
        deliveries.run({
            var result = MailDelivery.store(spool: spool, request: message, mailRoot: root, user: user,
                                            saveToDetail: saveToDetail, hostname: hostname, quota: policy)
            Glibc.close(spool)
            if result["status"] == "quota" { result["temporary"] = tempfail ? "1" : "0" }
            return result
        }, on: loop) { [self] result in
            deliveriesInFlight -= 1
            var fields = result
            fields["request"] = message["request"] ?? ""
            // The sender's 250 does not wait for the IDLE fan-out (the message is on disk).
            replyTo.send(ControlMessage("deliver-result", fields))
            if result["status"] == "ok" { folderChanged(result["folder"] ?? "INBOX", by: nil) }
            if sessions.isEmpty && deliveriesInFlight == 0 { scheduleIdleCheck() }
        }
    }

    /// lmtp_rcpt_check_quota: is this user over quota already? Answered like a delivery, with
    /// the request's user and detail echoed so the master can finish the RCPT reply.
    private func checkQuota(_ message: ControlMessage) {
        var echo = ["request": message["request"] ?? "", "user": message["user"] ?? user, "detail": message["detail"] ?? ""]
        guard let root = mailRoot, quotaError == nil else {
            echo["status"] = "tempfail"
            echo["reason"] = "Temporary internal error"
            master.send(ControlMessage("deliver-result", echo))
            return
        }
        idleCheck?.cancel()
        deliveriesInFlight += 1
        let (policy, tempfail) = (quota["lmtp"], settings.quotaFullTempfail)
        deliveries.run({ MailDelivery.checkOverQuota(mailRoot: root, quota: policy) }, on: loop) { [self] result in
            deliveriesInFlight -= 1
            var fields = result.merging(echo) { $1 }
            if result["status"] == "quota" { fields["temporary"] = tempfail ? "1" : "0" }
            master.send(ControlMessage("deliver-result", fields))
            if sessions.isEmpty && deliveriesInFlight == 0 { scheduleIdleCheck() }
        }
    }

    private func shutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        loop.stopInterrupting(on: ChildDescriptor.control)  // closed with the channel
        if sessions.isEmpty { exit(0) }
        for s in sessions.values {
            (s as? MailSessionConnection)?.shutdown()
            (s as? POP3Connection)?.shutdown()
        }
        // Peers that do not read their BYE do not hold the process.
        loop.queue.asyncAfter(deadline: .now() + 2) { exit(0) }
    }

    func run() -> Never { dispatchMain() }
}

/// One post-login connection inside the mail process.
final class MailSessionConnection: ConnectionHandler {
    unowned let process: MailProcess
    let connection: Connection
    let session: IMAPMailSession
    let logger: Logger
    let ip: String
    private var reason = "Connection closed"
    private var refused = false
    /// The folder path this session holds a watch on while it idles.
    private var watchedPath: String?
    /// A large message going out from its file (FETCH BODY[] of a big message), and the
    /// output that must follow it; input waits meanwhile.
    private var fileStream: MessageFileStream?
    private var queued: [IMAPMailSession.Action] = []

    init(process: MailProcess, connection: Connection, session: IMAPMailSession, logger: Logger, ip: String) {
        self.process = process
        self.connection = connection
        self.session = session
        self.logger = logger
        self.ip = ip
    }

    func start(tag: String, pending: Data) {
        apply(session.loginCompleted(tag: tag))
        if !pending.isEmpty { apply(session.receive(Array(pending))) }
    }

    func refuse(_ text: String) {
        refused = true
        reason = "Maximum number of connections from user+IP exceeded"
        connection.write(text)
        connection.close()
    }

    func shutdown() { apply(session.shutdown()) }

    func mailboxChanged(_ folder: String, sharing round: FolderScanRound) {
        guard session.selectedFolder == folder else { return }
        apply(session.mailboxChanged(folder, sharing: round))
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        apply(session.receive(bytes))
    }

    /// Autologout after imap_idle... 30 minutes of silence (RFC 3501 §5.4), except in IDLE:
    /// there the client is waiting for us, and a "* OK Still here" every
    /// imap_idle_notify_interval keeps NAT boxes and the timer happy (as Dovecot does).
    func connectionDidTimeOut(_ connection: Connection) {
        if session.isIdling {
            connection.write(Array("* OK Still here\r\n".utf8))
            return
        }
        apply(session.autoLogout())
    }

    func connectionDidClose(_ connection: Connection, reason closeReason: Connection.CloseReason) {
        if let path = watchedPath { process.watcher.release(path: path) }
        watchedPath = nil
        dropStreams()
        session.connectionClosed()
        if closeReason == .peerClosed && reason == "Connection closed" { reason = "Connection closed" }
        logger.info("Disconnected: \(reason) in=\(connection.bytesIn) out=\(connection.bytesOut)")
        process.ended(self)
    }

    /// Outside changes reach IDLE through the process's folder watcher: hold a watch on the
    /// selected folder while idling. A watch that did not exist yet missed whatever happened
    /// since IDLE's own sync, so the folder is checked once more.
    private func updateWatch() {
        let wanted = session.isIdling && !connection.isClosed ? session.selectedFolderPath : nil
        guard wanted != watchedPath else { return }
        if let old = watchedPath { process.watcher.release(path: old) }
        watchedPath = wanted
        if let wanted, let name = session.selectedFolder, process.watcher.retain(name: name, path: wanted) {
            apply(session.mailboxChanged(name))
        }
    }

    private func apply(_ actions: [IMAPMailSession.Action]) {
        defer {
            connection.idleTimeout = session.isIdling ? process.settings.imapIdleNotifyInterval : process.settings.imapIdleTimeout
            // A client in IDLE sends nothing until DONE: waiting for it would only hold back
            // the inotify events of outside deliveries.
            connection.awaitNextCommand = session.isIdling ? 0 : MailProcess.awaitNextCommand
            updateWatch()
        }
        for action in actions {
            // Behind a streaming file, output waits; telling other sessions need not.
            if fileStream != nil {
                if case .folderChanged = action { perform(action) } else { queued.append(action) }
                continue
            }
            perform(action)
        }
    }

    private func perform(_ action: IMAPMailSession.Action) {
        switch action {
        case .send(let bytes): connection.write(bytes)
        case .folderChanged(let folder):
            process.folderChanged(folder, by: self)
        case .close(let why):
            reason = why
            connection.close()
        case .sendFile(let literal):
            fileStream = MessageFileStream(literal)
            connection.pauseReading()
            pump()
        }
    }

    func connectionDidDrain(_ connection: Connection) { pump() }

    /// Writes the file being streamed until the output buffer is full (resumed by
    /// `connectionDidDrain`), then what was queued behind it.
    private func pump() {
        while let stream = fileStream {
            if connection.isClosed { return dropStreams() }
            if connection.pendingOutput >= connection.outputHighWater { return }
            if let chunk = stream.next() {
                connection.write(chunk)
                continue
            }
            stream.close()
            fileStream = nil
            while fileStream == nil, !queued.isEmpty { perform(queued.removeFirst()) }
            if fileStream == nil { connection.resumeReading() }
        }
    }

    private func dropStreams() {
        fileStream?.close()
        fileStream = nil
        for case .sendFile(let literal) in queued { MessageFileStream(literal).close() }
        queued = []
    }
}
