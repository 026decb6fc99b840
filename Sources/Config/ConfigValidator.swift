// ConfigValidator walks the parsed tree in file order and decides, per entry, whether Roost
// accepts it: a setting Roost implements (its value must parse), a setting only Dovecot knows
// (accepted with a "not yet active" warning), or an unknown name (an error with a suggestion).
// The first error stops the load, so errors come in file order.

/// What kind of block is being checked: which settings and subsections it may hold.
enum SectionKind: Sendable, Hashable {
    /// Top level, and filters holding top-level settings: protocol, local, remote, local_name.
    case topLevel
    case settings(SettingScope)
    /// plugin { } and dict { }: any key, no subsections.
    case freeForm

    static let topLevelSections: [String: SectionKind] = [
        "passdb": .settings(.passdb), "userdb": .settings(.userdb), "service": .settings(.service),
        "namespace": .settings(.namespace), "protocol": .topLevel, "local": .topLevel, "remote": .topLevel,
        "local_name": .topLevel, "plugin": .freeForm, "dict": .freeForm,
        "metric": .freeForm, "event_exporter": .freeForm,
    ]

    /// Sections Roost parses and reports but does not act on.
    static let inactiveSections: Set<String> = ["local", "remote", "dict", "metric", "event_exporter"]

    var subsections: [String: SectionKind] {
        switch self {
        case .topLevel: Self.topLevelSections
        case .settings(.service): ["inet_listener": .settings(.inetListener), "unix_listener": .settings(.unixListener),
                                   "fifo_listener": .settings(.fifoListener)]
        case .settings(.namespace): ["mailbox": .settings(.mailbox)]
        default: [:]
        }
    }

    var scope: SettingScope? {
        switch self {
        case .topLevel: .root
        case .settings(let s): s
        case .freeForm: nil
        }
    }
}

struct ConfigValidator {
    private(set) var warnings: [ConfigDiagnostic] = []

    mutating func validate(_ section: ConfigSection, as kind: SectionKind, insideInactive: Bool = false) throws {
        for entry in section.entries {
            switch entry {
            case .setting(let setting):
                try check(setting, in: kind, quiet: insideInactive)
            case .section(let child):
                guard let childKind = kind.subsections[child.name] else {
                    throw ConfigError(child.location, "Unknown section: \(child.name)"
                                      + Self.suggestion(for: child.name, among: Set(kind.subsections.keys)))
                }
                let inactive = SectionKind.inactiveSections.contains(child.name)
                if inactive && !insideInactive && !child.entries.isEmpty {
                    warnings.append(ConfigDiagnostic(child.location,
                        "Section '\(child.name)' is not yet active in Roost (accepted, ignored)"))
                }
                try validate(child, as: childKind, insideInactive: insideInactive || inactive)
            }
        }
    }

    private mutating func check(_ setting: ConfigSetting, in kind: SectionKind, quiet: Bool) throws {
        guard let scope = kind.scope else {
            if let fileError = setting.fileError { throw ConfigError(setting.location, fileError) }
            return
        }
        let known = SettingsTable.knownNames(scope)
        guard known.contains(setting.key) else {
            throw ConfigError(setting.location, "Unknown setting: \(setting.key)" + Self.suggestion(for: setting.key, among: known))
        }
        if let fileError = setting.fileError { throw ConfigError(setting.location, fileError) }
        guard let definition = SettingsTable.definition(setting.key, in: scope) else {
            if !quiet {
                warnings.append(ConfigDiagnostic(setting.location,
                    "Setting '\(setting.key)' is not yet active in Roost (accepted, ignored)"))
            }
            return
        }
        if let problem = Self.problem(with: setting.value, as: definition.type) {
            throw ConfigError(setting.location, "\(setting.key): \(problem)")
        }
        if setting.key == "mail_plugins" && !quiet {
            for plugin in SettingValue.list(setting.value) where !Self.activePlugins.contains(plugin) {
                warnings.append(ConfigDiagnostic(setting.location,
                    "mail_plugins: plugin '\(plugin)' is not yet active in Roost (accepted, ignored)"))
            }
        }
    }

    /// Plugins Roost implements; others in mail_plugins are accepted with a warning.
    static let activePlugins: Set<String> = ["quota", "imap_quota"]

    /// Why `value` is not a valid `type`, or nil if it is.
    static func problem(with value: String, as type: SettingType) -> String? {
        switch type {
        case .string, .list, .file:
            return nil
        case .bool:
            return SettingValue.bool(value) == nil ? "Invalid boolean value: '\(value)' (use yes or no)" : nil
        case .number:
            return SettingValue.number(value) == nil ? "Invalid number: '\(value)'" : nil
        case .size:
            return SettingValue.size(value) == nil ? "Invalid size: '\(value)' (use e.g. 1024, 10M, 1 G)" : nil
        case .time:
            return SettingValue.seconds(value) == nil ? "Invalid time interval: '\(value)' (use e.g. 30 secs, 2 mins, 1 hour)" : nil
        case .octal:
            return SettingValue.octal(value) == nil ? "Invalid file mode: '\(value)' (use octal, e.g. 0660)" : nil
        case .choice(let options):
            guard options.contains(value) else {
                return "Invalid value: '\(value)' (expected one of: \(options.joined(separator: ", ")))"
            }
            return nil
        case .networks:
            let bad = SettingValue.list(value).filter { !NetworkMatcher.isValid($0) }
            return bad.isEmpty ? nil : "Invalid IP address or network: '\(bad[0])'"
        }
    }

    // MARK: - Suggestions

    static func suggestion(for name: String, among candidates: Set<String>) -> String {
        var best: (name: String, distance: Int)?
        for candidate in candidates.sorted() {
            let distance = editDistance(name, candidate)
            if distance <= max(2, name.count / 3), distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        guard let best else { return "" }
        return " (did you mean '\(best.name)'?)"
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
