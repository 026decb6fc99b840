// GETQUOTAROOT, GETQUOTA and SETQUOTA (RFC 2087 / RFC 9208), offered with Dovecot's imap_quota
// plugin (`protocol imap { mail_plugins = $mail_plugins imap_quota }`) so that webmails and
// clients can show how full the mailbox is. One quota root per user, named as in
// `quota = maildir:NAME`, covering every mailbox; the figures are maildirsize's (STORAGE in
// units of 1,024 bytes, rounded up, and MESSAGE, each only when it has a limit). Answers and
// texts are Dovecot 2.3's: "No quota." for a user without limits, the mailbox name echoed as
// sent, SETQUOTA refused to users ("only by admin").
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    func getQuotaRoot(_ c: IMAPCommand) throws -> CommandResult {
        guard !c.arguments.isEmpty else { throw CommandError.bad("Missing arguments.") }
        guard let mailbox = c.astring(at: 0) else { throw CommandError.bad("Invalid arguments.") }
        guard let (root, resources) = try quotaResources() else { return .ok("No quota.") }
        untagged(bytes: Array("QUOTAROOT ".utf8) + IMAPEncoder.astring(mailbox) + [0x20] + IMAPEncoder.quotedOrLiteral(Array(root.utf8)))
        untagged(bytes: quotaLine(root, resources))
        return .ok("Getquotaroot completed.")
    }

    func getQuota(_ c: IMAPCommand) throws -> CommandResult {
        guard !c.arguments.isEmpty else { throw CommandError.bad("Missing arguments.") }
        guard let asked = c.astring(at: 0) else { throw CommandError.bad("Invalid arguments.") }
        guard let policy = store.quota.policy, asked == Array(policy.rootName.utf8) else {
            throw CommandError.no(code: nil, text: "Quota root doesn't exist.")
        }
        if let (root, resources) = try quotaResources() { untagged(bytes: quotaLine(root, resources)) }
        return .ok("Getquota completed.")
    }

    func setQuota(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count >= 2 else { throw CommandError.bad("Missing arguments.") }
        throw CommandError.no(code: nil, text: "Quota can be changed only by admin.")
    }

    /// The root's name and its (resource, usage, limit) triples; nil without limits.
    private func quotaResources() throws -> (String, [(String, Int64, Int64)])? {
        guard let policy = store.quota.policy, let (usage, limits) = try store.quota.current() else { return nil }
        var resources: [(String, Int64, Int64)] = []
        if limits.bytes > 0 { resources.append(("STORAGE", (usage.bytes + 1023) / 1024, limits.bytes / 1024)) }
        if limits.messages > 0 { resources.append(("MESSAGE", usage.messages, limits.messages)) }
        return (policy.rootName, resources)
    }

    private func quotaLine(_ root: String, _ resources: [(String, Int64, Int64)]) -> [UInt8] {
        Array("QUOTA ".utf8) + IMAPEncoder.quotedOrLiteral(Array(root.utf8))
            + Array(" (\(resources.map { "\($0.0) \($0.1) \($0.2)" }.joined(separator: " ")))".utf8)
    }
}
