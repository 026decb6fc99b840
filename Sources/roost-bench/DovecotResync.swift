import Foundation
import Glibc

/// Dovecot's side of `roost-bench store`: `doveadm force-resync` of the same folder with a
/// fresh index directory (Dovecot's cold rebuild), timed as a whole process like Roost's cold
/// open is timed as a whole open. Needs no running Dovecot: doveadm without -u takes the user
/// from USER and settings from -o. Dovecot refuses to run mail access as root, so when this
/// runs as root the folder is handed to `nobody` first. Returns nil (and says why) when
/// doveadm is missing or fails: the comparison is optional.
enum DovecotResync {
    static func medianMilliseconds(maildir: String, runs: Int = 3) -> (Double?, String) {
        let candidates = ["/usr/bin/doveadm", "/usr/local/bin/doveadm"]
        guard let doveadm = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return (nil, "doveadm not installed")
        }
        let work = NSTemporaryDirectory() + "roost-bench-dovecot-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let conf = work + "/dovecot.conf"
        let settings = "base_dir = \(work)/run\nstate_dir = \(work)/state\nlog_path = \(work)/log\n" +
            "instance_name = roost-bench\nprotocols =\nssl = no\n"
        guard FileManager.default.createFile(atPath: conf, contents: Data(settings.utf8)) else { return (nil, "cannot write \(conf)") }
        var user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        var group = String(cString: getgrgid(getegid()).pointee.gr_name)
        if geteuid() == 0 {
            guard let nobody = getpwnam("nobody") else { return (nil, "no user nobody") }
            user = "nobody"
            group = String(cString: getgrgid(nobody.pointee.pw_gid).pointee.gr_name)
            guard run("/bin/chown", ["-R", "nobody:\(group)", maildir, work]) == 0 else { return (nil, "chown failed") }
        }
        var times: [Double] = []
        for i in 0..<runs {
            let index = work + "/index-\(i)"
            let start = Date()
            let status = run(doveadm, ["-c", conf, "-o", "mail_uid=\(user)", "-o", "mail_gid=\(group)",
                                       "-o", "mail_location=maildir:\(maildir):INDEX=\(index)", "force-resync", "INBOX"],
                             environment: ["USER": user, "HOME": work, "PATH": "/usr/bin:/bin"])
            let elapsed = Date().timeIntervalSince(start) * 1000
            guard status == 0 else { return (nil, "doveadm force-resync exited \(status); see \(work)/log") }
            times.append(elapsed)
        }
        times.sort()
        return (times[times.count / 2], "median of \(runs) runs of doveadm force-resync INBOX (fresh index each)")
    }

    private static func run(_ path: String, _ args: [String], environment: [String: String]? = nil) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let environment { p.environment = environment }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
