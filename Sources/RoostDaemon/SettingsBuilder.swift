import Config
import Glibc
import IMAPServer
import Maildir

/// Turns the parsed configuration into what each child process needs.
enum SettingsBuilder {
    static func daemonSettings(_ loaded: LoadedConfig, devMode: Bool) throws -> DaemonSettings {
        let config = loaded.config.effective(forProtocol: "imap")
        var s = DaemonSettings()
        try loadTLS(config, into: &s)
        s.devMode = devMode
        s.instanceName = config.instanceName
        s.baseDir = config.baseDir
        s.stateDir = config.stateDir
        s.defaultLoginUser = config.defaultLoginUser
        s.loginGreeting = config.loginGreeting
        s.authMechanisms = config.authMechanisms.map { $0.uppercased() }
        s.disablePlaintextAuth = config.disablePlaintextAuth
        s.loginTrustedNetworks = config.loginTrustedNetworks
        s.loginMaxIPConnections = config.loginMaxIPConnections
        s.handshakeTimeout = config.loginHandshakeTimeout
        if config.imapIdleNotifyInterval > 0 { s.imapIdleNotifyInterval = config.imapIdleNotifyInterval }
        s.defaultInternalUser = config.defaultInternalUser
        let pop3 = loaded.config.effective(forProtocol: "pop3")
        s.pop3UIDLFormat = pop3.pop3UIDLFormat.isEmpty ? "%08Xu%08Xv" : pop3.pop3UIDLFormat
        s.pop3NoFlagUpdates = pop3.pop3NoFlagUpdates
        s.pop3DeleteType = pop3.pop3DeleteType
        s.pop3LockSession = pop3.pop3LockSession
        s.hostname = config.hostname.isEmpty ? Self.systemHostname() : config.hostname
        s.recipientDelimiter = config.recipientDelimiter
        let lmtp = loaded.config.effective(forProtocol: "lmtp")
        s.lmtpSaveToDetailMailbox = lmtp.lmtpSaveToDetailMailbox
        try quotaSettings(loaded, lmtp: lmtp, into: &s)
        s.imapMailboxes = Self.inboxMailboxes(config)
        let login = config.service("imap-login")
        s.loginClientLimit = login.clientLimit > 0 ? login.clientLimit : 1000
        s.mailMaxUserIPConnections = config.mailMaxUserIPConnections
        s.passdbs = config.passdbs.map {
            DaemonSettings.Driver(driver: $0.driver, args: $0.args, defaultFields: $0.defaultFields, overrideFields: $0.overrideFields)
        }
        s.userdbs = config.userdbs.map {
            DaemonSettings.Driver(driver: $0.driver, args: $0.args, defaultFields: $0.defaultFields, overrideFields: $0.overrideFields)
        }
        s.authFailureDelay = config.authFailureDelay
        s.authUsernameFormat = config.authUsernameFormat
        s.authVerbose = config.authVerbose
        s.firstValidUID = config.firstValidUID
        s.lastValidUID = config.lastValidUID
        s.firstValidGID = config.firstValidGID
        s.authCacheSize = config.authCacheSize
        s.authCacheTTL = config.authCacheTTL
        s.authCacheNegativeTTL = config.authCacheNegativeTTL
        s.lastValidGID = config.lastValidGID
        s.mailLocation = config.mailLocation
        s.mailUID = config.mailUID
        s.mailGID = config.mailGID
        s.log.errorsToSyslog = config.logPath == "syslog"
        let info = config.infoLogPath.isEmpty ? config.logPath : config.infoLogPath
        s.log.infoToSyslog = info == "syslog"
        s.log.debugEnabled = config.mailDebug || config.authDebug
        s.log.facility = config.syslogFacility
        s.log.timestampFormat = config.logTimestamp
        return s
    }

    /// The quota plugin per protocol (mail_plugins may differ in protocol { } sections); a
    /// quota setting Dovecot would refuse stops the start here rather than at the first login.
    /// The `mailbox { }` blocks of the namespace that holds INBOX (else of the one without a
    /// prefix), with names in Roost's "/" hierarchy.
    static func inboxMailboxes(_ config: RoostConfig) -> [IMAPMailboxSettings] {
        guard let ns = config.namespaces.first(where: \.inbox) ?? config.namespaces.first(where: { $0.prefix.isEmpty }) else {
            return []
        }
        return ns.mailboxes.map { m in
            var name = m.name
            if !ns.separator.isEmpty && ns.separator != "/" { name = name.replacingOccurrences(of: ns.separator, with: "/") }
            return IMAPMailboxSettings(name: name, specialUse: m.specialUse, auto: m.auto)
        }
    }

