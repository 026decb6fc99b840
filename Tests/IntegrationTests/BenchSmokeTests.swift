import Foundation
import Glibc
import Testing

/// roost-bench keeps working: every profile runs for about a second against Roost.
/// Nothing about speed is asserted here (figures come from `roost-bench compare`).
@Suite struct BenchSmokeTests {
    static var benchBinary: String {
        URL(fileURLWithPath: RoostProcess.binary).deletingLastPathComponent().appendingPathComponent("roost-bench").path
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: BenchSmokeTests.benchBinary)))
    func storeBenchmarkRuns() throws {
        let r = try TestTool.run(Self.benchBinary, ["store", "--messages", "200"])
        #expect(r.status == 0)
        #expect(r.out.contains("roost-bench store: 200 messages"), "\(r.out)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: BenchSmokeTests.benchBinary)))
    func everyProfileRunsAgainstRoost() throws {
        let (roost, pop3, pop3s, lmtp) = try POP3Tests.start(tls: true)
        defer { roost.stop() }
        try POP3Tests.deliver((0..<3).map { "Subject: bench \($0)\r\n\r\nbody\r\n" }, lmtp: lmtp)
        // The TLS config binds imap and imaps on the imap-login service: tell them apart by the greeting.
        let ports = roost.log.filter { $0.contains("imap-login: listening on") }.compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
        let imap = ports.first { (try? LineClient(port: $0, timeout: 2).readLine())??.hasPrefix("* OK") == true } ?? 0
        let imaps = ports.first { $0 != imap } ?? 0
        _ = pop3s
        for profile in ["imap", "idle", "lmtp", "pop3-retr", "pop3-session", "imap-login", "tls", "imaps-fetch", "webmail"] {
            let r = try TestTool.run(Self.benchBinary, [
                "run", profile, "--duration", "1", "--clients", "2", "--imap-port", String(imap),
                "--imaps-port", String(imaps), "--pop3-port", String(pop3), "--lmtp-port", String(lmtp),
                "--user", "pepa", "--password", "secret", "--users", "1"])
            #expect(r.status == 0, "\(profile): \(r.out) \(r.err)")
            #expect(r.out.contains("p50 ms"), "\(profile) printed: \(r.out)")
        }
    }
}
