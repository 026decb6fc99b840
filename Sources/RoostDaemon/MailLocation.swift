import Config
import Glibc
import RoostSystem

/// `mail_location = maildir:~/Maildir[:KEY=VALUE…]` resolved for one user (Dovecot's syntax:
/// `~` is the home directory; %u %n %d %h are expanded).
struct MailLocation: Equatable {
    let format: String
    let path: String

    init?(_ setting: String, user: String, home: String) {
        guard !setting.isEmpty else { return nil }
        let parts = setting.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        format = parts[0]
        var raw = parts[1].split(separator: ":").first.map(String.init) ?? ""
        if raw.hasPrefix("~/") || raw == "~" {
            guard !home.isEmpty else { return nil }
            raw = home + raw.dropFirst()
        }
        let local = user.split(separator: "@", maxSplits: 1).first.map(String.init) ?? user
        let domain = user.contains("@") ? String(user.split(separator: "@", maxSplits: 1)[1]) : ""
        path = VariableExpander.expand(raw, ["u": user, "n": local, "d": domain, "h": home,
                                             "user": user, "username": local, "domain": domain, "home": home])
    }

    /// Creates the Maildir (cur/new/tmp) on first login, as the user the process now runs as.
    func ensureMaildir() throws {
        guard format == "maildir" else { return }
        try Files.makeDirectories(path, mode: 0o700)
        for sub in ["cur", "new", "tmp"] {
            if mkdir(path + "/" + sub, 0o700) != 0 && errno != EEXIST {
                throw SystemCallError("mkdir", context: path + "/" + sub)
            }
        }
    }
}
