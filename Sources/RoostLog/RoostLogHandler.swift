import Glibc
import Logging
import RoostSystem

/// Where log lines go. Lines have Dovecot's shapes so admins' scripts and fail2ban keep working:
/// `Nov 26 09:47:43 imap-login: Info: Login: user=<pepa>, method=PLAIN, rip=…` in files and on
/// stderr, and `imap-login: Login: …` through syslog (the priority carries the level).
public enum LogTarget: Sendable, Equatable {
    case descriptor(Int32)
    case syslog
}

public struct LogSetup: Sendable {
    public var errors: LogTarget
    public var info: LogTarget
    public var debug: LogTarget?
    public var syslogFacility: Int32
    public var timestampFormat: String

    public init(errors: LogTarget = .descriptor(2), info: LogTarget = .descriptor(2), debug: LogTarget? = nil,
                syslogFacility: Int32 = LOG_MAIL, timestampFormat: String = "%b %d %H:%M:%S ") {
        self.errors = errors
        self.info = info
        self.debug = debug
        self.syslogFacility = syslogFacility
        self.timestampFormat = timestampFormat
    }

    public static func facility(named name: String) -> Int32? {
        let table: [String: Int32] = [
            "mail": LOG_MAIL, "daemon": LOG_DAEMON, "user": LOG_USER, "auth": LOG_AUTH, "authpriv": LOG_AUTHPRIV,
            "local0": LOG_LOCAL0, "local1": LOG_LOCAL1, "local2": LOG_LOCAL2, "local3": LOG_LOCAL3,
            "local4": LOG_LOCAL4, "local5": LOG_LOCAL5, "local6": LOG_LOCAL6, "local7": LOG_LOCAL7,
        ]
        return table[name.lowercased()]
    }
}

public enum RoostLogging {
    /// Installs the handler for this process. `ident` is the syslog program name ("roost").
    public static func bootstrap(_ setup: LogSetup, ident: String = "roost") {
        if setup.errors == .syslog || setup.info == .syslog || setup.debug == .syslog {
            openlog(strdup(ident), LOG_PID | LOG_NDELAY, setup.syslogFacility)
        }
        LoggingSystem.bootstrap { label in RoostLogHandler(prefix: label, setup: setup) }
    }
}

public struct RoostLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let prefix: String
    private let setup: LogSetup

    public init(prefix: String, setup: LogSetup) {
        self.prefix = prefix
        self.setup = setup
        self.logLevel = setup.debug == nil ? .info : .debug
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(level: event.level, message: event.message)
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        write(level: level, message: message)
    }

    private func write(level: Logger.Level, message: Logger.Message) {
        let (word, target, priority): (String, LogTarget?, Int32) = {
            switch level {
            case .trace, .debug: return ("Debug", setup.debug, LOG_DEBUG)
            case .info: return ("Info", setup.info, LOG_INFO)
            case .notice: return ("Info", setup.info, LOG_NOTICE)
            case .warning: return ("Warning", setup.errors, LOG_WARNING)
            case .error: return ("Error", setup.errors, LOG_ERR)
            case .critical: return ("Fatal", setup.errors, LOG_CRIT)
            }
        }()
        guard let target else { return }
        switch target {
        case .syslog:
            let text = "\(prefix): \(message)"
            text.withCString { c in withVaList([c]) { vsyslog(priority, "%s", $0) } }
        case .descriptor(let fd):
            let text = "\(Self.timestamp(setup.timestampFormat))\(prefix): \(word): \(message)\n"
            Files.writeAll(fd: fd, Array(text.utf8))  // one write() per line: O_APPEND keeps lines whole
        }
    }

    static func timestamp(_ format: String) -> String {
        guard !format.isEmpty else { return "" }
        var now = time(nil)
        var tm = tm()
        localtime_r(&now, &tm)
        var buf = [CChar](repeating: 0, count: 128)
        let n = strftime(&buf, buf.count, format, &tm)
        return n > 0 ? String(cBuffer: buf) : ""
    }
}
