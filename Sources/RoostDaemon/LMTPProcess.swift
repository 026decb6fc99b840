import Dispatch
import Foundation
import CSystem
import Glibc
import Logging
import Reactor
import RoostSystem
import SMTPProtocol
import TLS

/// The LMTP process: speaks LMTP to the MTA, spools each message to an unlinked temp file,
/// and asks the master to have each recipient's mail process (running as that user) store
/// it. It runs as default_internal_user: LMTP input is never authenticated, so it is never
/// parsed as root, and this process never touches a Maildir itself.
///
/// Implementation notes:
/// - Recipients are checked against the userdb through the master (auth process).
/// - The 250 for a recipient is sent only after its mail process fsynced file and directory.
/// - Roost's own deliveries reach the user's mail process directly, which tells its IMAP
///   sessions at once (no polling, no inotify for our own mail).
/// - STARTTLS (RFC 3207) is offered when ssl != no: the master read the certificate and key
///   as root and handed the PEM texts over in the settings, as it does for login processes.
///   Bytes pipelined behind STARTTLS are discarded, never executed (§4.2 / CVE-2011-0411).
final class LMTPProcess: @unchecked Sendable {  // all state guarded by loop.queue
    let settings: DaemonSettings
    let loop = EventLoop(label: "roost.lmtp")
    let logger = Logger(label: "lmtp")
    private var master: ControlChannel!
    private var listeners: [Listener] = []
    private var sessions: [ObjectIdentifier: LMTPConnection] = [:]
    /// Requests waiting for their answer: who asked, what to do with it, and since when
    /// (kind and user for the log line if it never comes).
    private var pending: [String: (LMTPConnection, ([String: String]) -> Void, asked: Asked)] = [:]
    /// Recipients the master accepted a moment ago and marked cacheable (no quota check at
    /// RCPT): a burst to one mailbox asks the master once per 5 s, as
    /// the master asks the auth process (MasterLMTP.swift).
    var recentRecipients = ExpiringCache<[String: String]>(lifetime: 5)
    private struct Asked {
        let at = DispatchTime.now().uptimeNanoseconds
        let kind: String
        let user: String
        /// answerTimeout, plus a second per MB for a delivery: a big message may take its time.
        let timeout: Double
    }
    private var nextRequest = 1
    private var stopping = false
    /// Direct sockets to users' mail processes (the master hands one over after a user's first
    /// delivery); deliveries go there instead of through the master.
    private var links: [String: MailLink] = [:]
    private final class MailLink {
        let channel: ControlChannel
        var inFlight: Set<String> = []
        var lastUsed = DispatchTime.now().uptimeNanoseconds
        init(_ channel: ControlChannel) { self.channel = channel }
    }
    /// A link unused this long (and with nothing in flight) is closed, so the mail process can
    /// exit when idle.
    static let linkIdleSeconds = 5.0
    /// The server certificate for STARTTLS; nil when ssl = no.
    let tlsContext: ServerTLSContext?

    init(settings: DaemonSettings, listenerFDs: [Int32]) {
        self.settings = settings
        do {
            tlsContext = try LoginTLS.makeContext(settings)
        } catch {
            tlsContext = nil
            logger.error("TLS disabled: \(error)")
        }
        loop.queue.sync {
            master = ControlChannel(fd: ChildDescriptor.control, queue: loop.queue,
                                    onMessage: { [unowned self] m, fds in self.masterMessage(m, fds) },
                                    onClose: { exit(0) })
            master.start()
        }
        let group = EventLoopGroup(count: 1, label: "roost.lmtp.accept")
        for (i, fd) in listenerFDs.enumerated() {
            let listener = Listener(fd: fd, name: "lmtp-\(i)", group: group, limiter: nil) { [unowned self] client, peer, _ in
                self.loop.execute { self.accept(client, peer: peer) }
            }
            listeners.append(listener)
            listener.start()
        }
    }

    func run() -> Never { dispatchMain() }

    private func accept(_ fd: Int32, peer: SocketAddress?) {
        let connection = Connection(fd: fd, loop: loop, peer: peer)
        let handler = LMTPConnection(process: self, connection: connection)
        sessions[ObjectIdentifier(handler)] = handler
        connection.handler = handler
        connection.idleTimeout = 300
        connection.start()
        handler.begin()
    }

    func forget(_ c: LMTPConnection) {
        sessions.removeValue(forKey: ObjectIdentifier(c))
        if stopping && sessions.isEmpty { exit(0) }
    }

