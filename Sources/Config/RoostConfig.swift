// The typed configuration Roost's processes read. Built from the parsed tree by
// `RoostConfigBuilder`; every property has the default from `SettingsTable` when unset.

import Foundation

public enum SSLMode: String, Sendable, Hashable {
    case no, yes, required
}

/// A certificate, key or CA setting. Written `<path`, it keeps the path and reads the file
/// when asked (the key may be readable only before privileges are dropped).
public struct FileValue: Sendable, Hashable {
    /// The file, resolved against the configuration file's directory; nil if given inline.
    public var path: String?
    /// The value itself when it was written without `<`.
    public var inline: String?
    /// Setting name and where it was set, for error messages.
    public var setting: String
    public var location: SourceLocation?

    public init(path: String?, inline: String?, setting: String, location: SourceLocation?) {
        self.path = path
        self.inline = inline
        self.setting = setting
        self.location = location
    }

    public var isEmpty: Bool { path == nil && (inline ?? "").isEmpty }

    public func contents() throws -> String {
        guard let path else { return inline ?? "" }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: location?.file ?? path, line: location?.line ?? 0,
                              message: "\(setting): Cannot read \(path): \(ConfigParser.describe(error))")
        }
    }
}

/// A `passdb { }` or `userdb { }` block.
public struct DriverSection: Sendable, Hashable {
    public var name: String
    public var driver: String
    public var args: String
    public var defaultFields: String
    public var overrideFields: String
    /// passdb only.
    public var deny: Bool = false
    public var skip: String = "never"
    public var resultSuccess: String = "return-ok"
    public var resultFailure: String = "continue"
    public var resultInternalfail: String = "continue"
    public var location: SourceLocation?
}

public struct InetListener: Sendable, Hashable {
    public var name: String
    /// The listener's `address`, or the global `listen` when it sets none.
    public var addresses: [String]
    /// 0 disables the listener.
    public var port: Int
    public var ssl: Bool
    public var haproxy: Bool

    public init(name: String, addresses: [String], port: Int, ssl: Bool = false, haproxy: Bool = false) {
        self.name = name
        self.addresses = addresses
        self.port = port
        self.ssl = ssl
        self.haproxy = haproxy
    }

    public var isEnabled: Bool { port != 0 && !addresses.isEmpty }
}

/// A `unix_listener` or `fifo_listener`; `path` is relative to base_dir unless absolute.
public struct UnixListener: Sendable, Hashable {
    public var path: String
    public var mode: UInt32
    public var user: String
    public var group: String

    public init(path: String, mode: UInt32 = 0o600, user: String = "", group: String = "") {
        self.path = path
        self.mode = mode
        self.user = user
        self.group = group
    }
}

public struct ServiceSettings: Sendable, Hashable {
    public var name: String
    /// The protocol that must be in `protocols` for the service to run; "" = always.
    public var `protocol`: String
    public var inetListeners: [InetListener] = []
    public var unixListeners: [UnixListener] = []
    public var fifoListeners: [UnixListener] = []
    public var processLimit: Int = 0
    public var clientLimit: Int = 0
    public var processMinAvail: Int = 0
    public var serviceCount: Int = 0
    public var vszLimit: UInt64 = 0
    public var user: String = ""
    public var group: String = ""
    public var executable: String
    public var chroot: String = ""
    /// Seconds; 0 = default.
    public var idleKill: Double = 0

    public init(name: String, protocol: String = "") {
        self.name = name
        self.protocol = `protocol`
        self.executable = name
    }

    public func inetListener(_ name: String) -> InetListener? {
        inetListeners.first { $0.name == name }
    }

    public var enabledInetListeners: [InetListener] { inetListeners.filter(\.isEnabled) }
}

public struct MailboxSettings: Sendable, Hashable {
    public var name: String
    public var specialUse: [String]
    /// no, create or subscribe.
    public var auto: String
}

public struct NamespaceSettings: Sendable, Hashable {
    public var name: String
    public var inbox: Bool
    public var separator: String
    public var prefix: String
    /// private, shared or public.
    public var type: String
    /// yes, no or children.
    public var list: String
    public var subscriptions: Bool
    public var hidden: Bool
    public var location: String
    public var mailboxes: [MailboxSettings]
}

/// `local_name NAME { ssl_cert ssl_key }`: the certificate for TLS SNI host NAME.
public struct LocalNameSettings: Sendable, Hashable {
    /// Host names (the section argument may list several, and use `*.` wildcards).
    public var names: [String]
    public var sslCert: FileValue
    public var sslKey: FileValue
}

