import Foundation
import Testing
@testable import Auth

struct PasswdFileTests {
    static let sample = """
    # Roost users
    alice@example.com:{PLAIN}alice-pw:5000:5000::/var/vmail/example.com/alice::userdb_mail=maildir:~/Maildir userdb_quota_rule=*:storage=1G allow_nets=10.0.0.0/8,::1
    bob:{SHA512-CRYPT}$6$abcdefgh12345678$va.5Cu4V3VVDTTqGxBFLJLe96seoR7t27vdfZXImlG605uxgrHTyzCgabN4Vc/Y7Qs3Z1NzMmGGkjXsRvwVIt1

    carol::::::: nopassword
    \tdave:$1$saltsalt$ZliGyAN3DciDHEkDboonh/:vmail:mail:Dave D:/home/dave:/bin/false
    justaname
    :{PLAIN}nouser
    bob:{PLAIN}second-bob
    erin:{PLAIN}e:::::: =novalue
    frank:{PLAIN}f:1 2
    """

    @Test func parsesRecordsAndReportsBadLines() throws {
        let file = PasswdFile(parsing: Self.sample, path: "/etc/roost/users")
        #expect(Set(file.records.keys) == ["alice@example.com", "bob", "carol"])
        let issues = file.issues.map { "\($0.line): \($0.message)" }
        #expect(issues == [
            "6: user name contains a tab",
            "7: missing ':' after user name",
            "8: empty user name",
            "9: user bob exists more than once (first on line 3), ignored",
            "10: extra field '=novalue' has no name",
            "11: invalid uid/gid '1 2'",
        ])
        #expect(file.issues.first?.description == "passwd-file /etc/roost/users line 6: user name contains a tab")
        #expect(file.records.count == 3)
    }

    @Test func fullRecordFields() throws {
        let file = PasswdFile(parsing: Self.sample)
        let alice = try #require(file.records["alice@example.com"])
        #expect(alice.password == "{PLAIN}alice-pw")
        #expect(alice.uid == "5000" && alice.gid == "5000")
        #expect(alice.gecos == nil)
        #expect(alice.home == "/var/vmail/example.com/alice")
        #expect(alice.shell == nil)
        #expect(alice.line == 2)
        #expect(alice.userdbFields == [AuthField("mail", "maildir:~/Maildir"), AuthField("quota_rule", "*:storage=1G")])
        #expect(alice.passdbFields == [AuthField("allow_nets", "10.0.0.0/8,::1")])
        #expect(alice.passdbField("allow_nets") == "10.0.0.0/8,::1")
        #expect(try alice.verify(password: "alice-pw"))
        #expect(try !alice.verify(password: "bob-pw"))
        let user = alice.authUser
        #expect(user == AuthUser(username: "alice@example.com", uid: "5000", gid: "5000",
                                 home: "/var/vmail/example.com/alice", mail: "maildir:~/Maildir",
                                 extraFields: ["quota_rule": "*:storage=1G"]))
        #expect(user.numericUID == 5000)
    }

    @Test func missingTrailingFields() throws {
        let file = PasswdFile(parsing: Self.sample)
        let bob = try #require(file.records["bob"])
        #expect(bob.uid == nil && bob.gid == nil && bob.home == nil && bob.passdbFields.isEmpty)
        #expect(try bob.verify(password: "hunter2"), "bare crypt with default scheme CRYPT")
        #expect(try !bob.verify(password: "second-bob"), "duplicate line ignored")
        let carol = try #require(file.records["carol"])
        #expect(carol.password == nil)
        #expect(carol.passdbField("nopassword") == "")
        #expect(try carol.verify(password: "anything"))
    }

    @Test func emptyPasswordWithoutNopasswordNeverMatches() throws {
        let file = PasswdFile(parsing: "u::1000:1000\nv:\n")
        #expect(try !file.records["u"]!.verify(password: ""))
        #expect(try !file.records["v"]!.verify(password: "x"))
    }

    @Test func defaultSchemeFromArgs() throws {
        let file = PasswdFile(parsing: "u:plainpw\n")
        #expect(try file.records["u"]!.verify(password: "plainpw", defaultScheme: "PLAIN"))
        // Under the default CRYPT the bare text is read as a DES hash, which never matches.
        #expect(try !file.records["u"]!.verify(password: "plainpw"))
    }

    @Test func crlfAndCommentsAndBlankLines() {
        let file = PasswdFile(parsing: "# c\r\n\r\n   \n  # indented comment\nu:{PLAIN}x\r\n")
        #expect(file.issues.isEmpty)
        #expect(file.records["u"]?.password == "{PLAIN}x")
    }

    // MARK: args

    struct ArgsCase: Sendable {
        var text: String
        var expected: Result<PasswdFileArgs, PasswdFileArgs.ParseError>
        var line: Int
        init(_ text: String, _ expected: Result<PasswdFileArgs, PasswdFileArgs.ParseError>, line: Int = #line) {
            self.text = text; self.expected = expected; self.line = line
        }
    }

    static let argsCases: [ArgsCase] = [
        ArgsCase("/etc/roost/users", .success(PasswdFileArgs(path: "/etc/roost/users"))),
        ArgsCase("scheme=SHA512-CRYPT username_format=%n /etc/roost/users",
                 .success(PasswdFileArgs(scheme: "SHA512-CRYPT", usernameFormat: "%n", path: "/etc/roost/users"))),
        ArgsCase("scheme=plain  /etc/%d/passwd", .success(PasswdFileArgs(scheme: "PLAIN", path: "/etc/%d/passwd"))),
        ArgsCase("scheme=PLAIN", .failure(.missingPath)),
        ArgsCase("", .failure(.missingPath)),
        ArgsCase("foo=bar /etc/x", .failure(.unknownSetting("foo=bar"))),
        ArgsCase("/etc/x /etc/y", .failure(.extraArgument("/etc/y"))),
    ]

    @Test(arguments: argsCases)
    func parsesArgs(_ c: ArgsCase) {
        let got = Result { () throws(PasswdFileArgs.ParseError) in try PasswdFileArgs(parse: c.text) }
        #expect(got == c.expected, "line \(c.line)")
    }

    @Test func argsExpandUserAndPath() throws {
        let args = try PasswdFileArgs(parse: "username_format=%Ln /etc/%Ld/passwd")
        #expect(args.lookupName(for: "Alice@Example.COM") == "alice")
        #expect(args.expandedPath(for: "Alice@Example.COM") == "/etc/example.com/passwd")
    }

    // MARK: static userdb

    @Test func staticUserdb() throws {
        let args = try UserdbStaticArgs(parse: "uid=vmail gid=5000 home=/var/vmail/%d/%n allow_all_users=yes mail=maildir:~/M quota_rule=*:storage=%u")
        #expect(args.uid == "vmail" && args.gid == "5000" && args.allowAllUsers)
        let user = args.user(for: "ann@example.org")
        #expect(user == AuthUser(username: "ann@example.org", uid: "vmail", gid: "5000",
                                 home: "/var/vmail/example.org/ann", mail: "maildir:~/M",
                                 extraFields: ["quota_rule": "*:storage=ann@example.org"]))
        #expect(user.numericUID == nil && user.numericGID == 5000)
        #expect(try !UserdbStaticArgs(parse: "uid=1").allowAllUsers)
        #expect(throws: UserdbStaticArgs.ParseError.notKeyValue("bogus")) { try UserdbStaticArgs(parse: "uid=1 bogus") }
        #expect(throws: UserdbStaticArgs.ParseError.invalidBoolean("allow_all_users=maybe")) {
            try UserdbStaticArgs(parse: "allow_all_users=maybe")
        }
    }

    // MARK: username format

    struct FormatCase: Sendable {
        var template: String, user: String, expected: String, line: Int
        init(_ t: String, _ u: String, _ e: String, line: Int = #line) { template = t; user = u; expected = e; self.line = line }
    }

    static let formatCases: [FormatCase] = [
        FormatCase("%u", "Ann@Example.org", "Ann@Example.org"),
        FormatCase("%n", "Ann@Example.org", "Ann"),
        FormatCase("%d", "Ann@Example.org", "Example.org"),
        FormatCase("%Lu", "Ann@Example.org", "ann@example.org"),
        FormatCase("%Ln", "Ann@Example.org", "ann"),
        FormatCase("%Ld", "Ann@Example.org", "example.org"),
        FormatCase("%Uu", "Ann@Example.org", "ANN@EXAMPLE.ORG"),
        FormatCase("%{user}", "a@b", "a@b"),
        FormatCase("%{username}/%{domain}", "a@b", "a/b"),
        FormatCase("%L{user}", "A@B", "a@b"),
        FormatCase("%n", "plain", "plain"),
        FormatCase("[%d]", "plain", "[]"),
        FormatCase("100%% %x %", "u", "100% %x %"),
        FormatCase("%{unclosed", "u", "%{unclosed"),
        FormatCase("/var/vmail/%d/%n/", "x@y@z", "/var/vmail/y@z/x/"),
    ]

    @Test(arguments: formatCases)
    func expandsUsernameFormat(_ c: FormatCase) {
        #expect(UsernameFormat.expand(c.template, user: c.user) == c.expected, "line \(c.line)")
    }

    @Test func formatVariablesAndUnknowns() {
        #expect(UsernameFormat.expand("%s-%{service}", user: "u", variables: ["s": "imap", "service": "imap"]) == "imap-imap")
        #expect(UsernameFormat.unknownVariables(in: "%u %x %{foo} %Ln %%") == ["%x", "%{foo}"])
        #expect(UsernameFormat.unknownVariables(in: "%s", variableNames: ["s"]).isEmpty)
    }

    // MARK: reloading database

    @Test func databaseReloadsWhenFileChanges() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roost-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("users").path
        try "a:{PLAIN}1\n".write(toFile: path, atomically: true, encoding: .utf8)

        let loads = LoadLog()
        let db = PasswdFileDB(path: path, checkInterval: .zero) { loads.append($0) }
        #expect(try db.lookup("a")?.password == "{PLAIN}1")
        #expect(try db.lookup("b") == nil)
        #expect(loads.count == 1)

        // Same file again: no reload.
        _ = try db.lookup("a")
        #expect(loads.count == 1)

        try "a:{PLAIN}22\nb:{PLAIN}3\nbad\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try db.lookup("a")?.password == "{PLAIN}22")
        #expect(try db.lookup("b")?.password == "{PLAIN}3")
        #expect(loads.count == 2)
        #expect(loads.last?.issues.map(\.line) == [3])
        #expect(db.issues.count == 1)
        #expect(db.records.count == 2)

        try FileManager.default.removeItem(atPath: path)
        #expect(throws: PasswdFileError.cannotRead(path: path, errno: ENOENT)) { try db.lookup("a") }
        #expect(loads.last?.error != nil)

        try "c:{PLAIN}4\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try db.lookup("a") == nil)
        #expect(try db.lookup("c") != nil)
    }

    @Test func databaseChecksAtMostOncePerInterval() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roost-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("users").path
        try "a:{PLAIN}1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let db = PasswdFileDB(path: path, checkInterval: .seconds(3600))
        try "a:{PLAIN}2\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try db.lookup("a")?.password == "{PLAIN}1", "not re-checked within the interval")
        db.refresh(force: true)
        #expect(try db.lookup("a")?.password == "{PLAIN}2")
    }

    @Test func missingFileAtStart() {
        let db = PasswdFileDB(path: "/nonexistent/roost/users")
        #expect(throws: PasswdFileError.self) { try db.lookup("a") }
    }
}

