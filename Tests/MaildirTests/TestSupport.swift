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
