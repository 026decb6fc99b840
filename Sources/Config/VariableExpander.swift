// Expansion of Dovecot's %-variables in templates such as auth_username_format, mail_location
// and passdb args. Settings keep the template; the code that knows the user expands it.
//
// Supported: %u user, %n local part, %d domain, %h home, %s service (imap, pop3, ...), %r remote
// IP, %l local IP, %% a percent sign; the long forms %{user} %{username} %{domain} %{home}
// %{service} %{rip} %{lip}; modifiers L (lowercase) and U (uppercase), e.g. %Lu,
// %{L:user} is not Dovecot 2.3 syntax and is not supported. An unknown variable stays as written.

public enum VariableExpander {
    private static let shortNames: [Character: String] = [
        "u": "user", "n": "username", "d": "domain", "h": "home", "s": "service", "r": "rip", "l": "lip",
    ]

    /// `vars` is keyed by long name: "user", "username" (derived from user if missing),
    /// "domain" (derived from user if missing), "home", or any other `%{name}`.
    public static func expand(_ template: String, _ vars: [String: String]) -> String {
        var out = ""
        var index = template.startIndex
        while index < template.endIndex {
            let c = template[index]
            index = template.index(after: index)
            guard c == "%", index < template.endIndex else { out.append(c); continue }
            let start = index
            var lower = false, upper = false
            while index < template.endIndex, template[index] == "L" || template[index] == "U" {
                if template[index] == "L" { lower = true } else { upper = true }
                index = template.index(after: index)
            }
            guard index < template.endIndex else { out += "%" + template[start...]; break }
            var name: String?
            if template[index] == "%" && !lower && !upper {
                out.append("%")
                index = template.index(after: index)
                continue
            } else if template[index] == "{", let close = template[index...].firstIndex(of: "}") {
                name = String(template[template.index(after: index)..<close])
                index = template.index(after: close)
            } else if let long = shortNames[template[index]] {
                name = long
                index = template.index(after: index)
            }
            guard let name, let value = lookUp(name, vars) else {
                out += "%" + template[start..<index]
                continue
            }
            out += lower ? value.lowercased() : upper ? value.uppercased() : value
        }
        return out
    }

    private static func lookUp(_ name: String, _ vars: [String: String]) -> String? {
        if let v = vars[name] { return v }
        guard let user = vars["user"] else { return nil }
        let at = user.lastIndex(of: "@")
        switch name {
        case "username": return at.map { String(user[..<$0]) } ?? user
        case "domain": return at.map { String(user[user.index(after: $0)...]) } ?? ""
        default: return nil
        }
    }
}
