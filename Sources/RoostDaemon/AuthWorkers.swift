import Auth
import Foundation
import Glibc
import Logging
import RoostSystem

/// PAM runs in `roost process auth-worker` children of the auth process, as in Dovecot, where
/// the pam passdb always runs in auth-worker processes. `passdb pam { args = max_requests=N }`
/// (default 100) replaces a worker after N PAM requests, so a PAM module that leaks memory or
/// descriptors, or leaves state behind, never grows the auth process itself; the auth cache
/// lives in the auth process and survives worker restarts.
///
/// Implementation notes:
/// - One request at a time per worker, over a seqpacket socketpair: a JSON `PAMRequest` in, a
///   JSON `PAMAuthenticator.Verdict` out. The worker never sees a client connection.
/// - Callers are the auth process's worker-pool threads; they block here. At most `limit`
///   workers exist; a caller waits for an idle one when all are busy.
/// - A retiring worker gets EOF and exits; it is reaped at once (waitpid), never left a zombie.
/// - A worker that dies or stays silent for `replyTimeout` is killed; that one request fails
///   as an internal (temporary) failure.
final class PAMWorkerPool: @unchecked Sendable {  // `idle` and `alive` guarded by `condition`
    private struct Worker {
        let pid: pid_t
        let fd: Int32
        var served = 0
    }

    static let replyTimeout = 60
    private let condition = NSCondition()
    private var idle: [Worker] = []
    private var alive = 0
    private let limit: Int
    private let startMessage: [UInt8]

    init(settings: DaemonSettings, limit: Int) {
        self.limit = limit
        var s = settings
        s.authSocketPaths = []
        s.listeners = []
        let json = (try? JSONEncoder().encode(s)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        startMessage = ControlMessage("start", ["settings": json]).wire
    }

    var runner: PAMRunner { { [self] request in run(request) } }

    func run(_ request: PAMRequest) -> PAMAuthenticator.Verdict {
        guard var worker = checkOut() else {
            return .init(.internalFailure("cannot start an auth-worker process"))
        }
        guard let verdict = exchange(worker, request) else {
            kill(worker.pid, SIGKILL)
            retire(worker)
            return .init(.internalFailure("auth-worker(\(worker.pid)) died or did not answer in \(Self.replyTimeout) s"))
        }
        worker.served += 1
        let max = request.args.maxRequests
        if max > 0 && worker.served >= max {
            Logger(label: "auth-worker(\(worker.pid))")
                .debug("Restarting after \(worker.served) PAM requests (max_requests=\(max))")
            retire(worker)
        } else {
            condition.lock()
            idle.append(worker)
            condition.signal()
            condition.unlock()
        }
        return verdict
    }

    private func checkOut() -> Worker? {
        condition.lock()
        while idle.isEmpty && alive >= limit { condition.wait() }
        if let worker = idle.popLast() {
            condition.unlock()
            return worker
        }
        alive += 1  // a slot for the worker spawned below, outside the lock
        condition.unlock()
        if let worker = spawn() { return worker }
        condition.lock()
        alive -= 1
        condition.signal()
        condition.unlock()
        return nil
    }

    private func spawn() -> Worker? {
        guard let (mine, theirs) = try? Sockets.socketPair(seqpacket: true) else { return nil }
        defer { close(theirs) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        var map: [(from: Int32, to: Int32)] = [(devNull, 0), (theirs, ChildDescriptor.control)]
        for log in [ChildDescriptor.infoLog, ChildDescriptor.errorLog, ChildDescriptor.debugLog] where fcntl(log, F_GETFD) >= 0 {
            map.append((log, log))  // the auth process's own log descriptors
        }
        do {
            let pid = try ProcessSpawner.spawn(arguments: [ProcessSpawner.executablePath, "process", AuthWorker.role],
                                               descriptors: map)
            var timeout = timeval(tv_sec: Self.replyTimeout, tv_usec: 0)
            setsockopt(mine, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            Sockets.setNonBlocking(mine, false)
            let worker = Worker(pid: pid, fd: mine)
            guard (try? DescriptorPassing.send(on: mine, message: startMessage, fds: [])) != nil else {
                kill(pid, SIGKILL)
                retire(worker, counted: false)
                return nil
            }
            Logger(label: "auth-worker(\(pid))").debug("Started")
            return worker
        } catch {
            Logger(label: "auth").error("Starting an auth-worker process failed: \(error)")
            close(mine)
            return nil
        }
    }

    private func exchange(_ worker: Worker, _ request: PAMRequest) -> PAMAuthenticator.Verdict? {
        guard let data = try? JSONEncoder().encode(request),
              (try? DescriptorPassing.send(on: worker.fd, message: Array(data), fds: [])) != nil,
              let reply = try? DescriptorPassing.receive(on: worker.fd, maxBytes: 1 << 16), !reply.bytes.isEmpty else {
            return nil
        }
        reply.fds.forEach { close($0) }
        return try? JSONDecoder().decode(PAMAuthenticator.Verdict.self, from: Data(reply.bytes))
    }

    /// Closes the worker's socket (it exits on EOF) and reaps it.
    private func retire(_ worker: Worker, counted: Bool = true) {
        close(worker.fd)
        var status: Int32 = 0
        while waitpid(worker.pid, &status, 0) < 0 && errno == EINTR {}
        guard counted else { return }
        condition.lock()
        alive -= 1
        condition.signal()
        condition.unlock()
    }
}

/// `roost process auth-worker`: answers PAM requests from its auth process, one at a time,
/// until the auth process closes the socket.
public enum AuthWorker {
    public static let role = "auth-worker"

    public static func run() -> Never {
        guard let start = ChildProcessRuntime.readStartMessage(),
              let settings = ChildProcessRuntime.decodeSettings(start) else {
            ChildProcessRuntime.fail("auth-worker: no start message from the auth process")
        }
        ChildProcessRuntime.setUpLogging(settings.log)
        signal(SIGPIPE, SIG_IGN)
        let fd = ChildDescriptor.control
        while true {
            guard let received = try? DescriptorPassing.receive(on: fd, maxBytes: 1 << 16),
                  !received.bytes.isEmpty else { exit(0) }
            received.fds.forEach { close($0) }
            guard let request = try? JSONDecoder().decode(PAMRequest.self, from: Data(received.bytes)),
                  let reply = try? JSONEncoder().encode(PAMAuthenticator.authenticate(request)),
                  (try? DescriptorPassing.send(on: fd, message: Array(reply), fds: [])) != nil else { exit(0) }
        }
    }
}
