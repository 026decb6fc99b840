import Foundation
import IMAPProtocol
import Testing
@testable import IMAPServer
import Maildir

/// LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154). The expected
/// lines are Dovecot 2.3's answers to the same commands on the same folders (with
/// `separator = /`), in Roost's listing order (INBOX first, then by name).
@Suite struct ListExtendedTests {
    static let mailboxes = [
        IMAPMailboxSettings(name: "Sent", specialUse: ["\\Sent"], auto: "subscribe"),
        IMAPMailboxSettings(name: "Drafts", specialUse: ["\\Drafts"], auto: "create"),
        IMAPMailboxSettings(name: "Trash", specialUse: ["\\Trash"], auto: "no"),
        IMAPMailboxSettings(name: "Junk", specialUse: ["\\Junk"], auto: "subscribe"),
    ]

    /// Logged in with the mailboxes above; a/b/c exists and is subscribed, x is subscribed but
    /// deleted.
    static func harness() throws -> SessionHarness {
        let h = try SessionHarness(mailboxes: mailboxes)
        _ = h.lines(h.session.loginCompleted(tag: "l"))
        for command in ["CREATE a/b/c", "CREATE x", "SUBSCRIBE a/b/c", "SUBSCRIBE x", "DELETE x"] {
            #expect(h.transact("p \(command)").last?.hasPrefix("p OK") == true, "\(command)")
        }
        return h
    }

    @Test func autoMailboxesAreCreatedAndSubscribedAtLogin() throws {
        let h = try SessionHarness(mailboxes: Self.mailboxes)
        #expect(h.lines(h.session.loginCompleted(tag: "l")).first?.hasPrefix("l OK [CAPABILITY ") == true)
        #expect(h.store.folderExists("Sent") && h.store.folderExists("Drafts") && h.store.folderExists("Junk"))
        #expect(!h.store.folderExists("Trash"))
        #expect(try h.store.subscriptions() == ["Sent", "Junk"])
        // A second login changes nothing.
        _ = h.lines(h.session.loginCompleted(tag: "m"))
        #expect(try h.store.subscriptions() == ["Sent", "Junk"])
    }