    /// Sends a request to the master; `reply` gets the answer's fields (on the loop).
    func request(_ kind: String, _ fields: [String: String], fds: [Int32] = [], from c: LMTPConnection,
                 reply: @escaping ([String: String]) -> Void) {
        let id = String(nextRequest)
        nextRequest += 1
        var f = fields
        f["request"] = id
        let timeout = Self.answerTimeout + (Double(fields["size"] ?? "") ?? 0) / 1_000_000
        pending[id] = (c, reply, Asked(kind: kind, user: fields["user"] ?? fields["address"] ?? "", timeout: timeout))
        scheduleAnswerSweep()
        if kind == "deliver", let user = fields["user"], let link = links[user],
           link.channel.send(ControlMessage(kind, f), fds: fds) {
            link.inFlight.insert(id)
            link.lastUsed = DispatchTime.now().uptimeNanoseconds
            return
        }
        if !master.send(ControlMessage(kind, f), fds: fds) {
            pending.removeValue(forKey: id)
            reply(["status": "tempfail", "reason": "internal error"])
        }
    }

    private func masterMessage(_ message: ControlMessage, _ fds: [Int32]) {
        if message.kind == "mail-link", let fd = fds.first, let user = message["user"] {
            fds.dropFirst().forEach { Glibc.close($0) }
            addLink(fd: fd, user: user)
            return
        }
        fds.forEach { Glibc.close($0) }
        switch message.kind {
        case "rcpt-result", "deliver-result":
            guard let id = message["request"], let (_, reply, _) = pending.removeValue(forKey: id) else { return }
            reply(message.fields)
        case "shutdown", "stop-accepting":
            stopping = true
            listeners.forEach { $0.stop() }
            listeners = []
            if message.kind == "stop-accepting" { master.send(ControlMessage("stopped-accepting")) }
            if message.kind == "shutdown" { for s in sessions.values { s.shutdown() } }
            if sessions.isEmpty { exit(0) }
        default:
            break
        }
    }

    /// A request that gets no answer within this time (plus a second per MB for a delivery)
    /// fails temporarily and is logged, so an LMTP session never hangs on a lost reply. The MTA
    /// retries; a delivery that was stored after all then arrives twice, which beats a hang.
    static let answerTimeout = 20.0

    private var sweeping = false

    private func scheduleAnswerSweep() {
        guard !sweeping else { return }
        sweeping = true
        loop.schedule(after: 5) { [weak self] in self?.sweepUnanswered() }
    }

    private func sweepUnanswered() {
        let now = DispatchTime.now().uptimeNanoseconds
        for (id, p) in pending where Double(now - p.asked.at) / 1e9 > p.asked.timeout {
            pending.removeValue(forKey: id)
            logger.error("No answer to \(p.asked.kind) for <\(p.asked.user)> within \(Int(p.asked.timeout)) s; failing it temporarily")
            for link in links.values { link.inFlight.remove(id) }
            p.1(["status": "tempfail", "reason": "Temporary internal error (no answer)"])
        }
        sweeping = !pending.isEmpty
        if sweeping { loop.schedule(after: 5) { [weak self] in self?.sweepUnanswered() } }
    }

    private func addLink(fd: Int32, user: String) {
        guard fd >= 0 else { return }
        guard links[user] == nil else {
            Glibc.close(fd)
            return
        }
        weak var link: MailLink?
        let channel = ControlChannel(fd: fd, queue: loop.queue, onMessage: { [unowned self] m, fds in
            fds.forEach { Glibc.close($0) }
            // Only an answer to a request sent on this very link: a mail process cannot finish
            // another user's delivery (or a request of a link since replaced) by naming its id.
            guard m.kind == "deliver-result", let id = m["request"], link?.inFlight.remove(id) != nil else { return }
            if let (_, reply, _) = pending.removeValue(forKey: id) { reply(m.fields) }
        }, onClose: { [unowned self] in linkClosed(user: user, fd: fd) })
        let added = MailLink(channel)
        link = added
        links[user] = added
        channel.start()
        if links.count == 1 { scheduleLinkSweep() }
    }

    /// The mail process went away (crash, kill, shutdown): what it had not answered fails
    /// temporarily, exactly as through the master; the MTA retries it.
    private func linkClosed(user: String, fd: Int32) {
        guard let link = links[user], link.channel.fd == fd else { return }
        links.removeValue(forKey: user)
        for id in link.inFlight {
            if let (_, reply, _) = pending.removeValue(forKey: id) {
                reply(["status": "tempfail", "reason": "Temporary internal error (mail process ended)"])
            }
        }
    }

