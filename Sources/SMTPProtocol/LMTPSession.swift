/// The LMTP server state machine (RFC 2033 over RFC 5321's grammar): bytes in, actions out,
/// no I/O. DATA is streamed: unstuffed chunks go out as they arrive so a 50 MB message never
/// sits in memory, and the size limit is enforced while streaming.
///
/// Implementation notes:
/// - RFC 2033 §4.2: after DATA one reply per accepted recipient, in RCPT order.
/// - Recipient checks and deliveries are asynchronous (userdb lookups, fsync): the session
///   stops parsing until `recipientChecked` / `deliveryFinished` is called, so pipelined
///   commands (RFC 2920) are answered in order.
/// - Bad commands are counted as Dovecot's lib-smtp counts them
///   (`smtp_server_command_submit_reply`): a command answered 500, 501 or 503 adds one, any
///   other answer starts the count again; more than `maxBadCommands` in a row end the session
///   with 421. A long healthy session with the odd typo is never closed.
public final class LMTPSession {
    public enum Action: Equatable, Sendable {
        case send([UInt8])
        /// Is this a deliverable recipient? Answer with `recipientChecked`.
        case checkRecipient(String)
        /// Message bytes (already dot-unstuffed, CRLF line ends) for the spool.
        case dataChunk([UInt8])
        /// The message is complete: deliver it to `recipients`; answer with `deliveryFinished`.
        case deliver(sender: String, recipients: [String])
        /// DATA was over the size limit: the spool can be thrown away.
        case discardData
        case startTLS
        case close
    }

    public enum RecipientStatus: Equatable, Sendable {
        case ok
        case unknownUser
        /// `message` is quota_exceeded_message; `temporary` is quota_full_tempfail.
        case overQuota(temporary: Bool, message: String)
        /// The lookup failed (userdb, auth process, quota check). The reply never says why
        /// (Dovecot's words); the caller logs the cause.
        case temporaryFailure
    }

    public enum DeliveryStatus: Equatable, Sendable {
        case delivered(String)     // the text after "250 2.0.0 <rcpt> "
        case overQuota(temporary: Bool, message: String)
        case temporaryFailure(String)
        case permanentFailure(String)
    }

    public struct Settings: Sendable {
        public var hostname: String
        public var maxMessageSize: Int   // 0 = unlimited
        public var maxLineLength: Int
        public var maxRecipients: Int
        public var startTLSAvailable: Bool
        public var maxBadCommands: Int

        /// `maxBadCommands`: consecutive bad commands tolerated (Dovecot's lib-smtp default, 10).
        public init(hostname: String, maxMessageSize: Int = 0, maxLineLength: Int = 4096,
                    maxRecipients: Int = 1000, startTLSAvailable: Bool = false, maxBadCommands: Int = 10) {
            self.hostname = hostname
            self.maxMessageSize = maxMessageSize
            self.maxLineLength = maxLineLength
            self.maxRecipients = maxRecipients
            self.startTLSAvailable = startTLSAvailable
            self.maxBadCommands = maxBadCommands
        }
    }

    private enum State: Equatable {
        case greeting, ready, mail, waitingRecipient, data, waitingDelivery, closed
    }

    public private(set) var settings: Settings
    private var state = State.greeting
    private var buffer: [UInt8] = []
    private var discardingLine = false
    private var sender: String?
    private var recipients: [String] = []
    private var pendingRecipient: String?
    private var dataSize = 0
    private var dataTooBig = false
    private var atLineStart = true
    /// Consecutive commands answered 500, 501 or 503.
    private var badCommands = 0

    public init(settings: Settings) {
        self.settings = settings
    }

    public func greeting() -> [Action] {
        [.send(line("220 \(settings.hostname) Roost LMTP ready"))]
    }

    public func receive(_ bytes: some Collection<UInt8>) -> [Action] {
        buffer.append(contentsOf: bytes)
        return process()
    }

    public func recipientChecked(_ status: RecipientStatus) -> [Action] {
        guard state == .waitingRecipient, let rcpt = pendingRecipient else { return [] }
        pendingRecipient = nil
        state = .mail
        let reply: String
        switch status {
        case .ok:
            recipients.append(rcpt)
            reply = "250 2.1.5 OK"
        case .unknownUser:
            reply = "550 5.1.1 <\(rcpt)> User doesn't exist: \(rcpt)"
        case .overQuota(let temporary, let message):
            reply = Self.overQuotaReply(rcpt, temporary: temporary, message: message)
        case .temporaryFailure:
            reply = "451 4.3.0 <\(rcpt)> Temporary internal error"  // lmtp-local.c's words
        }
        return [.send(line(reply))] + process()
    }

