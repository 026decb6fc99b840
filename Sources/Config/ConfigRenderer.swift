// Prints a merged tree the way `doveconf -n` does: top-level settings that differ from their
// defaults and every section with something set in it, sorted by name, nested with two spaces.
// Settings and sections Roost does not implement carry "# not yet active in Roost".

enum ConfigRenderer {
    static let inactiveTag = "# not yet active in Roost"

    static func render(_ root: ConfigSection) -> String {
        var lines = ["# roost config"]
        lines += body(root, kind: .topLevel, depth: 0, isRoot: true, insideInactive: false)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func body(_ section: ConfigSection, kind: SectionKind, depth: Int, isRoot: Bool,
                             insideInactive: Bool) -> [String] {
        let indent = String(repeating: "  ", count: depth)
        var blocks: [(name: String, lines: [String])] = []
        for entry in section.entries {
            switch entry {
            case .setting(let setting):
                let scope = kind.scope
                let definition = scope.flatMap { SettingsTable.definition(setting.key, in: $0) }
                if isRoot, let definition, definition.defaultValue == setting.value, setting.filePath == nil { continue }
                let inactive = scope != nil && definition == nil && !insideInactive
                let line = indent + "\(setting.key) = \(format(setting))" + (inactive ? " " + inactiveTag : "")
                blocks.append((setting.key, [line]))
            case .section(let child):
                let childKind = kind.subsections[child.name] ?? .freeForm
                let inactive = SectionKind.inactiveSections.contains(child.name)
                let inner = body(child, kind: childKind, depth: depth + 1, isRoot: false,
                                 insideInactive: insideInactive || inactive)
                if inner.isEmpty { continue }
                var header = indent + child.name
                if !child.argument.isEmpty { header += " " + quoteArgument(child.argument, of: child.name) }
                header += " {" + (inactive && !insideInactive ? " " + inactiveTag : "")
                blocks.append((child.name, [header] + inner + [indent + "}"]))
            }
        }
        let order = blocks.indices.sorted { (blocks[$0].name, $0) < (blocks[$1].name, $1) }
        return order.flatMap { blocks[$0].lines }
    }

    private static func format(_ setting: ConfigSetting) -> String {
        // Like doveconf -n, keep secrets out of output people paste into bug reports.
        if setting.key.hasSuffix("password"), !setting.value.isEmpty { return "# hidden" }
        if setting.filePath != nil {
            return setting.value.hasPrefix("<") ? setting.value : "<" + setting.filePath!
        }
        return quoteIfNeeded(setting.value)
    }

    /// `mailbox "Sent Messages" {`; filter arguments are lists (`protocol pop3 lmtp {`) and stay bare.
    private static func quoteArgument(_ argument: String, of section: String) -> String {
        let lists: Set<String> = ["protocol", "local", "remote", "local_name"]
        if argument.contains(" ") && !lists.contains(section) { return quote(argument) }
        return quoteIfNeeded(argument)
    }

    static func quoteIfNeeded(_ value: String) -> String {
        let needsQuotes = value.contains("#") || value.contains("\"") || value.hasPrefix("<") || value.hasPrefix("'")
            || value.first?.isWhitespace == true || value.last?.isWhitespace == true || value.contains("\n")
        return needsQuotes ? quote(value) : value
    }

    private static func quote(_ value: String) -> String {
        var out = "\""
        for c in value {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.append(c)
            }
        }
        return out + "\""
    }
}
