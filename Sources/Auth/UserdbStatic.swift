// Static userdb: every user gets the same uid/gid and a home built from a template.
//
//   userdb { driver = static  args = uid=vmail gid=vmail home=/var/vmail/%d/%n allow_all_users=yes }
//
// Any other `key=value` becomes a userdb field for every user (e.g. `mail=maildir:~/Maildir`),
// with %-variables expanded per user. Without allow_all_users=yes Dovecot first asks the
// passdb whether the user exists (for LMTP and doveadm); that check belongs to the caller.

public struct UserdbStaticArgs: Sendable, Equatable {
    /// A name ("vmail") or a number ("5000").
    public var uid: String?
    public var gid: String?
    /// Home template, e.g. `/var/vmail/%d/%n`.
    public var home: String?
    public var allowAllUsers: Bool
    /// Other fields, in order; values are templates.
    public var fields: [AuthField]

    public enum ParseError: Error, Equatable, Sendable {
        case notKeyValue(String)
        case invalidBoolean(String)
    }

    public init(uid: String? = nil, gid: String? = nil, home: String? = nil,
                allowAllUsers: Bool = false, fields: [AuthField] = []) {
        self.uid = uid
        self.gid = gid
        self.home = home
        self.allowAllUsers = allowAllUsers
        self.fields = fields
    }

    /// Parses `uid=vmail gid=vmail home=/var/vmail/%d/%n allow_all_users=yes`.
    public init(parse args: String) throws(ParseError) {
        self.init()
        for token in args.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
            let field = AuthField(parsing: token)
            guard let value = field.value, !field.name.isEmpty else { throw .notKeyValue(token) }
            switch field.name {
            case "uid": uid = value
            case "gid": gid = value
            case "home": home = value
            case "allow_all_users":
                switch value.lowercased() {
                case "yes", "y", "1", "true": allowAllUsers = true
                case "no", "n", "0", "false": allowAllUsers = false
                default: throw .invalidBoolean(token)
                }
            default: fields.append(field)
            }
        }
    }

    /// The user record for `username`, with templates expanded.
    public func user(for username: String) -> AuthUser {
        var user = AuthUser(username: username, uid: uid, gid: gid,
                            home: home.map { UsernameFormat.expand($0, user: username) })
        for field in fields {
            user.apply(field: field.name, value: UsernameFormat.expand(field.value ?? "", user: username))
        }
        return user
    }
}
