import Foundation
import Glibc

/// A private Postfix instance for tests: its own config, queue and data directories under a
/// temp dir, logging to a file, every service unchrooted. `main` is added to main.cf and
/// `services` go in front of the master.cf services every instance needs. `postfix start`
/// returns once the master has bound its listeners (it waits with `master -w`). Root only.
final class PrivatePostfix {
    let directory = RoostProcess.makeTempDirectory()
    var configDirectory: String { directory + "/etc" }
    var logFile: String { directory + "/postfix.log" }

    init(hostname: String, main: String, services: [String]) throws {
        let fm = FileManager.default
        for sub in ["etc", "queue", "data"] {
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        // Postfix locks data_directory/master.lock as mail_owner.
        guard let pw = getpwnam("postfix") else { throw ClientError("no postfix user") }
        chown(directory + "/data", pw.pointee.pw_uid, pw.pointee.pw_gid)
        try """
        compatibility_level = 3.6
        queue_directory = \(directory)/queue
        data_directory = \(directory)/data
        mail_owner = postfix
        myhostname = \(hostname)
        mydomain = localdomain
        mydestination =
        inet_interfaces = loopback-only
        inet_protocols = ipv4
        alias_maps =
        alias_database =
        maillog_file_prefixes = \(directory)
        maillog_file = \(logFile)
        \(main)

        """.write(toFile: configDirectory + "/main.cf", atomically: true, encoding: .utf8)
        let common = [
            "cleanup   unix n - n - 0 cleanup", "qmgr      unix n - n 300 1 qmgr",
            "rewrite   unix - - n - - trivial-rewrite", "bounce    unix - - n - 0 bounce",
            "defer     unix - - n - 0 bounce", "trace     unix - - n - 0 bounce",
            "verify    unix - - n - 1 verify", "flush     unix n - n 1000? 0 flush",
            "proxymap  unix - - n - - proxymap", "showq     unix n - n - - showq",
            "error     unix - - n - - error", "retry     unix - - n - - error",
            "discard   unix - - n - - discard", "anvil     unix - - n - 1 anvil",
            "scache    unix - - n - 1 scache", "postlog   unix-dgram n - n - 1 postlogd",
        ]
        try ((services + common).joined(separator: "\n") + "\n")
            .write(toFile: configDirectory + "/master.cf", atomically: true, encoding: .utf8)
    }

    func postfix(_ command: String) throws {
        let r = try TestTool.run("/usr/sbin/postfix", ["-c", configDirectory, command])
        guard r.status == 0 else { throw ClientError("postfix \(command) failed: \(r.out)\(r.err)\n\(log)") }
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// postlogd appends to the log file asynchronously and Postfix offers nothing to wait on,
    /// so this polls the file, bounded by `timeout`.
    func waitForLog(_ text: String, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains(text) {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    func stop() {
        try? postfix("stop")
        try? FileManager.default.removeItem(atPath: directory)
    }
}