    /// One status per recipient, in RCPT order.
    public func deliveryFinished(_ results: [DeliveryStatus]) -> [Action] {
        guard state == .waitingDelivery else { return [] }
        var out = ""
        for (i, rcpt) in recipients.enumerated() {
            let r = i < results.count ? results[i] : .temporaryFailure("internal error")
            switch r {
            case .delivered(let text): out += "250 2.0.0 <\(rcpt)> \(text)\r\n"
            case .overQuota(let temporary, let message):
                out += Self.overQuotaReply(rcpt, temporary: temporary, message: message) + "\r\n"
            case .temporaryFailure(let why): out += "451 4.3.0 <\(rcpt)> \(why)\r\n"
            case .permanentFailure(let why): out += "554 5.3.0 <\(rcpt)> \(why)\r\n"
            }
        }
        resetTransaction()
        state = .ready
        return [.send(Array(out.utf8))] + process()
    }

    /// Dovecot's reply (RFC 3463 X.2.2 "mailbox full"): 552 5.2.2, or 452 4.2.2 with
    /// quota_full_tempfail.
    static func overQuotaReply(_ rcpt: String, temporary: Bool, message: String) -> String {
        (temporary ? "452 4.2.2" : "552 5.2.2") + " <\(rcpt)> \(message)"
    }

    /// STARTTLS completed: RFC 3207 §4.2 — forget everything, the client says LHLO again.
    public func tlsStarted() {
        settings.startTLSAvailable = false
        buffer = []
        resetTransaction()
        state = .greeting
    }

    public func shutdownMessage() -> [Action] {
        [.send(line("421 4.3.2 \(settings.hostname) Server shutting down")), .close]
    }

    // MARK: parsing

    private func process() -> [Action] {
        var actions: [Action] = []
        while true {
            switch state {
            case .waitingRecipient, .waitingDelivery, .closed:
                return actions
            case .data:
                guard takeData(&actions) else { return actions }
            default:
                guard let next = nextLine() else { return actions }
                let badBefore = badCommands
                switch next {
                case .tooLong: actions += badCommand("500 5.5.2 Line too long")
                case .line(let text): actions += command(text)
                }
                if badCommands == badBefore { badCommands = 0 }  // answered, and not 500/501/503
            }
        }
    }

    private enum LineResult { case line(String), tooLong }

    private func nextLine() -> LineResult? {
        if discardingLine {
            guard let lf = buffer.firstIndex(of: 10) else { buffer = []; return nil }
            buffer.removeFirst(lf + 1)
            discardingLine = false
        }
        guard let lf = buffer.firstIndex(of: 10) else {
            if buffer.count > settings.maxLineLength {
                buffer = []
                discardingLine = true
                return .tooLong
            }
            return nil
        }
        var end = lf
        if end > 0 && buffer[end - 1] == 13 { end -= 1 }
        let text = String(decoding: buffer[..<end], as: UTF8.self)
        buffer.removeFirst(lf + 1)
        return end > settings.maxLineLength ? .tooLong : .line(text)
    }

    /// Streams DATA: unstuffs leading dots (RFC 5321 §4.5.2), turns bare LF into CRLF, stops at
    /// the "." line. Partial lines are passed on at once (memory stays bounded); only a trailing
    /// CR, or a lone "." that may be the terminator, waits for the next bytes.
    /// Returns true when the terminating "." was seen.
    private func takeData(_ actions: inout [Action]) -> Bool {
        var out: [UInt8] = []
        var index = 0
        var finished = false
        let dot = UInt8(ascii: ".")
        while index < buffer.count {
            if let lf = buffer[index...].firstIndex(of: 10) {
                var end = lf
                if end > index && buffer[end - 1] == 13 { end -= 1 }
                if atLineStart && end - index == 1 && buffer[index] == dot {
                    index = lf + 1
                    finished = true
                    break
                }
                var start = index
                if atLineStart && start < end && buffer[start] == dot { start += 1 }
                out.append(contentsOf: buffer[start..<end])
                out.append(contentsOf: [13, 10])
                atLineStart = true
                index = lf + 1
            } else {
                var end = buffer.count
                if buffer[end - 1] == 13 { end -= 1 }
                let rest = end - index
                if rest <= 0 || (atLineStart && buffer[index] == dot && rest <= 1) { break }
                var start = index
                if atLineStart && buffer[start] == dot { start += 1 }
                out.append(contentsOf: buffer[start..<end])
                atLineStart = false
                index = end
                break
            }
        }
        buffer.removeFirst(index)
        emit(out, &actions)
        if finished { finishData(&actions) }
        return finished
    }

    private func emit(_ bytes: [UInt8], _ actions: inout [Action]) {
        guard !bytes.isEmpty, !dataTooBig else { return }
        dataSize += bytes.count
        if settings.maxMessageSize > 0 && dataSize > settings.maxMessageSize {
            dataTooBig = true
            actions.append(.discardData)
            return
        }
        actions.append(.dataChunk(bytes))
    }

