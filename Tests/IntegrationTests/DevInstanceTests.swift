import Foundation
import Glibc
import Testing

/// The README's first quick-start command: `roost` with no arguments, as a normal user,
/// creates ./roost-dev and serves IMAP on 127.0.0.1:1143 with a demo user.
@Suite struct DevInstanceTests {
    @Test func bareRoostStartsADevInstanceWithADemoUser() throws {
        let dir = RoostProcess.makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        if TestEnv.isRoot {
            // The dev instance is for normal users: run it as nobody, in a directory nobody owns.
            chown(dir, 65534, 65534)
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", RoostProcess.binary]
        } else {
            p.executableURL = URL(fileURLWithPath: RoostProcess.binary)
            p.arguments = []
        }
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        defer {
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
        // Read the banner and log until the master says it is serving.
        var text = ""
        let handle = out.fileHandleForReading
        while !text.contains("starting up") {
            let data = handle.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        #expect(text.contains("Roost dev instance in \(dir)/roost-dev (created now)"))
        #expect(text.contains("IMAP:     127.0.0.1:1143"))
        let password = try String(contentsOfFile: dir + "/roost-dev/demo-password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text.contains("user:     demo   password: \(password)"))
        #expect(FileManager.default.fileExists(atPath: dir + "/roost-dev/roost.conf"))
        let c = try LineClient(port: 1143)
        #expect(try c.readLine()?.hasPrefix("* OK [CAPABILITY IMAP4rev1") == true)
        #expect(try c.command("a1", "LOGIN demo \(password)").last == "a1 OK [CAPABILITY \(TestEnv.postLoginCaps)] Logged in")
        #expect(try c.command("a2", "LOGOUT").last == "a2 OK Logout completed.")
    }
}
