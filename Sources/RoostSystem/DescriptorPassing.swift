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
        // SOCK_SEQPACKET only: PEEK|TRUNC gives the next record's length without taking it, so
        // the buffer is exactly that big and never zero-filled (a 1 MB memset per control
        // message showed up as the largest cost of LMTP delivery routing).
        let length = recv(socket, nil, 0, Int32(MSG_PEEK | MSG_TRUNC))
        if length < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SystemCallError("recvmsg")
        }
        let size = max(1, min(maxBytes, length))
        var fds = [Int32](repeating: -1, count: 8)
        var count: Int32 = 0
        var n = 0
        let buffer = [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            n = fds.withUnsafeMutableBufferPointer { f in
                roost_recv_fds(socket, buf.baseAddress, size, f.baseAddress, 8, &count)
            }
            initialized = max(0, n)
        }
        if n < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SystemCallError("recvmsg")
        }
        return (buffer, Array(fds[0..<Int(count)]))
    }
}
