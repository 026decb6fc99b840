import Foundation
@testable import Config

/// A scratch directory with files, removed when the value is dropped.
final class ScratchDirectory {
    let path: String

    init(_ files: [String: String] = [:]) throws {
        path = NSTemporaryDirectory() + "roost-config-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, contents) in files { try write(name, contents) }
    }

    func write(_ name: String, _ contents: String) throws {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Loads `text` as "test.conf" in `directory` (default: a directory without files).
func load(_ text: String, in directory: String = "/nonexistent") throws -> LoadedConfig {
    try ConfigLoader.load(text: text, fileName: "test.conf", baseDirectory: directory)
}

/// The error `text` fails with, as printed.
func loadError(_ text: String, in directory: String = "/nonexistent") -> String? {
    do {
        _ = try load(text, in: directory)
        return nil
    } catch let error as ConfigError {
        return error.description
    } catch {
        return "unexpected \(error)"
    }
}
