import Foundation
import Glibc
import Testing

/// A 50 MB message through IMAP with bounded memory: APPEND streams the literal into tmp/,
/// FETCH streams the file out with bare LFs turned into CRLF on the fly.
@Suite struct IMAPLargeMessageTests {
    /// ~50 MB of numbered lines ending in bare LF (as procmail or a Unix MUA writes them), and
    /// the same with CRLF (what IMAP must send).
    static func message(size: Int) -> (lf: [UInt8], crlf: [UInt8]) {
        var lf = Array("From: big@example.org\nSubject: fifty megabytes\n\n".utf8)
        var crlf = Array("From: big@example.org\r\nSubject: fifty megabytes\r\n\r\n".utf8)
        lf.reserveCapacity(size + 100)
        crlf.reserveCapacity(size + size / 40)
        let filler = Array(repeating: UInt8(ascii: "x"), count: 60)
        var i = 0
        while lf.count < size - 80 {
            let number = Array(String(i).utf8)
            lf += number; lf += filler; lf.append(10)
            crlf += number; crlf += filler; crlf += [13, 10]
            i += 1
        }
        return (lf, crlf)
    }

    static func mailProcessPeakKB(_ roost: RoostProcess) -> Int {
        roost.children().filter { $0.role == "mail" }.map {
            RoostProcess.status($0.pid, "VmHWM").flatMap { Int($0.split(separator: " ")[0]) } ?? 0
        }.max() ?? 0
    }

    @Test func fiftyMegabyteAppendAndFetchWithBoundedMemory() throws {
        let (roost, _, _, _) = try POP3Tests.start()
        defer { roost.stop() }
        let (lf, crlf) = Self.message(size: 50_000_000)
        let c = try LineClient(port: roost.port() ?? 0, timeout: 60)
        _ = try c.readLine()
        _ = try c.command("a", "LOGIN pepa secret")
        try c.send("b APPEND INBOX (\\Flagged) {\(lf.count)}\r\n")
        #expect(try c.readLine() == "+ OK")
        var offset = 0
        while offset < lf.count {
            try c.send(Array(lf[offset..<min(lf.count, offset + (1 << 20))]))
            offset += 1 << 20
        }
        try c.send("\r\n")
        let appended = try c.readUntilTagged("b")
        #expect(appended.last?.hasPrefix("b OK [APPENDUID ") == true, "\(appended)")
        #expect(appended.last?.hasSuffix(" 1] Append completed.") == true)
        let afterAppend = Self.mailProcessPeakKB(roost)

        // Stored byte for byte, named with S= and the CRLF size W=.
        let stored = LMTPTests.messages(roost, "pepa")
        #expect(stored.count == 1)
        let (name, bytes) = try #require(stored.first)
        #expect(bytes == lf)
        #expect(name.contains(",S=\(lf.count),W=\(crlf.count):2,F"), "\(name)")

        _ = try c.command("s", "SELECT INBOX")
        try c.send("f FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")
        #expect(try c.readLine() == "* 1 FETCH (RFC822.SIZE \(crlf.count) BODY[] {\(crlf.count)}")
        let fetched = try c.readBytes(crlf.count)
        #expect(fetched == crlf)
        #expect(try c.readUntilTagged("f") == [")", "f OK Fetch completed."])

        // A partial, and RFC822 (which sets \Seen and says so).
        try c.send("g FETCH 1 BODY.PEEK[]<1000000.3000000>\r\n")
        #expect(try c.readLine() == "* 1 FETCH (BODY[]<1000000> {3000000}")
        #expect(try c.readBytes(3_000_000) == Array(crlf[1_000_000..<4_000_000]))
        #expect(try c.readUntilTagged("g") == [")", "g OK Fetch completed."])
        try c.send("h FETCH 1 RFC822\r\n")
        #expect(try c.readLine() == "* 1 FETCH (RFC822 {\(crlf.count)}")
        #expect(try c.readBytes(crlf.count) == crlf)
        #expect(try c.readUntilTagged("h") == [" FLAGS (\\Flagged \\Seen))", "h OK Fetch completed."])
        #expect(try c.command("n", "NOOP") == ["n OK NOOP completed."])

        let peak = Self.mailProcessPeakKB(roost)
        print("mail process VmHWM: \(afterAppend) kB after a 50 MB APPEND, \(peak) kB after FETCHing it three times")
        #expect(afterAppend < 64 * 1024, "peak RSS \(afterAppend) kB after APPEND")
        #expect(peak < 64 * 1024, "peak RSS \(peak) kB after FETCH")
    }

    /// Over quota: the announced size is checked before the continuation, so the client never
    /// sends the data; with LITERAL+ the data is read and dropped.
    @Test func largeAppendOverQuotaIsRefusedBeforeTheData() throws {
        let (roost, _, _, _) = try POP3Tests.start(extra: """
            mail_plugins = quota
            plugin {
              quota = maildir:User quota
              quota_rule = *:storage=1M
            }

            """)
        defer { roost.stop() }
        let c = try LineClient(port: roost.port() ?? 0, timeout: 20)
        _ = try c.readLine()
        _ = try c.command("a", "LOGIN pepa secret")
        try c.send("b APPEND INBOX {5000000}\r\n")
        #expect(try c.readLine()?.hasPrefix("b NO [OVERQUOTA]") == true)
        try c.send("c APPEND INBOX {5000000+}\r\n")
        try c.send([UInt8](repeating: UInt8(ascii: "y"), count: 5_000_000) + Array("\r\n".utf8))
        #expect(try c.readLine()?.hasPrefix("c NO [OVERQUOTA]") == true)
        try c.send("d APPEND Nope {2000000}\r\n")
        #expect(try c.readLine()?.hasPrefix("d NO [TRYCREATE]") == true)
        #expect(try c.command("e", "NOOP") == ["e OK NOOP completed."])
        #expect(LMTPTests.messages(roost, "pepa").isEmpty)
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: "\(roost.directory)/home/pepa/Maildir/tmp")) ?? []
        #expect(tmp.isEmpty)
    }
}
