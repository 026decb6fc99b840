import Foundation
import Glibc
import Testing

/// The tagged NO and BAD answers of Roost and of a private Dovecot 2.3 to the same bad commands:
/// syntax errors, wrong arguments, commands in the wrong state, unknown mailboxes, bad sequence
/// sets, flags, FETCH items, STORE forms, SEARCH keys, APPEND dates and literals. Both servers
/// get the same setup and the same probes; each answer (untagged lines and the tagged one, with
/// Dovecot's timing dropped) must be equal; CAPABILITY lines are left out (the two servers have
/// different extensions). Cases where Roost keeps RFC 3501 over Dovecot are not here; README
/// "Differences from Dovecot" lists them — among them APPEND refused with a `{n+}` literal
/// after the bad argument: Dovecot reads the literal's bytes as the next command. Root only, like the LIST/SEARCH
/// comparison (IMAPDovecotDifferentialTests), whose helpers start Dovecot.
@Suite struct IMAPDovecotErrorTests {
    /// A line as sent (CRLF is added; `{n+}` literals go inline) and the tag of its answer.
    struct Probe: CustomStringConvertible, Sendable {
        let line: String
        let tag: String
        init(_ command: String) { line = "e " + command; tag = "e" }
        init(raw: String, tag: String) { line = raw; self.tag = tag }
        var description: String { line.count > 80 ? String(line.prefix(80)) + "…" : line }
    }

    /// Each on a fresh connection: imap-login ends the session at the third bad command.
    static let preLogin: [Probe] = [
        Probe("FOO"), Probe("SELECT INBOX"), Probe("LOGIN"), Probe("LOGIN onlyuser"), Probe("LOGIN (a) b"),
        Probe("AUTHENTICATE"), Probe("AUTHENTICATE FOO"), Probe("AUTHENTICATE PLAIN !!!"), Probe("CAPABILITY extra"),
        Probe("ID bad"), Probe("STARTTLS"), Probe("ENABLE FOO"), Probe("LOGIN \"pepa"), Probe("LOGIN {abc}"),
        Probe(raw: "", tag: "*"), Probe(raw: "e", tag: "e"), Probe(raw: "e*0 NOOP", tag: "*"),
        Probe(raw: "LOGIN pepa secret", tag: "LOGIN"), Probe(raw: "e LOGIN {99999999}", tag: "*"),
        Probe(raw: "e FOO\r\ne BAR\r\ne BAZ", tag: "*"),
    ]

