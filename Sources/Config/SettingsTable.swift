// Every setting Roost implements, in one table: name, type, default, one line of doc.
// Defaults are Dovecot 2.3's except where the doc line says "Roost:". Settings Dovecot knows
// but Roost does not implement are in `DovecotSettingNames` (names only): they parse, warn,
// and show up in `roost config` tagged "# not yet active in Roost".

/// Which block a setting lives in.
public enum SettingScope: String, Sendable, Hashable, CaseIterable {
    case root, service, inetListener, unixListener, fifoListener, passdb, userdb, namespace, mailbox
}

public enum SettingType: Sendable, Hashable {
    case string
    /// Words separated by spaces and/or commas.
    case list
    /// `yes` or `no`.
    case bool
    /// A non-negative integer.
    case number
    /// Bytes, with an optional unit: `10M`, `256 M`, `1G`.
    case size
    /// Seconds, with an optional unit: `2 secs`, `1 min`, `500ms`.
    case time
    /// A file mode in octal, `0666`.
    case octal
    case choice([String])
    /// A path written `<path`, read when needed (certificates, keys).
    case file
    /// A list of IP addresses or CIDR networks.
    case networks
}

public struct SettingDefinition: Sendable, Hashable {
    public var scope: SettingScope
    public var name: String
    public var type: SettingType
    public var defaultValue: String
    public var doc: String
    /// Implemented by Roost (as opposed to only known from Dovecot).
    public var active: Bool

    public init(scope: SettingScope, name: String, type: SettingType, defaultValue: String, doc: String, active: Bool) {
        self.scope = scope
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
        self.active = active
    }
}

public enum SettingsTable {
    static let resultActions = ["return", "return-ok", "return-fail", "continue", "continue-ok", "continue-fail"]

    /// A top-level setting Roost implements. (Plain functions, not overloaded initialisers, keep
    /// the type checker fast on this long literal.)
    private static func top(_ name: String, _ type: SettingType, _ defaultValue: String, _ doc: String) -> SettingDefinition {
        SettingDefinition(scope: .root, name: name, type: type, defaultValue: defaultValue, doc: doc, active: true)
    }

    private static func row(_ scope: SettingScope, _ name: String, _ type: SettingType, _ defaultValue: String,
                            _ doc: String) -> SettingDefinition {
        SettingDefinition(scope: scope, name: name, type: type, defaultValue: defaultValue, doc: doc, active: true)
    }

