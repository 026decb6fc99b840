import MailCore

/// The POP3 AUTHORIZATION state (RFC 1939 §4, CAPA RFC 2449, AUTH RFC 5034, STLS RFC 2595)
/// as run by the login process: bytes in, actions out. USER/PASS and AUTH are relayed to the
/// auth process as SASL; the TRANSACTION state runs in the user's mail process.
///
/// Implementation notes:
/// - Response texts and codes follow Dovecot's pop3-login, so clients' error handling keeps
///   working (`-ERR [AUTH] …`, `-ERR [SYS/TEMP] …`, RFC 3206).
/// - While an authentication is outstanding no further input is parsed; bytes that arrive
///   meanwhile go to the mail process with the connection (PIPELINING, RFC 2449 §6.6).
public final class POP3LoginSession: LoginSession {
    public let protocolName = "pop3"
    public private(set) var settings: LoginSessionSettings
    public private(set) var failedAttempts = 0
    public private(set) var lastUser: String?
    public private(set) var lastMechanism: String?

    private enum State { case commands, authenticating, awaitingClientResponse, done }
    private var state = State.commands
    private var buffer: [UInt8] = []
    private var discarding = false
    private var badCommands = 0
    private var pendingUser: String?

    public init(settings: LoginSessionSettings) {
        self.settings = settings
    }

    public func greeting() -> [LoginAction] {
        [.send(line("+OK \(settings.greeting)"))]
    }

    public func receive(_ bytes: UnsafeRawBufferPointer) -> [LoginAction] {
        append(bytes)
        return process()
    }

    public func receive(_ bytes: [UInt8]) -> [LoginAction] {
        bytes.withUnsafeBytes { append($0) }
        return process()
    }

    public func authChallenge(_ base64: String) -> [LoginAction] {
        guard state == .authenticating else { return [] }
        state = .awaitingClientResponse
        return [.send(line("+ \(base64)"))] + process()
    }

    public func authFinished(success: Bool, user: String?, reason: String?, temporary: Bool) -> [LoginAction] {
        guard state == .authenticating else { return [] }
        lastUser = user ?? lastUser
        if success {
            state = .done
            let pending = buffer
            buffer = []
            return [.handOff(tag: "", pending: pending)]
        }
        failedAttempts += 1
        state = .commands
        let text = temporary ? "-ERR [SYS/TEMP] \(reason ?? "Temporary authentication failure.")"
                             : "-ERR [AUTH] \(reason ?? "Authentication failed.")"
        return [.send(line(text))] + process()
    }

    public func tlsStarted(plaintextAllowed: Bool) {
        settings.startTLSAvailable = false
        settings.plaintextAllowed = plaintextAllowed
        buffer = []
        discarding = false
        state = .commands
    }

    public func shutdownMessage() -> [LoginAction] {
        [.send(line("-ERR [SYS/TEMP] Server shutting down.")), .close(reason: "Server shutting down")]
    }

