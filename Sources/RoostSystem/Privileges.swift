#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// A passwd entry (system user).
public struct SystemUser: Sendable, Equatable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t
    public let home: String
    public let shell: String
    public let gecos: String

    public static func lookup(name: String) -> SystemUser? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &pw, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return SystemUser(pw)
    }

    public static func lookup(uid: uid_t) -> SystemUser? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pw, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return SystemUser(pw)
    }

    private init(_ pw: passwd) {
        name = String(cString: pw.pw_name)
        uid = pw.pw_uid
        gid = pw.pw_gid
        home = pw.pw_dir.map { String(cString: $0) } ?? "/"
        shell = pw.pw_shell.map { String(cString: $0) } ?? ""
        gecos = pw.pw_gecos.map { String(cString: $0) } ?? ""
    }

    public static func groupID(named name: String) -> gid_t? {
        if let n = gid_t(name) { return n }
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &gr, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return gr.gr_gid
    }
}

/// Dropping root for good: supplementary groups, gid, uid — in that order — then proof that
/// root cannot be regained, then no_new_privs so no setuid binary can hand it back.
public enum Privileges {
    public static var isRoot: Bool { geteuid() == 0 }

    public static func drop(to uid: uid_t, gid: gid_t, userName: String?) throws {
        guard geteuid() == 0 else {
            // Dev mode: nothing to drop, but a non-root process must not claim another identity.
            if uid != geteuid() {
                throw SystemCallError("setuid", errno: EPERM, context: "not root, cannot become uid \(uid)")
            }
            return
        }
        if let userName {
            guard initgroups(userName, gid) == 0 else { throw SystemCallError("initgroups", context: userName) }
        } else {
            var g = gid
            guard setgroups(1, &g) == 0 else { throw SystemCallError("setgroups") }
        }
        guard roost_setresgid(gid, gid, gid) == 0 else { throw SystemCallError("setresgid", context: "\(gid)") }
        guard roost_setresuid(uid, uid, uid) == 0 else { throw SystemCallError("setresuid", context: "\(uid)") }
        if uid != 0 {
            guard setuid(0) != 0, geteuid() == uid, getegid() == gid else {
                throw SystemCallError("setuid", errno: EPERM, context: "privileges could be regained")
            }
        }
        guard roost_set_no_new_privs() == 0 else { throw SystemCallError("prctl(NO_NEW_PRIVS)") }
    }

    /// The child dies with its parent (master) even if the master is SIGKILLed.
    public static func dieWithParent() {
        _ = roost_set_pdeathsig(SIGTERM)
    }
}
