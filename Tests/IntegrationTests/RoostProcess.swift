import Foundation
import Glibc
import Testing

/// Runs the built `roost` binary for a test: writes a config into a temp dir, starts
/// `roost serve -c`, reads the master's log from its stderr and finds the ports it bound.
final class RoostProcess: @unchecked Sendable {  // log state guarded by `lock`
    let directory: String
    let configPath: String
    let process = Process()
    private let lock = NSCondition()
    private var logLines: [String] = []
    private var ended = false
    private let stderrPipe = Pipe()

    /// The roost executable: $ROOST_BINARY, or .build/debug/roost next to this package.
    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["ROOST_BINARY"] { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for candidate in [".build/debug/roost", ".build/x86_64-unknown-linux-gnu/debug/roost", ".build/release/roost"] {
            let p = root.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/roost").path
    }

    static func makeTempDirectory() -> String {
        var template = Array("/tmp/roost-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let dir = String(cString: p!)
        chmod(dir, 0o755)
        return dir
    }

    /// `config` is the text with `$DIR` replaced by the temp directory.
    init(config: String, files: [String: String] = [:], directory: String? = nil) throws {
        directory.map { _ in () }
        self.directory = directory ?? Self.makeTempDirectory()
        configPath = self.directory + "/roost.conf"
        // Users' homes live here; mail processes (uid 65534 under root) create their Maildirs.
        chmod(self.directory, 0o755)
        mkdir(self.directory + "/home", 0o777)
        chmod(self.directory + "/home", 0o777)
        for (name, text) in files {
            try text.replacingOccurrences(of: "$DIR", with: self.directory)
                .write(toFile: self.directory + "/" + name, atomically: true, encoding: .utf8)
        }
        try config.replacingOccurrences(of: "$DIR", with: self.directory)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func start(extraArguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "-c", configPath] + extraArguments
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let handle = stderrPipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            var partial = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                partial.append(data)
                while let nl = partial.firstIndex(of: 10) {
                    let line = String(decoding: partial[partial.startIndex..<nl], as: UTF8.self)
                    partial = Data(partial[(nl + 1)...])
                    lock.lock()
                    logLines.append(line)
                    lock.broadcast()
                    lock.unlock()
                }
            }
            lock.lock()
            ended = true
            lock.broadcast()
            lock.unlock()
        }
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }

    /// Waits until a log line contains `text` (the log is the synchronisation point, not a timer).
    @discardableResult
    func waitForLog(_ text: String, after index: Int = 0, timeout: Double = 20) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let line = logLines.dropFirst(index).first(where: { $0.contains(text) }) { return line }
            if ended || !lock.wait(until: deadline) {
                return logLines.dropFirst(index).first(where: { $0.contains(text) })
            }
        }
    }

    var log: [String] {
        lock.lock()
        defer { lock.unlock() }
        return logLines
    }

    /// The port a listener bound (ports are 0 in test configs: the kernel picks free ones).
    func port(_ address: String = "127.0.0.1") -> Int? {
        guard let line = waitForLog("imap-login: listening on \(address):") else { return nil }
        return line.split(separator: ":").last.flatMap { Int($0) }
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the master to exit; returns its status, or nil after `timeout`.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        while !ended && lock.wait(until: deadline) {}
        lock.unlock()
        // stderr closes when the master and every child have exited (children inherit it).
        var status: Int32 = 0
        let start = Date()
        while Date() < deadline || Date().timeIntervalSince(start) < 0.5 {
            if !process.isRunning { return process.terminationStatus }
            usleep(10_000)
            status = 0
        }
        _ = status
        return nil
    }

    func stop() {
        // Server-side errors explain client-side failures: show them with the test output.
        let verbose = ProcessInfo.processInfo.environment["ROOST_TEST_VERBOSE"] != nil
        for line in log where verbose || line.contains(": Error: ") || line.contains("Fatal") {
            print("[roost \(directory)] \(line)")
        }
        if process.isRunning {
            kill(pid, SIGTERM)
            _ = waitForExit(timeout: 10)
            if process.isRunning { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Child processes of the master: (pid, role) from /proc.
    func children() -> [(pid: pid_t, role: String)] {
        var out: [(pid_t, String)] = []
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        for entry in entries {
            guard let p = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, pid_t(fields[1]) == pid else { continue }
            let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(p)/cmdline"))) ?? Data()
            let args = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if args.count >= 3 && args[1] == "process" { out.append((p, args[2])) }
        }
        return out
    }

    /// A field of /proc/PID/status, e.g. "Uid" or "VmRSS".
    static func status(_ pid: pid_t, _ field: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
