import Foundation
import Testing

/// What a session hears of another session's changes, against a live Dovecot 2.3: one FETCH
/// per message with its latest flags (also when a change was undone), none for a message
/// expunged meanwhile, FETCHes before EXPUNGEs, and `* n RECENT` whenever expunges change the
/// session's \Recent count (after EXPUNGE and MOVE of its own too). Order matters here, so
/// the lines are compared as sent, with only Dovecot's timing suffix and the COPYUID line
/// (UIDVALIDITY differs) taken out.
@Suite struct IMAPUpdatesDifferentialTests {
    /// (session, command); session 0 selects first, so the messages are \Recent in it.
    static let script: [(Int, String)] = [
        (0, "SELECT u"), (1, "SELECT u"),
        (1, "STORE 3 +FLAGS (\\Flagged)"), (1, "STORE 1 +FLAGS (\\Seen)"), (1, "STORE 3 -FLAGS (\\Flagged)"),
        (1, "STORE 2 +FLAGS (\\Answered)"), (1, "STORE 4 +FLAGS (\\Deleted)"), (1, "STORE 4 +FLAGS (\\Seen)"),
        (1, "EXPUNGE"),
        (0, "NOOP"),
        (1, "STORE 1 +FLAGS (\\Draft)"), (1, "STORE 1 -FLAGS (\\Draft)"),
        (0, "NOOP"),
        (0, "STORE 1 +FLAGS.SILENT (\\Deleted)"), (0, "EXPUNGE"), (1, "NOOP"),
        (0, "MOVE 1 u2"), (1, "NOOP"), (0, "NOOP"),
    ]

    static func transcript(port: Int) throws -> [[String]] {
        let sessions = [try IMAPClientTests.login(port), try IMAPClientTests.login(port)]
        _ = try sessions[0].command("c1", "CREATE u")
        _ = try sessions[0].command("c2", "CREATE u2")
        for i in 1...4 {
            let m = "Subject: m\(i)\r\n\r\nbody \(i)\r\n"
            _ = try sessions[0].command("a\(i)", "APPEND u {\(m.utf8.count)+}\r\n\(m)")
        }
        var answers: [[String]] = []
        for (i, (session, command)) in script.enumerated() {
            let lines = try sessions[session].command("t\(i)", command)
            answers.append(lines.filter { !$0.hasPrefix("* OK [COPYUID ") && !$0.hasPrefix("* OK [UIDVALIDITY ") }.map {
                $0.replacingOccurrences(of: #" \(\d+\.\d+ \+ \d+\.\d+( \+ \d+\.\d+)? secs\)"#, with: "", options: .regularExpression)
            })
        }
        return answers
    }

    @Test(.enabled(if: IMAPDovecotDifferentialTests.enabled))
    func updatesEqualDovecots() throws {
        try IMAPDovecotDifferentialTests.withBothServers { roostPort, dovecotPort in
            let ours = try Self.transcript(port: roostPort)
            let theirs = try Self.transcript(port: dovecotPort)
            #expect(ours.count == theirs.count)
            for (i, (session, command)) in Self.script.enumerated() where i < min(ours.count, theirs.count) {
                #expect(ours[i] == theirs[i], "session \(session): \(command)")
            }
        }
    }
}
