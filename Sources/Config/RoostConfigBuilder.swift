// RoostConfigBuilder turns a validated, merged tree into `RoostConfig`. Values were checked by
// `ConfigValidator`, so a value that still does not parse here falls back to the default.
//
// Services: the defaults below (as in Dovecot) are the starting point; a configured service
// block changes only what it sets, and an `inet_listener` with a known name changes only the
// keys it sets — `service imap-login { inet_listener imap { address = 127.0.0.1 } }` keeps
// imaps on 993 at the `listen` addresses. `port = 0` disables a listener.

enum DefaultServices {
    static let all: [String: ServiceSettings] = {
        var imapLogin = ServiceSettings(name: "imap-login", protocol: "imap")
        imapLogin.inetListeners = [InetListener(name: "imap", addresses: [], port: 143),
                                   InetListener(name: "imaps", addresses: [], port: 993, ssl: true)]
        imapLogin.serviceCount = 1
        imapLogin.chroot = "login"
        imapLogin.user = "$default_login_user"
        var pop3Login = ServiceSettings(name: "pop3-login", protocol: "pop3")
        pop3Login.inetListeners = [InetListener(name: "pop3", addresses: [], port: 110),
                                   InetListener(name: "pop3s", addresses: [], port: 995, ssl: true)]
        pop3Login.serviceCount = 1
        pop3Login.chroot = "login"
        pop3Login.user = "$default_login_user"
        var lmtp = ServiceSettings(name: "lmtp", protocol: "lmtp")
        lmtp.unixListeners = [UnixListener(path: "lmtp", mode: 0o666)]
        lmtp.clientLimit = 1
        var auth = ServiceSettings(name: "auth")
        auth.unixListeners = [UnixListener(path: "auth-userdb", mode: 0o666, user: "$default_internal_user")]
        auth.processLimit = 1
        auth.user = "$default_internal_user"
        return ["imap-login": imapLogin, "pop3-login": pop3Login, "lmtp": lmtp, "auth": auth]
    }()

    /// Protocol of services not in `all`, so `isEnabled(service:)` knows them.
    static func protocolOf(_ service: String) -> String {
        switch service {
        case "imap", "imap-login": "imap"
        case "pop3", "pop3-login": "pop3"
        case "lmtp": "lmtp"
        case "submission", "submission-login": "submission"
        default: ""
        }
    }
}

/// Reads typed values of one section, falling back to the table's defaults.
struct SettingReader {
    let section: ConfigSection
    let scope: SettingScope

    func raw(_ name: String) -> String? { section.setting(name)?.value }

    func string(_ name: String) -> String {
        raw(name) ?? SettingsTable.definition(name, in: scope)?.defaultValue ?? ""
    }

    func list(_ name: String) -> [String] { SettingValue.list(string(name)) }

    func bool(_ name: String) -> Bool {
        SettingValue.bool(string(name)) ?? SettingValue.bool(defaultValue(name)) ?? false
    }

    func number(_ name: String) -> Int {
        SettingValue.number(string(name)) ?? SettingValue.number(defaultValue(name)) ?? 0
    }

    func bytes(_ name: String) -> Int {
        Int(clamping: SettingValue.size(string(name)) ?? SettingValue.size(defaultValue(name)) ?? 0)
    }

    func seconds(_ name: String) -> Double {
        SettingValue.seconds(string(name)) ?? SettingValue.seconds(defaultValue(name)) ?? 0
    }

    func file(_ name: String) -> FileValue {
        guard let setting = section.setting(name) else {
            return FileValue(path: nil, inline: nil, setting: name, location: nil)
        }
        if let path = setting.filePath {
            return FileValue(path: path, inline: nil, setting: name, location: setting.location)
        }
        return FileValue(path: nil, inline: setting.value, setting: name, location: setting.location)
    }

    private func defaultValue(_ name: String) -> String {
        SettingsTable.definition(name, in: scope)?.defaultValue ?? ""
    }
}