    @Test func plainListCarriesChildrenAndSpecialUse() throws {
        let h = try Self.harness()
        #expect(h.transact("a LIST \"\" *") == [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
            "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
            "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
            "* LIST (\\Noselect \\HasChildren) \"/\" a",
            "* LIST (\\Noselect \\HasChildren) \"/\" a/b",
            "* LIST (\\HasNoChildren) \"/\" a/b/c",
            "a OK List completed."])
        #expect(h.transact("b LSUB \"\" *") == [
            "* LSUB (\\Sent) \"/\" Sent",
            "* LSUB (\\Junk) \"/\" Junk",
            "* LSUB () \"/\" a/b/c",
            "* LSUB () \"/\" x",
            "b OK Lsub completed."])
    }

    @Test func selectionOptions() throws {
        let h = try Self.harness()
        #expect(h.transact("a LIST (SUBSCRIBED) \"\" *") == [
            "* LIST (\\Subscribed) \"/\" Sent",
            "* LIST (\\Subscribed) \"/\" Junk",
            "* LIST (\\Subscribed) \"/\" a/b/c",
            "* LIST (\\Subscribed \\NonExistent) \"/\" x",
            "a OK List completed."])
        #expect(h.transact("b LIST (SUBSCRIBED) \"\" * RETURN (CHILDREN)") == [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Sent",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Junk",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" a/b/c",
            "* LIST (\\Subscribed \\NonExistent \\HasNoChildren) \"/\" x",
            "b OK List completed."])
        #expect(h.transact("c LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %") == [
            "* LIST (\\Subscribed) \"/\" Sent",
            "* LIST (\\Subscribed) \"/\" Junk",
            "* LIST (\\NonExistent) \"/\" a (CHILDINFO (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\NonExistent) \"/\" x",
            "c OK List completed."])
        #expect(h.transact("d LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)") == [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Sent",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Junk",
            "* LIST (\\NonExistent \\HasChildren) \"/\" a (CHILDINFO (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\NonExistent \\HasNoChildren) \"/\" x",
            "d OK List completed."])
        // RFC 5258 §3.5: no redundant CHILDINFO when the subscribed child is listed itself.
        #expect(h.transact("e LIST (SUBSCRIBED RECURSIVEMATCH) \"\" * RETURN (CHILDREN)") == [
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Sent",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Junk",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" a/b/c",
            "* LIST (\\Subscribed \\NonExistent \\HasNoChildren) \"/\" x",
            "e OK List completed."])
        #expect(h.transact("f LIST (SPECIAL-USE) \"\" *") == [
            "* LIST (\\Drafts) \"/\" Drafts",
            "* LIST (\\Junk) \"/\" Junk",
            "* LIST (\\Sent) \"/\" Sent",
            "f OK List completed."])
        #expect(h.transact("g LIST (SPECIAL-USE SUBSCRIBED) \"\" *") == [
            "* LIST (\\Subscribed \\Sent) \"/\" Sent",
            "* LIST (\\Subscribed \\Junk) \"/\" Junk",
            "g OK List completed."])
        #expect(h.transact("h LIST (REMOTE) \"\" %") == [
            "* LIST () \"/\" INBOX", "* LIST () \"/\" Drafts", "* LIST () \"/\" Junk", "* LIST () \"/\" Sent",
            "* LIST (\\NonExistent) \"/\" a", "h OK List completed."])
    }

    @Test func returnOptionsAndPatternLists() throws {
        let h = try Self.harness()
        #expect(h.transact("a LIST \"\" % RETURN (CHILDREN)") == [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren) \"/\" Drafts",
            "* LIST (\\HasNoChildren) \"/\" Junk",
            "* LIST (\\HasNoChildren) \"/\" Sent",
            "* LIST (\\NonExistent \\HasChildren) \"/\" a",
            "a OK List completed."])
        #expect(h.transact("b LIST \"\" * RETURN (SPECIAL-USE)") == [
            "* LIST () \"/\" INBOX",
            "* LIST (\\Drafts) \"/\" Drafts",
            "* LIST (\\Junk) \"/\" Junk",
            "* LIST (\\Sent) \"/\" Sent",
            "* LIST (\\NonExistent) \"/\" a",
            "* LIST (\\NonExistent) \"/\" a/b",
            "* LIST () \"/\" a/b/c",
            "b OK List completed."])
        #expect(h.transact("c LIST \"\" * RETURN (SUBSCRIBED CHILDREN)") == [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren) \"/\" Drafts",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Junk",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" Sent",
            "* LIST (\\NonExistent \\HasChildren) \"/\" a",
            "* LIST (\\NonExistent \\HasChildren) \"/\" a/b",
            "* LIST (\\Subscribed \\HasNoChildren) \"/\" a/b/c",
            "c OK List completed."])
        #expect(h.transact("d LIST \"\" (\"a/b\" \"INBOX\" \"a/*\")") == [
            "* LIST () \"/\" INBOX",
            "* LIST (\\NonExistent) \"/\" a/b",
            "* LIST () \"/\" a/b/c",
            "d OK List completed."])
        #expect(h.transact("e LIST \"\" ()") == ["e OK List completed."])
        #expect(h.transact("f LIST a/ %") == ["* LIST (\\Noselect \\HasChildren) \"/\" a/b", "f OK List completed."])
        #expect(h.transact("g LIST \"\" nonexistent RETURN (SUBSCRIBED)") == ["g OK List completed."])
    }

    @Test func listStatus() throws {
        let h = try Self.harness()
        try h.deliver(simpleMessage)
        try h.deliver(multipartMessage, flags: [.seen])
        let uv = try h.uidValidity()
        // The STATUS line equals the STATUS command's, items in Dovecot's order.
        let status = h.transact("z STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
        #expect(status.first?.hasPrefix("* STATUS INBOX (MESSAGES 2 RECENT ") == true)
        #expect(status.first?.hasSuffix(" UIDNEXT 3 UIDVALIDITY \(uv) UNSEEN 1)") == true)
        #expect(h.transact("a LIST \"\" INBOX RETURN (STATUS (UNSEEN MESSAGES RECENT UIDNEXT UIDVALIDITY))") == [
            "* LIST () \"/\" INBOX", status[0], "a OK List completed."])
        #expect(h.transact("b LIST \"\" % RETURN (STATUS (MESSAGES UIDNEXT) SUBSCRIBED)") == [
            "* LIST () \"/\" INBOX", "* STATUS INBOX (MESSAGES 2 UIDNEXT 3)",
            "* LIST () \"/\" Drafts", "* STATUS Drafts (MESSAGES 0 UIDNEXT 1)",
            "* LIST (\\Subscribed) \"/\" Junk", "* STATUS Junk (MESSAGES 0 UIDNEXT 1)",
            "* LIST (\\Subscribed) \"/\" Sent", "* STATUS Sent (MESSAGES 0 UIDNEXT 1)",
            "* LIST (\\NonExistent) \"/\" a",
            "b OK List completed."])
        // No STATUS for a subscribed name that does not exist.
        #expect(h.transact("c LIST (SUBSCRIBED) \"\" x RETURN (STATUS (MESSAGES))") == [
            "* LIST (\\Subscribed \\NonExistent) \"/\" x", "c OK List completed."])
        // The plain STATUS command answers in the same order as Dovecot.
        #expect(h.transact("d STATUS INBOX (UNSEEN MESSAGES UIDNEXT)") == [
            "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 1)", "d OK Status completed."])
    }

    @Test("bad LIST arguments get Dovecot's answers", arguments: [
        ("LIST (FOO) \"\" *", "Unknown select options."),
        ("LIST (RECURSIVEMATCH) \"\" *", "RECURSIVEMATCH must not be the only selection."),
        ("LIST (REMOTE RECURSIVEMATCH) \"\" *", "RECURSIVEMATCH must not be the only selection."),
        ("LIST \"\" * RETURN (FOO)", "Unknown return options."),
        ("LIST \"\" * RETURN (STATUS (FOO))", "Invalid status item FOO."),
        ("LIST \"\" * RETURN (STATUS ())", "Empty status list."),
        ("LIST \"\" * RETURN (STATUS)", "Unknown return options."),
        ("LIST \"\" * RETURN", "Extra arguments."),
        ("LIST \"\" * FOO (BAR)", "Extra arguments."),
        ("LIST \"\"", "Invalid pattern."),
        ("LIST", "Invalid reference."),
        ("LIST (\"a\") \"\" *", "List options contains non-atoms."),
    ])
    func badArguments(command: String, text: String) throws {
        let h = try SessionHarness()
        #expect(h.transact("a \(command)") == ["a BAD Error in IMAP command LIST: \(text)"])
    }

    static func arguments(_ line: String) -> [IMAPValue] {
        var parser = IMAPCommandParser()
        parser.append(Array(("t LIST " + line + "\r\n").utf8))
        guard case .command(let c)? = parser.next() else { return [] }
        return c.arguments
    }

    @Test func requestParsing() throws {
        let plain = try ListRequest.parse(Self.arguments("\"\" %"))
        #expect(plain == ListRequest(reference: "", patterns: ["%"]))
        let full = try ListRequest.parse(Self.arguments("(subscribed remote RecursiveMatch) Lists/ (\"a\" b*) RETURN (children STATUS (unseen messages))"))
        #expect(full == ListRequest(reference: "Lists/", patterns: ["a", "b*"], selectSubscribed: true, recursiveMatch: true,
                                    returnSubscribed: true, returnChildren: true, statusItems: ["MESSAGES", "UNSEEN"], extended: true))
        let special = try ListRequest.parse(Self.arguments("(SPECIAL-USE) \"\" *"))
        #expect(special.selectSpecialUse && special.returnSpecialUse && special.extended)
        let empty = try ListRequest.parse(Self.arguments("\"\" * RETURN ()"))
        #expect(empty.extended && empty.statusItems.isEmpty && !empty.returnChildren)
        let utf7 = try ListRequest.parse(Self.arguments("\"\" Entw&APw-*"))
        #expect(utf7.patterns == ["Entwü*"])
    }

    @Test func ancestors() {
        #expect(ListPlanner.ancestors(of: "a/b/c") == ["a", "a/b"])
        #expect(ListPlanner.ancestors(of: "INBOX").isEmpty)
    }
}

@Suite struct MailboxPatternTests {
    @Test func wildcards() {
        #expect(MailboxPattern("*").matches("a/b/c"))
        #expect(MailboxPattern("%").matches("top"))
        #expect(!MailboxPattern("%").matches("a/b"))
        #expect(MailboxPattern("a/%").matches("a/b"))
        #expect(!MailboxPattern("a/%").matches("a/b/c"))
        #expect(MailboxPattern("a*c").matches("a/b/c"))
        #expect(MailboxPattern("%*%").matches("a/b"))
        #expect(!MailboxPattern("a%c").matches("a/c"))
        #expect(MailboxPattern("inbox").matches("INBOX"))
        #expect(!MailboxPattern("b").matches("ab"))
        #expect(MailboxPattern("").matches("") && !MailboxPattern("").matches("x"))
    }

    /// Hostile patterns: 60,000 stars, and many stars between letters against a long name.
    /// Neither recursion depth nor backtracking grows with them.
    @Test func hostilePatternsStayCheap() {
        #expect(MailboxPattern(String(repeating: "*", count: 60_000)).matches("x"))
        let name = String(repeating: "a", count: 250)
        #expect(!MailboxPattern(String(repeating: "*a", count: 3000) + "*b").matches(name))
    }
}
