import Testing
import Foundation
@testable import Maildir

/// The quota plugin's settings (Dovecot 2.3 syntax) and Maildir++ maildirsize upkeep.
@Suite struct QuotaPolicyTests {
    struct Row: Sendable {
        let plugin: [String: String]
        let userdb: [String: String]
        let limits: QuotaLimits?
        let line: Int
    }

    static let rows: [Row] = [
        .init(plugin: ["quota": "maildir:User quota", "quota_rule": "*:storage=10M", "quota_rule2": "*:messages=1000"],
              userdb: [:], limits: QuotaLimits(bytes: 10 << 20, messages: 1000), line: #line),
        // storage= is in kilobytes without a unit; bytes= in bytes.
        .init(plugin: ["quota": "maildir", "quota_rule": "*:storage=100"], userdb: [:], limits: QuotaLimits(bytes: 102_400), line: #line),
        .init(plugin: ["quota": "maildir", "quota_rule": "*:bytes=5000:messages=3"], userdb: [:],
              limits: QuotaLimits(bytes: 5000, messages: 3), line: #line),
        .init(plugin: ["quota": "maildir", "quota_rule": "*:storage=2g"], userdb: [:], limits: QuotaLimits(bytes: 2 << 30), line: #line),
        // The userdb's quota_rule replaces the plugin's; quota_rule2 stays.
        .init(plugin: ["quota": "maildir:q", "quota_rule": "*:storage=10M", "quota_rule2": "*:messages=5"],
              userdb: ["quota_rule": "*:storage=1G"], limits: QuotaLimits(bytes: 1 << 30, messages: 5), line: #line),
        // No rule: maildirsize's own limits apply.
        .init(plugin: ["quota": "maildir"], userdb: [:], limits: nil, line: #line),
    ]

    @Test(arguments: rows) func parsesRules(_ row: Row) throws {
        let policy = try #require(try QuotaPolicy.make(plugin: row.plugin, userdb: row.userdb))
        #expect(policy.limits == row.limits, "row at line \(row.line)")
    }

    @Test func noQuotaRootMeansNoPolicyAndBadValuesAreErrors() throws {
        #expect(try QuotaPolicy.make(plugin: ["quota_rule": "*:storage=1M"]) == nil)
        #expect(throws: QuotaPolicy.ParseError.self) { try QuotaPolicy.make(plugin: ["quota": "dict:x"]) }
        #expect(throws: QuotaPolicy.ParseError.self) { try QuotaPolicy.make(plugin: ["quota": "maildir", "quota_rule": "*:storage=12Q"]) }
        #expect(throws: QuotaPolicy.ParseError.self) { try QuotaPolicy.make(plugin: ["quota": "maildir", "quota_rule": "storage=1"]) }
        let p = try #require(try QuotaPolicy.make(plugin: ["quota": "maildir:User quota", "quota_rule": "*:storage=1M",
                                                           "quota_rule2": "Trash:storage=+100M", "quota_grace": "10%%"]))
        #expect(p.rootName == "User quota" && p.grace == .percent(10) && p.ignored.count == 1)
        #expect(p.exceededMessage == "Quota exceeded (mailbox for user is full)")
        #expect(try QuotaPolicy.make(plugin: ["quota": "maildir", "quota_grace": "1M"])?.grace == .bytes(1 << 20))
    }

    @Test func allowsFollowsDovecotsArithmetic() {
        let p = QuotaPolicy(limits: nil, grace: .percent(10))
        let limits = QuotaLimits(bytes: 1000, messages: 10)
        func usage(_ b: Int64, _ m: Int64) -> QuotaUsage { QuotaUsage(bytes: b, messages: m, byteLimit: nil, messageLimit: nil) }
        #expect(p.allows(bytes: 100, messages: 1, usage: usage(900, 5), limits: limits, useGrace: false))
        #expect(!p.allows(bytes: 101, messages: 1, usage: usage(900, 5), limits: limits, useGrace: false))
        // LDA/LMTP: the last mail may cross the limit by up to quota_grace (10% of 1000).
        #expect(p.allows(bytes: 200, messages: 1, usage: usage(900, 5), limits: limits, useGrace: true))
        #expect(!p.allows(bytes: 201, messages: 1, usage: usage(900, 5), limits: limits, useGrace: true))
        // Already at the limit: nothing more, grace or not.
        #expect(!p.allows(bytes: 1, messages: 1, usage: usage(1000, 5), limits: limits, useGrace: true))
        // Message count: 10 fit, the 11th does not.
        #expect(p.allows(bytes: 1, messages: 1, usage: usage(0, 9), limits: limits, useGrace: false))
        #expect(!p.allows(bytes: 1, messages: 1, usage: usage(0, 10), limits: limits, useGrace: false))
        #expect(!p.allows(bytes: 1, messages: 3, usage: usage(0, 8), limits: limits, useGrace: false))
        var off = p
        off.enforcing = false
        #expect(off.allows(bytes: 5000, messages: 1, usage: usage(1000, 10), limits: limits, useGrace: false))
    }
}

@Suite struct MaildirsizeTests {
    static func policy(_ rule: String) throws -> QuotaPolicy {
        try #require(try QuotaPolicy.make(plugin: ["quota": "maildir:User quota", "quota_rule": rule]))
    }

    @Test func createdByRecalculationRewrittenWhenLimitsChangeAndKeptBySavesAndExpunges() throws {
        let tmp = TempDir()
        let plain = try MaildirStore(root: tmp.path)
        try plain.openFolder("INBOX").save(message("before quota"))
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/maildirsize"))

        let store = try MaildirStore(root: tmp.path, quota: try Self.policy("*:bytes=100000:messages=50"))
        let inbox = try store.openFolder("INBOX")
        let first = try #require(try store.quota.current())
        #expect(first.usage.messages == 1 && first.limits == QuotaLimits(bytes: 100_000, messages: 50))
        #expect(text(tmp.path + "/maildirsize").hasPrefix("100000S,50C\n"))
        try store.createFolder("Archive")
        let archive = try store.openFolder("Archive")
        let data = message("second")
        try archive.save(data)
        _ = try inbox.sync()
        try inbox.copy(uids: [inbox.messages[0].uid], to: archive)
        var now = try #require(try store.quota.current())
        #expect(now.usage.messages == 3)
        _ = try archive.sync()
        try archive.expunge(uids: [archive.messages[0].uid])
        now = try #require(try store.quota.current())
        #expect(now.usage.messages == 2)
        // The deltas add up to what a recalculation finds.
        let recount = try store.quota.recalculate(byteLimit: 100_000, messageLimit: 50)
        #expect(recount.bytes == now.usage.bytes && recount.messages == 2)

        // New limits in the config: the header is rewritten (by a recalculation).
        let smaller = try MaildirStore(root: tmp.path, quota: try Self.policy("*:storage=1M"))
        _ = try smaller.quota.current()
        #expect(text(tmp.path + "/maildirsize").hasPrefix("1048576S\n"))
    }

    @Test func savesAndCopiesOverQuotaAreRefusedAndMovesAreNot() throws {
        let tmp = TempDir()
        let store = try MaildirStore(root: tmp.path, quota: try Self.policy("*:messages=2"))
        let inbox = try store.openFolder("INBOX")
        try inbox.save(message("one"))
        try inbox.save(message("two"))
        #expect(throws: MaildirError.overQuota("Quota exceeded (mailbox for user is full)")) {
            try inbox.save(message("three"))
        }
        try store.createFolder("Old")
        let old = try store.openFolder("Old")
        _ = try inbox.sync()
        #expect(throws: MaildirError.overQuota("Quota exceeded (mailbox for user is full)")) {
            try inbox.copy(uids: [inbox.messages[0].uid], to: old)
        }
        try inbox.move(uids: [inbox.messages[0].uid], to: old)
        #expect(try store.quota.current()?.usage.messages == 2)
        // maildirsize that Dovecot wrote with limits in it, and no rule configured: its limits apply.
        let noRule = try MaildirStore(root: tmp.path, quota: try QuotaPolicy.make(plugin: ["quota": "maildir"]))
        #expect(try noRule.quota.current()?.limits == QuotaLimits(bytes: 0, messages: 2))
        #expect(throws: MaildirError.self) { try noRule.openFolder("INBOX").save(message("four")) }
    }
}
