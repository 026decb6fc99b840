import IMAPProtocol
import MailCore

/// The pre-authentication IMAP state machine run by the login process (bytes in, actions out;
/// no sockets). It answers CAPABILITY, NOOP, ID, LOGOUT, STARTTLS, LOGIN and AUTHENTICATE, and
/// relays SASL exchanges to the auth process without ever seeing a password database.
///
/// Implementation notes:
/// - While an authentication is outstanding no further input is parsed (RFC 3501 §5.5: a client
///   must not pipeline behind LOGIN/AUTHENTICATE); bytes that arrive meanwhile are kept and handed
///   to the mail process with the connection.
/// - Answers are Dovecot 2.3 imap-login's, word for word: no "." added, a command that is
///   unknown or has bad arguments gets "Error in IMAP command received by server.", and the
///   third such command (`maxBadCommands`) is answered with BYE instead. Syntax errors the
///   parser finds in the arguments get the parser's text and do not count.
public final class IMAPLoginSession: LoginSession {
    public let protocolName = "imap"
    public typealias Action = LoginAction
    public typealias Settings = LoginSessionSettings

    private enum State { case commands, authenticating(tag: String), awaitingClientResponse(tag: String), done }

    public private(set) var settings: Settings
    private var parser: IMAPCommandParser
    private var state: State = .commands
    private var badCommands = 0
    /// Dovecot imap-login's CLIENT_MAX_BAD_COMMANDS.
    public static let maxBadCommands = 3
    static let commandError = "Error in IMAP command received by server."

    /// For the "Disconnected (auth failed, N attempts …)" log line.
    public private(set) var failedAttempts = 0
    public private(set) var lastUser: String?
    public private(set) var lastMechanism: String?
    /// Client ID parameters (RFC 2971), logged with the login.
    public private(set) var clientID: [(String, String?)] = []

    public init(settings: Settings) {
        self.settings = settings
        // Pre-login input is bounded tightly: nothing legitimate needs big literals here.
        parser = IMAPCommandParser(maxLineLength: settings.maxLineLength, maxLiteralSize: 64 * 1024)
    }

    public var capabilities: [String] {
        IMAPCapabilities.preLogin(mechanisms: settings.mechanisms, plaintextAllowed: settings.plaintextAllowed,
                                  startTLS: settings.startTLSAvailable)
    }

    public func greeting() -> [Action] {
        [.send(line("* OK [CAPABILITY \(IMAPCapabilities.line(capabilities))] \(settings.greeting)"))]
    }

    public func receive(_ bytes: UnsafeRawBufferPointer) -> [Action] {
        parser.append(bytes)
        return process()
    }

    public func receive(_ bytes: [UInt8]) -> [Action] {
        parser.append(bytes)
        return process()
    }

    /// The auth process asked for more (base64 challenge).
    public func authChallenge(_ base64: String) -> [Action] {
        guard case .authenticating(let tag) = state else { return [] }
        state = .awaitingClientResponse(tag: tag)
        return [.send(line("+ \(base64)"))] + process()
    }

    /// The auth process answered. `reason` is shown to the client on failure when given.
    public func authFinished(success: Bool, user: String?, reason: String?, temporary: Bool) -> [Action] {
        guard case .authenticating(let tag) = state else { return [] }
        lastUser = user ?? lastUser
        if success {
            state = .done
            return [.handOff(tag: tag, pending: parser.takeBufferedBytes())]
        }
        failedAttempts += 1
        state = .commands
        let text: String
        if temporary {
            text = "\(tag) NO [UNAVAILABLE] \(reason ?? "Temporary authentication failure.")"
        } else if let reason {
            // Dovecot's imap-login: a reason from the passdb (e.g. pam failure_show_msg) is an
            // ALERT, or sent as it is when it brings its own response code.
            text = reason.hasPrefix("[") ? "\(tag) NO \(reason)" : "\(tag) NO [ALERT] \(reason)"
        } else {
            text = "\(tag) NO [AUTHENTICATIONFAILED] Authentication failed."
        }
        return [.send(line(text))] + process()
    }

    /// TLS is up (after STARTTLS): RFC 3501 §6.2.1 — anything the client sent before the
    /// handshake has been discarded; capabilities change (no STARTTLS, plaintext auth allowed).
    public func tlsStarted(plaintextAllowed: Bool) {
        settings.startTLSAvailable = false
        settings.plaintextAllowed = plaintextAllowed
        parser = IMAPCommandParser(maxLineLength: settings.maxLineLength, maxLiteralSize: 64 * 1024)
        state = .commands
    }

    public func shutdownMessage() -> [Action] {
        [.send(line("* BYE Server shutting down.")), .close(reason: "Server shutting down")]
    }

    private func process() -> [Action] {
        var actions: [Action] = []
        loop: while true {
            switch state {
            case .done, .authenticating:
                break loop
            case .awaitingClientResponse(let tag):
                guard let raw = parser.nextRawLine() else { break loop }
                switch raw {
                case .tooLong:
                    state = .commands
                    actions.append(.authCancel)
                    actions.append(.send(line("\(tag) BAD Authentication response too long.")))
                case .line(let bytes):
                    let text = String(decoding: bytes, as: UTF8.self)
                    if text == "*" {
                        state = .commands
                        actions.append(.authCancel)
                        actions.append(.send(line("\(tag) BAD Authentication aborted by client.")))
                    } else {
                        state = .authenticating(tag: tag)
                        actions.append(.authContinue(text))
                    }
                }
            case .commands:
                guard let event = parser.next() else { break loop }
                actions += handle(event)
                if case .close = actions.last { state = .done; break loop }
                if case .startTLS = actions.last {
                    // Never execute what was pipelined behind STARTTLS in plaintext (the
                    // command-injection hole): drop it and wait for the handshake.
                    _ = parser.takeBufferedBytes()
                    parser = IMAPCommandParser(maxLineLength: settings.maxLineLength, maxLiteralSize: 64 * 1024)
                    state = .done
                    break loop
                }
            }
        }
        return actions
    }

