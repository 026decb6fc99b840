import Foundation
import Glibc
import Testing

/// Python's imaplib drives a whole client session against the built binary
/// (Tests/Fixtures/scripts/imap_scenario.py): folders, 200 appended fixture messages, every
/// FETCH item, SEARCH, STORE, COPY, MOVE, EXPUNGE, and IDLE — one session, then 200 at once —
/// seeing LMTP deliveries made by another process. The script asserts each step; this test
/// then compares its final counts with the Maildir on disk.
@Suite struct IMAPScenarioTests {
    static let python = "/usr/bin/python3"
    static let script = ConfigCommandTests.repoRoot + "/Tests/Fixtures/scripts/imap_scenario.py"

    /// Message files in a Maildir folder (cur/ and new/).
    static func fileCount(_ folder: String) -> Int {
        ["cur", "new"].reduce(0) { $0 + ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + $1).count) ?? 0) }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python)))
    func imaplibScenario() throws {
        TestEnv.raiseFileLimit()
        let (roost, _, _, lmtp) = try POP3Tests.start()
        defer { roost.stop() }
        let port = try #require(roost.port())
        let result = try TestTool.run(Self.python, [Self.script, "run", "\(port)", "\(lmtp)", "pepa", "secret",
                                                    ConfigCommandTests.repoRoot + "/Tests/Fixtures/messages"])
        #expect(result.status == 0, "\(result.out)\n\(result.err)")
        for step in ["login", "folders", "append", "search", "fetch", "store", "copy move", "expunge", "idle", "idle x200"] {
            #expect(result.out.contains("\(step) ok\n"), "step \(step) did not finish: \(result.out)")
        }
        // 200 appended - 10 moved - 5 expunged + 2 delivered; 10 copied; 10 moved.
        #expect(result.out.contains("STATE inbox=187 scenario=10 sub=10"), "\(result.out)")
        let maildir = roost.directory + "/home/pepa/Maildir"
        #expect(Self.fileCount(maildir) == 187)
        #expect(Self.fileCount(maildir + "/.Scenario") == 10)
        #expect(Self.fileCount(maildir + "/.Scenario.Sub") == 10)
        #expect(!FileManager.default.fileExists(atPath: maildir + "/.Temp"))
        #expect(!FileManager.default.fileExists(atPath: maildir + "/.Renamed"))
        #expect(roost.log.filter { $0.contains("Error") || $0.contains("Fatal") }.isEmpty, "\(roost.log.suffix(20))")
    }
}
