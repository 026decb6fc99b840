import Foundation
import Testing

/// Dovecot's imap_quota plugin through the built binary: QUOTA in CAPABILITY, GETQUOTAROOT,
/// GETQUOTA and SETQUOTA for users with a byte limit, a message limit, both, and none (userdb
/// quota rules), after two APPENDs. The expected lines are Dovecot 2.3.19's answers to the same
/// script and users (its timing suffix dropped, the APPEND replies left out).
@Suite struct IMAPQuotaCommandTests {
    static let message = "Subject: x\r\n\r\n" + String(repeating: "y", count: 3000) + "\r\n"
    static let script = [
        "GETQUOTAROOT INBOX", "APPEND INBOX {\(message.utf8.count)+}\r\n\(message)", "APPEND INBOX {\(message.utf8.count)+}\r\n\(message)",
        "GETQUOTAROOT INBOX", "GETQUOTA \"User quota\"", "GETQUOTA \"\"", "GETQUOTAROOT \"a b\"", "GETQUOTAROOT {3+}\r\nabc",
        "GETQUOTAROOT INBOX extra", "SETQUOTA", "GETQUOTA \"User quota\" extra", "GETQUOTAROOT (INBOX)",
    ]
    static let expected: [String: [String]] = [
        "free": ["t1 OK No quota.", "t4 OK No quota.", "t5 OK Getquota completed.", "t6 NO Quota root doesn't exist.", "t7 OK No quota.", "t8 OK No quota.", "t9 OK No quota.", "t10 BAD Error in IMAP command SETQUOTA: Missing arguments.", "t11 OK Getquota completed.", "t12 BAD Error in IMAP command GETQUOTAROOT: Invalid arguments."],
        "msgs": ["* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (MESSAGE 0 10)", "t1 OK Getquotaroot completed.", "* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (MESSAGE 2 10)", "t4 OK Getquotaroot completed.", "* QUOTA \"User quota\" (MESSAGE 2 10)", "t5 OK Getquota completed.", "t6 NO Quota root doesn't exist.", "* QUOTAROOT \"a b\" \"User quota\"", "* QUOTA \"User quota\" (MESSAGE 2 10)", "t7 OK Getquotaroot completed.", "* QUOTAROOT abc \"User quota\"", "* QUOTA \"User quota\" (MESSAGE 2 10)", "t8 OK Getquotaroot completed.", "* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (MESSAGE 2 10)", "t9 OK Getquotaroot completed.", "t10 BAD Error in IMAP command SETQUOTA: Missing arguments.", "* QUOTA \"User quota\" (MESSAGE 2 10)", "t11 OK Getquota completed.", "t12 BAD Error in IMAP command GETQUOTAROOT: Invalid arguments."],
        "both": ["* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (STORAGE 0 3000 MESSAGE 0 7)", "t1 OK Getquotaroot completed.", "* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 3000 MESSAGE 2 7)", "t4 OK Getquotaroot completed.", "* QUOTA \"User quota\" (STORAGE 6 3000 MESSAGE 2 7)", "t5 OK Getquota completed.", "t6 NO Quota root doesn't exist.", "* QUOTAROOT \"a b\" \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 3000 MESSAGE 2 7)", "t7 OK Getquotaroot completed.", "* QUOTAROOT abc \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 3000 MESSAGE 2 7)", "t8 OK Getquotaroot completed.", "* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 3000 MESSAGE 2 7)", "t9 OK Getquotaroot completed.", "t10 BAD Error in IMAP command SETQUOTA: Missing arguments.", "* QUOTA \"User quota\" (STORAGE 6 3000 MESSAGE 2 7)", "t11 OK Getquota completed.", "t12 BAD Error in IMAP command GETQUOTAROOT: Invalid arguments."],
        "pepa": ["* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (STORAGE 0 2048)", "t1 OK Getquotaroot completed.", "* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 2048)", "t4 OK Getquotaroot completed.", "* QUOTA \"User quota\" (STORAGE 6 2048)", "t5 OK Getquota completed.", "t6 NO Quota root doesn't exist.", "* QUOTAROOT \"a b\" \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 2048)", "t7 OK Getquotaroot completed.", "* QUOTAROOT abc \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 2048)", "t8 OK Getquotaroot completed.", "* QUOTAROOT INBOX \"User quota\"", "* QUOTA \"User quota\" (STORAGE 6 2048)", "t9 OK Getquotaroot completed.", "t10 BAD Error in IMAP command SETQUOTA: Missing arguments.", "* QUOTA \"User quota\" (STORAGE 6 2048)", "t11 OK Getquota completed.", "t12 BAD Error in IMAP command GETQUOTAROOT: Invalid arguments."],
    ]

    static func start(imapQuota: Bool) throws -> (RoostProcess, Int) {
        let (roost, _) = try LMTPTests.start(
            extra: LMTPQuotaTests.quotaConfig("  quota_rule = *:storage=1M",
                                              imapQuota ? "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}" : ""),
            users: LMTPQuotaTests.users([("pepa", "secret", "userdb_quota_rule=*:storage=2M"),
                                         ("free", "secret", "userdb_quota_rule=*:storage=0"),
                                         ("msgs", "secret", "userdb_quota_rule=*:messages=10"),
                                         ("both", "secret", "userdb_quota_rule=*:storage=3000 userdb_quota_rule2=*:messages=7")]))
        return (roost, try #require(roost.port()))
    }

    @Test func quotaAnswersAsDovecotDoes() throws {
        let (roost, port) = try Self.start(imapQuota: true)
        defer { roost.stop() }
        for user in ["free", "msgs", "both", "pepa"] {
            let c = try LineClient(port: port)
            _ = try c.readLine()
            let login = try c.command("l", "LOGIN \(user) secret").last ?? ""
            #expect(login.hasPrefix("l OK [CAPABILITY ") && login.contains(" QUOTA] Logged in"), "\(login)")
            var answers: [String] = []
            for (i, command) in Self.script.enumerated() {
                let lines = try c.command("t\(i + 1)", command)
                if command.hasPrefix("APPEND") {
                    #expect(lines.last?.hasPrefix("t\(i + 1) OK [APPENDUID ") == true, "\(lines)")
                } else {
                    answers += lines
                }
            }
            #expect(answers == Self.expected[user], "\(user)")
            _ = try c.command("z", "LOGOUT")
        }
    }

    /// The quota plugin alone (no imap_quota): no QUOTA capability and no quota commands.
    @Test func withoutImapQuotaTheCommandsAreUnknown() throws {
        let (roost, port) = try Self.start(imapQuota: false)
        defer { roost.stop() }
        let c = try LineClient(port: port)
        _ = try c.readLine()
        let login = try c.command("l", "LOGIN pepa secret").last ?? ""
        #expect(login.hasPrefix("l OK [CAPABILITY ") && !login.contains("QUOTA"), "\(login)")
        #expect(try c.command("q", "GETQUOTAROOT INBOX") == ["q BAD Error in IMAP command GETQUOTAROOT: Unknown command."])
        #expect(try c.command("c", "CAPABILITY").first?.contains("QUOTA") == false)
    }
}
