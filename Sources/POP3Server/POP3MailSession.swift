import Glibc

/// The POP3 TRANSACTION and UPDATE states (RFC 1939 §5–6), run in the user's mail process:
/// bytes in, actions out. The message list is INBOX as of login; DELE takes effect only at
/// QUIT (a dropped connection deletes nothing).
///
/// Implementation notes:
/// - Sizes count CRLF line ends (the Maildir W= size), as RFC 1939 §5 asks and Dovecot does.
/// - RETR/TOP bodies are streamed by the I/O layer (`.sendMessage`), which dot-stuffs and
///   normalises line ends; the session never holds a message.
/// - Commands are answered strictly in order; while a message is being streamed no further
///   input is parsed (PIPELINING, RFC 2449 §6.6).
public final class POP3MailSession {
    public struct Message: Sendable, Equatable {
        public var uid: UInt32
        /// Size with CRLF line ends.
        public var size: Int
        public init(uid: UInt32, size: Int) {
            self.uid = uid
            self.size = size
        }
    }

    public enum Action: Equatable, Sendable {
        case send([UInt8])
        /// Send message `index` (0-based) dot-stuffed, then ".\r\n". `bodyLines` nil = whole
        /// message (RETR), else headers plus that many body lines (TOP). Call `messageSent`.
        case sendMessage(index: Int, bodyLines: Int?)
        /// QUIT: expunge `deleted`, mark `seen` as \Seen, then call `updateFinished`.
        case commit(deleted: [UInt32], seen: [UInt32])
        case close(reason: String)
    }

    public struct Statistics: Sendable, Equatable {
        public var topCount = 0, topBytes = 0, retrCount = 0, retrBytes = 0, deletedCount = 0, deletedBytes = 0
    }

    public let messages: [Message]
    public let uidValidity: UInt32
    public let uidlFormat: String
    public let noFlagUpdates: Bool
    public private(set) var stats = Statistics()
    private var deleted: Set<Int> = []
    private var retrieved: Set<Int> = []
    private var buffer: [UInt8] = []
    private var busy = false
    private var finished = false
    private var badCommands = 0
    public static let maxLineLength = 8192

    public init(messages: [Message], uidValidity: UInt32, uidlFormat: String = "%08Xu%08Xv", noFlagUpdates: Bool = false) {
        self.messages = messages
        self.uidValidity = uidValidity
        self.uidlFormat = uidlFormat
        self.noFlagUpdates = noFlagUpdates
    }

    public func loggedIn() -> [Action] { [.send(line("+OK Logged in."))] }

    public func receive(_ bytes: some Collection<UInt8>) -> [Action] {
        buffer.append(contentsOf: bytes)
        return process()
    }

    /// The streamed message is out; continue with pipelined commands.
    public func messageSent() -> [Action] {
        busy = false
        return process()
    }

    /// The UPDATE state finished (`ok` false: the deletions could not be made).
    public func updateFinished(ok: Bool) -> [Action] {
        finished = true
        return ok ? [.send(line("+OK Logging out.")), .close(reason: "Logged out")]
                  : [.send(line("-ERR [SYS/TEMP] Couldn't delete all messages.")), .close(reason: "Update failed")]
    }

    public func autoLogout() -> [Action] {
        finished = true
        return [.send(line("-ERR Disconnected for inactivity.")), .close(reason: "Disconnected for inactivity")]
    }

    public func shutdown() -> [Action] {
        finished = true
        return [.send(line("-ERR [SYS/TEMP] Server shutting down.")), .close(reason: "Server shutting down")]
    }

    public var liveCount: Int { messages.count - deleted.count }
    public var liveSize: Int { messages.indices.filter { !deleted.contains($0) }.reduce(0) { $0 + messages[$1].size } }

