import Foundation
import Glibc

/// IMAP profiles: the mixed workload and IDLE push latency.
extension Profiles {
    /// One logged-in IMAP client doing a realistic mix on its user's INBOX: mostly header and
    /// body fetches, some flag changes and searches, an occasional APPEND + EXPUNGE.
    static func imapMixed(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let message = Message.make(size: 4096, seed: 99)
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { i in
            let c = try BenchConnection(host: t.host, port: t.imapPort)
            _ = try c.expect(prefix: "* OK")
            let state = IMAPState(c)
            try state.command("LOGIN \(t.name(i % max(1, t.users) + 1)) \(t.password)")
            let select = try state.command("SELECT INBOX")
            state.exists = select.compactMap { l -> Int? in
                l.hasSuffix(" EXISTS") ? Int(l.split(separator: " ")[1]) : nil
            }.last ?? 0
            return state
        }, iteration: { state, samples in
            let s = state as! IMAPState
            guard s.exists > 0 else { throw BenchError("empty INBOX") }
            let n = Int.random(in: 1...s.exists)
            let roll = Int.random(in: 0..<100)
            switch roll {
            case 0..<35:
                try timed(samples, "fetch-headers") {
                    _ = try s.command("FETCH \(max(1, n - 9)):\(n) (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])")
                }
            case 35..<60:
                try timed(samples, "fetch-body") { _ = try s.command("FETCH \(n) BODY.PEEK[]") }
            case 60..<75:
                try timed(samples, "store") { _ = try s.command("STORE \(n) \(Bool.random() ? "+" : "-")FLAGS (\\Flagged)") }
            case 75..<85:
                try timed(samples, "search") { _ = try s.command("SEARCH UNSEEN") }
            case 85..<95:
                try timed(samples, "noop") { _ = try s.command("NOOP") }
            default:
                try timed(samples, "append+expunge") {
                    try s.connection.send("\(s.nextTag()) APPEND INBOX {\(message.count)}\r\n")
                    _ = try s.connection.expect(prefix: "+")
                    try s.connection.send(message + Array("\r\n".utf8))
                    _ = try s.waitTagged()
                    _ = try s.command("STORE \(s.exists) +FLAGS.SILENT (\\Deleted)")
                    _ = try s.command("EXPUNGE")
                }
            }
        })
        return summarize(samples, duration: duration, errors: errors, unit: "/s")
    }

    /// Whole-message FETCH over IMAPS: each client logs in over TLS and walks its INBOX with
    /// `FETCH n BODY.PEEK[]` (use `--message-size` on compare for large bodies).
    static func imapsFetch(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let context = ClientContext()
        let bytes = Samples()
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { i in
            let c = try BenchConnection(host: t.host, port: t.imapsPort)
            try c.startTLS(context)
            _ = try c.expect(prefix: "* OK")
            let state = IMAPState(c)
            try state.command("LOGIN \(t.name(i % max(1, t.users) + 1)) \(t.password)")
            try state.command("SELECT INBOX")
            return state
        }, iteration: { state, samples in
            let s = state as! IMAPState
            guard s.exists > 0 else { throw BenchError("empty INBOX") }
            s.cursor = s.cursor % s.exists + 1
            try timed(samples, "fetch-body") {
                let lines = try s.command("FETCH \(s.cursor) BODY.PEEK[]")
                bytes.add("bytes", Double(s.lastLiteral))
                guard lines.count >= 2 else { throw BenchError("no FETCH data") }
            }
        })
        var r = summarize(samples, duration: duration, errors: errors, unit: "/s")
        r.add("FETCH MB/s", (bytes.all["bytes"] ?? []).reduce(0, +) / duration / 1e6)
        return r
    }

    /// A webmail page view as Roundcube makes one (a connection per request): LOGIN, SELECT,
    /// a server-side UID SORT of the whole INBOX by a column the user picked, the headers of
    /// the first 50 of that order, LOGOUT.
    static func webmail(_ t: Target, clients: Int, duration: Double) -> ProfileResult {
        let columns = ["REVERSE DATE", "REVERSE ARRIVAL", "SUBJECT", "FROM", "SIZE"]
        let (samples, errors) = runLoad(clients: clients, duration: duration, setUp: { i in
            t.name(i % max(1, t.users) + 1) as NSString
        }, iteration: { user, samples in
            let user = (user as! NSString) as String
            try timed(samples, "page") {
                let c = try BenchConnection(host: t.host, port: t.imapPort)
                _ = try c.expect(prefix: "* OK")
                let s = IMAPState(c)
                try s.command("LOGIN \(user) \(t.password)")
                try s.command("SELECT INBOX")
                let sorted = try s.command("UID SORT (\(columns.randomElement()!)) UTF-8 ALL")
                let uids = sorted.first { $0.hasPrefix("* SORT") }?.split(separator: " ").dropFirst(2).prefix(50) ?? []
                guard !uids.isEmpty else { throw BenchError("empty SORT answer: \(sorted.last ?? "")") }
                try s.command("UID FETCH \(uids.joined(separator: ",")) (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM TO SUBJECT CONTENT-TYPE)])")
                try s.command("LOGOUT")
            }
        })
        return summarize(samples, duration: duration, errors: errors, unit: "/s")
    }

    final class IMAPState {
        let connection: BenchConnection
        var exists = 0
        var cursor = 0
        /// Size of the last literal skipped in a reply.
        var lastLiteral = 0
        private var tag = 0
        init(_ c: BenchConnection) { connection = c }

        func nextTag() -> String {
            tag += 1
            return "t\(tag)"
        }

        /// Sends a command and reads to its tagged reply, tracking EXISTS.
        @discardableResult
        func command(_ text: String) throws -> [String] {
            try connection.send("\(nextTag()) \(text)\r\n")
            return try waitTagged()
        }

        func waitTagged() throws -> [String] {
            let mine = "t\(tag) "
            var lines: [String] = []
            while true {
                let l = try connection.line()
                // Literals in FETCH replies: skip their bytes.
                if l.hasSuffix("}"), let open = l.lastIndex(of: "{"), let n = Int(l[l.index(after: open)..<l.index(before: l.endIndex)]) {
                    try connection.skip(bytes: n)
                    lastLiteral = n
                }
                if l.hasPrefix("* "), l.hasSuffix(" EXISTS"), let e = Int(l.split(separator: " ")[1]) { exists = e }
                if l.hasPrefix("* "), l.hasSuffix(" EXPUNGE") { exists -= 1 }
                lines.append(l)
                if l.hasPrefix(mine) {
                    guard l.hasPrefix(mine + "OK") else { throw BenchError(l) }
                    return lines
                }
            }
        }
    }

    /// `clients` sessions IDLE on INBOX; `deliveries` LMTP deliveries follow one by one; for
    /// each, the time from its 250 until every session has seen EXISTS. With `outside`, each
    /// delivery is a file renamed from tmp/ into new/ (procmail, maildrop, Dovecot's LDA), and
    /// the time runs from the rename.
    static func idle(_ t: Target, sessions: Int, deliveries: Int, tls: Bool = false, outside: Bool = false) throws -> ProfileResult {
        let context = ClientContext()
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        var conns: [BenchConnection] = []
        for i in 0..<sessions {
            let c = try BenchConnection(host: t.host, port: tls ? t.imapsPort : t.imapPort, timeout: 60)
            if tls { try c.startTLS(context) }
            _ = try c.expect(prefix: "* OK")
            let s = IMAPState(c)
            try s.command("LOGIN \(t.user) \(t.password)")
            try s.command("SELECT INBOX")
            try c.send("i IDLE\r\n")
            _ = try c.expect(prefix: "+ ")
            conns.append(c)
            if i % 1000 == 999 { FileHandle.standardError.write(Data("\(i + 1) sessions idling\n".utf8)) }
        }
        let deliver = outside ? try outsideDelivery(t) : try lmtpDelivery(t)
        var latencies: [Double] = []
        for d in 0..<deliveries {
            let t0 = try deliver(d)
            // Wait on every session with poll(); record when each one's EXISTS arrives.
            var pending = Set(conns.indices)
            var fds = conns.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let deadline = Date().addingTimeInterval(60)
            // Lines already buffered (by us or by TLS) do not make the socket readable: drain
            // them first, and read every complete line of a readable session.
            func drain(_ i: Int, read: Bool) {
                var first = read
                while pending.contains(i) && (first || conns[i].hasBufferedData) {
                    first = false
                    guard let l = try? conns[i].line() else { return }
                    if l.hasSuffix(" EXISTS") {
                        pending.remove(i)
                        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                    }
                }
            }
            for i in conns.indices { drain(i, read: false) }
            while !pending.isEmpty && Date() < deadline {
                for i in fds.indices { fds[i].revents = 0 }
                _ = poll(&fds, nfds_t(fds.count), 1000)
                for i in fds.indices where fds[i].revents != 0 && pending.contains(i) { drain(i, read: true) }
            }
            if !pending.isEmpty { throw BenchError("\(pending.count) sessions never saw delivery \(d)") }
        }
        var r = ProfileResult()
        r.add("sessions", Double(sessions))
        // Sampled now, with every session still open (after the run they are gone).
        if let (rss, pss, _) = t.memory?() {
            r.add("server RSS MiB (sessions open)", Double(rss) / 1024)
            r.add("server PSS MiB (sessions open)", Double(pss) / 1024)
        }
        r.add("push p50 ms", percentile(latencies, 0.5) * 1000)
        r.add("push p99 ms", percentile(latencies, 0.99) * 1000)
        r.add("push max ms", (latencies.max() ?? 0) * 1000)
        return r
    }

    /// Delivers message `d` over LMTP; returns when the 250 arrived.
    static func lmtpDelivery(_ t: Target) throws -> (Int) throws -> UInt64 {
        let lmtp = try BenchConnection(host: t.host, port: t.lmtpPort)
        _ = try lmtp.expect(prefix: "220")
        try lmtp.send("LHLO bench\r\n")
        while try !lmtp.line().hasPrefix("250 ") {}
        return { d in
            try lmtp.send("MAIL FROM:<b@x>\r\nRCPT TO:<\(t.user)>\r\nDATA\r\nSubject: idle \(d)\r\n\r\nx\r\n.\r\n")
            for _ in 0..<3 { _ = try lmtp.line() }
            _ = try lmtp.expect(prefix: "250")
            return DispatchTime.now().uptimeNanoseconds
        }
    }

    /// Writes message `d` into tmp/ owned like the Maildir, renames it into new/; returns when
    /// the rename was done. Deliveries are 20 ms apart at least: Roost's folder watcher
    /// announces the first change at once but then at most one per 10 ms, and this profile
    /// times single deliveries, not that coalescing of bursts.
    static func outsideDelivery(_ t: Target) throws -> (Int) throws -> UInt64 {
        guard let homes = t.homes else { throw BenchError("idle --outside needs the users' homes (--homes)") }
        let maildir = homes + "/" + t.user + "/Maildir"
        var owner = stat()
        guard stat(maildir + "/new", &owner) == 0 else { throw BenchError("no Maildir at \(maildir)") }
        var last: UInt64 = 0
        return { d in
            let gap = DispatchTime.now().uptimeNanoseconds &- last
            if gap < 20_000_000 { usleep(useconds_t((20_000_000 - gap) / 1000)) }
            // Unique across runs too: a base name seen before is the same message to a server.
            let now = Date().timeIntervalSince1970
            let base = "\(Int(now)).M\(Int(now * 1e6) % 1_000_000)P\(getpid())Q\(d).outside"
            let tmp = maildir + "/tmp/" + base
            guard FileManager.default.createFile(atPath: tmp, contents: Data("Subject: idle \(d)\r\n\r\nx\r\n".utf8)) else {
                throw BenchError("cannot write \(tmp)")
            }
            _ = chown(tmp, owner.st_uid, owner.st_gid)
            let t0 = DispatchTime.now().uptimeNanoseconds
            guard rename(tmp, maildir + "/new/" + base) == 0 else { throw BenchError("rename into new/: errno \(errno)") }
            last = t0
            return t0
        }
    }
}