    static let authenticated: [Probe] = [
        // Unknown commands and commands of other states.
        Probe("FOO"), Probe("UID FOO 1"), Probe("LOGIN pepa secret"), Probe("AUTHENTICATE PLAIN"), Probe("STARTTLS"),
        Probe("DONE"), Probe("X  b"), Probe("FETCH 1 FLAGS"), Probe("STORE 1 +FLAGS (\\Seen)"), Probe("SEARCH ALL"),
        Probe("COPY 1 x"), Probe("UID MOVE 1 x"), Probe("EXPUNGE"), Probe("UID EXPUNGE 1"), Probe("CLOSE"),
        Probe("UNSELECT"), Probe("CHECK"),
        // Tags, command names and the parser.
        Probe(raw: "", tag: "*"), Probe(raw: "e", tag: "e"), Probe(raw: "e*0 NOOP", tag: "*"), Probe("UID"),
        Probe("SELECT \"INBOX"), Probe("SELECT a\"b"), Probe("SELECT a\u{E9}"), Probe("CREATE a)"), Probe("SELECT {abc}"),
        Probe("LIST \"\" ("), Probe("STATUS INBOX (MESSAGES"), Probe("SELECT " + String(repeating: "a", count: 70_000)),
        // Mailbox names and mailboxes that are not there.
        Probe("SELECT"), Probe("SELECT nosuch"), Probe("EXAMINE"), Probe("EXAMINE nosuch"), Probe("SELECT a//b"),
        Probe("SELECT a.b"), Probe("SELECT &Jjo"), Probe("SELECT \"\""), Probe("CREATE"), Probe("CREATE INBOX"),
        Probe("CREATE x"), Probe("CREATE (a)"), Probe("CREATE a.b"), Probe("CREATE /a"),
        Probe("CREATE " + String(repeating: "a", count: 300)), Probe("DELETE"), Probe("DELETE nosuch"),
        Probe("DELETE INBOX"), Probe("DELETE nosuch/"), Probe("DELETE (a)"), Probe("RENAME"), Probe("RENAME x"),
        Probe("RENAME nosuch y"), Probe("RENAME x x"), Probe("RENAME x INBOX"), Probe("RENAME a/b/c a/b/c/d"),
        Probe("RENAME x a.b"), Probe("RENAME a.b x"), Probe("RENAME x y/"), Probe("RENAME (a) b"), Probe("SUBSCRIBE"),
        Probe("SUBSCRIBE nosuch"), Probe("SUBSCRIBE a"), Probe("SUBSCRIBE (a)"), Probe("UNSUBSCRIBE"),
        Probe("UNSUBSCRIBE a//b"),
        // STATUS, LIST, LSUB, ENABLE.
        Probe("STATUS nosuch (MESSAGES)"), Probe("STATUS INBOX"), Probe("STATUS INBOX (FOO)"), Probe("STATUS INBOX ()"),
        Probe("STATUS INBOX MESSAGES"), Probe("STATUS (a) (MESSAGES)"), Probe("STATUS INBOX (\"MESSAGES\")"),
        Probe("STATUS a//b (MESSAGES)"), Probe("STATUS &Jjo (MESSAGES)"), Probe("LIST"), Probe("LIST \"\""),
        Probe("LIST \"\" * extra"), Probe("LIST (\"a\") \"\" *"), Probe("LIST \"\" &Jjo"), Probe("LSUB"),
        Probe("LSUB \"\""), Probe("LSUB (a) *"), Probe("LSUB \"\" * extra"), Probe("ENABLE \"CONDSTORE\""),
        Probe("ENABLE (a)"),
        // APPEND.
        Probe("APPEND"), Probe("APPEND INBOX"), Probe("APPEND nosuch {3+}\r\nabc"), Probe("APPEND INBOX abc"),
        Probe("APPEND INBOX {0+}\r\n"), Probe("APPEND a//b {1+}\r\na"), Probe("APPEND a.b {1+}\r\na"),
        Probe("APPEND &Jjo {3+}\r\nabc"), Probe("APPEND \"\" {3+}\r\nabc"), Probe("APPEND INBOX {3+}\r\nabc extra"),
        // IDLE ended by something else than DONE.
        Probe(raw: "e IDLE\r\ngarbage", tag: "e"),
    ]