    private func handle(_ event: IMAPParseEvent) -> [Action] {
        switch event {
        case .continuationNeeded:
            return [.send(line("+ OK"))]
        case .error(let tag, _, let error):
            switch error {
            case .emptyLine, .invalidTag, .missingCommand, .invalidCommandName, .missingUIDCommand:
                return bad(tag, Self.commandError)
            default:
                return bad(tag, error.message, counted: false)
            }
        case .lineTooLong:
            // Dovecot disconnects here too: nothing legitimate sends 64 KB before login.
            return [.send(line("* BYE Too long command line.")), .close(reason: "Too long command line")]
        case .literalTooBig:
            return [.send(line("* BYE Literal size too large")), .close(reason: "Literal size too large")]
        case .command(let command):
            return execute(command)
        case .literalStreamStarted, .literalData:
            return []  // never: streaming is off before login
        }
    }

    /// `tag BAD message`; a `counted` one that reaches `maxBadCommands` is answered with BYE
    /// instead and ends the session.
    private func bad(_ tag: String?, _ message: String, counted: Bool = true) -> [Action] {
        if counted {
            badCommands += 1
            if badCommands >= min(Self.maxBadCommands, settings.maxBadCommands) {
                return [.send(line("* BYE Too many invalid IMAP commands.")), .close(reason: "Too many invalid commands")]
            }
        }
        return [.send(line("\(tag ?? "*") BAD \(message)"))]
    }

    private func execute(_ c: IMAPCommand) -> [Action] {
        switch c.name {
        case "CAPABILITY":
            return [.send(line("* CAPABILITY \(IMAPCapabilities.line(capabilities))") +
                          line("\(c.tag) OK Pre-login capabilities listed, post-login capabilities have more."))]
        case "NOOP":
            return [.send(line("\(c.tag) OK NOOP completed."))]
        case "LOGOUT":
            return [.send(line("* BYE Logging out") + line("\(c.tag) OK Logout completed.")),
                    .close(reason: "Logged out")]
        case "ID":
            // RFC 2971: one list of string pairs, or NIL (Dovecot takes no arguments too).
            guard c.arguments.count == 1, let params = parseIDParameters(c.arguments[0]) else {
                return bad(c.tag, "Invalid ID parameters", counted: false)
            }
            clientID = params
            return [.send(line("* ID (\"name\" \"Roost\")") + line("\(c.tag) OK ID completed."))]
        case "STARTTLS":
            guard settings.startTLSAvailable else {
                return bad(c.tag, settings.tlsConfigured ? "TLS is already active." : "TLS support isn't enabled.")
            }
            return [.send(line("\(c.tag) OK Begin TLS negotiation now.")), .startTLS]
        case "ENABLE":
            // RFC 5161 §3.1 allows ENABLE after authentication only; Dovecot ignores it before.
            return [.send(line("* ENABLED") + line("\(c.tag) OK ENABLE ignored in non-authenticated state."))]
        case "LOGIN":
            guard c.arguments.count == 2, let user = c.astring(at: 0), let pass = c.astring(at: 1) else {
                return bad(c.tag, Self.commandError)
            }
            lastUser = String(decoding: user, as: UTF8.self)
            lastMechanism = "PLAIN"
            guard settings.plaintextAllowed else {
                failedAttempts += 1
                return [.send(line("\(c.tag) NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."))]
            }
            // LOGIN is SASL PLAIN to the auth process: authzid empty, authcid, password.
            let plain = [0] + user + [0] + pass
            state = .authenticating(tag: c.tag)
            return [.authenticate(tag: c.tag, mechanism: "PLAIN", initialResponse: Base64.encode(plain))]
        case "AUTHENTICATE":
            guard (1...2).contains(c.arguments.count), let mech = c.atom(at: 0)?.uppercased() else {
                return bad(c.tag, Self.commandError)
            }
            lastMechanism = mech
            guard settings.mechanisms.contains(mech) else {
                return [.send(line("\(c.tag) NO [ALERT] Unsupported authentication mechanism."))]
            }
            guard settings.plaintextAllowed else {
                failedAttempts += 1
                return [.send(line("\(c.tag) NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."))]
            }
            var initial: String?
            if c.arguments.count == 2 {
                // RFC 4959: base64, "=" for an empty response.
                guard let ir = c.atom(at: 1), ir == "=" || Self.isBase64(ir) else {
                    return bad(c.tag, "Invalid base64 data in initial response", counted: false)
                }
                initial = ir
            }
            state = .authenticating(tag: c.tag)
            return [.authenticate(tag: c.tag, mechanism: mech, initialResponse: initial)]
        default:
            if c.tag.uppercased() == "LOGIN" {
                return bad(c.tag, "First parameter in line is IMAP's command tag, not the command name. "
                           + "Add that before the command, like: a login user pass", counted: false)
            }
            return bad(c.tag, Self.commandError)
        }
    }

    static func isBase64(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        return !bytes.isEmpty && bytes.count % 4 == 0 && padding <= 2 && bytes.dropLast(padding).allSatisfy {
            ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2F
        }
    }

    private func line(_ s: String) -> [UInt8] { Array(s.utf8) + [13, 10] }
}
