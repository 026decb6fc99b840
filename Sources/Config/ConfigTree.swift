// The syntax tree of a Dovecot-style configuration: settings and sections, each with the
// file:line it came from. `ConfigParser` produces it in file order; `merged()` folds repeated
// sections together the way doveconf does (two `service imap-login {}` blocks are one service).

/// `key = value`, after quotes, `$name` and `<file` were resolved.
public struct ConfigSetting: Sendable, Hashable {
    public var key: String
    public var value: String
    public var location: SourceLocation
    /// The path after `<` when the value was written as `<path` (resolved against the
    /// including file's directory). File-valued settings keep only this; others also hold
    /// the file's contents in `value`.
    public var filePath: String?
    /// Why `<path` could not be read. Reported by the validator once the name is known to be
    /// valid, so an unknown name is reported before a missing file.
    var fileError: String?

    public init(key: String, value: String, location: SourceLocation, filePath: String? = nil) {
        self.key = key
        self.value = value
        self.location = location
        self.filePath = filePath
    }
}

/// `name [argument] { ... }`. The root of a file is a section with an empty name.
public struct ConfigSection: Sendable, Hashable {
    public enum Entry: Sendable, Hashable {
        case setting(ConfigSetting)
        case section(ConfigSection)
    }

    public var name: String
    public var argument: String
    public var location: SourceLocation
    public var entries: [Entry]

    public init(name: String, argument: String = "", location: SourceLocation, entries: [Entry] = []) {
        self.name = name
        self.argument = argument
        self.location = location
        self.entries = entries
    }

    public var settings: [ConfigSetting] {
        entries.compactMap { if case .setting(let s) = $0 { s } else { nil } }
    }

    public var sections: [ConfigSection] {
        entries.compactMap { if case .section(let s) = $0 { s } else { nil } }
    }

    /// The last value given to `key` directly in this section.
    public func setting(_ key: String) -> ConfigSetting? {
        settings.last { $0.key == key }
    }

    public func sections(named name: String) -> [ConfigSection] {
        sections.filter { $0.name == name }
    }

    /// Repeated settings collapse to the last value (kept at the position of the first),
    /// repeated sections with the same name and argument merge recursively. `passdb` and
    /// `userdb` are never merged: each block is its own database, in order.
    public func merged() -> ConfigSection {
        var result = ConfigSection(name: name, argument: argument, location: location)
        var settingIndex: [String: Int] = [:]
        var sectionIndex: [String: Int] = [:]
        for entry in entries {
            switch entry {
            case .setting(let s):
                if let i = settingIndex[s.key] {
                    result.entries[i] = .setting(s)
                } else {
                    settingIndex[s.key] = result.entries.count
                    result.entries.append(.setting(s))
                }
            case .section(let child):
                let neverMerged = child.name == "passdb" || child.name == "userdb"
                let id = child.name + "\u{0}" + child.argument
                if !neverMerged, let i = sectionIndex[id], case .section(var existing) = result.entries[i] {
                    existing.entries += child.entries
                    result.entries[i] = .section(existing)
                } else {
                    if !neverMerged { sectionIndex[id] = result.entries.count }
                    result.entries.append(.section(child))
                }
            }
        }
        result.entries = result.entries.map {
            if case .section(let s) = $0 { .section(s.merged()) } else { $0 }
        }
        return result
    }
}
