import Config

/// Turns the parsed configuration into what each child process needs.
enum SettingsBuilder {
    static func daemonSettings(_ loaded: LoadedConfig, devMode: Bool) -> DaemonSettings {
        let config = loaded.config.effective(forProtocol: "imap")
        var s = DaemonSettings()
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

    /// The IMAP listeners the login process serves now. Implicit-TLS listeners wait for TLS.
    static func imapListeners(_ config: RoostConfig) -> (active: [DaemonSettings.Listener], skipped: [String]) {
        guard config.protocols.contains("imap") else { return ([], []) }
        var active: [DaemonSettings.Listener] = []
        var skipped: [String] = []
        for listener in config.service("imap-login").enabledInetListeners {
            for address in listener.addresses {
                if listener.ssl {
                    skipped.append("\(listener.name) on \(address):\(listener.port) (TLS is not implemented yet)")
                    continue
                }
                active.append(.init(service: "imap-login", name: listener.name, address: address,
                                    port: listener.port, ssl: listener.ssl))
            }
        }
        return (active, skipped)
    }
}
