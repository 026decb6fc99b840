import IMAPServer

/// What the master hands each child process at start (the first control message), so children
/// never read the config file themselves: the login process runs unprivileged and may not be
/// able to, and one parse in the master means every process agrees on the same settings.
struct DaemonSettings: Codable, Sendable {
    struct Listener: Codable, Sendable, Hashable {
        var service: String      // "imap-login"
        var name: String         // "imap", "imaps"
        var address: String
        var port: Int
        var ssl: Bool
    }

    struct Driver: Codable, Sendable, Hashable {
        var driver: String
        var args: String
        var defaultFields: String = ""
        var overrideFields: String = ""
    }

    struct LogSpec: Codable, Sendable {
        var errorsToSyslog = false
        var infoToSyslog = false
        var debugEnabled = false
        var facility = "mail"
        var timestampFormat = "%b %d %H:%M:%S "
    }

    struct TLSFiles: Codable, Sendable {
        var names: [String] = []
        var certificatePEM = ""
        var keyPEM = ""
        var certificateName = "ssl_cert"
        var keyName = "ssl_key"
    }

    /// "no", "yes" or "required" (Dovecot's ssl setting).
    var ssl = "no"
    /// PEM texts read by the master (as root): the login process cannot read key files.
    var tlsDefault: TLSFiles?
    var tlsNamed: [TLSFiles] = []
    var sslKeyPassword = ""
    var sslMinProtocol = "TLSv1.2"
    var sslCipherList = ""
    var sslCipherSuites = ""
    var sslPreferServerCiphers = false
    /// Client certificates: ssl_ca's PEM text (certificates and CRLs), asked for when set.
    var sslClientCA: String?
    var sslClientCAName = "ssl_ca"
    var sslRequireCRL = true
    var sslCertUsernameField = "commonName"
    var authSSLRequireClientCert = false
    var authSSLUsernameFromCert = false
    var handshakeTimeout = 30.0
    var devMode = false
    var instanceName = "roost"
    var baseDir = "/run/roost"
    var stateDir = "/var/lib/roost"
    var defaultLoginUser = "dovenull"
    var loginGreeting = "Roost ready."
    var authMechanisms: [String] = ["PLAIN"]
    var disablePlaintextAuth = true
    var loginTrustedNetworks: [String] = []
    var loginMaxIPConnections = 0
    var loginClientLimit = 1000
    var loginIdleTimeout = 60.0
    var imapIdleTimeout = 30 * 60.0
    /// imap_idle_notify_interval: "* OK Still here" while a client sits in IDLE.
    var imapIdleNotifyInterval = 2 * 60.0
    var mailMaxUserIPConnections = 10
    var passdbs: [Driver] = []
    var userdbs: [Driver] = []
    var authFailureDelay = 2.0
    var authUsernameFormat = "%Lu"
    var authVerbose = false
    /// auth_cache_size in bytes (0 = no cache), auth_cache_ttl and auth_cache_negative_ttl in seconds.
    var authCacheSize = 0
    var authCacheTTL = 3600.0
    var authCacheNegativeTTL = 3600.0
    var firstValidUID = 500
    var lastValidUID = 0
    var firstValidGID = 1
    var lastValidGID = 0
    var mailLocation = ""
    var mailUID = ""
    var mailGID = ""
    var log = LogSpec()
    /// Listeners of the login process this message goes to, in the order of their descriptors.
    var listeners: [Listener] = []
    /// Auth-protocol sockets passed to the auth process (descriptors from fd 5 on, in order).
    var authSocketPaths: [String] = []
    /// LMTP: listeners passed to the lmtp process (descriptors from fd 5 on), and delivery.
    var lmtpSocketNames: [String] = []
    var defaultInternalUser = "dovecot"
    var hostname = ""
    var recipientDelimiter = "+"
    var lmtpSaveToDetailMailbox = false
    var lmtpMaxMessageSize = 0
    var spoolDir = ""
    var pop3UIDLFormat = "%08Xu%08Xv"
    var pop3NoFlagUpdates = false
    var pop3DeleteType = "default"
    var pop3LockSession = true
    /// Quota: the plugin { } settings, the protocols whose mail_plugins list `quota`
    /// ("imap", "pop3", "lmtp"), and the LMTP quota settings.
    var plugin: [String: String] = [:]
    var quotaProtocols: [String] = []
    /// IMAP's mail_plugins also list `imap_quota`: GETQUOTAROOT and friends.
    var imapQuotaCommands = false
    var lmtpRcptCheckQuota = false
    var quotaFullTempfail = false
    /// IMAP: `mailbox NAME { special_use auto }` of the INBOX namespace.
    var imapMailboxes: [IMAPMailboxSettings] = []
}
