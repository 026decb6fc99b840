// The result of a passdb + userdb lookup: who the user is and where their mail lives.
// uid/gid stay strings (a name like "vmail" or a number); the process that drops
// privileges resolves names. Field names follow Dovecot's userdb fields so they can
// travel in `USER` lines of the auth master protocol unchanged.

public struct AuthUser: Sendable, Equatable {
    public var username: String
    public var uid: String?
    public var gid: String?
    public var home: String?
    /// Per-user `mail=` location overriding `mail_location`.
    public var mail: String?
    /// Every other userdb field (e.g. `quota_rule`), without the `userdb_` prefix.
    public var extraFields: [String: String]

    public init(username: String, uid: String? = nil, gid: String? = nil, home: String? = nil,
                mail: String? = nil, extraFields: [String: String] = [:]) {
        self.username = username
        self.uid = uid
        self.gid = gid
        self.home = home
        self.mail = mail
        self.extraFields = extraFields
    }

    /// Numeric uid when the field is a number.
    public var numericUID: UInt32? { uid.flatMap { UInt32($0) } }
    /// Numeric gid when the field is a number.
    public var numericGID: UInt32? { gid.flatMap { UInt32($0) } }

    /// Applies one userdb field: `uid`, `gid`, `home`, `mail` set the properties,
    /// `user` renames, anything else lands in `extraFields`.
    public mutating func apply(field name: String, value: String) {
        switch name {
        case "uid": uid = value
        case "gid": gid = value
        case "home": home = value
        case "mail": mail = value
        case "user": username = value
        default: extraFields[name] = value
        }
    }

    /// The userdb fields in a stable order (uid, gid, home, mail, then extras sorted),
    /// as sent after the user name in a master `USER` reply.
    public var userdbFields: [AuthField] {
        var fields: [AuthField] = []
        if let uid { fields.append(AuthField("uid", uid)) }
        if let gid { fields.append(AuthField("gid", gid)) }
        if let home { fields.append(AuthField("home", home)) }
        if let mail { fields.append(AuthField("mail", mail)) }
        for key in extraFields.keys.sorted() { fields.append(AuthField(key, extraFields[key])) }
        return fields
    }

    /// Rebuilds a user from a `USER` reply's name and fields.
    public init(username: String, fields: [AuthField]) {
        self.init(username: username)
        for field in fields { apply(field: field.name, value: field.value ?? "") }
    }
}

/// One optional parameter of an auth protocol line: `name=value`, or a bare boolean `name`.
public struct AuthField: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// Splits `name=value` at the first '='; no '=' gives a boolean field.
    public init(parsing text: String) {
        if let eq = text.firstIndex(of: "=") {
            name = String(text[..<eq])
            value = String(text[text.index(after: eq)...])
        } else {
            name = text
            value = nil
        }
    }

    public var description: String { value.map { "\(name)=\($0)" } ?? name }
}