    /// CAPA before login (RFC 2449): what this connection may use right now.
    public var capabilities: [String] {
        var caps = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]
        if settings.startTLSAvailable { caps.append("STLS") }
        if settings.plaintextAllowed {
            caps.append("USER")
            caps.append("SASL " + settings.mechanisms.joined(separator: " "))
        }
        caps.append("IMPLEMENTATION Roost")
        return caps
    }

    // MARK: input

    private func append(_ bytes: UnsafeRawBufferPointer) {
        if discarding {
            guard let lf = bytes.firstIndex(of: 10) else { return }
            discarding = false
            buffer.append(contentsOf: bytes[(lf + 1)...])
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// The next complete line, or nil; an over-long line is reported once and skipped.
    private enum LineResult { case line(String), tooLong }

    private func nextLine() -> LineResult? {
        guard let lf = buffer.firstIndex(of: 10) else {
            if buffer.count > settings.maxLineLength {
                buffer = []
                discarding = true
                return .tooLong
            }
            return nil
        }
        var end = lf
        if end > 0 && buffer[end - 1] == 13 { end -= 1 }
        let bytes = Array(buffer[..<end])
        buffer.removeFirst(lf + 1)
        if bytes.count > settings.maxLineLength { return .tooLong }
        return .line(String(decoding: bytes, as: UTF8.self))
    }

    private func process() -> [LoginAction] {
        var actions: [LoginAction] = []
        while state == .commands || state == .awaitingClientResponse {
            guard let next = nextLine() else { break }
            guard case .line(let text) = next else {
                actions += bad("Input line too long.")
                if case .close = actions.last { break }
                continue
            }
            if state == .awaitingClientResponse {
                if text == "*" {
                    state = .commands
                    actions += [.authCancel, .send(line("-ERR [AUTH] Authentication aborted by client."))]
                } else {
                    state = .authenticating
                    actions.append(.authContinue(text))
                }
                continue
            }
            actions += execute(text)
            if case .close = actions.last { state = .done; break }
            if case .startTLS = actions.last {
                // Never execute what was pipelined behind STLS in plaintext.
                buffer = []
                state = .done
                break
            }
        }
        return actions
    }

    private func bad(_ text: String) -> [LoginAction] {
        badCommands += 1
        var out: [LoginAction] = [.send(line("-ERR \(text)"))]
        if badCommands >= settings.maxBadCommands {
            out += [.send(line("-ERR Too many bad commands.")), .close(reason: "Too many bad commands")]
        }
        return out
    }

    private func execute(_ text: String) -> [LoginAction] {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let command = parts.first.map { $0.uppercased() } ?? ""
        let argument = parts.count > 1 ? String(parts[1]) : ""
        switch command {
        case "CAPA":
            return [.send(Array((["+OK"] + capabilities + ["."]).map { $0 + "\r\n" }.joined().utf8))]
        case "QUIT":
            return [.send(line("+OK Logging out")), .close(reason: "Logged out")]
        case "STLS":
            guard settings.startTLSAvailable else {
                return bad(settings.tlsConfigured ? "TLS is already active." : "TLS support isn't enabled.")
            }
            return [.send(line("+OK Begin TLS negotiation now.")), .startTLS]
        case "USER":
            guard settings.plaintextAllowed else { return privacyRequired() }
            guard !argument.isEmpty, !argument.contains("\0") else { return bad("USER: missing user name.") }
            pendingUser = argument
            lastUser = argument
            return [.send(line("+OK"))]
        case "PASS":
            guard settings.plaintextAllowed else { return privacyRequired() }
            guard let user = pendingUser else { return bad("No username given.") }
            pendingUser = nil
            lastMechanism = "PLAIN"
            state = .authenticating
            let plain: [UInt8] = [0] + Array(user.utf8) + [0] + Array(argument.utf8)
            return [.authenticate(tag: "", mechanism: "PLAIN", initialResponse: Base64.encode(plain))]
        case "AUTH":
            if argument.isEmpty {
                // RFC 1734 style listing, which many clients probe with.
                return [.send(Array((["+OK"] + settings.mechanisms + ["."]).map { $0 + "\r\n" }.joined().utf8))]
            }
            let words = argument.split(separator: " ").map(String.init)
            let mech = words[0].uppercased()
            lastMechanism = mech
            guard settings.mechanisms.contains(mech) else { return [.send(line("-ERR [AUTH] Unsupported authentication mechanism."))] }
            guard settings.plaintextAllowed else { return privacyRequired() }
            guard words.count <= 2 else { return bad("AUTH: too many arguments.") }
            state = .authenticating
            return [.authenticate(tag: "", mechanism: mech, initialResponse: words.count == 2 ? words[1] : nil)]
        default:
            return bad("Unknown command.")
        }
    }

    private func privacyRequired() -> [LoginAction] {
        failedAttempts += 1
        return [.send(line("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."))]
    }

    private func line(_ s: String) -> [UInt8] { Array(s.utf8) + [13, 10] }
}