    public static let definitions: [SettingDefinition] = [
        // Processes and paths
        top("protocols", .list, "imap pop3 lmtp", "Protocols to serve; a service whose protocol is not listed does not start."),
        top("listen", .list, "*, ::", "Addresses inet listeners bind when they set no `address`."),
        top("base_dir", .string, "/run/roost", "Roost: runtime directory for sockets and pid file (Dovecot: /run/dovecot)."),
        top("state_dir", .string, "/var/lib/roost", "Roost: persistent state directory (Dovecot: /var/lib/dovecot)."),
        top("instance_name", .string, "roost", "Roost: name in process titles and logs (Dovecot: dovecot)."),
        top("shutdown_clients", .bool, "yes", "Disconnect clients when the master process stops."),
        top("verbose_proctitle", .bool, "no", "Show user and IP in process titles."),
        top("default_login_user", .string, "dovenull", "Unprivileged user login processes run as."),
        top("default_internal_user", .string, "dovecot", "User internal processes (auth, ...) run as."),
        // Mail storage and users
        top("mail_location", .string, "", "Where mailboxes live, e.g. maildir:~/Maildir."),
        top("mail_uid", .string, "", "System user mail is accessed as when userdb gives none."),
        top("mail_gid", .string, "", "System group mail is accessed as when userdb gives none."),
        top("first_valid_uid", .number, "500", "Lowest UID a user may log in with."),
        top("last_valid_uid", .number, "0", "Highest UID a user may log in with; 0 = no limit."),
        top("first_valid_gid", .number, "1", "Lowest GID a user may log in with."),
        top("last_valid_gid", .number, "0", "Highest GID a user may log in with; 0 = no limit."),
        top("mail_privileged_group", .string, "", "Group to use temporarily for privileged operations (mbox dotlocks in /var/mail)."),
        top("mail_access_groups", .list, "", "Extra groups mail processes get access to."),
        top("mail_max_userip_connections", .number, "10", "Most IMAP/POP3 connections one user may have from one IP."),
        top("mail_debug", .bool, "no", "Log mail storage debugging."),
        top("postmaster_address", .string, "postmaster@%{if;%d;ne;;%d;%{hostname}}", "Sender of rejection mails."),
        top("hostname", .string, "", "Host name in LMTP replies and Message-IDs; empty = system host name."),
        top("recipient_delimiter", .string, "+", "Separator of the detail in user+detail@domain."),
        top("quota_full_tempfail", .bool, "no", "Temporary failure (instead of rejection) when quota is full."),
        // TLS
        top("ssl", .choice(["no", "yes", "required"]), "yes", "TLS support: no, yes, or required (required: no plaintext authentication without TLS, except from localhost or login_trusted_networks)."),
        top("ssl_cert", .file, "", "Server certificate chain (PEM), written <path."),
        top("ssl_key", .file, "", "Private key of ssl_cert (PEM), written <path."),
        top("ssl_key_password", .string, "", "Password of ssl_key when it is encrypted."),
        top("ssl_ca", .file, "", "CA certificates for client certificate checks, written <path."),
        top("ssl_min_protocol", .choice(["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "ANY", "LATEST"]), "TLSv1.2", "Oldest TLS version accepted."),
        top("ssl_cipher_list", .string, "ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:!ADH:!LOW@STRENGTH", "OpenSSL cipher list for TLS 1.2 and older."),
        top("ssl_cipher_suites", .string, "", "OpenSSL cipher suites for TLS 1.3; empty = library default."),
        top("ssl_prefer_server_ciphers", .bool, "no", "Prefer the server's cipher order."),
        top("ssl_verify_client_cert", .bool, "no", "Ask clients for a certificate (optional for them) and check it against ssl_ca."),
        top("ssl_require_crl", .bool, "yes", "A client certificate is only valid when ssl_ca holds a CRL for its CA."),
        top("ssl_cert_username_field", .string, "commonName", "Subject field of the client certificate that auth_ssl_username_from_cert uses."),
        top("auth_ssl_require_client_cert", .bool, "no", "Fail authentication without a valid client certificate."),
        top("auth_ssl_username_from_cert", .bool, "no", "Take the username from the client certificate (ssl_cert_username_field)."),
        // Authentication and login
        top("disable_plaintext_auth", .bool, "yes", "Refuse plaintext authentication without TLS (except from localhost)."),
        top("auth_mechanisms", .list, "plain", "SASL mechanisms offered."),
        top("auth_username_format", .string, "%Lu", "How a login name is normalised before lookup."),
        top("auth_failure_delay", .time, "2 secs", "Delay before answering a failed authentication."),
        top("auth_verbose", .bool, "no", "Log failed authentications."),
        top("auth_cache_size", .size, "0", "Auth cache size, e.g. 10M; 0 = no cache. Caches passdbs with a cache_key (pam)."),
        top("auth_cache_ttl", .time, "1 hour", "How long a cached successful login answers."),
        top("auth_cache_negative_ttl", .time, "1 hour", "How long a cached unknown user or repeated mismatch answers; 0 = never cached."),
        top("auth_cache_verify_password_with_worker", .bool, "no", "Accepted for Dovecot configs; Roost always verifies cached hashes on its auth worker threads."),
        top("auth_debug", .bool, "no", "Log authentication debugging."),
        top("login_trusted_networks", .networks, "", "Networks whose proxies may forward client IPs; also exempt from login_max_ip_connections."),
        top("login_greeting", .string, "Roost ready.", "Roost: greeting sent to IMAP/POP3 clients (Dovecot: \"Dovecot ready.\")."),
        top("login_max_ip_connections", .number, "0", "Roost-only: most pre-login connections from one IP, counted by the master over all login processes; 0 = unlimited."),
        top("login_handshake_timeout", .time, "30 secs", "Roost-only: a client that has not finished its TLS handshake by then is disconnected."),
        // Logging
        top("log_path", .string, "", "Roost: empty = stderr (Dovecot: syslog); \"syslog\" = syslog; else a file."),
        top("info_log_path", .string, "", "Info messages; empty = same as log_path."),
        top("debug_log_path", .string, "", "Debug messages; empty = same as info_log_path."),
        top("syslog_facility", .string, "mail", "Syslog facility when logging to syslog."),
        top("log_timestamp", .string, "%b %d %H:%M:%S ", "strftime prefix of lines written to log files."),
        // Protocols
        top("imap_idle_notify_interval", .time, "2 mins", "How often IDLE sends \"OK Still here\"."),
        top("pop3_uidl_format", .string, "%08Xu%08Xv", "Format of POP3 UIDLs."),
        top("pop3_no_flag_updates", .bool, "no", "Do not mark messages seen after RETR/TOP."),
        top("pop3_delete_type", .choice(["default", "expunge", "flag"]), "default", "What DELE does at QUIT: expunge (default) or flag (set \\Deleted and keep the message)."),
        top("pop3_lock_session", .bool, "yes", "One POP3 session per mailbox at a time (-ERR [IN-USE]); Roost's default is yes (Dovecot: no)."),
        top("lmtp_save_to_detail_mailbox", .bool, "no", "Deliver user+detail to mailbox \"detail\"."),
        top("lmtp_rcpt_check_quota", .bool, "no", "Refuse a recipient already over quota at RCPT TO (552 5.2.2, or 452 4.2.2 with quota_full_tempfail)."),
        top("mail_plugins", .list, "", "Mail plugins; Roost implements `quota` (Maildir++ maildirsize, settings in plugin { }) and `imap_quota` (GETQUOTAROOT, GETQUOTA), others are ignored with a warning."),

        // passdb { } — each block is one database, consulted in order
        row(.passdb, "driver", .string, "", "Backend: pam, passwd-file, static, ..."),
        row(.passdb, "args", .string, "", "Arguments of the driver."),
        row(.passdb, "name", .string, "", "Name of this passdb (also the section argument)."),
        row(.passdb, "default_fields", .string, "", "Fields used when the driver returns none."),
        row(.passdb, "override_fields", .string, "", "Fields replacing what the driver returns."),
        row(.passdb, "deny", .bool, "no", "A match denies the login."),
        row(.passdb, "skip", .choice(["never", "authenticated", "unauthenticated"]), "never", "When to skip this passdb."),
        row(.passdb, "result_success", .choice(resultActions), "return-ok", "Next step after success."),
        row(.passdb, "result_failure", .choice(resultActions), "continue", "Next step after failure."),
        row(.passdb, "result_internalfail", .choice(resultActions), "continue", "Next step after an internal failure."),
        // userdb { }
        row(.userdb, "driver", .string, "", "Backend: passwd, passwd-file, static, prefetch, ..."),
        row(.userdb, "args", .string, "", "Arguments of the driver."),
        row(.userdb, "name", .string, "", "Name of this userdb (also the section argument)."),
        row(.userdb, "default_fields", .string, "", "Fields used when the driver returns none."),
        row(.userdb, "override_fields", .string, "", "Fields replacing what the driver returns."),
        // service NAME { }
        row(.service, "process_limit", .number, "0", "Most processes of this service; 0 = default_process_limit."),
        row(.service, "client_limit", .number, "0", "Most clients per process; 0 = default_client_limit."),
        row(.service, "process_min_avail", .number, "0", "Processes kept waiting for clients."),
        row(.service, "service_count", .number, "0", "Clients a process serves before exiting; 0 = unlimited."),
        row(.service, "vsz_limit", .size, "0", "Memory limit per process; 0 = default_vsz_limit."),
        row(.service, "user", .string, "", "User the processes run as."),
        row(.service, "group", .string, "", "Group the processes run as."),
        row(.service, "executable", .string, "", "Program (Roost: role) the service runs."),
        row(.service, "chroot", .string, "", "Directory to chroot into (relative to base_dir)."),
        row(.service, "protocol", .string, "", "Protocol that must be in `protocols` for the service to run; empty = always."),
        row(.service, "idle_kill", .time, "0", "Stop idle processes after this long; 0 = default_idle_kill."),
        row(.inetListener, "address", .list, "", "Addresses to bind; empty = the global `listen`."),
        row(.inetListener, "port", .number, "0", "TCP port; 0 disables the listener."),
        row(.inetListener, "ssl", .bool, "no", "TLS from the first byte (imaps, pop3s)."),
        row(.inetListener, "haproxy", .bool, "no", "Expect a HAProxy PROXY header (from login_trusted_networks)."),
        row(.unixListener, "mode", .octal, "0600", "Socket file mode."),
        row(.unixListener, "user", .string, "", "Socket owner."),
        row(.unixListener, "group", .string, "", "Socket group."),
        row(.fifoListener, "mode", .octal, "0600", "FIFO file mode."),
        row(.fifoListener, "user", .string, "", "FIFO owner."),
        row(.fifoListener, "group", .string, "", "FIFO group."),
        // namespace NAME { mailbox NAME { } }
        row(.namespace, "inbox", .bool, "no", "This namespace holds the INBOX."),
        row(.namespace, "separator", .string, "", "Hierarchy separator; empty = the storage's own."),
        row(.namespace, "prefix", .string, "", "Prefix of every mailbox name in this namespace."),
        row(.namespace, "type", .choice(["private", "shared", "public"]), "private", "Kind of namespace."),
        row(.namespace, "list", .choice(["yes", "no", "children"]), "yes", "Show the namespace in LIST."),
        row(.namespace, "subscriptions", .bool, "yes", "Keep subscriptions of this namespace in it."),
        row(.namespace, "hidden", .bool, "no", "Hide the namespace from NAMESPACE."),
        row(.namespace, "location", .string, "", "Storage location; empty = mail_location."),
        row(.mailbox, "special_use", .list, "", "RFC 6154 flags, e.g. \\Sent."),
        row(.mailbox, "auto", .choice(["no", "create", "subscribe"]), "no", "Create (and subscribe) the mailbox automatically."),
    ]

    /// Settings whose `<path` value stays a path (read when used, e.g. a key only root may read).
    public static let fileValued: Set<String> = [
        "ssl_cert", "ssl_key", "ssl_ca", "ssl_dh", "ssl_alt_cert", "ssl_alt_key", "ssl_client_cert", "ssl_client_key",
    ]

    private static let byScope: [SettingScope: [String: SettingDefinition]] = {
        var result: [SettingScope: [String: SettingDefinition]] = [:]
        for d in definitions { result[d.scope, default: [:]][d.name] = d }
        return result
    }()

    public static func definition(_ name: String, in scope: SettingScope = .root) -> SettingDefinition? {
        byScope[scope]?[name]
    }

    /// Names Dovecot 2.3 knows in this scope, active in Roost or not.
    static func dovecotNames(_ scope: SettingScope) -> Set<String> {
        switch scope {
        case .root: DovecotSettingNames.root
        case .service: DovecotSettingNames.service
        case .inetListener: DovecotSettingNames.inetListener
        case .unixListener: DovecotSettingNames.unixListener
        case .fifoListener: DovecotSettingNames.fifoListener
        case .passdb: DovecotSettingNames.passdb
        case .userdb: DovecotSettingNames.userdb
        case .namespace: DovecotSettingNames.namespace
        case .mailbox: DovecotSettingNames.mailbox
        }
    }

    /// Every name accepted in the scope: Roost's, Dovecot's.
    static func knownNames(_ scope: SettingScope) -> Set<String> {
        dovecotNames(scope).union((byScope[scope] ?? [:]).keys)
    }

    static func isKnownTopLevelName(_ name: String) -> Bool {
        definition(name) != nil || DovecotSettingNames.root.contains(name)
    }
}