    private func scheduleLinkSweep() {
        loop.schedule(after: 1.0) { [unowned self] in
            let now = DispatchTime.now().uptimeNanoseconds
            for (user, link) in links where link.inFlight.isEmpty &&
                Double(now - link.lastUsed) / 1e9 > Self.linkIdleSeconds {
                links.removeValue(forKey: user)
                link.channel.cancel()
            }
            if !links.isEmpty { scheduleLinkSweep() }
        }
    }

    /// Messages up to this size are spooled in memory (memfd); larger ones move to disk.
    /// Creating a file costs a journal transaction, which right after the previous
    /// delivery's fsync can wait for the commit: a memfd costs nothing of the sort.
    static let memorySpoolLimit = 1 << 20

    /// A spool for one message: a memfd, or the disk file when memfd is unavailable.
    func makeMemorySpool() -> Int32? {
        let fd = roost_memfd("lmtp-spool")
        return fd >= 0 ? fd : makeSpoolFile()
    }

    /// An unlinked spool file for one message (O_TMPFILE; mkstemp+unlink where unsupported).
    func makeSpoolFile() -> Int32? {
        let dir = settings.spoolDir.isEmpty ? "/tmp" : settings.spoolDir
        let fd = roost_open_tmpfile(dir)
        return fd >= 0 ? fd : nil
    }
}

/// One LMTP client connection.
final class LMTPConnection: ConnectionHandler {
    unowned let process: LMTPProcess
    let connection: Connection
    let session: LMTPSession
    let sessionID = SessionID.make()
    private var spool: Int32 = -1
    private var spoolInMemory = false
    private var spoolSize = 0
    private var spoolFailed = false
    private var recipientDetails: [String: [String: String]] = [:]
    private var tls: TLSSession?
    private var tlsReady = false

    init(process: LMTPProcess, connection: Connection) {
        self.process = process
        self.connection = connection
        session = LMTPSession(settings: .init(hostname: process.settings.hostname,
                                              maxMessageSize: process.settings.lmtpMaxMessageSize,
                                              startTLSAvailable: process.tlsContext != nil))
    }

    func begin() { apply(session.greeting()) }

