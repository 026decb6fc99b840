import Foundation
import Glibc

/// A blocking IMAP/line client over a real socket, for protocol tests. Every read has a
/// timeout so a broken server fails the test instead of hanging it.
final class LineClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(host: String = "127.0.0.1", port: Int, timeout: Double = 10, source: String? = nil) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else { throw ClientError("resolve \(host)") }
        defer { freeaddrinfo(res) }
        fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError("socket: \(errno)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw ClientError("connect \(host):\(port): \(String(cString: strerror(e)))", errno: e)
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ClientError("send: \(errno)", errno: errno) }
            off += n
        }
    }

    /// One line without CRLF; nil on EOF.
    func readLine() throws -> String? {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<i])
                buffer.removeFirst(i + 1)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return nil }
            guard n > 0 else { throw ClientError("recv: \(String(cString: strerror(errno)))", errno: errno) }
            buffer += chunk[..<n]
        }
    }

    /// Exactly `count` bytes (a literal's data), after whatever `readLine` left buffered.
    func readBytes(_ count: Int) throws -> [UInt8] {
        var out = buffer.prefix(count).map { $0 }
        buffer.removeFirst(out.count)
        out.reserveCapacity(count)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while out.count < count {
            let n = recv(fd, &chunk, min(chunk.count, count - out.count), 0)
            guard n > 0 else { throw ClientError("recv: \(n == 0 ? "EOF" : String(cString: strerror(errno)))", errno: errno) }
            out += chunk[..<n]
        }
        return out
    }

    /// Sends `tag command` and returns every line up to and including the tagged one.
    func command(_ tag: String, _ text: String) throws -> [String] {
        try send("\(tag) \(text)\r\n")
        return try readUntilTagged(tag)
    }

    func readUntilTagged(_ tag: String) throws -> [String] {
        var lines: [String] = []
        while let line = try readLine() {
            lines.append(line)
            if line.hasPrefix(tag + " ") { return lines }
        }
        throw ClientError("EOF before tagged reply; got \(lines)")
    }

    /// True when the server closed the connection (reads until EOF, discarding).
    func readUntilClosed() -> [String] {
        var lines: [String] = []
        while let line = try? readLine() { lines.append(line) }
        return lines
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
    var errno: Int32 = 0
    init(_ d: String, errno: Int32 = 0) { description = d; self.errno = errno }
}
