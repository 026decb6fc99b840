import Dispatch
import Glibc

/// Closes a descriptor once every Dispatch source on it has been cancelled.
///
/// libdispatch's epoll backend keeps one registration ("muxnote") per descriptor *number* for
/// all the sources on it, and takes each source out of it asynchronously. Closing the
/// descriptor in one source's cancel handler while another source on it is still in that
/// registration leaves it behind; the next socket that gets the same number then joins the
/// stale registration (`EPOLL_CTL_MOD` on a descriptor epoll no longer knows) and its read
/// source never fires. Dispatch's rule is to close only after the cancel handler of every
/// source on the descriptor has run: this counts them.
///
/// Every source given to `guard` must target the same serial queue (its cancel handler
/// touches the count there) and must be resumed before it is cancelled.
public final class DescriptorSources: @unchecked Sendable {  // `open` guarded by the sources' queue
    public let fd: Int32
    private var open = 0
    private var closed = false

    public init(fd: Int32) { self.fd = fd }

    /// Sources whose cancel handler has not run yet (read on the sources' queue).
    public var sourcesLeft: Int { open }

    /// Counts `source` in: its cancel handler closes the descriptor if it is the last one.
    /// Call before the source is first resumed.
    public func guardSource(_ source: any DispatchSourceProtocol) {
        precondition(!closed, "a source for a closed descriptor")
        open += 1
        source.setCancelHandler { [self] in
            open -= 1
            if open == 0 { closeNow() }
        }
    }

    /// For a descriptor that never got a source.
    public func closeWithoutSources() {
        if open == 0 { closeNow() }
    }

    private func closeNow() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
