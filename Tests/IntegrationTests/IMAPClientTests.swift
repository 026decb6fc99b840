import Foundation
import Glibc
import Testing

/// Real IMAP clients from Debian against the built binary: mbsync (isync) syncing both ways,
/// curl's imap:// LIST and FETCH, and offlineimap3. Each test checks the client's files and
/// the server's state afterwards. Skipped where the client is not installed
/// (.ci/run installs isync, offlineimap3 and curl).
@Suite struct IMAPClientTests {
    static let namespace = """
    namespace inbox {
      inbox = yes
      separator = /
      mailbox Sent {
        special_use = \\Sent
        auto = subscribe
      }
      mailbox Drafts {
        special_use = \\Drafts
        auto = subscribe
      }
      mailbox Trash {
        special_use = \\Trash
      }
    }

    """

    static func start() throws -> (RoostProcess, imap: Int, lmtp: Int) {
        let (roost, _, _, lmtp) = try POP3Tests.start(extra: namespace)
        return (roost, try #require(roost.port()), lmtp)
    }

    static func maildir(_ roost: RoostProcess) -> String { roost.directory + "/home/pepa/Maildir" }

    /// File names (without directory) of a Maildir folder's messages, cur/ and new/.
    static func messageFiles(_ folder: String) -> [String] {
        ["cur", "new"].flatMap { sub in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + sub)) ?? []).map { sub + "/" + $0 }
        }.sorted()
    }

    static func contents(_ path: String) -> String {
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }

    static func login(_ port: Int) throws -> LineClient {
        let c = try LineClient(port: port)
        _ = try c.readLine()
        #expect(try c.command("l", "LOGIN pepa secret").last?.hasPrefix("l OK") == true)
        return c
    }

    // MARK: mbsync

    static func mbsyncConfig(port: Int, local: String) -> String {
        """
        IMAPAccount roost
        Host 127.0.0.1
        Port \(port)
        User pepa
        Pass secret
        SSLType None
        AuthMechs LOGIN

        IMAPStore remote
        Account roost

        MaildirStore local
        Path \(local)/
        Inbox \(local)/INBOX
        SubFolders Verbatim

        Channel roost
        Far :remote:
        Near :local:
        Patterns *
        Create Both
        Expunge Both
        SyncState *

        """
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mbsync")))
    func mbsyncSyncsBothWays() throws {
        let (roost, port, lmtp) = try Self.start()
        defer { roost.stop() }
        try POP3Tests.deliver((1...3).map { "Subject: sync \($0)\r\nMessage-ID: <sync\($0)@t>\r\n\r\nbody \($0)\r\n" }, lmtp: lmtp)
        let local = roost.directory + "/mbsync"
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        let rc = roost.directory + "/mbsyncrc"
        try Self.mbsyncConfig(port: port, local: local).write(toFile: rc, atomically: true, encoding: .utf8)
        func sync() throws {
            let r = try TestTool.run("/usr/bin/mbsync", ["-c", rc, "-a"], environment: ["HOME": roost.directory])
            #expect(r.status == 0, "mbsync: \(r.out)\n\(r.err)")
        }

        // 1. Server → local: three messages, and the auto-created special-use folders.
        try sync()
        var inbox = Self.messageFiles(local + "/INBOX")
        #expect(inbox.count == 3, "\(inbox)")
        #expect(FileManager.default.fileExists(atPath: local + "/Sent/cur"))
        #expect(FileManager.default.fileExists(atPath: local + "/Drafts/cur"))
        let first = try #require(inbox.first { Self.contents(local + "/INBOX/" + $0).contains("Subject: sync 1\r\n") ||
            Self.contents(local + "/INBOX/" + $0).contains("Subject: sync 1\n") })

        // 2. Local changes: flag message 1 (Maildir info ":2,FS"), add a message to Sent.
        let flagged = local + "/INBOX/cur/" + (first.split(separator: "/").last.map(String.init) ?? "")
            .split(separator: ":").first.map(String.init)! + ":2,FS"
        #expect(rename(local + "/INBOX/" + first, flagged) == 0)
        let sent = "From: pepa@example.org\r\nSubject: written locally\r\nMessage-ID: <local1@t>\r\n\r\nsent from mbsync\r\n"
        try sent.write(toFile: local + "/Sent/new/1700000000.local1.host", atomically: true, encoding: .utf8)
        // 3. Server change: new mail.
        try POP3Tests.deliver(["Subject: sync 4\r\nMessage-ID: <sync4@t>\r\n\r\nbody 4\r\n"], lmtp: lmtp)
        try sync()

        inbox = Self.messageFiles(local + "/INBOX")
        #expect(inbox.count == 4, "new server mail reached the local Maildir: \(inbox)")
        #expect(inbox.contains { Self.contents(local + "/INBOX/" + $0).contains("Subject: sync 4") })
        // The flags reached the server (IMAP and the server's Maildir file name agree).
        let c = try Self.login(port)
        let select = try c.command("s", "SELECT INBOX")
        #expect(select.contains("* 4 EXISTS"))
        let flags = try c.command("f", "FETCH 1:4 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        let line = try #require(flags.firstIndex { $0.hasPrefix("* 1 FETCH") })
        #expect(flags[line].hasPrefix("* 1 FETCH (FLAGS (\\Flagged \\Seen) "), "\(flags)")
        #expect(flags[line + 1] == "Subject: sync 1")
        #expect(Self.messageFiles(Self.maildir(roost)).filter { $0.hasSuffix(":2,FS") }.count == 1)
        // The local message was appended to the server's Sent.
        #expect(try c.command("t", "STATUS Sent (MESSAGES)").first == "* STATUS Sent (MESSAGES 1)")
        let sentFiles = Self.messageFiles(Self.maildir(roost) + "/.Sent")
        #expect(sentFiles.count == 1)
        #expect(sentFiles.first.map { Self.contents(Self.maildir(roost) + "/.Sent/" + $0).hasSuffix("\r\n\r\nsent from mbsync\r\n") } == true)
        _ = try c.command("z", "LOGOUT")
    }

    // MARK: curl

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")))
    func curlListsAndFetches() throws {
        let (roost, port, lmtp) = try Self.start()
        defer { roost.stop() }
        let message = "Subject: curl me\r\nMessage-ID: <curl@t>\r\n\r\nline one\r\n.dot line\r\n"
        try POP3Tests.deliver([message], lmtp: lmtp)
        let base = "imap://127.0.0.1:\(port)"
        let list = try TestTool.run("/usr/bin/curl", ["-sS", "-u", "pepa:secret", base + "/"])
        #expect(list.status == 0, "\(list.err)")
        #expect(list.out == """
        * LIST (\\HasNoChildren) "/" INBOX\r
        * LIST (\\HasNoChildren \\Drafts) "/" Drafts\r
        * LIST (\\HasNoChildren \\Sent) "/" Sent\r

        """)
        // The stored file (with the Return-Path/Received headers LMTP added) comes back byte for byte.
        let stored = try #require(Self.messageFiles(Self.maildir(roost)).first.map { Self.contents(Self.maildir(roost) + "/" + $0) })
        let fetch = try TestTool.run("/usr/bin/curl", ["-sS", "-u", "pepa:secret", base + "/INBOX;UID=1"])
        #expect(fetch.status == 0, "\(fetch.err)")
        #expect(fetch.out == stored)
        #expect(fetch.out.hasSuffix(message))
        let search = try TestTool.run("/usr/bin/curl", ["-sS", "-u", "pepa:secret", base + "/INBOX?SUBJECT%20curl"])
        #expect(search.out == "* SEARCH 1\r\n")
        let missing = try TestTool.run("/usr/bin/curl", ["-sS", "-u", "pepa:secret", base + "/Nope;UID=1"])
        #expect(missing.status != 0)
        // curl's fetch reads the message with BODY[]: it is \Seen now.
        let c = try Self.login(port)
        _ = try c.command("s", "EXAMINE INBOX")
        #expect(try c.command("f", "FETCH 1 FLAGS").first == "* 1 FETCH (FLAGS (\\Seen))")
    }

    // MARK: offlineimap3

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/offlineimap")))
    func offlineimapSyncsBothWays() throws {
        let (roost, port, lmtp) = try Self.start()
        defer { roost.stop() }
        try POP3Tests.deliver((1...3).map { "Subject: oi \($0)\r\nMessage-ID: <oi\($0)@t>\r\n\r\nbody \($0)\r\n" }, lmtp: lmtp)
        let local = roost.directory + "/oimail", meta = roost.directory + "/oimeta"
        let rc = roost.directory + "/offlineimaprc"
        try """
        [general]
        accounts = roost
        metadata = \(meta)
        ui = quiet

        [Account roost]
        localrepository = local
        remoterepository = remote

        [Repository local]
        type = Maildir
        localfolders = \(local)
        sep = /

        [Repository remote]
        type = IMAP
        remotehost = 127.0.0.1
        remoteport = \(port)
        remoteuser = pepa
        remotepass = secret
        ssl = no
        starttls = no

        """.write(toFile: rc, atomically: true, encoding: .utf8)
        func sync() throws {
            let r = try TestTool.run("/usr/bin/offlineimap", ["-c", rc, "-o", "-u", "quiet"], environment: ["HOME": roost.directory])
            #expect(r.status == 0, "offlineimap: \(r.out)\n\(r.err)")
        }
        try sync()
        var inbox = Self.messageFiles(local + "/INBOX")
        #expect(inbox.count == 3, "\(inbox)")
        #expect(FileManager.default.fileExists(atPath: local + "/Sent/cur"), "\(Self.messageFiles(local))")
        // Mark one message seen and flagged locally; deliver one more on the server.
        let first = try #require(inbox.first)
        let base = String(first.split(separator: "/").last!).split(separator: ":").first.map(String.init)!
        #expect(rename(local + "/INBOX/" + first, local + "/INBOX/cur/" + base + ":2,FS") == 0)
        try POP3Tests.deliver(["Subject: oi 4\r\nMessage-ID: <oi4@t>\r\n\r\nbody 4\r\n"], lmtp: lmtp)
        try sync()
        inbox = Self.messageFiles(local + "/INBOX")
        #expect(inbox.count == 4, "\(inbox)")
        #expect(inbox.contains { Self.contents(local + "/INBOX/" + $0).contains("Subject: oi 4") })
        let c = try Self.login(port)
        _ = try c.command("s", "EXAMINE INBOX")
        let flags = try c.command("f", "FETCH 1:4 FLAGS")
        #expect(flags.filter { $0.contains("(FLAGS (\\Flagged \\Seen))") }.count == 1, "\(flags)")
        #expect(Self.messageFiles(Self.maildir(roost)).filter { $0.hasSuffix(":2,FS") }.count == 1)
    }
}
