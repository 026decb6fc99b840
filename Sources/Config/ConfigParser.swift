// ConfigParser reads Dovecot 2.3 configuration syntax into a `ConfigSection` tree.
//
// Syntax handled (doc/wiki "ConfigFile" of Dovecot 2.3):
//   key = value              value runs to end of line, trimmed; `#` outside quotes starts a comment
//   key = "va\"lue"          double (or single) quotes keep spaces and `#`; `\x` stands for x
//   key = value \            a trailing backslash joins the next line with one space
//   name [arg] {  ...  }     sections nest; `arg` may be quoted (`mailbox "Sent Messages" {`)
//   !include PATH            PATH relative to the including file's directory, may be a glob;
//   !include_try PATH        a missing file is an error for !include, ignored for !include_try
//   key = <path              value is the file's contents, trimmed — except for file-valued
//                            settings (ssl_cert, ssl_key, ...), which keep only the path
//   key = $name more         `$name` is the value `name` had so far (same section, then the top
//                            level), else its default, as in Dovecot (Roost's defaults, e.g.
//                            protocols = "imap pop3 lmtp"; "" for settings Roost does not
//                            implement); an unknown `$word` stays as written
//
// What it never does: expand `%u`-style variables (see `VariableExpander`), check that a
// setting name exists or that a value is well-formed (see `ConfigValidator`).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ConfigParser {
    /// Deepest `!include` nesting accepted; deeper means an include loop.
    static let maxIncludeDepth = 20

    private var stack: [ConfigSection] = []
    /// Values set so far, keyed by section path + "\u{0}" + key, for `$name` expansion.
    private var valuesSoFar: [String: String] = [:]

    /// Parses `text` as if it were the file `fileName` in `baseDirectory`.
    static func parse(text: String, fileName: String, baseDirectory: String) throws -> ConfigSection {
        var parser = ConfigParser()
        parser.stack = [ConfigSection(name: "", location: SourceLocation(file: fileName, line: 0))]
        try parser.parseFile(text: text, fileName: fileName, directory: baseDirectory, depth: 0)
        return parser.stack[0]
    }

    static func parse(path: String) throws -> ConfigSection {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: 0, message: "Cannot read configuration file: \(describe(error))")
        }
        return try parse(text: text, fileName: path, baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    // MARK: - Lines

    private mutating func parseFile(text: String, fileName: String, directory: String, depth: Int) throws {
        let openAtStart = stack.count
        var pending = ""
        var pendingLine = 0
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if pending.isEmpty && (line.isEmpty || line.hasPrefix("#")) { continue }
            if pending.isEmpty { pendingLine = lineNumber }
            if line.hasSuffix("\\") {
                line.removeLast()
                pending += line.trimmingCharacters(in: .whitespaces) + " "
                continue
            }
            let full = pending + line
            pending = ""
            let location = SourceLocation(file: fileName, line: pendingLine)
            try parseLine(full, at: location, directory: directory, depth: depth)
        }
        if !pending.isEmpty {
            try parseLine(pending, at: SourceLocation(file: fileName, line: pendingLine), directory: directory, depth: depth)
        }
        if stack.count > openAtStart, let open = stack.last {
            let what = open.argument.isEmpty ? open.name : "\(open.name) \(open.argument)"
            throw ConfigError(open.location, "Missing '}' for section '\(what)' opened here")
        }
    }

    private mutating func parseLine(_ rawLine: String, at location: SourceLocation, directory: String, depth: Int) throws {
        let line = Self.stripComment(rawLine).trimmingCharacters(in: .whitespaces)
        if line.isEmpty { return }
        if line == "}" {
            try closeSection(at: location)
            return
        }
        if line.hasPrefix("!include") {
            try include(line, at: location, directory: directory, depth: depth)
            return
        }
        let keyEnd = line.firstIndex { $0 == "=" || $0 == "{" || $0.isWhitespace } ?? line.endIndex
        let key = String(line[..<keyEnd])
        let rest = line[keyEnd...].trimmingCharacters(in: .whitespaces)
        if key.isEmpty {
            throw ConfigError(location, "Expecting a setting name or section, found: \(line)")
        }
        if rest.hasPrefix("=") {
            let rawValue = rest.dropFirst().trimmingCharacters(in: .whitespaces)
            let setting = try makeSetting(key: key, rawValue: rawValue, at: location, directory: directory)
            valuesSoFar[scopePath + "\u{0}" + key] = setting.value
            stack[stack.count - 1].entries.append(.setting(setting))
        } else if rest.hasSuffix("{") {
            let argument = try Self.unquote(String(rest.dropLast()).trimmingCharacters(in: .whitespaces), at: location)
            stack.append(ConfigSection(name: key, argument: argument, location: location))
        } else {
            throw ConfigError(location, "Expecting '=' after '\(key)'")
        }
    }

    private mutating func closeSection(at location: SourceLocation) throws {
        guard stack.count > 1 else { throw ConfigError(location, "Unexpected '}' (no section is open)") }
        let done = stack.removeLast()
        stack[stack.count - 1].entries.append(.section(done))
    }

    private var scopePath: String {
        stack.dropFirst().map { "\($0.name) \($0.argument)" }.joined(separator: "/")
    }

    // MARK: - Values

    private func makeSetting(key: String, rawValue: String, at location: SourceLocation, directory: String) throws
        -> ConfigSetting {
        if let first = rawValue.first, first == "\"" || first == "'" {
            return ConfigSetting(key: key, value: try Self.unquote(rawValue, at: location), location: location)
        }
        if rawValue.hasPrefix("<") {
            let written = rawValue.dropFirst().trimmingCharacters(in: .whitespaces)
            let path = Self.resolve(written, in: directory)
            if SettingsTable.fileValued.contains(key) {
                return ConfigSetting(key: key, value: "<" + written, location: location, filePath: path)
            }
            do {
                let contents = try String(contentsOfFile: path, encoding: .utf8)
                return ConfigSetting(key: key, value: contents.trimmingCharacters(in: .whitespacesAndNewlines),
                                     location: location, filePath: path)
            } catch {
                var setting = ConfigSetting(key: key, value: "", location: location, filePath: path)
                setting.fileError = "Cannot read \(path) for \(key): \(Self.describe(error))"
                return setting
            }
        }
        return ConfigSetting(key: key, value: expandVariables(rawValue), location: location)
    }

    /// `$name` tokens (a `$` at the start of a space-separated word) become the value set so far.
    private func expandVariables(_ value: String) -> String {
        guard value.contains("$") else { return value }
        let words = value.split(separator: " ", omittingEmptySubsequences: false)
        return words.map { word -> String in
            guard word.hasPrefix("$") else { return String(word) }
            let name = String(word.dropFirst())
            if let v = lookUp(name) { return v }
            if let d = SettingsTable.definition(name) { return d.defaultValue }
            return SettingsTable.isKnownTopLevelName(name) ? "" : String(word)
        }.joined(separator: " ")
    }

    private func lookUp(_ name: String) -> String? {
        var path = stack.dropFirst().map { "\($0.name) \($0.argument)" }
        while true {
            if let v = valuesSoFar[path.joined(separator: "/") + "\u{0}" + name] { return v }
            if path.isEmpty { return nil }
            path.removeLast()
        }
    }

    // MARK: - Includes

    private mutating func include(_ line: String, at location: SourceLocation, directory: String, depth: Int) throws {
        let parts = line.split(maxSplits: 1, whereSeparator: { $0.isWhitespace })
        let directive = String(parts[0])
        guard directive == "!include" || directive == "!include_try" else {
            throw ConfigError(location, "Unknown directive: \(directive)")
        }
        guard parts.count == 2 else { throw ConfigError(location, "\(directive) needs a path") }
        let written = try Self.unquote(parts[1].trimmingCharacters(in: .whitespaces), at: location)
        let optional = directive == "!include_try"
        if depth >= Self.maxIncludeDepth {
            throw ConfigError(location, "\(directive) \(written): includes nested too deeply (loop?)")
        }
        let pattern = Self.resolve(written, in: directory)
        let paths = Self.expandGlob(pattern)
        if paths.isEmpty {
            if optional { return }
            throw ConfigError(location, "\(directive) \(written): No such file or directory")
        }
        for path in paths {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                if optional && !FileManager.default.fileExists(atPath: path) { continue }
                throw ConfigError(location, "\(directive) \(path): \(Self.describe(error))")
            }
            try parseFile(text: text, fileName: path, directory: (path as NSString).deletingLastPathComponent,
                          depth: depth + 1)
        }
    }

    /// Sorted matches of a glob pattern; a pattern without wildcards yields itself if the file exists.
    static func expandGlob(_ pattern: String) -> [String] {
        guard pattern.contains(where: { "*?[".contains($0) }) else {
            return FileManager.default.fileExists(atPath: pattern) ? [pattern] : []
        }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { i in
            result.gl_pathv[i].map { String(cString: $0) }
        }.sorted()
    }

    /// `path` relative to `directory`, with `.` and `..` removed lexically.
    static func resolve(_ path: String, in directory: String) -> String {
        let joined = path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        return (joined.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    // MARK: - Lexical helpers

    /// Cuts the line at the first `#` outside quotes.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var escaped = false
        for index in line.indices {
            let c = line[index]
            if escaped { escaped = false; continue }
            if let q = quote {
                if c == "\\" { escaped = true } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                return String(line[..<index])
            }
        }
        return line
    }

    /// `"a \"b\""` → `a "b"`; an unquoted string is returned unchanged.
    static func unquote(_ text: String, at location: SourceLocation) throws -> String {
        guard let q = text.first, q == "\"" || q == "'" else { return text }
        var out = ""
        var escaped = false
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let c = text[index]
            if escaped {
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == q {
                let after = text[text.index(after: index)...].trimmingCharacters(in: .whitespaces)
                guard after.isEmpty else { throw ConfigError(location, "Unexpected text after closing quote: \(after)") }
                return out
            } else {
                out.append(c)
            }
            index = text.index(after: index)
        }
        throw ConfigError(location, "Missing closing quote (\(q))")
    }

    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileReadNoSuchFileError: return "No such file or directory"
            case NSFileReadNoPermissionError: return "Permission denied"
            default: break
            }
        }
        return ns.localizedDescription
    }
}
