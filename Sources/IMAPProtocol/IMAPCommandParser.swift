// IMAPCommandParser: incremental framing of client input into IMAP commands.
//
// Bytes go in with `append`, results come out of `next()` (commands) or `nextRawLine()`
// (AUTHENTICATE responses, IDLE's DONE). Pure: no I/O, no clock, no logging.
//
// Implementation notes (invariants):
// - Memory is bounded by the limits, not by the input: the line buffer never keeps more
//   than `maxLineLength` (+1 for a pending CR) bytes of one command line once `next()` has
//   drained it, and literal data never exceeds `maxLiteralSize` per literal and
//   `maxLiteralBytesPerCommand` per command. Skipped input (too-long lines, refused
//   literals) is counted, never stored; `append` skips it straight from the caller's bytes.
// - Parsing is lazy: `append` only stores (or skips/collects literal data), `next()` and
//   `nextRawLine()` interpret. The session decides per pull whether the next line is a
//   command or a continuation line, so both share one buffer without misreading either.
//   Drain `next()` until nil after each `append`.
// - Line ends are CRLF or bare LF. A line's length excludes its line end; the lines of a
//   command with literals count together against `maxLineLength`, the literals do not.
// - RFC 3501 §7.5 / RFC 7888 §4: when a command is refused, a `{n}` at the end of its last
//   line gets no continuation, so the client sends no data; a `{n+}` is followed by n bytes
//   regardless, so those bytes and the rest of that command are skipped, not parsed.
// - Each event is reported once: `.continuationNeeded` exactly once per accepted `{n}`.
// - Streaming: a literal of at least `streamingLiteralThreshold` bytes at the top level of a
//   command in `streamingCommands` (APPEND) is not collected. `.literalStreamStarted` reports
//   it (the session answers `+` itself, or refuses with `refuseStreamedLiteral()`), then its
//   bytes come out as `.literalData` chunks no larger than what one `append` brought, and the
//   finished command carries an empty `.literal` in its place.

public struct IMAPCommandParser: Sendable {
    public let maxLineLength: Int
    public let maxLiteralSize: Int
    public let maxLiteralBytesPerCommand: Int

    private enum Mode: Sendable, Equatable {
        /// Reading a command line (or a raw line).
        case line
        /// Collecting literal data for the command being assembled.
        case literal(remaining: Int)
        /// Handing literal data out as `.literalData` events instead of collecting it.
        case streamLiteral(remaining: Int)
        /// Skipping a refused `{n+}` literal; afterwards the rest of the command is skipped.
        case discardLiteral(remaining: Int)
        /// Skipping to the next LF. `followLiterals`: a `{n+}` at the end of the skipped
        /// line means n more bytes to skip (command mode, not raw lines).
        case discardLine(followLiterals: Bool)
    }

    /// Input not yet consumed is `buffer[readIndex...]`.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// The LF search resumes here, so a line arriving in many pieces is scanned once.
    private var scanIndex = 0
    private var mode = Mode.line
    private var assembler: IMAPCommandAssembler?
    private var literal: [UInt8] = []
    /// The last bytes of the line being skipped, to spot a `{n+}` at its end.
    private var discardTail: [UInt8] = []
    private static let discardTailLength = 24
    /// Literal data of a streamed literal not yet handed out.
    private var streamed: [UInt8] = []
    private var streamedLiteral = LiteralAnnouncement(size: 0, synchronizing: false)

    /// Literals at least this large are streamed (see the notes above); `Int.max`: never.
    public var streamingLiteralThreshold = Int.max
    /// Commands whose literals may be streamed.
    public var streamingCommands: Set<String> = ["APPEND"]

    /// - Parameters:
    ///   - maxLineLength: longest command line, line end and literal data excluded.
    ///   - maxLiteralSize: largest single literal.
    ///   - maxLiteralBytesPerCommand: all literals of one command together (MULTIAPPEND);
    ///     defaults to 4 × maxLiteralSize.
    public init(maxLineLength: Int = 64 * 1024,
                maxLiteralSize: Int = 50 * 1024 * 1024,
                maxLiteralBytesPerCommand: Int? = nil) {
        precondition(maxLineLength > 0 && maxLiteralSize >= 0)
        self.maxLineLength = maxLineLength
        self.maxLiteralSize = maxLiteralSize
        self.maxLiteralBytesPerCommand = maxLiteralBytesPerCommand ?? maxLiteralSize.multipliedReportingOverflow(by: 4).partialValue
    }

    /// Bytes held in the line buffer (consumed or not); literal data is not counted.
    public var bufferedByteCount: Int { buffer.count }

    /// True while a command is partly read (a literal or its continuation lines pending).
    public var isInsideCommand: Bool { assembler != nil }

    // MARK: Input

