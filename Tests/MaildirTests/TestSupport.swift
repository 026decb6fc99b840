import Foundation
@testable import Maildir

/// A temporary directory removed when the value goes away.
final class TempDir {
    let path: String
    init(_ label: String = "maildir") {
        let base = NSTemporaryDirectory() + "roost-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func message(_ subject: String, body: String = "Hello\nworld\n") -> [UInt8] {
    Array("From: a@example.org\nSubject: \(subject)\n\n\(body)".utf8)
}

func fileNames(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
}

func text(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// Runs `count` copies of this test binary, each running only the test named `filter` with
/// `environment` plus `workerKey` = its index; returns their exit statuses. How the
/// multi-process tests get real, separate processes on one folder.
func runTestWorkers(_ count: Int, filter: String, workerKey: String, environment: [String: String]) throws -> [Int32] {
    var processes: [Process] = []
    for w in 0..<count {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        p.arguments = ["--testing-library", "swift-testing", "--filter", filter]
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        env[workerKey] = "\(w)"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        processes.append(p)
    }
    for p in processes { p.waitUntilExit() }
    return processes.map(\.terminationStatus)
}