public struct RoostConfig: Sendable, Hashable {
    public var protocols: [String]
    public var listen: [String]
    public var baseDir: String
    public var stateDir: String
    public var instanceName: String
    public var shutdownClients: Bool
    public var verboseProctitle: Bool
    public var defaultLoginUser: String
    public var defaultInternalUser: String

    public var mailLocation: String
    public var mailUID: String
    public var mailGID: String
    public var firstValidUID: Int
    public var lastValidUID: Int
    public var firstValidGID: Int
    public var lastValidGID: Int
    public var mailPrivilegedGroup: String
    public var mailAccessGroups: [String]
    public var mailMaxUserIPConnections: Int
    public var mailDebug: Bool
    public var postmasterAddress: String
    public var hostname: String
    public var recipientDelimiter: String
    public var quotaFullTempfail: Bool

    public var ssl: SSLMode
    public var sslCert: FileValue
    public var sslKey: FileValue
    public var sslKeyPassword: String
    public var sslCA: FileValue
    public var sslMinProtocol: String
    public var sslCipherList: String
    public var sslCipherSuites: String
    public var sslPreferServerCiphers: Bool
    public var sslVerifyClientCert: Bool
    public var sslRequireCRL: Bool
    public var sslCertUsernameField: String
    public var authSSLRequireClientCert: Bool
    public var authSSLUsernameFromCert: Bool

    public var disablePlaintextAuth: Bool
    public var authMechanisms: [String]
    public var authUsernameFormat: String
    /// Seconds.
    public var authFailureDelay: Double
    public var authVerbose: Bool
    /// Bytes; 0 = no auth cache.
    public var authCacheSize: Int
    /// Seconds.
    public var authCacheTTL: Double
    /// Seconds.
    public var authCacheNegativeTTL: Double
    public var authDebug: Bool
    public var loginTrustedNetworks: [String]
    public var loginGreeting: String
    /// Roost-only; 0 = unlimited.
    public var loginMaxIPConnections: Int
    /// Roost-only; seconds.
    public var loginHandshakeTimeout: Double

    /// "" = stderr, "syslog" = syslog, else a file.
    public var logPath: String
    public var infoLogPath: String
    public var debugLogPath: String
    public var syslogFacility: String
    public var logTimestamp: String

    /// Seconds.
    public var imapIdleNotifyInterval: Double
    public var pop3UIDLFormat: String
    public var pop3NoFlagUpdates: Bool
    public var pop3DeleteType: String
    public var pop3LockSession: Bool
    public var lmtpSaveToDetailMailbox: Bool
    public var lmtpRcptCheckQuota: Bool
    /// Plugins of mail processes; Roost implements `quota` (Maildir++).
    public var mailPlugins: [String]

    public var passdbs: [DriverSection]
    public var userdbs: [DriverSection]
    /// Default services (imap-login, pop3-login, lmtp, auth) merged with the configured ones.
    public var services: [String: ServiceSettings]
    public var namespaces: [NamespaceSettings]
    public var localNames: [LocalNameSettings]
    public var plugin: [String: String]
    /// Arguments of the `protocol` sections present (`imap`, `!indexer-worker`, ...).
    public var protocolSections: [String]

    /// The merged tree this was built from, for `effective(forProtocol:)`.
    let tree: ConfigSection

    /// The service's settings; Roost's defaults for a service the configuration does not mention.
    public func service(_ name: String) -> ServiceSettings {
        services[name] ?? DefaultServices.all[name] ?? ServiceSettings(name: name)
    }

    /// Whether the service runs: its protocol (if any) is in `protocols`.
    public func isEnabled(service name: String) -> Bool {
        let p = service(name).protocol
        return p.isEmpty || protocols.contains(p)
    }

    public var trustedNetworks: NetworkMatcher {
        NetworkMatcher(cidrs: loginTrustedNetworks) ?? NetworkMatcher(cidrs: [])!
    }

    /// This configuration with the `protocol NAME { }` blocks that match `name` applied on top.
    public func effective(forProtocol name: String) -> RoostConfig {
        var overlaid = tree
        for section in tree.sections(named: "protocol") where Self.protocolFilter(section.argument, matches: name) {
            overlaid.entries += section.entries
        }
        return RoostConfigBuilder.build(overlaid.merged())
    }

    /// `imap`, `imap pop3`, `!indexer-worker`.
    static func protocolFilter(_ filter: String, matches name: String) -> Bool {
        let words = filter.split(separator: " ").map(String.init)
        let positive = words.filter { !$0.hasPrefix("!") }
        let negative = words.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) }
        if negative.contains(name) { return false }
        return positive.isEmpty ? !negative.isEmpty : positive.contains(name)
    }
}