    static func quotaSettings(_ loaded: LoadedConfig, lmtp: RoostConfig, into s: inout DaemonSettings) throws {
        s.plugin = loaded.config.plugin
        s.quotaProtocols = ["imap", "pop3", "lmtp"].filter {
            loaded.config.effective(forProtocol: $0).mailPlugins.contains("quota")
        }
        s.imapQuotaCommands = s.quotaProtocols.contains("imap")
            && loaded.config.effective(forProtocol: "imap").mailPlugins.contains("imap_quota")
        s.lmtpRcptCheckQuota = lmtp.lmtpRcptCheckQuota
        s.quotaFullTempfail = lmtp.quotaFullTempfail
        guard !s.quotaProtocols.isEmpty else { return }
        do { _ = try QuotaPolicy.make(plugin: s.plugin) } catch { throw MasterError("plugin { \(error) }") }
    }

    static func systemHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Reads certificate and key files (the master runs as root; the login process could not).
    static func loadTLS(_ config: RoostConfig, into s: inout DaemonSettings) throws {
        s.ssl = config.ssl.rawValue
        s.sslKeyPassword = config.sslKeyPassword
        s.sslMinProtocol = config.sslMinProtocol
        s.sslCipherList = config.sslCipherList
        s.sslCipherSuites = config.sslCipherSuites
        s.sslPreferServerCiphers = config.sslPreferServerCiphers
        s.sslRequireCRL = config.sslRequireCRL
        s.sslCertUsernameField = config.sslCertUsernameField
        s.authSSLRequireClientCert = config.authSSLRequireClientCert
        s.authSSLUsernameFromCert = config.authSSLUsernameFromCert
        guard config.ssl != .no else { return }
        if config.sslVerifyClientCert {
            guard !config.sslCA.isEmpty else { throw MasterError("ssl_verify_client_cert set, but ssl_ca not") }
            s.sslClientCA = try config.sslCA.contents()
            s.sslClientCAName = config.sslCA.path ?? "ssl_ca"
        }
        guard !config.sslCert.isEmpty, !config.sslKey.isEmpty else {
            throw MasterError("ssl = \(config.ssl.rawValue) needs ssl_cert and ssl_key (or set ssl = no)")
        }
        s.tlsDefault = .init(certificatePEM: try config.sslCert.contents(), keyPEM: try config.sslKey.contents(),
                             certificateName: config.sslCert.path ?? "ssl_cert", keyName: config.sslKey.path ?? "ssl_key")
        for named in config.localNames where !named.sslCert.isEmpty && !named.sslKey.isEmpty {
            s.tlsNamed.append(.init(names: named.names, certificatePEM: try named.sslCert.contents(),
                                    keyPEM: try named.sslKey.contents(),
                                    certificateName: named.sslCert.path ?? "ssl_cert", keyName: named.sslKey.path ?? "ssl_key"))
        }
    }

    /// The IMAP and POP3 listeners the login processes serve. Implicit-TLS ones need `ssl != no`.
    static func loginListeners(_ config: RoostConfig) -> (active: [DaemonSettings.Listener], skipped: [String]) {
        var active: [DaemonSettings.Listener] = []
        var skipped: [String] = []
        for (proto, service) in [("imap", "imap-login"), ("pop3", "pop3-login")] where config.protocols.contains(proto) {
            let (a, s) = listeners(config, service: service)
            active += a
            skipped += s
        }
        return (active, skipped)
    }

    private static func listeners(_ config: RoostConfig, service: String) -> (active: [DaemonSettings.Listener], skipped: [String]) {
        var active: [DaemonSettings.Listener] = []
        var skipped: [String] = []
        for listener in config.service(service).enabledInetListeners {
            for address in listener.addresses {
                if listener.ssl && config.ssl == .no {
                    skipped.append("\(listener.name) on \(address):\(listener.port) (ssl = no)")
                    continue
                }
                active.append(.init(service: service, name: listener.name, address: address,
                                    port: listener.port, ssl: listener.ssl))
            }
        }
        return (active, skipped)
    }
}
