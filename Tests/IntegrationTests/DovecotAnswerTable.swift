import Testing

/// A script of IMAP commands with the answers Dovecot 2.3 gave to it, checked against Roost on
/// every run and against a live private Dovecot where one can run (as root with Dovecot
/// installed), so a table that no longer matches Dovecot is noticed too.
enum DovecotAnswerTable {
    /// A command's answer as the tables write it: its untagged lines, then the tagged line
    /// without its tag unless it is a plain OK.
    static func answer(_ lines: [String], tag: String) -> [String] {
        guard let tagged = lines.last else { return [] }
        let untagged = Array(lines.dropLast())
        return tagged.hasPrefix(tag + " OK ") ? untagged : untagged + [String(tagged.dropFirst(tag.count + 1))]
    }

    /// Runs `script` against a fresh Roost; every answer must be the table's.
    static func expectRoostAnswers(_ expected: [(String, [String])], script: (_ port: Int) throws -> [[String]]) throws {
        let (roost, port, _) = try IMAPClientTests.start()
        defer { roost.stop() }
        let ours = try script(port)
        for (i, (command, answer)) in expected.enumerated() where i < ours.count {
            #expect(ours[i] == answer, "\(command)")
        }
        #expect(ours.count == expected.count)
    }

    /// Runs `script` against Roost and a private Dovecot: Dovecot must still give the table's
    /// answers, and Roost Dovecot's.
    static func expectDovecotAnswers(_ expected: [(String, [String])], script: (_ port: Int) throws -> [[String]]) throws {
        try IMAPDovecotDifferentialTests.withBothServers { roostPort, dovecotPort in
            let ours = try script(roostPort)
            let theirs = try script(dovecotPort)
            #expect(theirs == expected.map { $0.1 }, "Dovecot's answers moved")
            for (i, (command, _)) in expected.enumerated() where i < min(ours.count, theirs.count) {
                #expect(ours[i] == theirs[i], "\(command)")
            }
        }
    }
}
