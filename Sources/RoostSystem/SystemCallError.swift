#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, with the name of the call and what it was doing (for admins' logs).
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public let context: String

    public init(_ call: String, errno: Int32 = Glibc.errno, context: String = "") {
        self.call = call
        self.errno = errno
        self.context = context
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return context.isEmpty ? "\(call) failed: \(reason)" : "\(call)(\(context)) failed: \(reason)"
    }
}

/// Retries a call interrupted by a signal.
@inline(__always)
public func retryingEINTR<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let r = body()
        if r < 0 && errno == EINTR { continue }
        return r
    }
}

extension String {
    /// Decodes a NUL-terminated C buffer.
    public init(cBuffer: [CChar]) {
        let end = cBuffer.firstIndex(of: 0) ?? cBuffer.count
        self = String(decoding: cBuffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
