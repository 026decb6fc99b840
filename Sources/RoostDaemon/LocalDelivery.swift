import Auth
import Config
import CSystem
import Foundation
import Glibc
import Maildir
import RoostLog
import RoostSystem

/// `roost deliver` (Dovecot's dovecot-lda): one message from stdin into a user's Maildir, for
/// an MTA's `mailbox_command`. Runs as the recipient (or as root, dropping to the recipient
/// before touching any file). Exit codes follow sysexits.h as MTAs expect.
///
/// Over quota (mail_plugins has `quota`): exit 77 (EX_NOPERM) with quota_exceeded_message on
/// stderr, so the MTA bounces the mail with that text — dovecot-lda -e behaves so; without -e
/// dovecot-lda would send the rejection mail itself, which Roost leaves to the MTA. With
/// quota_full_tempfail = yes: exit 75 (EX_TEMPFAIL) and the MTA keeps the mail queued.
public enum LocalDelivery {
    public static let ok: Int32 = 0
    public static let noUser: Int32 = 67      // EX_NOUSER
    public static let tempFail: Int32 = 75    // EX_TEMPFAIL
    public static let noPermission: Int32 = 77  // EX_NOPERM

    public struct Options: Sendable {
        public var configPath: String
        public var user: String?
        public var folder: String?
        public var sender: String?
        public var address: String?
        public var rejectToStderr: Bool

        public init(configPath: String, user: String?, folder: String?, sender: String?, address: String?,
                    rejectToStderr: Bool) {
            self.configPath = configPath
            self.user = user
            self.folder = folder
            self.sender = sender
            self.address = address
            self.rejectToStderr = rejectToStderr
        }
    }

    /// Returns the process exit code; the reason goes to stderr.
    public static func run(_ o: Options) -> Int32 {
        func fail(_ code: Int32, _ why: String) -> Int32 {
            Files.writeAll(fd: 2, Array("roost deliver: \(why)\n".utf8))
            return code
        }
        let loaded: LoadedConfig
        do { loaded = try ConfigLoader.load(path: o.configPath) } catch { return fail(tempFail, "\(error)") }
        RoostLogging.bootstrap(LogSetup(errors: .descriptor(2), info: .descriptor(2)))
        let config = loaded.config.effective(forProtocol: "lda")
        let invoking = SystemUser.lookup(uid: geteuid())
        guard let name = o.user ?? invoking?.name else { return fail(noUser, "no user given (-d) and no name for uid \(geteuid())") }
        let databases: AuthDatabases
        do {
            databases = try AuthDatabases(passdbs: [], userdbs: config.userdbs.map { ($0.driver, $0.args) })
        } catch { return fail(tempFail, "\(error)") }
        let lookupName = UsernameFormat.expand(config.authUsernameFormat, user: name)
        let record: AuthUser
        switch databases.findUser(lookupName) {
        case .found(let user): record = user
        case .unknown: return fail(noUser, "User \(name) doesn't exist")
        case .internalFailure(let reason): return fail(tempFail, "userdb lookup for \(name) failed: \(reason)")
        }
        // Whose files these are: the userdb's uid, or (virtual users) mail_uid; else whoever runs us.
        let uidText = record.uid.flatMap { $0.isEmpty ? nil : $0 } ?? (config.mailUID.isEmpty ? nil : config.mailUID)
        var uid = geteuid(), gid = getegid()
        if let uidText {
            guard let u = uid_t(uidText) ?? SystemUser.lookup(name: uidText)?.uid else { return fail(tempFail, "unknown uid \(uidText)") }
            uid = u
            let gidText = record.gid.flatMap { $0.isEmpty ? nil : $0 } ?? (config.mailGID.isEmpty ? nil : config.mailGID)
            gid = gidText.flatMap { SystemUser.groupID(named: $0) } ?? SystemUser.lookup(uid: u)?.gid ?? getegid()
        }
        if geteuid() == 0 {
            guard uid != 0 else { return fail(noPermission, "refusing to deliver as root (user \(name) has uid 0)") }
            do { try Privileges.drop(to: uid, gid: gid, userName: SystemUser.lookup(uid: uid)?.name) } catch {
                return fail(tempFail, "dropping privileges failed: \(error)")
            }
        } else if uid != geteuid() {
            return fail(noPermission, "must run as the recipient \(name) (uid \(uid)) or root, not uid \(geteuid())")
        }
        // As the mail process does: no mail_location at all means Maildir in the home directory.
        let mail = record.mail ?? (config.mailLocation.isEmpty ? "maildir:~/Maildir" : config.mailLocation)
        guard let location = MailLocation(mail, user: record.username, home: record.home ?? ""), location.format == "maildir" else {
            return fail(tempFail, "mail_location '\(mail)' is not a Maildir this user can use")
        }
        var quota: QuotaPolicy?
        if config.mailPlugins.contains("quota") {
            do { quota = try QuotaPolicy.make(plugin: config.plugin, userdb: record.extraFields) } catch {
                return fail(tempFail, "quota: \(error)")
            }
        }
        let spool = roost_open_tmpfile("/tmp")
        guard spool >= 0 else { return fail(tempFail, "cannot create a temporary file") }
        defer { close(spool) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(0, &buffer, buffer.count)
            if n < 0 { return fail(tempFail, "reading stdin failed") }
            if n == 0 { break }
            Files.writeAll(fd: spool, Array(buffer[0..<n]))
        }
        var fields = ["sender": o.sender ?? "MAILER-DAEMON", "delivered-to": o.address ?? record.username,
                      "session": SessionID.make(), "detail": o.folder ?? ""]
        fields["rip"] = ""
        let result = MailDelivery.store(spool: spool, request: ControlMessage("deliver", fields), mailRoot: location.path,
                                        user: record.username, saveToDetail: o.folder != nil,
                                        hostname: SettingsBuilder.systemHostname(), createFolder: true, service: "lda",
                                        quota: quota)
        if result["status"] == "quota" {
            let text = result["reason"] ?? QuotaPolicy.defaultExceededMessage
            Files.writeAll(fd: 2, Array("\(text)\n".utf8))
            return config.quotaFullTempfail ? tempFail : noPermission
        }
        return result["status"] == "ok" ? ok : fail(tempFail, result["reason"] ?? "delivery failed")
    }
}
