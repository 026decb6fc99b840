import Dispatch
import Foundation
import Glibc
import RoostSystem
import Testing
@testable import Reactor

/// A descriptor with a read and a write source is closed only after both sources' cancel
/// handlers ran: closed after the read source's alone, its number could be reused while
/// libdispatch still held the write source's registration, and the next socket with that
/// number never got an event.
@Suite struct DescriptorSourcesTests {
    /// The inode behind `fd`, or nil once it no longer names that socket.
    private static func inode(_ fd: Int32) -> UInt64? {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// Polls a condition read on `queue` (no timer standing in for an event) for at most 10 s.
    private static func eventually(on queue: DispatchQueue, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !queue.sync(execute: condition) {
            if Date() > deadline { return false }
            usleep(1_000)
        }
        return true
    }

    @Test func theDescriptorOutlivesEverySource() throws {
        let (a, b) = try Sockets.socketPair(seqpacket: true)
        defer { Glibc.close(b) }
        let socket = try #require(Self.inode(a))
        // Fill the socket (the peer never reads), so the write source waits without firing.
        Sockets.setNonBlocking(a)
        while send(a, "x", 1, Int32(MSG_DONTWAIT)) == 1 {}
        let queue = DispatchQueue(label: "test.sources")
        let sources = DescriptorSources(fd: a)
        var rs: DispatchSourceRead!
        var ws: DispatchSourceWrite!
        queue.sync {
            rs = DispatchSource.makeReadSource(fileDescriptor: a, queue: queue)
            rs.setEventHandler {}
            ws = DispatchSource.makeWriteSource(fileDescriptor: a, queue: queue)
            ws.setEventHandler {}
            sources.guardSource(rs)
            sources.guardSource(ws)
            rs.resume()
            ws.resume()
        }
        queue.sync { rs.cancel() }
        #expect(Self.eventually(on: queue) { sources.sourcesLeft == 1 }, "the read source's cancel handler ran")
        #expect(Self.inode(a) == socket, "still open while the write source is registered")
        queue.sync { ws.cancel() }
        #expect(Self.eventually(on: queue) { sources.sourcesLeft == 0 })
        #expect(Self.inode(a) != socket, "closed after the last cancel handler")
    }

    /// A connection that once had to wait for room (so it has a write source) still closes its
    /// descriptor when it ends.
    @Test func aConnectionWithAWriteSourceClosesItsDescriptor() throws {
        final class Handler: ConnectionHandler {
            func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {}
            func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) {}
        }
        let (a, b) = try Sockets.socketPair()
        defer { Glibc.close(b) }
        let socket = try #require(Self.inode(a))
        let loop = EventLoop(label: "test.connection")
        let handler = Handler()
        var connection: Connection!
        loop.queue.sync {
            connection = Connection(fd: a, loop: loop)
            connection.handler = handler
            connection.start()
            // Far more than the socket buffer: output waits, and a write source is made.
            connection.write([UInt8](repeating: 65, count: 8 << 20))
            #expect(connection.pendingOutput > 0)
            connection.abort()
        }
        #expect(Self.eventually(on: loop.queue) { Self.inode(a) != socket })
    }
}
