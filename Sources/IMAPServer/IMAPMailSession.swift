import IMAPProtocol

/// The post-login IMAP state machine run in the user's mail process (bytes in, actions out).
/// This is the session skeleton: the authenticated-state command set arrives with the IMAP
/// server issue; until then unknown commands get a tagged BAD and the session goes on.
public final class IMAPMailSession {
    public enum Action: Equatable, Sendable {
        case send([UInt8])
        case close(reason: String)
    }

    public let user: String
    private var parser: IMAPCommandParser
    private var badCommands = 0
    private var finished = false
    public static let maxBadCommands = 20

    public init(user: String, maxLineLength: Int = 64 * 1024, maxLiteralSize: Int = 50 << 20) {
        self.user = user
        parser = IMAPCommandParser(maxLineLength: maxLineLength, maxLiteralSize: maxLiteralSize)
    }

    /// The tagged OK for the LOGIN/AUTHENTICATE the login process started.
    public func loginCompleted(tag: String) -> [Action] {
        [.send(line("\(tag) OK [CAPABILITY \(IMAPCapabilities.line(IMAPCapabilities.postLogin))] Logged in"))]
    }

    public func receive(_ bytes: some Collection<UInt8>) -> [Action] {
        parser.append(bytes)
        var actions: [Action] = []
        while !finished, let event = parser.next() {
            actions += handle(event)
        }
        return actions
    }

    public func autoLogout() -> [Action] {
        finished = true
        return [.send(line("* BYE Disconnected for inactivity.")), .close(reason: "Disconnected for inactivity")]
    }

    public func shutdown() -> [Action] {
        finished = true
        return [.send(line("* BYE Server shutting down.")), .close(reason: "Server shutting down")]
    }

    private func handle(_ event: IMAPParseEvent) -> [Action] {
        switch event {
        case .continuationNeeded:
            return [.send(line("+ OK"))]
        case .error(let tag, let error):
            return bad(tag, error.message)
        case .lineTooLong(let tag):
            return bad(tag, "Too long command line.")
        case .literalTooBig(let tag, _):
            return bad(tag, "[TOOBIG] Literal too big.")
        case .command(let c):
            return execute(c)
        }
    }

    private func bad(_ tag: String?, _ message: String) -> [Action] {
        badCommands += 1
        var out: [Action] = [.send(line("\(tag ?? "*") BAD \(message)"))]
        if badCommands >= Self.maxBadCommands {
            finished = true
            out += [.send(line("* BYE Too many invalid IMAP commands.")), .close(reason: "Too many invalid IMAP commands")]
        }
        return out
    }

    private func execute(_ c: IMAPCommand) -> [Action] {
        switch c.name {
        case "CAPABILITY":
            return [.send(line("* CAPABILITY \(IMAPCapabilities.line(IMAPCapabilities.postLogin))") +
                          line("\(c.tag) OK Capability completed."))]
        case "NOOP":
            return [.send(line("\(c.tag) OK NOOP completed."))]
        case "ID":
            guard c.arguments.count == 1, parseIDParameters(c.arguments[0]) != nil else {
                return bad(c.tag, "Invalid ID parameters.")
            }
            return [.send(line("* ID (\"name\" \"Roost\")") + line("\(c.tag) OK ID completed."))]
        case "LOGOUT":
            finished = true
            return [.send(line("* BYE Logging out") + line("\(c.tag) OK Logout completed.")),
                    .close(reason: "Logged out")]
        case "LOGIN", "AUTHENTICATE":
            return bad(c.tag, "Already logged in.")
        default:
            return bad(c.tag, "Unknown command.")
        }
    }

    private func line(_ s: String) -> [UInt8] { Array(s.utf8) + [13, 10] }
}