/// Collects `PasswdFileDB.Load`s from the callback.
final class LoadLog: Sendable {
    private let loads = Mutex<[PasswdFileDB.Load]>([])
    func append(_ l: PasswdFileDB.Load) { loads.withLock { $0.append(l) } }
    var count: Int { loads.withLock { $0.count } }
    var last: PasswdFileDB.Load? { loads.withLock { $0.last } }
}

import Synchronization

/// The userdb chain's answer when a passwd-file cannot be read (Dovecot's
/// auth_request_userdb_callback): found elsewhere wins; otherwise an internal failure, never
/// "unknown user" — LMTP would turn that into a 550 and the MTA would bounce the mail.
struct UserdbChainTests {
    @Test func anUnreadableUserdbIsAnInternalFailureNotAnUnknownUser() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("roost-userdb-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "pepa:{PLAIN}x:1000:1000::/home/pepa::\n".write(toFile: dir + "/users", atomically: true, encoding: .utf8)
        let missing = dir + "/missing"

        let alone = try AuthDatabases(passdbs: [], userdbs: [("passwd-file", missing)])
        guard case .internalFailure(let reason) = alone.findUser("pepa") else {
            Issue.record("expected an internal failure, got \(alone.findUser("pepa"))")
            return
        }
        #expect(reason.contains(missing))
        #expect(alone.lookupUser("pepa") == nil)

        let chain = try AuthDatabases(passdbs: [], userdbs: [("passwd-file", missing), ("passwd-file", dir + "/users")])
        #expect(chain.findUser("pepa").user?.home == "/home/pepa", "found in the next userdb")
        #expect(chain.findUser("ghost") == .internalFailure("passwd-file \(missing): No such file or directory"),
                "the failed userdb may hold ghost")

        let healthy = try AuthDatabases(passdbs: [], userdbs: [("passwd-file", dir + "/users")])
        #expect(healthy.findUser("ghost") == .unknown)
    }
}