enum RoostConfigBuilder {
    static func build(_ root: ConfigSection) -> RoostConfig {
        let r = SettingReader(section: root, scope: .root)
        let listen = r.list("listen")
        return RoostConfig(
            protocols: unique(r.list("protocols")), listen: listen,
            baseDir: r.string("base_dir"), stateDir: r.string("state_dir"), instanceName: r.string("instance_name"),
            shutdownClients: r.bool("shutdown_clients"), verboseProctitle: r.bool("verbose_proctitle"),
            defaultLoginUser: r.string("default_login_user"), defaultInternalUser: r.string("default_internal_user"),
            mailLocation: r.string("mail_location"), mailUID: r.string("mail_uid"), mailGID: r.string("mail_gid"),
            firstValidUID: r.number("first_valid_uid"), lastValidUID: r.number("last_valid_uid"),
            firstValidGID: r.number("first_valid_gid"), lastValidGID: r.number("last_valid_gid"),
            mailPrivilegedGroup: r.string("mail_privileged_group"), mailAccessGroups: r.list("mail_access_groups"),
            mailMaxUserIPConnections: r.number("mail_max_userip_connections"), mailDebug: r.bool("mail_debug"),
            postmasterAddress: r.string("postmaster_address"), hostname: r.string("hostname"),
            recipientDelimiter: r.string("recipient_delimiter"), quotaFullTempfail: r.bool("quota_full_tempfail"),
            ssl: SSLMode(rawValue: r.string("ssl")) ?? .yes,
            sslCert: r.file("ssl_cert"), sslKey: r.file("ssl_key"), sslKeyPassword: r.string("ssl_key_password"),
            sslCA: r.file("ssl_ca"), sslMinProtocol: r.string("ssl_min_protocol"),
            sslCipherList: r.string("ssl_cipher_list"), sslCipherSuites: r.string("ssl_cipher_suites"),
            sslPreferServerCiphers: r.bool("ssl_prefer_server_ciphers"),
            sslVerifyClientCert: r.bool("ssl_verify_client_cert"),
            sslRequireCRL: r.bool("ssl_require_crl"), sslCertUsernameField: r.string("ssl_cert_username_field"),
            authSSLRequireClientCert: r.bool("auth_ssl_require_client_cert"),
            authSSLUsernameFromCert: r.bool("auth_ssl_username_from_cert"),
            disablePlaintextAuth: r.bool("disable_plaintext_auth"), authMechanisms: r.list("auth_mechanisms"),
            authUsernameFormat: r.string("auth_username_format"), authFailureDelay: r.seconds("auth_failure_delay"),
            authVerbose: r.bool("auth_verbose"),
            authCacheSize: r.bytes("auth_cache_size"), authCacheTTL: r.seconds("auth_cache_ttl"),
            authCacheNegativeTTL: r.seconds("auth_cache_negative_ttl"),
            authDebug: r.bool("auth_debug"),
            loginTrustedNetworks: r.list("login_trusted_networks"), loginGreeting: r.string("login_greeting"),
            loginMaxIPConnections: r.number("login_max_ip_connections"),
            loginHandshakeTimeout: r.seconds("login_handshake_timeout"),
            logPath: r.string("log_path"), infoLogPath: r.string("info_log_path"),
            debugLogPath: r.string("debug_log_path"), syslogFacility: r.string("syslog_facility"),
            logTimestamp: r.string("log_timestamp"),
            imapIdleNotifyInterval: r.seconds("imap_idle_notify_interval"),
            pop3UIDLFormat: r.string("pop3_uidl_format"), pop3NoFlagUpdates: r.bool("pop3_no_flag_updates"),
            pop3DeleteType: r.string("pop3_delete_type"), pop3LockSession: r.bool("pop3_lock_session"),
            lmtpSaveToDetailMailbox: r.bool("lmtp_save_to_detail_mailbox"),
            lmtpRcptCheckQuota: r.bool("lmtp_rcpt_check_quota"), mailPlugins: r.list("mail_plugins"),
            passdbs: root.sections(named: "passdb").map { driverSection($0, scope: .passdb) },
            userdbs: root.sections(named: "userdb").map { driverSection($0, scope: .userdb) },
            services: services(root, listen: listen),
            namespaces: root.sections(named: "namespace").map(namespace),
            localNames: root.sections(named: "local_name").map(localName),
            plugin: plugin(root),
            protocolSections: root.sections(named: "protocol").map(\.argument),
            tree: root)
    }

    static func plugin(_ root: ConfigSection) -> [String: String] {
        var result: [String: String] = [:]
        for section in root.sections(named: "plugin") {
            for setting in section.settings { result[setting.key] = setting.value }
        }
        return result
    }

    static func unique(_ words: [String]) -> [String] {
        var seen: Set<String> = []
        return words.filter { seen.insert($0).inserted }
    }

    static func driverSection(_ section: ConfigSection, scope: SettingScope) -> DriverSection {
        let r = SettingReader(section: section, scope: scope)
        var result = DriverSection(name: section.setting("name")?.value ?? section.argument, driver: r.string("driver"),
                                   args: r.string("args"), defaultFields: r.string("default_fields"),
                                   overrideFields: r.string("override_fields"), location: section.location)
        if scope == .passdb {
            result.deny = r.bool("deny")
            result.skip = r.string("skip")
            result.resultSuccess = r.string("result_success")
            result.resultFailure = r.string("result_failure")
            result.resultInternalfail = r.string("result_internalfail")
        }
        return result
    }