    /// After SELECT INBOX, which holds three messages.
    static let selected: [Probe] = [
        // FETCH.
        Probe("FETCH"), Probe("FETCH 1"), Probe("FETCH 1 BOGUS"), Probe("FETCH 0 FLAGS"), Probe("FETCH 99 FLAGS"),
        Probe("FETCH a FLAGS"), Probe("FETCH 1:a FLAGS"), Probe("FETCH \"1\" FLAGS"), Probe("UID FETCH 0 FLAGS"),
        Probe("UID FETCH a FLAGS"), Probe("FETCH 1 (FLAGS BOGUS)"), Probe("FETCH 1 ()"), Probe("FETCH 1 FLAGS extra"),
        Probe("FETCH 1 FAST FLAGS"), Probe("FETCH 1 NIL"), Probe("FETCH 1 (\"FLAGS\")"), Probe("FETCH 1 (FLAGS (UID))"),
        Probe("FETCH 1 (ALL)"), Probe("FETCH 1 X-FOO"), Probe("FETCH 1 BODYX"), Probe("FETCH 1 RFC822.FOO"),
        Probe("FETCH 1 (FLAGS"), Probe("FETCH 1 FLAGS)"), Probe("FETCH 1 BODY[BOGUS]"), Probe("FETCH 1 BODY[1.FOO]"),
        Probe("FETCH 1 BODY[MIME]"), Probe("FETCH 1 BODY[TEXT.MIME]"), Probe("FETCH 1 BODY[HEADER.FIELDS]"),
        Probe("FETCH 1 BODY[HEADER.FIELDS ()]"), Probe("FETCH 1 BODY[TEXT"), Probe("FETCH 1 BODY.PEEK"),
        Probe("FETCH 1 BODY.PEEKX[]"), Probe("FETCH 1 BODY[]x"), Probe("FETCH 1 BODY[]<a.1>"),
        Probe("FETCH 1 BODY[]<99999999999999999999.1>"), Probe("FETCH 1 BODY[]<1.>"), Probe("FETCH 1 BODY[]<1.2"),
        Probe("FETCH 1 BODY[]<0.1>x"),
        // STORE.
        Probe("STORE"), Probe("STORE 1"), Probe("STORE 1 FLAGS (\\Bogus)"), Probe("STORE 1 BOGUS (\\Seen)"),
        Probe("STORE 99 +FLAGS (\\Seen)"), Probe("STORE 0 +FLAGS (\\Seen)"), Probe("STORE a +FLAGS (\\Seen)"),
        Probe("STORE \"1\" +FLAGS (\\Seen)"), Probe("STORE 1 +FLAGS (\\Recent)"), Probe("STORE 1 +FLAGS (\"quoted\")"),
        Probe("STORE 1 +FLAGS.FOO (\\Seen)"), Probe("STORE 1 +FLAGS \\Bogus"), Probe("STORE 1 +FLAGS ((\\Seen))"),
        Probe("UID STORE 0 +FLAGS (\\Seen)"), Probe("UID STORE a +FLAGS (\\Seen)"),
        // COPY, MOVE, UID EXPUNGE.
        Probe("COPY"), Probe("COPY 1"), Probe("COPY 1 nosuch"), Probe("COPY 99 x"), Probe("COPY 0 x"), Probe("COPY a x"),
        Probe("UID COPY 0 x"), Probe("COPY 1 &Jjo"), Probe("COPY 1 a//b"), Probe("COPY 1 a.b"), Probe("COPY 1 \"\""),
        Probe("MOVE"), Probe("MOVE 1 nosuch"), Probe("MOVE a x"), Probe("MOVE 99 x"), Probe("MOVE 1 /a"),
        Probe("UID EXPUNGE"), Probe("UID EXPUNGE abc"), Probe("UID EXPUNGE 0"),
        // SEARCH.
        Probe("SEARCH"), Probe("UID SEARCH"), Probe("SEARCH BOGUS"), Probe("SEARCH bogus"), Probe("UID SEARCH BOGUS"),
        Probe("SEARCH NIL"), Probe("SEARCH \"ALL\""), Probe("SEARCH {3+}\r\nALL"), Probe("SEARCH 0"), Probe("SEARCH 1:a"),
        Probe("SEARCH 1:0"), Probe("SEARCH BEFORE baddate"), Probe("SEARCH ON 1-Jan-20"), Probe("SEARCH BEFORE (1-Jan-2020)"),
        Probe("SEARCH LARGER abc"), Probe("SEARCH SMALLER -1"), Probe("SEARCH LARGER 99999999999999999999"),
        Probe("SEARCH SENTON 1-jan-2020 LARGER 1x"), Probe("SEARCH LARGER"), Probe("SEARCH SUBJECT"),
        Probe("SEARCH KEYWORD"), Probe("SEARCH HEADER subject"), Probe("SEARCH FROM (a)"), Probe("SEARCH HEADER (a) b"),
        Probe("SEARCH UID"), Probe("SEARCH UID abc"), Probe("SEARCH UID 0"), Probe("SEARCH ()"), Probe("SEARCH NOT"),
        Probe("SEARCH OR ALL"), Probe("SEARCH NOT LARGER"), Probe("SEARCH (LARGER)"), Probe("SEARCH (ALL"),
        Probe("SEARCH ALL )"), Probe("SEARCH OR ALL ("), Probe("SEARCH CHARSET"), Probe("SEARCH CHARSET (a) ALL"),
        Probe("SEARCH CHARSET X-UNKNOWN BOGUS"), Probe("SEARCH RETURN ALL"), Probe("SEARCH RETURN (ALL)"),
        Probe("SEARCH RETURN (FOO) ALL"),
        // Leaving the selected state.
        Probe("CLOSE extra"), Probe("FETCH 1 FLAGS"),
    ]