    private func finishData(_ actions: inout [Action]) {
        if dataTooBig {
            let text = recipients.map { "552 5.3.4 <\($0)> Message size exceeds fixed maximum message size\r\n" }.joined()
            actions.append(.send(Array(text.utf8)))
            resetTransaction()
            state = .ready
        } else {
            state = .waitingDelivery
            actions.append(.deliver(sender: sender ?? "", recipients: recipients))
        }
    }

    private func resetTransaction() {
        sender = nil
        recipients = []
        pendingRecipient = nil
        dataSize = 0
        dataTooBig = false
        atLineStart = true
    }

    /// A 500, 501 or 503 answer: the command counts as bad (see the notes at the top).
    private func badCommand(_ text: String) -> [Action] {
        badCommands += 1
        var out: [Action] = [.send(line(text))]
        if badCommands > settings.maxBadCommands {
            out += [.send(line("421 4.7.0 \(settings.hostname) Too many invalid commands.")), .close]
            state = .closed
        }
        return out
    }

    private func command(_ text: String) -> [Action] {
        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let verb = text[..<verbEnd].uppercased()
        let argument = text[verbEnd...].drop { $0 == " " }
        switch verb {
        case "LHLO":
            guard !argument.isEmpty else { return badCommand("501 5.5.4 Missing hostname") }
            resetTransaction()
            state = .ready
            var ext = ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"]
            if settings.maxMessageSize > 0 { ext.append("SIZE \(settings.maxMessageSize)") } else { ext.append("SIZE") }
            if settings.startTLSAvailable { ext.append("STARTTLS") }
            var reply = "250-\(settings.hostname)\r\n"
            for (i, e) in ext.enumerated() { reply += (i == ext.count - 1 ? "250 " : "250-") + e + "\r\n" }
            return [.send(Array(reply.utf8))]
        case "HELO", "EHLO":
            return badCommand("500 5.5.1 Unknown command (this is LMTP: use LHLO)")
        case "STARTTLS":
            guard settings.startTLSAvailable else { return [.send(line("502 5.5.1 STARTTLS not available"))] }
            guard state == .ready || state == .greeting, argument.isEmpty else { return badCommand("503 5.5.1 STARTTLS not allowed now") }
            state = .closed  // until tlsStarted()
            return [.send(line("220 2.0.0 Begin TLS negotiation now.")), .startTLS]
        case "MAIL":
            guard state != .greeting else { return badCommand("503 5.5.1 LHLO first") }
            guard state == .ready else { return badCommand("503 5.5.1 MAIL already given") }
            guard let path = SMTPPath.parse(String(argument), keyword: "FROM") else { return badCommand("501 5.5.4 Invalid FROM: <address> [parameters]") }
            if let size = path.parameters["SIZE"] {
                guard let n = Int(size) else { return badCommand("501 5.5.4 Invalid SIZE parameter") }
                if settings.maxMessageSize > 0 && n > settings.maxMessageSize {
                    return [.send(line("552 5.3.4 Message size exceeds fixed maximum message size"))]
                }
            }
            if let body = path.parameters["BODY"], !["7BIT", "8BITMIME"].contains(body.uppercased()) {
                return badCommand("501 5.5.4 Unsupported BODY parameter")
            }
            sender = path.address
            state = .mail
            return [.send(line("250 2.1.0 OK"))]
        case "RCPT":
            guard state == .mail else { return badCommand("503 5.5.1 MAIL needed first") }
            guard let path = SMTPPath.parse(String(argument), keyword: "TO"), !path.address.isEmpty else {
                return badCommand("501 5.5.4 Invalid TO: <address>")
            }
            guard recipients.count < settings.maxRecipients else { return [.send(line("452 4.5.3 Too many recipients"))] }
            pendingRecipient = path.address
            state = .waitingRecipient
            return [.checkRecipient(path.address)]
        case "DATA":
            guard state == .mail else { return badCommand("503 5.5.1 MAIL needed first") }
            guard !recipients.isEmpty else { return [.send(line("554 5.5.1 No valid recipients"))] }
            state = .data
            atLineStart = true
            return [.send(line("354 OK"))]
        case "RSET":
            resetTransaction()
            if state != .greeting { state = .ready }
            return [.send(line("250 2.0.0 OK"))]
        case "NOOP":
            return [.send(line("250 2.0.0 OK"))]
        case "VRFY":
            return [.send(line("252 2.3.3 Try RCPT instead"))]
        case "QUIT":
            state = .closed
            return [.send(line("221 2.0.0 Bye")), .close]
        default:
            return badCommand("500 5.5.2 Unknown command")
        }
    }

    private func line(_ s: String) -> [UInt8] { Array(s.utf8) + [13, 10] }
}
