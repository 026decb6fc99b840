// ConfigLoader: the entry point. Reading a configuration goes
//   parse (syntax, includes, $name, <file)  →  1.x names rewritten (warnings)
//   →  validation in file order (errors, "not yet active" warnings)
//   →  repeated sections merged  →  typed `RoostConfig`.
// Nothing here touches the network or changes files; certificate files are read only when
// `FileValue.contents()` is called.

public struct LoadedConfig: Sendable {
    public var config: RoostConfig
    public var warnings: [ConfigDiagnostic]
    /// The merged tree, after 1.x names were rewritten.
    public var tree: ConfigSection

    /// Settings that differ from their defaults, like `doveconf -n`.
    public func renderNonDefault() -> String {
        ConfigRenderer.render(tree)
    }
}

public enum ConfigLoader {
    public static func load(path: String) throws -> LoadedConfig {
        try load(tree: ConfigParser.parse(path: path))
    }

    /// `fileName` names the text in messages; includes and `<file` resolve against `baseDirectory`.
    public static func load(text: String, fileName: String, baseDirectory: String) throws -> LoadedConfig {
        try load(tree: ConfigParser.parse(text: text, fileName: fileName, baseDirectory: baseDirectory))
    }

    static func load(tree parsed: ConfigSection) throws -> LoadedConfig {
        var warnings: [ConfigDiagnostic] = []
        let rewritten = try LegacySettings.rewrite(parsed, warnings: &warnings)
        var validator = ConfigValidator()
        try validator.validate(rewritten, as: .topLevel)
        warnings += validator.warnings
        let merged = rewritten.merged()
        return LoadedConfig(config: RoostConfigBuilder.build(merged), warnings: warnings, tree: merged)
    }
}