    func shutdown() { apply(session.shutdownMessage()) }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        guard let tls else {
            apply(session.receive(bytes))
            return
        }
        let result = tls.receive(bytes)
        if !result.output.isEmpty { connection.write(result.output) }
        switch result.event {
        case .handshakeCompleted?:
            tlsReady = true
            connection.idleTimeout = 300
            session.tlsStarted()  // RFC 3207 §4.2: forget everything; the client says LHLO again
        case .failed(let reason)?:
            process.logger.info("TLS handshake failed: \(reason) (rip=\(connection.peer?.host ?? ""))")
            connection.abort()
            return
        case .closed?:
            connection.close()
            return
        case nil:
            break
        }
        if !result.plaintext.isEmpty { apply(session.receive(result.plaintext)) }
    }

    /// Writes to the client, encrypting once TLS is up.
    private func send(_ bytes: [UInt8]) {
        if let tls, tlsReady {
            connection.write(tls.send(bytes))
        } else {
            connection.write(bytes)
        }
    }

    func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {
        if spool >= 0 { Glibc.close(spool) }
        spool = -1
        process.forget(self)
    }

    private func apply(_ actions: [LMTPSession.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                send(bytes)
            case .close:
                if let tls, tlsReady { connection.write(tls.shutdown()) }
                connection.close()
            case .startTLS:
                // The 220 went out in plaintext just before; from here on only TLS records.
                guard let context = process.tlsContext, let fresh = try? TLSSession(context: context) else {
                    connection.close()
                    return
                }
                tls = fresh
                connection.idleTimeout = process.settings.handshakeTimeout
            case .checkRecipient(let address):
                checkRecipient(address)
            case .dataChunk(let bytes):
                appendToSpool(bytes)
            case .discardData:
                resetSpool()
            case .deliver(let sender, let recipients):
                deliver(sender: sender, recipients: recipients)
            }
        }
    }

    private func checkRecipient(_ address: String) {
        if let recent = process.recentRecipients.value(for: address) {
            recipientDetails[address] = recent
            apply(session.recipientChecked(.ok))
            return
        }
        connection.pauseReading()
        process.request("rcpt", ["address": address], from: self) { [weak self] reply in
            guard let self else { return }
            let status: LMTPSession.RecipientStatus
            switch reply["status"] {
            case "ok":
                status = .ok
                recipientDetails[address] = reply
                if reply["cache"] == "1" {
                    process.recentRecipients.store(reply, for: address)
                }
            case "unknown": status = .unknownUser
            case "quota":
                status = .overQuota(temporary: reply["temporary"] == "1", message: reply["reason"] ?? QuotaText.exceeded)
            default:
                // Dovecot's lmtp logs the cause; the client only hears "Temporary internal error".
                process.logger.error("Failed to lookup user \(address): \(reply["reason"] ?? "userdb lookup failed")")
                status = .temporaryFailure
            }
            connection.resumeReading()
            apply(session.recipientChecked(status))
        }
    }

    private func appendToSpool(_ bytes: [UInt8]) {
        if spool < 0 && !spoolFailed {
            guard let fd = process.makeMemorySpool() else {
                spoolFailed = true
                process.logger.error("Cannot create a spool file in \(process.settings.spoolDir): \(String(cString: strerror(errno)))")
                return
            }
            spool = fd
            spoolInMemory = true
            spoolSize = 0
        }
        guard spool >= 0 else { return }
        if spoolInMemory && spoolSize + bytes.count > LMTPProcess.memorySpoolLimit { moveSpoolToDisk() }
        // Spool writes are small sequential appends to page cache; the fsync that matters
        // happens in the mail process, on the Maildir file, before the 250.
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(spool, $0.baseAddress! + offset, bytes.count - offset) }
            if n <= 0 { spoolFailed = true; return }
            offset += n
        }
        spoolSize += bytes.count
    }

    /// A big message: copy what the memfd holds to a disk spool file and go on there, so
    /// memory stays bounded whatever the message size.
    private func moveSpoolToDisk() {
        spoolInMemory = false
        guard let disk = process.makeSpoolFile() else {
            spoolFailed = true
            process.logger.error("Cannot create a spool file in \(process.settings.spoolDir): \(String(cString: strerror(errno)))")
            return
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(spool, $0.baseAddress, $0.count, offset) }
            if n < 0 { spoolFailed = true; break }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = chunk.withUnsafeBytes { write(disk, $0.baseAddress! + done, n - done) }
                if w <= 0 { spoolFailed = true; break }
                done += w
            }
            offset += off_t(n)
        }
        Glibc.close(spool)
        spool = disk
    }

    private func resetSpool() {
        if spool >= 0 { Glibc.close(spool) }
        spool = -1
        spoolSize = 0
    }

    private func deliver(sender: String, recipients: [String]) {
        if spool < 0 && !spoolFailed, let fd = process.makeMemorySpool() { spool = fd }  // empty message
        guard spool >= 0, !spoolFailed else {
            resetSpool()
            spoolFailed = false
            apply(session.deliveryFinished(recipients.map { _ in .temporaryFailure("Temporary internal error (spool)") }))
            return
        }
        connection.pauseReading()
        let fd = spool
        spool = -1
        var results = [LMTPSession.DeliveryStatus?](repeating: nil, count: recipients.count)
        var remaining = recipients.count
        let peer = connection.peer
        let sid = sessionID
        for (i, rcpt) in recipients.enumerated() {
            let details = recipientDetails[rcpt] ?? [:]
            let fields: [String: String] = [
                "user": details["user"] ?? rcpt, "rcpt": rcpt, "sender": sender, "detail": details["detail"] ?? "",
                "session": sessionID, "size": String(spoolSize),
                // Delivered-To only for single-recipient transactions (Dovecot's rule: Bcc stays hidden).
                "delivered-to": recipients.count == 1 ? rcpt : "",
                "rip": peer?.host ?? "", "lhlo": "",
            ]
            process.request("deliver", fields, fds: [fd], from: self) { [weak self] reply in
                // Counted and the spool closed even when the client has gone meanwhile.
                remaining -= 1
                if remaining == 0 { Glibc.close(fd) }
                switch reply["status"] {
                case "ok": results[i] = .delivered("\(sid) Saved")
                case "quota":
                    results[i] = .overQuota(temporary: reply["temporary"] == "1", message: reply["reason"] ?? QuotaText.exceeded)
                case "permfail": results[i] = .permanentFailure(reply["reason"] ?? "Delivery failed")
                default: results[i] = .temporaryFailure(reply["reason"] ?? "Temporary internal error")
                }
                guard let self else { return }
                if remaining == 0 {
                    recipientDetails = [:]
                    connection.resumeReading()
                    apply(session.deliveryFinished(results.map { $0 ?? .temporaryFailure("internal error") }))
                }
            }
        }
    }
}

/// quota_exceeded_message's default (Dovecot's), for a reply that lost its text.
enum QuotaText {
    static let exceeded = "Quota exceeded (mailbox for user is full)"
}
