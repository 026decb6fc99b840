// Dovecot's passwd-file format, usable as both passdb and userdb.
//
//   user:password:uid:gid:gecos:home:shell:extra_fields
//
// Trailing fields are optional (`user:{PLAIN}x` is a full line). `#` starts a comment line;
// blank lines are ignored. extra_fields is everything after the 7th ':' (so values may hold
// ':' as in `userdb_mail=maildir:~/Maildir`), split on spaces into `key=value` or bare
// `key` fields. Keys prefixed `userdb_` are userdb fields; the rest are passdb fields
// (`nopassword`, `allow_nets=...`, `nologin`, `proxy`, ...).
//
// A malformed line is reported with its line number and skipped; the rest of the file
// still loads. A user listed twice keeps its first line (Dovecot does the same).

public struct PasswdFileRecord: Sendable, Equatable {
    public var username: String
    /// The password field; nil when empty.
    public var password: String?
    public var uid: String?
    public var gid: String?
    public var gecos: String?
    public var home: String?
    public var shell: String?
    /// Extra fields without the `userdb_` prefix: passdb fields, in file order.
    public var passdbFields: [AuthField]
    /// Extra fields that had the `userdb_` prefix (prefix removed), in file order.
    public var userdbFields: [AuthField]
    /// The line this record came from (1-based).
    public var line: Int

    public init(username: String, password: String? = nil, uid: String? = nil, gid: String? = nil,
                gecos: String? = nil, home: String? = nil, shell: String? = nil,
                passdbFields: [AuthField] = [], userdbFields: [AuthField] = [], line: Int = 0) {
        self.username = username
        self.password = password
        self.uid = uid
        self.gid = gid
        self.gecos = gecos
        self.home = home
        self.shell = shell
        self.passdbFields = passdbFields
        self.userdbFields = userdbFields
        self.line = line
    }

    /// The value of a passdb extra field (`""` for a bare boolean field), nil when absent.
    public func passdbField(_ name: String) -> String? {
        passdbFields.first { $0.name == name }.map { $0.value ?? "" }
    }

    /// Checks a password as a passwd-file passdb does: `nopassword` accepts any password;
    /// an empty password field accepts none; otherwise the stored password decides, read
    /// with `defaultScheme` when it has no `{SCHEME}` prefix.
    public func verify(password plaintext: String,
                       defaultScheme: String = "CRYPT") throws(PasswordSchemeError) -> Bool {
        if passdbFields.contains(where: { $0.name == "nopassword" && ($0.value ?? "yes") != "no" }) {
            return true
        }
        guard let password else { return false }
        return try PasswordScheme.verify(password: plaintext, stored: password, defaultScheme: defaultScheme)
    }

    /// The userdb view: columns uid/gid/home, then `userdb_` fields override them.
    public var authUser: AuthUser {
        var user = AuthUser(username: username, uid: uid, gid: gid, home: home)
        for field in userdbFields { user.apply(field: field.name, value: field.value ?? "") }
        return user
    }
}

/// A line that could not be used.
public struct PasswdFileIssue: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var message: String

    public var description: String { "passwd-file \(path) line \(line): \(message)" }
}

public struct PasswdFile: Sendable, Equatable {
    /// Records keyed by user name.
    public var records: [String: PasswdFileRecord]
    /// Lines that were skipped (malformed) or ignored (duplicate user).
    public var issues: [PasswdFileIssue]

    /// Parses the whole file text. Never fails: bad lines become `issues`.
    public init(parsing text: String, path: String = "-") {
        records = [:]
        issues = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so match it as a separator too.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.last == "\r" { line = line.dropLast() }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.first == "#" { continue }
            switch PasswdFile.parseLine(line, number: lineNumber) {
            case .success(let record):
                if let first = records[record.username] {
                    issues.append(PasswdFileIssue(path: path, line: lineNumber,
                        message: "user \(record.username) exists more than once (first on line \(first.line)), ignored"))
                } else {
                    records[record.username] = record
                }
            case .failure(let message):
                issues.append(PasswdFileIssue(path: path, line: lineNumber, message: message.text))
            }
        }
    }

    struct LineError: Error { var text: String }

    static func parseLine(_ line: Substring, number: Int) -> Result<PasswdFileRecord, LineError> {
        // At most 8 fields: the 8th (extra fields) keeps any further ':'.
        let columns = line.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false)
        guard columns.count >= 2 else {
            return .failure(LineError(text: "missing ':' after user name"))
        }
        let username = String(columns[0])
        guard !username.isEmpty else { return .failure(LineError(text: "empty user name")) }
        if let bad = username.first(where: { $0 == " " || $0 == "\t" }) {
            return .failure(LineError(text: "user name contains \(bad == " " ? "a space" : "a tab")"))
        }
        func column(_ i: Int) -> String? {
            i < columns.count && !columns[i].isEmpty ? String(columns[i]) : nil
        }
        var record = PasswdFileRecord(username: username, password: column(1), uid: column(2),
                                      gid: column(3), gecos: column(4), home: column(5),
                                      shell: column(6), line: number)
        for id in [record.uid, record.gid].compactMap({ $0 }) where id.contains(where: { $0 == " " || $0 == "\t" }) {
            return .failure(LineError(text: "invalid uid/gid '\(id)'"))
        }
        if let extra = column(7) {
            for token in extra.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                let field = AuthField(parsing: String(token))
                guard !field.name.isEmpty else {
                    return .failure(LineError(text: "extra field '\(token)' has no name"))
                }
                if field.name.hasPrefix("userdb_") {
                    let name = String(field.name.dropFirst("userdb_".count))
                    guard !name.isEmpty else {
                        return .failure(LineError(text: "extra field '\(token)' has no name"))
                    }
                    record.userdbFields.append(AuthField(name, field.value))
                } else {
                    record.passdbFields.append(field)
                }
            }
        }
        return .success(record)
    }
}