    public mutating func append(_ bytes: some Collection<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { append(contiguous: $0) }
        if handled == nil {
            Array(bytes).withUnsafeBufferPointer { append(contiguous: $0) }
        }
    }

    private mutating func append(contiguous bytes: UnsafeBufferPointer<UInt8>) {
        compact()
        var start = 0
        if readIndex == buffer.count {
            // Nothing queued ahead of these bytes: literal data and skipped input need not
            // pass through the line buffer.
            start = consumeUnbuffered(bytes)
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
    }

    // MARK: Output

    /// The next event, or nil when more input is needed.
    public mutating func next() -> IMAPParseEvent? {
        while true {
            let inLineMode = drainUnbuffered()
            if !streamed.isEmpty {
                defer { streamed = [] }
                return .literalData(streamed)
            }
            guard inLineMode else { break }
            guard let lf = findLineFeed() else {
                let tag = assembler?.tag ?? IMAPCommandAssembler.peekTag(buffer[readIndex...])
                if unterminatedLineTooLong(alreadyUsed: assembler?.lineBytes ?? 0) {
                    let name = assembler?.commandName ?? IMAPCommandAssembler.peekCommand(buffer[readIndex...])
                    startSkippingLine(followLiterals: true)
                    assembler = nil
                    return .lineTooLong(tag: tag, command: name)
                }
                compact()
                return nil
            }
            let segment = takeLine(endingAt: lf)
            if let event = handle(segment: segment) { return event }
        }
        compact()
        return nil
    }

    /// The next line as-is, for when the session expects a continuation line from the client
    /// (AUTHENTICATE data, IDLE's DONE) rather than a command. Call only between commands.
    public mutating func nextRawLine() -> RawLineResult? {
        assert(assembler == nil, "nextRawLine() called in the middle of a command")
        if assembler != nil {
            assembler = nil
            literal = []
            mode = .line
        }
        guard drainUnbuffered() else {
            compact()
            return nil
        }
        guard let lf = findLineFeed() else {
            if unterminatedLineTooLong(alreadyUsed: 0) {
                startSkippingLine(followLiterals: false)
                return .tooLong
            }
            compact()
            return nil
        }
        let line = takeLine(endingAt: lf)
        return line.count > maxLineLength ? .tooLong : .line(Array(line))
    }

    // MARK: Lines

    /// Reacts to one complete line of the current command.
    private mutating func handle(segment: ArraySlice<UInt8>) -> IMAPParseEvent? {
        var command = assembler ?? IMAPCommandAssembler()
        assembler = nil
        if command.lineBytes + segment.count > maxLineLength {
            skipAnnouncedLiteral(of: segment)
            return .lineTooLong(tag: command.tag ?? IMAPCommandAssembler.peekTag(segment),
                                command: command.commandName ?? IMAPCommandAssembler.peekCommand(segment))
        }
        switch command.consume(segment: segment) {
        case .complete(let parsed):
            return .command(parsed)
        case .failure(let error):
            skipAnnouncedLiteral(of: segment)
            return .error(tag: command.tag, command: command.commandName, response: error)
        case .literal(let announced):
            guard announced.size <= maxLiteralSize,
                  command.literalBytes + announced.size <= maxLiteralBytesPerCommand else {
                if !announced.synchronizing { mode = .discardLiteral(remaining: announced.size) }
                return .literalTooBig(tag: command.tag, size: announced.size)
            }
            if announced.size >= streamingLiteralThreshold, let name = command.commandName,
               streamingCommands.contains(name), let arguments = command.topLevelArguments {
                assembler = command
                streamedLiteral = announced
                mode = .streamLiteral(remaining: announced.size)
                return .literalStreamStarted(tag: command.tag ?? "", command: name, arguments: arguments,
                                             size: announced.size, synchronizing: announced.synchronizing)
            }
            assembler = command
            literal = []
            mode = .literal(remaining: announced.size)
            return announced.synchronizing ? .continuationNeeded : nil
        }
    }

    private mutating func skipAnnouncedLiteral(of line: ArraySlice<UInt8>) {
        if let size = IMAPCommandAssembler.trailingNonSynchronizingLiteral(line) {
            mode = .discardLiteral(remaining: size)
        }
    }

    /// The line ending at the LF at `lf`, without CR/LF; consumes it.
    private mutating func takeLine(endingAt lf: Int) -> ArraySlice<UInt8> {
        var end = lf
        if end > readIndex && buffer[end - 1] == ASCII.cr { end -= 1 }
        let line = buffer[readIndex..<end]
        readIndex = lf + 1
        scanIndex = readIndex
        return line
    }

    private mutating func findLineFeed() -> Int? {
        let found: Int? = buffer.withUnsafeBufferPointer { bytes in
            var index = max(scanIndex, readIndex)
            while index < bytes.count {
                if bytes[index] == ASCII.lf { return index }
                index += 1
            }
            return nil
        }
        scanIndex = found ?? buffer.count
        return found
    }

    /// Whether the unterminated line in the buffer can no longer fit: more than the remaining
    /// allowance, keeping one byte of grace for a CR whose LF has not arrived yet.
    private func unterminatedLineTooLong(alreadyUsed: Int) -> Bool {
        let allowed = maxLineLength - alreadyUsed
        let pending = buffer.count - readIndex
        return pending > allowed + 1 || (pending == allowed + 1 && buffer.last != ASCII.cr)
    }

    /// Drops the buffered part of the current line and skips the rest of it as it arrives.
    private mutating func startSkippingLine(followLiterals: Bool) {
        discardTail = Array(buffer[readIndex...].suffix(Self.discardTailLength))
        mode = .discardLine(followLiterals: followLiterals)
        readIndex = buffer.count
        compact()
    }

    // MARK: Literal data and skipped input

    /// Runs the non-line modes over buffered input. True when back in line mode.
    private mutating func drainUnbuffered() -> Bool {
        if mode != .line {
            let pending = buffer
            let consumed = pending.withUnsafeBufferPointer { bytes in
                consumeUnbuffered(UnsafeBufferPointer(rebasing: bytes[readIndex...]))
            }
            readIndex += consumed
        }
        return mode == .line
    }

    /// Collects literal data or skips input until line mode resumes or `bytes` run out.
    /// Returns how many bytes were used.
    private mutating func consumeUnbuffered(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var index = 0
        while true {
            switch mode {
            case .line:
                return index
            case .literal(let remaining):
                let count = min(remaining, bytes.count - index)
                literal.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<(index + count)]))
                index += count
                guard count == remaining else {
                    mode = .literal(remaining: remaining - count)
                    return index
                }
                let data = literal
                literal = []
                assembler?.appendLiteral(data)
                mode = .line
            case .streamLiteral(let remaining):
                let count = min(remaining, bytes.count - index)
                streamed.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<(index + count)]))
                index += count
                guard count == remaining else {
                    mode = .streamLiteral(remaining: remaining - count)
                    return index
                }
                assembler?.appendStreamedLiteral(size: streamedLiteral.size)
                mode = .line
            case .discardLiteral(let remaining):
                let count = min(remaining, bytes.count - index)
                index += count
                guard count == remaining else {
                    mode = .discardLiteral(remaining: remaining - count)
                    return index
                }
                discardTail = []
                mode = .discardLine(followLiterals: true)
            case .discardLine(let followLiterals):
                var lf = index
                while lf < bytes.count && bytes[lf] != ASCII.lf { lf += 1 }
                rememberSkipped(UnsafeBufferPointer(rebasing: bytes[index..<lf]))
                guard lf < bytes.count else { return bytes.count }
                index = lf + 1
                let size = followLiterals
                    ? IMAPCommandAssembler.trailingNonSynchronizingLiteral(discardTail[...]) : nil
                discardTail = []
                mode = size.map { .discardLiteral(remaining: $0) } ?? .line
            }
        }
    }

    private mutating func rememberSkipped(_ bytes: UnsafeBufferPointer<UInt8>) {
        discardTail.append(contentsOf: bytes.suffix(Self.discardTailLength))
        if discardTail.count > Self.discardTailLength {
            discardTail.removeFirst(discardTail.count - Self.discardTailLength)
        }
    }

    /// Forgets consumed input. Keeps a buffer's storage unless a huge append blew it up.
    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == buffer.count {
            if buffer.capacity > 2 * maxLineLength + 65536 {
                buffer = []
            } else {
                buffer.removeAll(keepingCapacity: true)
            }
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 4096 || readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            scanIndex = max(0, scanIndex - readIndex)
            readIndex = 0
        }
    }
}

extension IMAPCommandParser {
    /// Refuses the literal `.literalStreamStarted` just announced, and with it the command:
    /// after `{n}` the client sends nothing more (no continuation was given), after `{n+}` the
    /// n bytes and the rest of the command are skipped.
    public mutating func refuseStreamedLiteral() {
        guard case .streamLiteral(let remaining) = mode else { return }
        assembler = nil
        streamed = []
        mode = streamedLiteral.synchronizing ? .line : .discardLiteral(remaining: remaining)
    }

    /// Removes and returns the input not yet parsed, for handing a connection to another
    /// process (login → mail) with whatever the client pipelined. Only meaningful between
    /// commands (not inside a literal or while skipping a line).
    public mutating func takeBufferedBytes() -> [UInt8] {
        guard case .line = mode, assembler == nil, readIndex < buffer.count else { return [] }
        let rest = Array(buffer[readIndex...])
        buffer.removeAll()
        readIndex = 0
        scanIndex = 0
        return rest
    }
}
