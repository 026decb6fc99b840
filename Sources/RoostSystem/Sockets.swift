#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Socket creation for listeners and local channels. Every descriptor is close-on-exec:
/// children get exactly the descriptors the spawner maps for them.
public enum Sockets {
    /// A non-blocking eventfd (a counter to wake a poll(2) from another thread), or -1.
    public static func eventDescriptor() -> Int32 { roost_eventfd() }

    /// Binds and listens on every address `host` names ("*", "::", "localhost", a literal IP).
    /// Returns one listening descriptor per resolved address.
    public static func listenTCP(host: String, port: Int, backlog: Int32 = 1024) throws -> [Int32] {
        var fds: [Int32] = []
        do {
            for address in try resolve(host: host, port: port) {
                fds.append(try bindAndListen(address, backlog: backlog))
            }
        } catch {
            fds.forEach { close($0) }
            throw error
        }
        return fds
    }

    /// A resolved address ready for bind().
    public struct BindAddress: Sendable {
        public var family: Int32
        public var bytes: [UInt8]
        public var display: String
    }

    public static func resolve(host: String, port: Int) throws -> [BindAddress] {
        switch host {
        case "*", "0.0.0.0":
            return [make4(INADDR_ANY_VALUE, port: port, display: "*:\(port)")]
        case "::", "[::]":
            return [make6(in6addr_any, port: port, display: "[::]:\(port)")]
        default: break
        }
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(name, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw SystemCallError("getaddrinfo", errno: EADDRNOTAVAIL, context: host)
        }
        defer { freeaddrinfo(first) }
        var out: [BindAddress] = []
        var seen = Set<[UInt8]>()
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: Int(ai.pointee.ai_addrlen)))
            if seen.insert(bytes).inserted {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in dst.copyBytes(from: bytes) }
                let display = SocketAddress(storage: storage)?.description ?? host
                out.append(BindAddress(family: ai.pointee.ai_family, bytes: bytes, display: display))
            }
            cursor = ai.pointee.ai_next
        }
        return out
    }

    private static let INADDR_ANY_VALUE: UInt32 = 0

    private static func make4(_ addr: UInt32, port: Int, display: String) -> BindAddress {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr.s_addr = addr
        let bytes = withUnsafeBytes(of: &sin) { [UInt8]($0) }
        return BindAddress(family: AF_INET, bytes: bytes, display: display)
    }

    private static func make6(_ addr: in6_addr, port: Int, display: String) -> BindAddress {
        var sin = sockaddr_in6()
        sin.sin6_family = sa_family_t(AF_INET6)
        sin.sin6_port = UInt16(port).bigEndian
        sin.sin6_addr = addr
        let bytes = withUnsafeBytes(of: &sin) { [UInt8]($0) }
        return BindAddress(family: AF_INET6, bytes: bytes, display: display)
    }

    public static func bindAndListen(_ address: BindAddress, backlog: Int32) throws -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket", context: address.display) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if address.family == AF_INET6 {
            // "*" and "::" are bound separately (Dovecot's `listen = *, ::`), so v6 sockets stay v6-only.
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let r = address.bytes.withUnsafeBytes {
            bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.bytes.count))
        }
        guard r == 0 else {
            let e = errno
            close(fd)
            throw SystemCallError("bind", errno: e, context: address.display)
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SystemCallError("listen", errno: e, context: address.display)
        }
        return fd
    }

    /// A UNIX stream listener; an old socket file at `path` is replaced.
    public static func listenUnix(path: String, mode: mode_t, owner: uid_t? = nil, group: gid_t? = nil,
                                  backlog: Int32 = 256) throws -> Int32 {
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: sun.sun_path) else {
            throw SystemCallError("bind", errno: ENAMETOOLONG, context: path)
        }
        withUnsafeMutableBytes(of: &sun.sun_path) { dst in
            dst.copyBytes(from: pathBytes)
            dst[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket", context: path) }
        unlink(path)
        let r = withUnsafePointer(to: &sun) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            close(fd)
            throw SystemCallError("bind", errno: e, context: path)
        }
        chmod(path, mode)
        if owner != nil || group != nil {
            _ = chown(path, owner ?? uid_t.max, group ?? gid_t.max)
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SystemCallError("listen", errno: e, context: path)
        }
        return fd
    }

    /// Connects to a UNIX socket (blocking; for CLI tools and tests).
    public static func connectUnix(path: String) throws -> Int32 {
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: sun.sun_path) else {
            throw SystemCallError("connect", errno: ENAMETOOLONG, context: path)
        }
        withUnsafeMutableBytes(of: &sun.sun_path) { dst in
            dst.copyBytes(from: pathBytes)
            dst[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket", context: path) }
        let r = withUnsafePointer(to: &sun) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            close(fd)
            throw SystemCallError("connect", errno: e, context: path)
        }
        return fd
    }

    /// A connected pair of close-on-exec UNIX sockets (stream, or seqpacket for framed control messages).
    public static func socketPair(seqpacket: Bool = false) throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        let type = seqpacket ? Int32(SOCK_SEQPACKET.rawValue) : Int32(SOCK_STREAM.rawValue)
        guard socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemCallError("socketpair")
        }
        return (fds[0], fds[1])
    }

    public static func setNonBlocking(_ fd: Int32, _ on: Bool = true) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
    }

    public static func setCloseOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFD)
        _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC)
    }

    /// accept4 (non-blocking, close-on-exec). Returns nil on EAGAIN.
    public static func accept(_ listenFD: Int32) throws -> (fd: Int32, peer: SocketAddress?)? {
        var storage = sockaddr_storage()
        var len = UInt32(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &storage) { roost_accept(listenFD, $0, &len) }
        if fd < 0 {
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO: return nil
            default: throw SystemCallError("accept")
            }
        }
        return (fd, SocketAddress(storage: storage))
    }
}