    /// The UIDL of a message: Dovecot's `pop3_uidl_format` with %u (UID), %v (UIDVALIDITY),
    /// `%08Xu` style widths; Dovecot 2.3 prints %X in lowercase, and so does Roost.
    public func uidl(_ m: Message) -> String {
        var out = ""
        var chars = Array(uidlFormat)
        var i = 0
        while i < chars.count {
            guard chars[i] == "%", i + 1 < chars.count else { out.append(chars[i]); i += 1; continue }
            i += 1
            var width = 0, zero = false, hex = false
            if chars[i] == "0" { zero = true; i += 1 }
            while i < chars.count, let d = chars[i].wholeNumberValue { width = width * 10 + d; i += 1 }
            if i < chars.count && (chars[i] == "X" || chars[i] == "x") { hex = true; i += 1 }
            guard i < chars.count else { break }
            let value: UInt32? = chars[i] == "u" ? m.uid : chars[i] == "v" ? uidValidity : nil
            if let value {
                var text = hex ? String(value, radix: 16) : String(value)
                if text.count < width { text = String(repeating: zero ? "0" : " ", count: width - text.count) + text }
                out += text
            } else if chars[i] == "%" {
                out.append("%")
            }
            i += 1
        }
        chars = []
        return out
    }

    // MARK: commands

    private func process() -> [Action] {
        var actions: [Action] = []
        while !busy && !finished {
            guard let lf = buffer.firstIndex(of: 10) else {
                if buffer.count > Self.maxLineLength {
                    buffer = []
                    actions.append(.send(line("-ERR Input line too long.")))
                }
                break
            }
            var end = lf
            if end > 0 && buffer[end - 1] == 13 { end -= 1 }
            let text = String(decoding: buffer[..<end], as: UTF8.self)
            buffer.removeFirst(lf + 1)
            actions += execute(text)
        }
        return actions
    }

    private struct Refusal: Error { let text: String }

    private func message(_ arg: Substring?) -> Result<Int, Refusal> {
        guard let arg, let n = Int(arg), n >= 1 else { return .failure(Refusal(text: "-ERR Invalid message number: \(arg ?? "")")) }
        guard n <= messages.count else { return .failure(Refusal(text: "-ERR There's no message \(n).")) }
        guard !deleted.contains(n - 1) else { return .failure(Refusal(text: "-ERR Message is deleted.")) }
        return .success(n - 1)
    }

    private func execute(_ text: String) -> [Action] {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        let command = words.first?.uppercased() ?? ""
        let args = Array(words.dropFirst())
        switch command {
        case "STAT":
            return [.send(line("+OK \(liveCount) \(liveSize)"))]
        case "LIST", "UIDL":
            let render: (Int) -> String = command == "LIST"
                ? { "\($0 + 1) \(self.messages[$0].size)" } : { "\($0 + 1) \(self.uidl(self.messages[$0]))" }
            if let arg = args.first {
                switch message(arg) {
                case .failure(let e): return [.send(line(e.text))]
                case .success(let i): return [.send(line("+OK " + render(i)))]
                }
            }
            var out = command == "LIST" ? "+OK \(liveCount) messages:\r\n" : "+OK\r\n"
            for i in messages.indices where !deleted.contains(i) { out += render(i) + "\r\n" }
            return [.send(Array((out + ".\r\n").utf8))]
        case "RETR":
            switch message(args.first) {
            case .failure(let e): return [.send(line(e.text))]
            case .success(let i):
                busy = true
                retrieved.insert(i)
                stats.retrCount += 1
                stats.retrBytes += messages[i].size
                return [.send(line("+OK \(messages[i].size) octets")), .sendMessage(index: i, bodyLines: nil)]
            }
        case "TOP":
            guard args.count == 2, let n = Int(args[1]), n >= 0 else { return bad("-ERR Invalid arguments.") }
            switch message(args.first) {
            case .failure(let e): return [.send(line(e.text))]
            case .success(let i):
                busy = true
                stats.topCount += 1
                stats.topBytes += messages[i].size
                return [.send(line("+OK")), .sendMessage(index: i, bodyLines: n)]
            }
        case "DELE":
            switch message(args.first) {
            case .failure(let e): return [.send(line(e.text))]
            case .success(let i):
                deleted.insert(i)
                return [.send(line("+OK Marked to be deleted."))]
            }
        case "RSET":
            deleted = []
            return [.send(line("+OK"))]
        case "NOOP":
            return [.send(line("+OK"))]
        case "QUIT":
            busy = true
            let gone = deleted.sorted()
            stats.deletedCount = gone.count
            stats.deletedBytes = gone.reduce(0) { $0 + messages[$1].size }
            let seen = noFlagUpdates ? [] : retrieved.subtracting(deleted).sorted().map { messages[$0].uid }
            return [.commit(deleted: gone.map { messages[$0].uid }, seen: seen)]
        case "CAPA":
            let caps = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "IMPLEMENTATION Roost", "."]
            return [.send(Array(("+OK\r\n" + caps.joined(separator: "\r\n") + "\r\n").utf8))]
        case "USER", "PASS", "AUTH", "APOP", "STLS":
            return bad("-ERR Already logged in.")
        default:
            return bad("-ERR Unknown command: \(command.prefix(40))")
        }
    }

    private func bad(_ text: String) -> [Action] {
        badCommands += 1
        if badCommands >= 20 {
            finished = true
            return [.send(line(text)), .send(line("-ERR Too many bad commands.")), .close(reason: "Too many bad commands")]
        }
        return [.send(line(text))]
    }

    private func line(_ s: String) -> [UInt8] { Array(s.utf8) + [13, 10] }
}

