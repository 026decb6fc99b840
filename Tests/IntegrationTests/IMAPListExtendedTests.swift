import Foundation
import Glibc
import Testing

/// SPECIAL-USE, LIST-EXTENDED, LIST-STATUS and ESEARCH through the built binary, with the
/// `namespace inbox { mailbox … }` settings read from the config file. Expected lines are
/// Dovecot 2.3's answers to the same commands (ListExtendedTests has the full set).
@Suite struct IMAPListExtendedTests {
    @Test func specialUseMailboxesFromTheConfig() throws {
        let (roost, port, lmtp) = try IMAPClientTests.start()
        defer { roost.stop() }
        try POP3Tests.deliver((1...4).map { "Subject: es \($0)\r\n\r\nbody\r\n" }, lmtp: lmtp)
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("a", "LOGIN pepa secret") == ["a OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in"])
        // auto = subscribe: created and subscribed at login, in Dovecot's files.
        let maildir = IMAPClientTests.maildir(roost)
        for folder in [".Sent", ".Drafts"] {
            #expect(FileManager.default.fileExists(atPath: maildir + "/" + folder + "/maildirfolder"))
        }
        #expect(!FileManager.default.fileExists(atPath: maildir + "/.Trash"))
        #expect(IMAPClientTests.contents(maildir + "/subscriptions") == "V\t2\n\nSent\nDrafts\n")
        #expect(try c.command("b", "LIST \"\" *") == [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
            "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
            "b OK List completed."])
        #expect(try c.command("c", "LIST (SPECIAL-USE) \"\" * RETURN (STATUS (MESSAGES UNSEEN))") == [
            "* LIST (\\Drafts) \"/\" Drafts", "* STATUS Drafts (MESSAGES 0 UNSEEN 0)",
            "* LIST (\\Sent) \"/\" Sent", "* STATUS Sent (MESSAGES 0 UNSEEN 0)",
            "c OK List completed."])
        #expect(try c.command("d", "LIST (SUBSCRIBED) \"\" * RETURN (CHILDREN SPECIAL-USE)") == [
            "* LIST (\\Subscribed \\HasNoChildren \\Sent) \"/\" Sent",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \"/\" Drafts",
            "d OK List completed."])
        #expect(try c.command("e", "LSUB \"\" *") == ["* LSUB (\\Sent) \"/\" Sent", "* LSUB (\\Drafts) \"/\" Drafts", "e OK Lsub completed."])
        #expect(try c.command("f", "LIST \"\" (INBOX Sent) RETURN (STATUS (MESSAGES UIDNEXT))") == [
            "* LIST () \"/\" INBOX", "* STATUS INBOX (MESSAGES 4 UIDNEXT 5)",
            "* LIST () \"/\" Sent", "* STATUS Sent (MESSAGES 0 UIDNEXT 1)",
            "f OK List completed."])
        #expect(try c.command("g", "SELECT INBOX").last == "g OK [READ-WRITE] Select completed.")
        _ = try c.command("h", "STORE 2 +FLAGS.SILENT (\\Seen)")
        #expect(try c.command("i", "SEARCH RETURN (MIN MAX ALL COUNT) UNSEEN") == [
            "* ESEARCH (TAG \"i\") MIN 1 MAX 4 ALL 1,3:4 COUNT 3", "i OK Search completed."])
        #expect(try c.command("j", "UID SEARCH RETURN (COUNT) SUBJECT nothing") == [
            "* ESEARCH (TAG \"j\") UID COUNT 0", "j OK Search completed."])
        #expect(try c.command("k", "LIST (RECURSIVEMATCH) \"\" *") == [
            "k BAD Error in IMAP command LIST: RECURSIVEMATCH must not be the only selection."])
        _ = try c.command("z", "LOGOUT")
    }
}
