import Foundation
import Glibc
import Testing

/// IDLE and other sessions see what outside writers do to the Maildir — a delivery agent
/// dropping a file into new/, a flag change or a deletion made by renaming or unlinking in
/// cur/ — through the mail process's inotify watch, not through Roost itself.
@Suite struct IMAPOutsideChangesTests {
    /// The INBOX directory of pepa's Maildir.
    static func inbox(_ roost: RoostProcess) -> String { "\(roost.directory)/home/pepa/Maildir" }

    /// Delivers like procmail or Dovecot's LDA: write in tmp/ as the mail user, rename into new/.
    /// Returns the base name and the time of the rename.
    @discardableResult
    static func dropIntoNew(_ roost: RoostProcess, _ text: String, name: String? = nil) throws -> (String, UInt64) {
        let base = name ?? "\(Int(Date().timeIntervalSince1970)).M\(Int.random(in: 0..<1_000_000))P\(getpid()).outside"
        let tmp = inbox(roost) + "/tmp/" + base
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) else { throw ClientError("create \(tmp)") }
        if TestEnv.isRoot { chown(tmp, 65534, 65534) }
        let at = DispatchTime.now().uptimeNanoseconds
        guard rename(tmp, inbox(roost) + "/new/" + base) == 0 else { throw ClientError("rename: \(errno)") }
        return (base, at)
    }

    /// The current file name in cur/ of a base name.
    static func curName(_ roost: RoostProcess, _ base: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: inbox(roost) + "/cur")) ?? []
        return names.first { $0.hasPrefix(base + ":") }
    }

    static func idle(_ port: Int, tag: String = "i") throws -> LineClient {
        let c = try LineClient(port: port, timeout: 20)
        _ = try c.readLine()
        _ = try c.command("a", "LOGIN pepa secret")
        _ = try c.command("b", "SELECT INBOX")
        try c.send("\(tag) IDLE\r\n")
        #expect(try c.readLine() == "+ idling")
        return c
    }

    /// Reads lines until one satisfies `match` (each read has the client's timeout as deadline).
    static func await(_ c: LineClient, _ match: (String) -> Bool) throws -> String {
        var seen: [String] = []
        while let l = try c.readLine() {
            if match(l) { return l }
            seen.append(l)
        }
        throw ClientError("connection closed; saw \(seen)")
    }

    @Test func idleSeesOutsideDeliveryFlagChangeAndDeletion() throws {
        let (roost, _, _, _) = try POP3Tests.start()
        defer { roost.stop() }
        let c = try Self.idle(roost.port() ?? 0)
        let (base, _) = try Self.dropIntoNew(roost, "Subject: outside\r\n\r\nfrom procmail\r\n")
        #expect(try Self.await(c) { $0.hasSuffix(" EXISTS") } == "* 1 EXISTS")
        // The session moved it to cur/; another client flags it by renaming.
        let cur = try #require(Self.curName(roost, base))
        #expect(rename(Self.inbox(roost) + "/cur/" + cur, Self.inbox(roost) + "/cur/" + base + ":2,FS") == 0)
        let fetch = try Self.await(c) { $0.contains(" FETCH ") }
        #expect(fetch.hasPrefix("* 1 FETCH (FLAGS (\\Flagged \\Seen"))
        try Self.dropIntoNew(roost, "Subject: second\r\n\r\ntwo\r\n")
        #expect(try Self.await(c) { $0.hasSuffix(" EXISTS") } == "* 2 EXISTS")
        // Deleted from outside while idling: EXPUNGE at once.
        #expect(unlink(Self.inbox(roost) + "/cur/" + base + ":2,FS") == 0)
        #expect(try Self.await(c) { $0.hasSuffix(" EXPUNGE") } == "* 1 EXPUNGE")
        // It was \Recent in this session: the count changed (RFC 3501 §7.3.2, as Dovecot).
        #expect(try c.readLine() == "* 1 RECENT")
        try c.send("DONE\r\n")
        #expect(try c.readLine() == "i OK Idle completed.")

        // Outside IDLE: RFC 3501 §7.4.1, no EXPUNGE during FETCH/STORE/SEARCH, at NOOP instead.
        let third = try Self.dropIntoNew(roost, "Subject: third\r\n\r\nthree\r\n").0
        let noop = try c.command("n", "NOOP")
        #expect(noop.contains("* 2 EXISTS"))
        let victim = try #require(Self.curName(roost, third))
        #expect(unlink(Self.inbox(roost) + "/cur/" + victim) == 0)
        let fetch2 = try c.command("f", "FETCH 1:* (FLAGS)")
        #expect(!fetch2.contains { $0.hasSuffix("EXPUNGE") })
        #expect(fetch2.last?.hasPrefix("f OK") == true)
        let search = try c.command("s", "SEARCH ALL")
        #expect(!search.contains { $0.hasSuffix("EXPUNGE") })
        #expect(try c.command("m", "NOOP") == ["* 2 EXPUNGE", "m OK NOOP completed."])
    }

    /// A session that just changed the folder itself (and so relies on the mail process's
    /// inotify watch instead of relisting new/ and cur/) still sees every change made right
    /// after its own by an outside writer, and by another session of the same user.
    @Test func outsideChangesRightAfterOwnChangesAreSeen() throws {
        let (roost, _, _, _) = try POP3Tests.start()
        defer { roost.stop() }
        let port = roost.port() ?? 0
        let c = try LineClient(port: port, timeout: 20)
        _ = try c.readLine()
        _ = try c.command("a", "LOGIN pepa secret")
        var bases: [String] = []
        // Names in delivery order, so UIDs follow `bases`.
        let stamp = Int(Date().timeIntervalSince1970)
        func name(_ i: Int) -> String { "\(stamp).M\(100 + i)P\(getpid()).outside" }
        for i in 1...4 { bases.append(try Self.dropIntoNew(roost, "Subject: m\(i)\r\n\r\nbody \(i)\r\n", name: name(i)).0) }
        #expect(try c.command("b", "SELECT INBOX").contains("* 4 EXISTS"))
        for round in 1...3 {
            // Our own change, then at once an outside flag change, deletion and delivery.
            #expect(try c.command("s\(round)", "STORE 1 FLAGS (\\Answered)").last == "s\(round) OK Store completed.")
            let second = try #require(Self.curName(roost, bases[1]))
            let flags = round % 2 == 1 ? "S" : "FS"
            #expect(rename(Self.inbox(roost) + "/cur/" + second, Self.inbox(roost) + "/cur/" + bases[1] + ":2," + flags) == 0)
            let victim = try #require(Self.curName(roost, bases.removeLast()))
            #expect(unlink(Self.inbox(roost) + "/cur/" + victim) == 0)
            bases.append(try Self.dropIntoNew(roost, "Subject: new \(round)\r\n\r\nbody\r\n", name: name(4 + round)).0)
            let noop = try c.command("n\(round)", "NOOP")
            let seen = round % 2 == 1 ? "\\Seen" : "\\Flagged \\Seen"
            #expect(noop == ["* 2 FETCH (FLAGS (\(seen) \\Recent))", "* 4 EXPUNGE", "* 4 EXISTS", "* 4 RECENT", "n\(round) OK NOOP completed."],
                    "round \(round)")
        }
        // Another session of the same user (same mail process, another view of the folder).
        let other = try LineClient(port: port, timeout: 20)
        _ = try other.readLine()
        _ = try other.command("a", "LOGIN pepa secret")
        _ = try other.command("b", "SELECT INBOX")
        #expect(try c.command("s", "STORE 3 +FLAGS (\\Draft)").contains { $0.hasPrefix("* 3 FETCH") })
        #expect(try other.command("x", "STORE 3 -FLAGS (\\Draft)").contains("* 3 FETCH (FLAGS ())"))
        #expect(try c.command("m", "NOOP") == ["* 3 FETCH (FLAGS (\\Recent))", "m OK NOOP completed."])
        #expect(try other.command("e", "EXPUNGE").last == "e OK Expunge completed.")
    }

    /// A folder renamed while another session has it selected: its new/ and cur/ are the same
    /// directories (one inotify watch each) under the new name. A session selecting the new name
    /// must keep seeing outside changes after the first session leaves the old name.
    @Test func aRenamedFolderStaysWatchedAfterTheOldNameIsLeft() throws {
        let (roost, _, _, _) = try POP3Tests.start()
        defer { roost.stop() }
        let port = roost.port() ?? 0
        func client() throws -> LineClient {
            let c = try LineClient(port: port, timeout: 20)
            _ = try c.readLine()
            _ = try c.command("a", "LOGIN pepa secret")
            return c
        }
        let a = try client(), b = try client()
        #expect(try a.command("c", "CREATE Foo").last == "c OK Create completed.")
        #expect(try a.command("s", "SELECT Foo").contains("* 0 EXISTS"))
        #expect(try b.command("r", "RENAME Foo Bar").last == "r OK Rename completed.")
        #expect(try b.command("s", "SELECT Bar").contains("* 0 EXISTS"))
        #expect(try a.command("t", "SELECT INBOX").last?.hasPrefix("t OK") == true)
        // An outside delivery into Bar, as procmail would.
        let bar = "\(roost.directory)/home/pepa/Maildir/.Bar"
        let base = "\(Int(Date().timeIntervalSince1970)).M1P\(getpid()).outside"
        #expect(FileManager.default.createFile(atPath: bar + "/tmp/" + base, contents: Data("Subject: x\r\n\r\nbody\r\n".utf8)))
        if TestEnv.isRoot { chown(bar + "/tmp/" + base, 65534, 65534) }
        #expect(rename(bar + "/tmp/" + base, bar + "/new/" + base) == 0)
        #expect(try b.command("n", "NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n OK NOOP completed."])
    }

    /// p99 from the rename into new/ to `* N EXISTS`, over 1,000 sessions idling in one folder
    /// (one mail process, one inotify instance) and a run of outside deliveries.
    @Test func outsideDeliveryReachesAThousandIdleSessionsQuickly() throws {
        TestEnv.raiseFileLimit()
        let (roost, _, _, _) = try POP3Tests.start()
        defer { roost.stop() }
        let port = roost.port() ?? 0
        var sessions: [LineClient] = []
        for i in 0..<1000 { sessions.append(try Self.idle(port, tag: "i\(i)")) }
        var latencies: [Double] = []
        for n in 1...10 {
            let (_, at) = try Self.dropIntoNew(roost, "Subject: burst \(n)\r\n\r\nbody\r\n")
            latencies += try Self.arrivalTimes(sessions, line: "* \(n) EXISTS").map { Double($0 - at) / 1e6 }
        }
        latencies.sort()
        let p50 = latencies[latencies.count / 2], p99 = latencies[latencies.count * 99 / 100]
        print("outside delivery → EXISTS over 1000 IDLE sessions: p50 \(p50) ms, p99 \(p99) ms, max \(latencies.last ?? 0) ms")
        #expect(latencies.count == 10_000)
        // The goal (release build, roost-bench idle --outside) is 50 ms; this debug build shares
        // two cores with the rest of the suite, so the bound only tells a push from a fallback
        // to polling (30 s, as Dovecot above ~128 sessions).
        #expect(p99 < 10_000, "p99 \(p99) ms")
    }

    /// Waits (poll(2), 20 s deadline) until every client has received `line`; returns when each did.
    static func arrivalTimes(_ clients: [LineClient], line: String) throws -> [UInt64] {
        var times = [UInt64?](repeating: nil, count: clients.count)
        var buffers = [[UInt8]](repeating: [], count: clients.count)
        let wanted = Array((line + "\r\n").utf8)
        let deadline = DispatchTime.now().uptimeNanoseconds + 20_000_000_000
        while times.contains(where: { $0 == nil }) {
            guard DispatchTime.now().uptimeNanoseconds < deadline else { throw ClientError("no \(line) within 20 s") }
            var fds = clients.indices.filter { times[$0] == nil }.map { pollfd(fd: clients[$0].fd, events: Int16(POLLIN), revents: 0) }
            let open = clients.indices.filter { times[$0] == nil }
            guard poll(&fds, nfds_t(fds.count), 1000) >= 0 else { continue }
            let now = DispatchTime.now().uptimeNanoseconds
            var chunk = [UInt8](repeating: 0, count: 4096)
            for (k, p) in fds.enumerated() where p.revents != 0 {
                let i = open[k]
                let n = recv(clients[i].fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
                guard n > 0 else { throw ClientError("session \(i) closed") }
                buffers[i] += chunk[..<n]
                if buffers[i].count >= wanted.count,
                   buffers[i].withUnsafeBufferPointer({ b in (0...(b.count - wanted.count)).contains { Array(b[$0..<($0 + wanted.count)]) == wanted } }) {
                    times[i] = now
                    buffers[i] = []
                }
            }
        }
        return times.map { $0 ?? 0 }
    }
}
