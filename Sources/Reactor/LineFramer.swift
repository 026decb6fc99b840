/// CRLF (or bare LF) line framing with a hard maximum line length, plus exact byte-count reads
/// (IMAP literals, DATA streaming). Memory stays bounded: an over-long line is reported and its
/// remainder discarded as it arrives, never buffered.
public struct LineFramer: Sendable {
    public enum Event: Equatable, Sendable {
        /// A complete line without its line ending.
        case line([UInt8])
        /// A line exceeded the maximum; its bytes up to the next LF are being dropped.
        case lineTooLong
        /// Bytes of a counted read (`expect(bytes:)`); `final` marks the last chunk.
        case bytes([UInt8], final: Bool)
    }

    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var discarding = false
    private var counted = 0

    public init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next `count` bytes are delivered as `.bytes` chunks rather than lines.
    public mutating func expect(bytes count: Int) {
        counted = count
    }

    public mutating func next() -> Event? {
        if counted > 0 {
            guard start < buffer.count else { return nil }
            let n = min(counted, buffer.count - start)
            let chunk = Array(buffer[start..<start + n])
            start += n
            counted -= n
            compact()
            return .bytes(chunk, final: counted == 0)
        }
        while true {
            guard let lf = buffer[start...].firstIndex(of: 0x0A) else {
                if bufferedByteCount > maxLineLength {
                    buffer.removeAll(keepingCapacity: false)
                    start = 0
                    if !discarding {
                        discarding = true
                        return .lineTooLong
                    }
                }
                if discarding {
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                }
                return nil
            }
            var end = lf
            if end > start && buffer[end - 1] == 0x0D { end -= 1 }
            let line = Array(buffer[start..<end])
            start = lf + 1
            compact()
            if discarding {
                discarding = false
                continue
            }
            if line.count > maxLineLength { return .lineTooLong }
            return .line(line)
        }
    }

    private mutating func compact() {
        if start > 65536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
