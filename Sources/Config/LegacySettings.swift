// Dovecot 1.x setting names that old guides still use, rewritten into their 2.3 form before
// validation, each with a warning that shows the replacement:
//
//   protocols = imap imaps pop3s   → protocols = imap pop3; in 1.x a listener existed only
//                                    when its protocol was listed, so imap-login keeps both
//                                    listeners and pop3-login gets `inet_listener pop3 { port = 0 }`
//   imap_listen = ADDR[:PORT]      → service imap-login { inet_listener imap { address port } }
//   imaps_listen, pop3_listen, pop3s_listen likewise
//   ssl_disable = yes|no           → ssl = no|yes
//   ssl_cert_file, ssl_key_file, ssl_ca_file = PATH → ssl_cert, ssl_key, ssl_ca = <PATH
//
// Only top-level entries are rewritten; the rewritten entries keep the old line's location.

import Foundation

enum LegacySettings {
    /// (1.x protocol name, 2.3 protocol, login service, listener name)
    private static let listeners: [(legacy: String, service: String, listener: String)] = [
        ("imap", "imap-login", "imap"), ("imaps", "imap-login", "imaps"),
        ("pop3", "pop3-login", "pop3"), ("pop3s", "pop3-login", "pop3s"),
    ]

    static let names: Set<String> = ["imap_listen", "imaps_listen", "pop3_listen", "pop3s_listen",
                                     "ssl_disable", "ssl_cert_file", "ssl_key_file", "ssl_ca_file"]

    static func rewrite(_ root: ConfigSection, warnings: inout [ConfigDiagnostic]) throws -> ConfigSection {
        var result = root
        result.entries = []
        for entry in root.entries {
            guard case .setting(let setting) = entry else { result.entries.append(entry); continue }
            let replacement = try rewrite(setting)
            if let replacement {
                warnings.append(ConfigDiagnostic(setting.location,
                    "Dovecot 1.x setting '\(setting.key) = \(setting.value)' translated to: \(replacement.summary)"))
                result.entries += replacement.entries
            } else {
                result.entries.append(entry)
            }
        }
        return result
    }

    private struct Replacement {
        var entries: [ConfigSection.Entry]
        var summary: String
    }

    private static func rewrite(_ setting: ConfigSetting) throws -> Replacement? {
        let at = setting.location
        switch setting.key {
        case "protocols":
            return protocols(setting)
        case "imap_listen", "imaps_listen", "pop3_listen", "pop3s_listen":
            let legacy = String(setting.key.dropLast("_listen".count))
            let target = listeners.first { $0.legacy == legacy }!
            guard let (address, port) = splitHostPort(setting.value) else {
                throw ConfigError(at, "\(setting.key): Invalid address: '\(setting.value)'")
            }
            var keys = [("address", address)]
            if let port { keys.append(("port", port)) }
            let text = keys.map { "\($0.0) = \($0.1)" }.joined(separator: "; ")
            return Replacement(entries: [listenerSection(target.service, target.listener, keys, at)],
                               summary: "service \(target.service) { inet_listener \(target.listener) { \(text) } }")
        case "ssl_disable":
            guard let disabled = SettingValue.bool(setting.value) else {
                throw ConfigError(at, "ssl_disable: Invalid boolean value: '\(setting.value)' (use yes or no)")
            }
            let value = disabled ? "no" : "yes"
            return Replacement(entries: [.setting(ConfigSetting(key: "ssl", value: value, location: at))],
                               summary: "ssl = \(value)")
        case "ssl_cert_file", "ssl_key_file", "ssl_ca_file":
            let key = String(setting.key.dropLast("_file".count))
            let directory = (at.file as NSString).deletingLastPathComponent
            let path = ConfigParser.resolve(setting.value, in: directory)
            return Replacement(entries: [.setting(ConfigSetting(key: key, value: "<" + setting.value, location: at, filePath: path))],
                               summary: "\(key) = <\(setting.value)")
        default:
            return nil
        }
    }

    /// `imap imaps pop3s` → `imap pop3` plus `port = 0` for each plain or SSL listener whose
    /// 1.x name was not listed. A 2.3-style list (no imaps/pop3s) is left alone.
    private static func protocols(_ setting: ConfigSetting) -> Replacement? {
        let listed = SettingValue.list(setting.value)
        guard listed.contains("imaps") || listed.contains("pop3s") else { return nil }
        var modern: [String] = []
        for name in listed {
            let mapped = name == "imaps" ? "imap" : name == "pop3s" ? "pop3" : name
            if !modern.contains(mapped) { modern.append(mapped) }
        }
        let value = modern.joined(separator: " ")
        var entries: [ConfigSection.Entry] = [.setting(ConfigSetting(key: "protocols", value: value, location: setting.location))]
        var summary = "protocols = \(value)"
        for target in listeners where modern.contains(String(target.legacy.prefix(4))) && !listed.contains(target.legacy) {
            entries.append(listenerSection(target.service, target.listener, [("port", "0")], setting.location))
            summary += "; service \(target.service) { inet_listener \(target.listener) { port = 0 } }"
        }
        return Replacement(entries: entries, summary: summary)
    }

    private static func listenerSection(_ service: String, _ listener: String, _ keys: [(String, String)],
                                        _ at: SourceLocation) -> ConfigSection.Entry {
        let settings = keys.map { ConfigSection.Entry.setting(ConfigSetting(key: $0.0, value: $0.1, location: at)) }
        let inner = ConfigSection(name: "inet_listener", argument: listener, location: at, entries: settings)
        return .section(ConfigSection(name: "service", argument: service, location: at, entries: [.section(inner)]))
    }

    /// `*`, `127.0.0.1`, `host:143`, `[::1]:143`, `::1` → (address, port?).
    static func splitHostPort(_ text: String) -> (String, String?)? {
        let value = text.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { return nil }
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return nil }
            let host = String(value[value.index(after: value.startIndex)..<close])
            let rest = value[value.index(after: close)...]
            if rest.isEmpty { return (host, nil) }
            guard rest.hasPrefix(":"), let port = SettingValue.number(String(rest.dropFirst())) else { return nil }
            return (host, String(port))
        }
        let colons = value.filter { $0 == ":" }.count
        if colons == 1, let colon = value.firstIndex(of: ":") {
            guard let port = SettingValue.number(String(value[value.index(after: colon)...])) else { return nil }
            return (String(value[..<colon]), String(port))
        }
        return (value, nil)
    }
}
