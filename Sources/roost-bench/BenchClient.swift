import COpenSSL
import Foundation
import Glibc

/// roost-bench's own blocking line client (not Roost's server code): one per load thread.
final class BenchConnection {
    let fd: Int32
    /// Set once `startTLS` ran: reads and writes go through OpenSSL.
    private var ssl: OpaquePointer?
    private var buffer: [UInt8] = []
    private var start = 0

    init(host: String, port: Int, timeout: Int = 30) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else { throw BenchError("resolve \(host)") }
        defer { freeaddrinfo(res) }
        fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            close(fd)
            throw BenchError("connect \(host):\(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if let ssl { SSL_free(ssl) }
        close(fd)
    }

    /// A complete line is buffered, or TLS holds decrypted bytes: `line()` will not block.
    var hasBufferedData: Bool {
        if buffer[start...].contains(10) { return true }
        if let ssl { return SSL_pending(ssl) > 0 }
        return false
    }

    /// Client TLS handshake on this socket (implicit TLS, or after STARTTLS).
    func startTLS(_ context: ClientContext) throws {
        guard let s = SSL_new(context.ctx) else { throw BenchError("SSL_new") }
        SSL_set_fd(s, fd)
        guard SSL_connect(s) == 1 else {
            SSL_free(s)
            throw BenchError("TLS handshake failed")
        }
        ssl = s
    }

    func send(_ s: String) throws { try send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                if let ssl { return Int(SSL_write(ssl, raw.baseAddress! + off, Int32(bytes.count - off))) }
                return Glibc.send(fd, raw.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw BenchError("send failed") }
            off += n
        }
    }

    private func fill() throws {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        if start > 1 << 20 { buffer.removeFirst(start); start = 0 }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = ssl.map { Int(SSL_read($0, &chunk, Int32(chunk.count))) } ?? recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { throw BenchError("connection closed") }
        buffer.append(contentsOf: chunk[0..<n])
    }

    /// One line without CRLF.
    func line() throws -> String {
        while true {
            if let lf = buffer[start...].firstIndex(of: 10) {
                var end = lf
                if end > start && buffer[end - 1] == 13 { end -= 1 }
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = lf + 1
                return text
            }
            try fill()
        }
    }

    /// Consumes `count` bytes (an IMAP literal's body).
    func skip(bytes count: Int) throws {
        var left = count
        while left > 0 {
            if start == buffer.count { try fill() }
            let n = min(left, buffer.count - start)
            start += n
            left -= n
        }
    }

    /// Reads a POP3/SMTP multi-line body up to the "." line; returns the byte count.
    func dotTerminated() throws -> Int {
        var total = 0
        while true {
            guard let lf = buffer[start...].firstIndex(of: 10) else { try fill(); continue }
            let len = lf - start + 1
            if len == 3 && buffer[start] == UInt8(ascii: ".") { start = lf + 1; return total }
            total += len
            start = lf + 1
        }
    }

    func expect(prefix: String) throws -> String {
        let l = try line()
        guard l.hasPrefix(prefix) else { throw BenchError("expected \(prefix)…, got \(l)") }
        return l
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Latency samples of one operation kind, in seconds.
final class Samples: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var values: [String: [Double]] = [:]

    func add(_ op: String, _ seconds: Double) {
        lock.lock()
        values[op, default: []].append(seconds)
        lock.unlock()
    }

    var all: [String: [Double]] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}

/// Runs `clients` threads for `duration` seconds; each calls `iteration` until time is up.
func runLoad(clients: Int, duration: Double, setUp: @escaping @Sendable (Int) throws -> AnyObject?,
             iteration: @escaping @Sendable (AnyObject?, Samples) throws -> Void) -> (Samples, errors: Int) {
    let samples = Samples()
    let deadline = Date().addingTimeInterval(duration)
    let group = DispatchGroup()
    let errors = Samples()
    for i in 0..<clients {
        group.enter()
        Thread {
            defer { group.leave() }
            var state: AnyObject?
            do { state = try setUp(i) } catch { errors.add("error", 1); return }
            while Date() < deadline {
                do { try iteration(state, samples) } catch {
                    errors.add("error", 1)
                    do { state = try setUp(i) } catch { return }
                }
            }
        }.start()
    }
    group.wait()
    return (samples, errors.all["error"]?.count ?? 0)
}

func timed(_ samples: Samples, _ op: String, _ body: () throws -> Void) rethrows {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    samples.add(op, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}
