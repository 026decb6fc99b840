import Dispatch
import Glibc
import Logging
import Maildir
import POP3Server
import Reactor

/// One POP3 session inside the user's mail process: INBOX as of login, messages streamed from
/// their files with back-pressure (a 50 MB RETR never sits in memory), deletions at QUIT.
final class POP3Connection: ConnectionHandler {
    unowned let process: MailProcess
    let connection: Connection
    let logger: Logger
    let ip: String
    private let folder: MaildirFolder
    let session: POP3MailSession
    private var streaming: (fd: Int32, offset: off_t, stuffer: POP3Stuffer)?
    private var reason = "Connection closed"
    private var committed = false
    /// This session holds the user's POP3 lock.
    var holdsLock = false

    /// pop3_delete_type = flag: DELE sets \Deleted instead of expunging.
    let deleteByFlag: Bool

    init(process: MailProcess, connection: Connection, folder: MaildirFolder, logger: Logger, ip: String,
         uidlFormat: String, noFlagUpdates: Bool, deleteByFlag: Bool) {
        self.deleteByFlag = deleteByFlag
        self.process = process
        self.connection = connection
        self.folder = folder
        self.logger = logger
        self.ip = ip
        let list = folder.messages.map { POP3MailSession.Message(uid: $0.uid, size: Int($0.virtualSize)) }
        session = POP3MailSession(messages: list, uidValidity: folder.uidValidity, uidlFormat: uidlFormat,
                                  noFlagUpdates: noFlagUpdates)
    }

    func start(pending: [UInt8]) {
        apply(session.loggedIn())
        if !pending.isEmpty { apply(session.receive(pending)) }
    }

    func shutdown() { apply(session.shutdown()) }

    func refuse(_ text: String) {
        reason = "Mailbox in use"
        connection.write(text)
        connection.close()
    }

    func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
        apply(session.receive(bytes))
    }

    func connectionDidDrain(_ connection: Connection) {
        continueStreaming()
    }

    func connectionDidTimeOut(_ connection: Connection) {
        apply(session.autoLogout())
    }

    func connectionDidClose(_ connection: Connection, reason closeReason: Connection.CloseReason) {
        if let s = streaming { close(s.fd) }
        streaming = nil
        let st = session.stats
        // A dropped connection deletes nothing (RFC 1939 §6): only QUIT commits.
        logger.info("Disconnected: \(reason) top=\(st.topCount)/\(st.topBytes), retr=\(st.retrCount)/\(st.retrBytes), del=\(committed ? st.deletedCount : 0)/\(session.messages.count), size=\(session.messages.reduce(0) { $0 + $1.size })")
        folder.close()
        process.ended(self)
    }

    private func apply(_ actions: [POP3MailSession.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                connection.write(bytes)
            case .close(let why):
                reason = why
                connection.close()
            case .sendMessage(let index, let lines):
                startStreaming(uid: session.messages[index].uid, bodyLines: lines)
                return  // the session is busy until messageSent()
            case .commit(let deleted, let seen):
                commit(deleted: deleted, seen: seen)
            }
        }
    }

    private func startStreaming(uid: UInt32, bodyLines: Int?) {
        do {
            let fd = try folder.openMessage(uid: uid)
            streaming = (fd, 0, POP3Stuffer(bodyLines: bodyLines))
            continueStreaming()
        } catch {
            logger.error("RETR of UID \(uid) failed: \(error)")
            // The +OK is out; end the message so the client is not left hanging, then close.
            connection.write(Array(".\r\n".utf8))
            reason = "Message vanished"
            connection.close()
        }
    }

    /// Read buffer reused for every message of the session (no 64 KB allocation per RETR).
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)

    /// Writes chunks until the output buffer is full; resumes on drain.
    private func continueStreaming() {
        guard var s = streaming else { return }
        while connection.pendingOutput < connection.outputHighWater {
            let n = chunk.withUnsafeMutableBytes { pread(s.fd, $0.baseAddress, $0.count, s.offset) }
            if n > 0 && !s.stuffer.done {
                connection.write(chunk.withUnsafeBufferPointer { s.stuffer.feed($0[0..<n]) })
                s.offset += off_t(n)
                // A short read of a regular file is its end: no second read to learn that.
                if n == chunk.count { continue }
            }
            connection.write(s.stuffer.finish())
            close(s.fd)
            streaming = nil
            apply(session.messageSent())
            return
        }
        streaming = s
    }

    private func commit(deleted: [UInt32], seen: [UInt32]) {
        do {
            if !seen.isEmpty { try folder.setFlags(uids: seen, flags: .seen, mode: .add) }
            if !deleted.isEmpty {
                if deleteByFlag {
                    try folder.setFlags(uids: deleted, flags: .deleted, mode: .add)
                } else {
                    _ = try folder.expunge(uids: deleted)
                }
            }
            committed = true
            if !seen.isEmpty || !deleted.isEmpty { process.folderChanged("INBOX", by: nil) }
            apply(session.updateFinished(ok: true))
        } catch {
            logger.error("POP3 QUIT: updating INBOX failed: \(error)")
            apply(session.updateFinished(ok: false))
        }
    }
}
