import Dispatch
import Foundation
import Glibc
import RoostSystem
import Testing
@testable import Reactor

/// A connection alone on its loop waits in poll(2) for the client's next command instead of
/// going back to Dispatch after every reply; with company, or when a control descriptor
/// becomes readable, it goes back at once.
@Suite struct AwaitNextCommandTests {
    /// Answers every line with "ok <line>".
    final class Echo: ConnectionHandler, @unchecked Sendable {
        var lines = 0
        var closed = false
        func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                lines += 1
                connection.write("ok \(line)\n")
            }
        }
        func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) { closed = true }
    }

    /// Sends `line` on the blocking socket `fd` and reads the whole reply.
    private static func ask(_ fd: Int32, _ line: String) -> String {
        _ = line.withCString { send(fd, $0, strlen($0), 0) }
        let want = "ok \(line.dropLast())\n".utf8.count
        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 256)
        while reply.count < want {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    /// The client gives up a read after 20 s, so a wait that never ends fails the test. The
    /// loop is held as long as the client keeps talking, unless `holdLimit` is given.
    private static func open(_ loop: EventLoop, _ handler: Echo, wait ms: Int32,
                             holdLimit: UInt64 = 600_000_000_000) throws -> (Connection, Int32) {
        let (a, b) = try Sockets.socketPair()
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var connection: Connection!
        loop.queue.sync {
            connection = Connection(fd: a, loop: loop)
            connection.handler = handler
            connection.awaitNextCommand = ms
            connection.loopHoldLimit = holdLimit
            connection.start()
        }
        return (connection, b)
    }

    /// Closing the client ends the wait (EOF), so the loop can be asked afterwards.
    private static func hangUp(_ client: Int32, _ loop: EventLoop, _ handler: Echo) -> Bool {
        Glibc.close(client)
        let deadline = Date().addingTimeInterval(20)
        while !loop.queue.sync(execute: { handler.closed }) {
            if Date() > deadline { return false }
            usleep(1_000)
        }
        return true
    }

    @Test func aChattyClientAloneOnTheLoopIsServedWithoutDispatch() throws {
        let loop = EventLoop(label: "test.await.alone")
        let handler = Echo()
        let (connection, client) = try Self.open(loop, handler, wait: 20_000)
        for i in 0..<20 {
            #expect(Self.ask(client, "c\(i)\n") == "ok c\(i)\n")
        }
        #expect(Self.hangUp(client, loop, handler))
        loop.queue.sync {
            #expect(handler.lines == 20)
            // The first command woke the loop; the other 19 were read in its poll.
            #expect(connection.dispatchReadEvents == 1)
        }
    }

    @Test func withAnotherConnectionOnTheLoopEveryCommandGoesThroughDispatch() throws {
        let loop = EventLoop(label: "test.await.shared")
        let handler = Echo(), other = Echo()
        let (connection, client) = try Self.open(loop, handler, wait: 20_000)
        let (_, otherClient) = try Self.open(loop, other, wait: 20_000)
        for i in 0..<5 {
            #expect(Self.ask(client, "c\(i)\n") == "ok c\(i)\n")
        }
        loop.queue.sync {
            #expect(handler.lines == 5)
            #expect(connection.dispatchReadEvents == 5)
        }
        #expect(Self.hangUp(client, loop, handler))
        #expect(Self.hangUp(otherClient, loop, other))
    }

    /// Input on a control descriptor (the master, an LMTP link) must not wait for the client:
    /// the wait here is a minute, the test's deadline 20 s.
    @Test func aReadableControlDescriptorEndsTheWait() throws {
        let loop = EventLoop(label: "test.await.control")
        let handler = Echo()
        let (control, peer) = try Sockets.socketPair()
        defer { Glibc.close(peer) }
        let heard = DispatchSemaphore(value: 0)
        let source = DispatchSource.makeReadSource(fileDescriptor: control, queue: loop.queue)
        source.setEventHandler {
            var byte: UInt8 = 0
            _ = read(control, &byte, 1)
            heard.signal()
        }
        // Closed only once Dispatch let go of it (see DescriptorSources).
        source.setCancelHandler { Glibc.close(control) }
        loop.queue.sync {
            loop.interruptAwaiting(on: control)
            source.resume()
        }
        let (connection, client) = try Self.open(loop, handler, wait: 60_000)
        #expect(Self.ask(client, "first\n") == "ok first\n")
        // Now the loop sits in the connection's poll.
        _ = send(peer, "x", 1, 0)
        #expect(heard.wait(timeout: .now() + 20) == .success)
        // And the client is still served, through Dispatch again.
        #expect(Self.ask(client, "second\n") == "ok second\n")
        #expect(Self.hangUp(client, loop, handler))
        loop.queue.sync {
            #expect(connection.dispatchReadEvents == 2)
            loop.stopInterrupting(on: control)
            source.cancel()
        }
    }
    /// Work handed to the loop from another thread (a delivery finished on the worker pool)
    /// ends the wait too: a minute's wait, a 20 s deadline.
    @Test func workHandedToTheLoopEndsTheWait() throws {
        let loop = EventLoop(label: "test.await.execute")
        let handler = Echo()
        let (connection, client) = try Self.open(loop, handler, wait: 60_000)
        #expect(Self.ask(client, "first\n") == "ok first\n")
        // Handed over while the loop waits, so the eventfd has to wake it.
        let deadline = Date().addingTimeInterval(20)
        while !loop.isAwaiting && Date() < deadline { usleep(100) }
        #expect(loop.isAwaiting)
        let ran = DispatchSemaphore(value: 0)
        loop.execute { ran.signal() }
        #expect(ran.wait(timeout: .now() + 20) == .success)
        #expect(Self.ask(client, "second\n") == "ok second\n")
        #expect(Self.hangUp(client, loop, handler))
        loop.queue.sync { #expect(connection.dispatchReadEvents == 2) }
    }

    /// A client that never pauses does not keep the loop's queue from other work (timers,
    /// cancel handlers): after `loopHoldLimit` (50 ms by default) it goes back to Dispatch.
    @Test func aClientThatNeverPausesDoesNotStarveTheQueue() throws {
        let loop = EventLoop(label: "test.await.hold")
        let handler = Echo()
        let (_, client) = try Self.open(loop, handler, wait: 60_000, holdLimit: 50_000_000)
        #expect(Self.ask(client, "first\n") == "ok first\n")
        // Not through execute(): nothing wakes the wait for it.
        let ran = DispatchSemaphore(value: 0)
        loop.queue.async { ran.signal() }
        var commands = 0
        let deadline = Date().addingTimeInterval(20)
        while ran.wait(timeout: .now()) == .timedOut && Date() < deadline {
            #expect(Self.ask(client, "c\(commands)\n") == "ok c\(commands)\n")
            commands += 1
        }
        #expect(Date() < deadline, "queued work ran while the client kept sending (\(commands) commands)")
        #expect(Self.hangUp(client, loop, handler))
    }

    /// Streams 1 MB in pieces of the high-water mark on "get", resuming on drain.
    final class Streamer: ConnectionHandler, @unchecked Sendable {
        var left = 0
        var closed = false
        func connection(_ connection: Connection, didRead bytes: UnsafeRawBufferPointer) {
            left = 1 << 20
            produce(connection)
        }
        func connectionDidDrain(_ connection: Connection) { produce(connection) }
        private func produce(_ connection: Connection) {
            while left > 0 && connection.pendingOutput < connection.outputHighWater {
                let n = min(left, 4096)
                connection.write([UInt8](repeating: left == n ? 33 : 46, count: n))
                left -= n
            }
        }
        func connectionDidClose(_ connection: Connection, reason: Connection.CloseReason) { closed = true }
    }

    /// A reply that left the buffer while its producer still has more (a drain callback is
    /// queued) is no reason to wait for the client: it waits for the rest. Here the wait would
    /// be a minute; the client gives up after 20 s.
    @Test func aProducerOwedADrainIsNotKeptWaiting() throws {
        let loop = EventLoop(label: "test.await.drain")
        let handler = Streamer()
        let (a, client) = try Sockets.socketPair()
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        loop.queue.sync {
            let connection = Connection(fd: a, loop: loop)
            connection.handler = handler
            connection.outputHighWater = 4096
            connection.outputLowWater = 1024
            connection.awaitNextCommand = 60_000
            connection.loopHoldLimit = 600_000_000_000
            connection.start()
        }
        for _ in 0..<3 {
            _ = send(client, "get\n", 4, 0)
            var received = 0, last: UInt8 = 0
            var buffer = [UInt8](repeating: 0, count: 65536)
            while received < 1 << 20 {
                let n = recv(client, &buffer, buffer.count, 0)
                if n <= 0 { break }
                received += n
                last = buffer[n - 1]
            }
            #expect(received == 1 << 20)
            #expect(last == 33)
        }
        Glibc.close(client)
        let deadline = Date().addingTimeInterval(20)
        while !loop.queue.sync(execute: { handler.closed }) && Date() < deadline { usleep(1_000) }
    }
}
