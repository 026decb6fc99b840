import Config
import Glibc
import RoostSystem

/// The master's listening sockets. A reload keeps the sockets whose address and port did not
/// change (no connection is refused while it happens) and binds or closes only the difference.
struct ListenerSet {
    private(set) var all: [(spec: DaemonSettings.Listener, fd: Int32)] = []

    /// Binds every spec; "localhost" and names may resolve to several sockets.
    mutating func bind(_ specs: [DaemonSettings.Listener]) throws {
        var bound: [(DaemonSettings.Listener, Int32)] = []
        do {
            for spec in specs {
                for fd in try Sockets.listenTCP(host: spec.address, port: spec.port) {
                    var resolved = spec
                    if let local = SocketAddress.local(of: fd) {
                        resolved.address = local.host
                        resolved.port = local.port
                    }
                    bound.append((resolved, fd))
                }
            }
        } catch {
            bound.forEach { close($0.1) }
            throw error
        }
        all += bound
    }

    /// Makes the set equal `specs`, reusing sockets bound to the same configured address/port.
    mutating func rebind(_ specs: [DaemonSettings.Listener]) throws {
        var fresh = ListenerSet()
        var keep: [(spec: DaemonSettings.Listener, fd: Int32)] = []
        var remaining = all
        var toBind: [DaemonSettings.Listener] = []
        for spec in specs {
            let addresses = (try? Sockets.resolve(host: spec.address, port: spec.port)) ?? []
            let hosts = Set(addresses.compactMap { addr -> String? in
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: addr.bytes) }
                return SocketAddress(storage: storage)?.host
            })
            let matches = remaining.filter { hosts.contains($0.spec.address) && $0.spec.port == spec.port && spec.port != 0 }
            if !matches.isEmpty && matches.count == hosts.count {
                keep += matches.map { (spec: DaemonSettings.Listener(service: spec.service, name: spec.name, address: $0.spec.address, port: $0.spec.port, ssl: spec.ssl), fd: $0.fd) }
                remaining.removeAll { m in matches.contains { $0.fd == m.fd } }
            } else {
                toBind.append(spec)
            }
        }
        // Free the ports we give up before binding new ones (a port may move between names).
        remaining.forEach { close($0.fd) }
        try fresh.bind(toBind)
        all = keep + fresh.all
    }

    func boundPort(_ spec: DaemonSettings.Listener) -> Int? {
        all.first { $0.spec == spec }.flatMap { SocketAddress.local(of: $0.fd)?.port }
    }

    mutating func closeAll() {
        all.forEach { close($0.fd) }
        all = []
    }
}

/// Log destinations opened by the master (as root) and handed to every child as fds 1, 2, 4.
struct LogDescriptors {
    var error: Int32 = 2
    var info: Int32 = 2
    var debug: Int32 = 2

    mutating func open(config: Config.RoostConfig) throws {
        func openLog(_ path: String) throws -> Int32? {
            if path.isEmpty || path == "syslog" || path == "/dev/stderr" { return nil }
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw SystemCallError("open", context: path) }
            return fd
        }
        error = try openLog(config.logPath) ?? 2
        info = try openLog(config.infoLogPath) ?? error
        debug = try openLog(config.debugLogPath) ?? info
    }
}