    static func services(_ root: ConfigSection, listen: [String]) -> [String: ServiceSettings] {
        var services = DefaultServices.all
        for section in root.sections(named: "service") {
            let base = services[section.argument]
                ?? ServiceSettings(name: section.argument, protocol: DefaultServices.protocolOf(section.argument))
            services[section.argument] = apply(section, to: base)
        }
        let users = ["$default_login_user": SettingReader(section: root, scope: .root).string("default_login_user"),
                     "$default_internal_user": SettingReader(section: root, scope: .root).string("default_internal_user")]
        for (name, var service) in services {
            for i in service.inetListeners.indices where service.inetListeners[i].addresses.isEmpty {
                service.inetListeners[i].addresses = listen
            }
            service.user = users[service.user] ?? service.user
            for i in service.unixListeners.indices {
                service.unixListeners[i].user = users[service.unixListeners[i].user] ?? service.unixListeners[i].user
            }
            services[name] = service
        }
        return services
    }

    private static func apply(_ section: ConfigSection, to base: ServiceSettings) -> ServiceSettings {
        var s = base
        let r = SettingReader(section: section, scope: .service)
        if let v = r.raw("process_limit") { s.processLimit = SettingValue.number(v) ?? s.processLimit }
        if let v = r.raw("client_limit") { s.clientLimit = SettingValue.number(v) ?? s.clientLimit }
        if let v = r.raw("process_min_avail") { s.processMinAvail = SettingValue.number(v) ?? s.processMinAvail }
        if let v = r.raw("service_count") { s.serviceCount = SettingValue.number(v) ?? s.serviceCount }
        if let v = r.raw("vsz_limit") { s.vszLimit = SettingValue.size(v) ?? s.vszLimit }
        if let v = r.raw("idle_kill") { s.idleKill = SettingValue.seconds(v) ?? s.idleKill }
        if let v = r.raw("user") { s.user = v }
        if let v = r.raw("group") { s.group = v }
        if let v = r.raw("executable") { s.executable = v }
        if let v = r.raw("chroot") { s.chroot = v }
        if let v = r.raw("protocol") { s.protocol = v }
        for listener in section.sections(named: "inet_listener") {
            let index = s.inetListeners.firstIndex { $0.name == listener.argument }
            var l = index.map { s.inetListeners[$0] } ?? InetListener(name: listener.argument, addresses: [], port: 0)
            if let v = listener.setting("address")?.value { l.addresses = SettingValue.list(v) }
            if let v = listener.setting("port")?.value { l.port = SettingValue.number(v) ?? l.port }
            if let v = listener.setting("ssl")?.value { l.ssl = SettingValue.bool(v) ?? l.ssl }
            if let v = listener.setting("haproxy")?.value { l.haproxy = SettingValue.bool(v) ?? l.haproxy }
            if let index { s.inetListeners[index] = l } else { s.inetListeners.append(l) }
        }
        s.unixListeners = applyUnix(section.sections(named: "unix_listener"), to: s.unixListeners)
        s.fifoListeners = applyUnix(section.sections(named: "fifo_listener"), to: s.fifoListeners)
        return s
    }

    private static func applyUnix(_ sections: [ConfigSection], to base: [UnixListener]) -> [UnixListener] {
        var result = base
        for section in sections {
            let index = result.firstIndex { $0.path == section.argument }
            var l = index.map { result[$0] } ?? UnixListener(path: section.argument)
            if let v = section.setting("mode")?.value { l.mode = SettingValue.octal(v) ?? l.mode }
            if let v = section.setting("user")?.value { l.user = v }
            if let v = section.setting("group")?.value { l.group = v }
            if let index { result[index] = l } else { result.append(l) }
        }
        return result
    }

    static func namespace(_ section: ConfigSection) -> NamespaceSettings {
        let r = SettingReader(section: section, scope: .namespace)
        let mailboxes = section.sections(named: "mailbox").map { mailbox -> MailboxSettings in
            let m = SettingReader(section: mailbox, scope: .mailbox)
            return MailboxSettings(name: mailbox.argument, specialUse: m.list("special_use"), auto: m.string("auto"))
        }
        return NamespaceSettings(name: section.argument, inbox: r.bool("inbox"), separator: r.string("separator"),
                                 prefix: r.string("prefix"), type: r.string("type"), list: r.string("list"),
                                 subscriptions: r.bool("subscriptions"), hidden: r.bool("hidden"),
                                 location: r.string("location"), mailboxes: mailboxes)
    }

    static func localName(_ section: ConfigSection) -> LocalNameSettings {
        let r = SettingReader(section: section, scope: .root)
        return LocalNameSettings(names: SettingValue.list(section.argument), sslCert: r.file("ssl_cert"),
                                 sslKey: r.file("ssl_key"))
    }
}