/// RFC 1939 §3 byte-stuffing for a message being sent: lines starting with "." get another,
/// bare LF becomes CRLF, and TOP stops after the header block plus `bodyLines` lines.
/// Feed chunks in order; state carries across chunk boundaries.
public struct POP3Stuffer: Sendable {
    private var atLineStart = true
    private var previousCR = false
    private var lineLength = 0
    private var inHeaders = true
    private var bodyLinesLeft: Int?
    public private(set) var done = false

    public init(bodyLines: Int?) {
        bodyLinesLeft = bodyLines
    }

    public mutating func feed(_ input: some Collection<UInt8>) -> [UInt8] {
        if let out = input.withContiguousStorageIfAvailable({ feed(buffer: $0) }) { return out }
        return Array(input).withUnsafeBufferPointer { feed(buffer: $0) }
    }

    private mutating func feed(buffer buf: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(buf.count + buf.count / 64 + 8)
        do {
            var i = 0
            let n = buf.count
            while i < n && !done {
                if atLineStart && buf[i] == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
                // Copy up to the next LF in one piece (this is the hot loop for big messages).
                var j = i
                if let p = memchr(buf.baseAddress! + i, 10, n - i) {
                    j = buf.baseAddress!.distance(to: p.assumingMemoryBound(to: UInt8.self))
                } else {
                    j = n
                }
                if j > i {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<j]))
                    lineLength += j - i
                    previousCR = buf[j - 1] == 13
                    atLineStart = false
                }
                guard j < n else { break }
                // An LF: make it CRLF, then see whether TOP's limit is reached.
                if !previousCR { out.append(13) }
                out.append(10)
                let empty = lineLength - (previousCR ? 1 : 0) == 0
                lineLength = 0
                previousCR = false
                atLineStart = true
                i = j + 1
                if let left = bodyLinesLeft {
                    if inHeaders {
                        if empty {
                            inHeaders = false
                            if left <= 0 { done = true }
                        }
                    } else {
                        bodyLinesLeft = left - 1
                        if left - 1 <= 0 { done = true }
                    }
                }
            }
        }
        return out
    }

    /// The end of the message: a final CRLF if needed, then ".\r\n".
    public mutating func finish() -> [UInt8] {
        var out: [UInt8] = []
        if !atLineStart { out += previousCR ? [10] : [13, 10] }
        return out + Array(".\r\n".utf8)
    }
}
