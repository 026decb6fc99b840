#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Starts Roost's child processes: posix_spawn of the running executable with a subcommand.
/// fork() is not an option in a process that has Dispatch threads.
public enum ProcessSpawner {
    /// The running executable, resolved once (so a replaced binary on disk does not matter mid-run).
    public static let executablePath: String = {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(cBuffer: buf) : CommandLine.arguments[0]
    }()

    /// Spawns `path` with `arguments` (argv[0] included); `descriptors` maps a parent fd to the
    /// child fd number it must have. Every other descriptor >= 3 is closed in the child.
    public static func spawn(path: String = executablePath, arguments: [String],
                             descriptors: [(from: Int32, to: Int32)],
                             environment: [String]? = nil) throws -> pid_t {
        // Each target number must not be some other mapping's source, or dup2 order would clobber it.
        var staged: [(Int32, Int32)] = []
        var temporaries: [Int32] = []
        defer { temporaries.forEach { close($0) } }
        for (from, to) in descriptors {
            let fresh = fcntl(from, F_DUPFD_CLOEXEC, 100)
            guard fresh >= 0 else { throw SystemCallError("fcntl(F_DUPFD)") }
            temporaries.append(fresh)
            staged.append((fresh, to))
        }
        let env = environment ?? currentEnvironment()
        var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        let froms = staged.map { $0.0 }
        let tos = staged.map { $0.1 }
        var pid: pid_t = 0
        let err = roost_spawn(&pid, path, &cArgs, &cEnv, froms, tos, Int32(staged.count))
        guard err == 0 else { throw SystemCallError("posix_spawn", errno: err, context: path) }
        return pid
    }

    public static func currentEnvironment() -> [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }
}