    /// After EXAMINE INBOX.
    static let examined: [Probe] = [
        Probe("STORE 1 +FLAGS (\\Seen)"), Probe("UID STORE 1 +FLAGS (\\Seen)"), Probe("STORE 99 +FLAGS (\\Seen)"),
        Probe("STORE 1 +FLAGS (\\Bogus)"), Probe("EXPUNGE"), Probe("UID EXPUNGE 1"),
    ]

    static let setup = [
        "CREATE a/b/c", "CREATE x",
        "APPEND INBOX {18+}\r\nSubject: m1\r\n\r\nb\r\n", "APPEND INBOX {18+}\r\nSubject: m2\r\n\r\nb\r\n",
        "APPEND INBOX {18+}\r\nSubject: m3\r\n\r\nb\r\n",
    ]

    /// The answer to one probe, normalized. `fenced`: a NOOP follows, and whatever comes before
    /// its answer belongs to the probe's (it also resets the bad-command count of both servers).
    static func answer(_ probe: Probe, on c: LineClient, fenced: Bool = false) throws -> [String] {
        try c.send(IMAPDovecotDifferentialTests.bytes(probe.line + "\r\n"))
        var lines = try c.readUntilTagged(probe.tag)
        if fenced { lines += try c.command("fence", "NOOP").dropLast() }
        return IMAPDovecotDifferentialTests.normalized(lines.filter { !$0.hasPrefix("* CAPABILITY ") })
    }

    /// Every probe's answer from the server on `port`, in the order of the lists above.
    static func transcript(port: Int) throws -> [[String]] {
        var answers: [[String]] = []
        for probe in preLogin {
            let c = try LineClient(port: port)
            _ = try c.readLine()
            answers.append(try answer(probe, on: c))
        }
        let c = try IMAPClientTests.login(port)
        for (i, command) in setup.enumerated() { _ = try c.command("s\(i)", command) }
        func run(_ probes: [Probe]) throws {
            for probe in probes { answers.append(try answer(probe, on: c, fenced: true)) }
        }
        try run(authenticated)
        _ = try c.command("s", "SELECT INBOX")
        try run(selected)
        _ = try c.command("s", "EXAMINE INBOX")
        try run(examined)
        _ = try c.command("z", "LOGOUT")
        return answers
    }

    @Test(.enabled(if: IMAPDovecotDifferentialTests.enabled))
    func errorAnswersEqualDovecots() throws {
        try IMAPDovecotDifferentialTests.withBothServers { roostPort, dovecotPort in try compare(roostPort, dovecotPort) }
    }

    private func compare(_ roostPort: Int, _ dovecotPort: Int) throws {
        let ours = try Self.transcript(port: roostPort)
        let theirs = try Self.transcript(port: dovecotPort)
        let probes = Self.preLogin + Self.authenticated + Self.selected + Self.examined
        #expect(ours.count == probes.count && theirs.count == probes.count)
        for (i, probe) in probes.enumerated() where i < min(ours.count, theirs.count) {
            #expect(ours[i] == theirs[i], "\(probe)")
        }
    }
}
