#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// SCM_RIGHTS over UNIX sockets: how an authenticated client connection moves from the
/// login process to the user's mail process.
public enum DescriptorPassing {
    /// Sends `message` (must be non-empty) with `fds` attached. Blocking semantics depend on the socket.
    public static func send(on socket: Int32, message: [UInt8], fds: [Int32]) throws {
        precondition(!message.isEmpty)
        let n = message.withUnsafeBytes { buf in
            fds.withUnsafeBufferPointer { f in
                roost_send_fds(socket, buf.baseAddress, buf.count, f.baseAddress, Int32(f.count))
            }
        }
        guard n == message.count else { throw SystemCallError("sendmsg") }
    }

    /// Receives up to `maxBytes` and any descriptors. Returns nil on EAGAIN; empty bytes on EOF.
    public static func receive(on socket: Int32, maxBytes: Int = 65536) throws -> (bytes: [UInt8], fds: [Int32])? {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        var fds = [Int32](repeating: -1, count: 8)
        var count: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { buf in
            fds.withUnsafeMutableBufferPointer { f in
                roost_recv_fds(socket, buf.baseAddress, buf.count, f.baseAddress, 8, &count)
            }
        }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SystemCallError("recvmsg")
        }
        return (Array(buffer[0..<n]), Array(fds[0..<Int(count)]))
    }
}
