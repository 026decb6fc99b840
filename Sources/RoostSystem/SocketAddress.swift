#if canImport(Glibc)
import Glibc
#endif

/// An IPv4/IPv6/UNIX socket address with the printable forms Dovecot's logs use (rip=, lip=).
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case inet, inet6, unix }
    public let family: Family
    /// Numeric host ("127.0.0.1", "::1") or the UNIX path.
    public let host: String
    public let port: Int

    public init(family: Family, host: String, port: Int) {
        self.family = family
        self.host = host
        self.port = port
    }

    public var description: String {
        switch family {
        case .inet: return "\(host):\(port)"
        case .inet6: return "[\(host)]:\(port)"
        case .unix: return host
        }
    }

    public var isLoopback: Bool {
        switch family {
        case .unix: return true
        case .inet: return host.hasPrefix("127.")
        case .inet6: return host == "::1" || host.hasPrefix("::ffff:127.")
        }
    }

    /// Decodes a sockaddr filled in by accept/getsockname/getpeername.
    public init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let (ip, port): (String, Int) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                    return (String(cBuffer: buf), Int(UInt16(bigEndian: sin.pointee.sin_port)))
                }
            }
            self.init(family: .inet, host: ip, port: port)
        case AF_INET6:
            let (ip, port): (String, Int) = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin6_addr
                    var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                    return (String(cBuffer: buf), Int(UInt16(bigEndian: sin.pointee.sin6_port)))
                }
            }
            // Show IPv4-mapped peers the way admins expect (and fail2ban matches): as IPv4.
            if ip.hasPrefix("::ffff:"), ip.contains(".") {
                self.init(family: .inet, host: String(ip.dropFirst(7)), port: port)
            } else {
                self.init(family: .inet6, host: ip, port: port)
            }
        case AF_UNIX:
            let path: String = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { sun in
                    withUnsafePointer(to: sun.pointee.sun_path) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 108) { String(cString: $0) }
                    }
                }
            }
            self.init(family: .unix, host: path, port: 0)
        default:
            return nil
        }
    }

    public static func local(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return r == 0 ? SocketAddress(storage: storage) : nil
    }

    public static func peer(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        return r == 0 ? SocketAddress(storage: storage) : nil
    }
}
