// A small subset of Dovecot's %-variable expansion, enough for `username_format`,
// `auth_username_format`, passwd-file paths and static userdb `home=` templates.
//
//   %u  user          %n  user part before '@' (whole user when there is none)
//   %d  domain part after '@' (empty when there is none)
//   %%  a literal '%'
//   %L<x> lowercase,  %U<x> uppercase   (e.g. %Lu, %Ld, %Uu)
//   %{user} %{username} %{domain}, and %L{user}-style modifiers
// Extra single-letter or long names (e.g. s / service, h / home) come from `variables`.
// An unknown variable is copied verbatim; `unknownVariables(in:)` lets config checking warn.

public enum UsernameFormat {
    /// Expands `template` for `user`.
    public static func expand(_ template: String, user: String,
                              variables: [String: String] = [:]) -> String {
        var out = ""
        var rest = Substring(template)
        while let percent = rest.firstIndex(of: "%") {
            out += rest[..<percent]
            rest = rest[rest.index(after: percent)...]
            guard let token = nextToken(&rest) else { out += "%"; continue }
            if let value = resolve(token, user: user, variables: variables) {
                out += value
            } else {
                out += token.original
            }
        }
        out += rest
        return out
    }

    /// The variables in `template` that `expand` would not recognise (e.g. `["%x"]`).
    public static func unknownVariables(in template: String, variableNames: Set<String> = []) -> [String] {
        var unknown: [String] = []
        var rest = Substring(template)
        let probe = Dictionary(uniqueKeysWithValues: variableNames.map { ($0, "") })
        while let percent = rest.firstIndex(of: "%") {
            rest = rest[rest.index(after: percent)...]
            guard let token = nextToken(&rest) else { unknown.append("%"); continue }
            if resolve(token, user: "", variables: probe) == nil { unknown.append(token.original) }
        }
        return unknown
    }

    private struct Token {
        enum Case { case none, lower, upper }
        var modifier: Case
        var name: String          // "u", "n", "d", "%", or a long name
        var original: String      // the text after and including '%'
    }

    /// Reads the token after a '%' from `rest`, advancing it.
    private static func nextToken(_ rest: inout Substring) -> Token? {
        let start = rest
        var modifier = Token.Case.none
        guard var c = rest.first else { return nil }
        if c == "L" || c == "U" {
            modifier = c == "L" ? .lower : .upper
            rest = rest.dropFirst()
            guard let next = rest.first else { rest = start; return nil }
            c = next
        }
        let name: String
        if c == "{" {
            guard let close = rest.firstIndex(of: "}") else { rest = start; return nil }
            name = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
        } else {
            name = String(c)
            rest = rest.dropFirst()
        }
        let consumed = start[start.startIndex..<rest.startIndex]
        return Token(modifier: modifier, name: name, original: "%" + consumed)
    }

    private static func resolve(_ token: Token, user: String, variables: [String: String]) -> String? {
        let at = user.firstIndex(of: "@")
        let value: String
        switch token.name {
        case "%": return "%"
        case "u", "user": value = user
        case "n", "username": value = at.map { String(user[..<$0]) } ?? user
        case "d", "domain": value = at.map { String(user[user.index(after: $0)...]) } ?? ""
        default:
            guard let v = variables[token.name] else { return nil }
            value = v
        }
        switch token.modifier {
        case .none: return value
        case .lower: return value.lowercased()
        case .upper: return value.uppercased()
        }
    }
}
