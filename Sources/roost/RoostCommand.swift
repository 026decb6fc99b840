import ArgumentParser
import Auth
import Config
import Glibc
import RoostDaemon

/// `roost`: the mail server and its admin tools (Dovecot's dovecot/doveconf/doveadm in one).
struct RoostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roost",
        abstract: "Roost: an IMAP/POP3/LMTP mail server configured in Dovecot's syntax.",
        version: RoostVersion.string,
        subcommands: [Serve.self, ConfigCommand.self, AuthCommand.self, UserCommand.self, DeliverCommand.self, PasswordCommand.self, ProcessCommand.self],
        defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server in the foreground (without -c: a dev instance under ./roost-dev).")

    @Option(name: .shortAndLong, help: "Configuration file (Dovecot 2.3 syntax).")
    var config: String?

    @Option(name: .long, help: "Write the master's pid here.")
    var pidFile: String?

    func run() throws {
        var path = config
        var dev = false
        if path == nil {
            guard geteuid() != 0 else {
                throw ValidationError("running as root needs a configuration: roost serve -c /etc/roost/dovecot.conf (the embedded dev instance is for normal users)")
            }
            let prepared = try DevInstance.prepare(directory: "roost-dev")
            path = prepared.configPath
            dev = true
            printOut(prepared.banner)
        }
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: path!)
        } catch {
            throw RoostFailure("\(error)")
        }
        do {
            let master = try Master(options: .init(configPath: path!, pidFile: pidFile, devMode: dev || geteuid() != 0),
                                    loaded: loaded)
            try master.start()
            master.run()
        } catch {
            throw RoostFailure("Fatal: \(error)")
        }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the non-default settings (like doveconf -n), or check a configuration.",
        subcommands: [Show.self, Check.self],
        defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the non-default settings (like doveconf -n).")

        @Option(name: .shortAndLong, help: "Configuration file.")
        var config: String = "roost-dev/roost.conf"

        func run() throws {
            printOut(try loadReportingWarnings(config).renderNonDefault())
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration; exit non-zero on error.")

        @Option(name: .shortAndLong, help: "Configuration file.")
        var config: String = "roost-dev/roost.conf"

        func run() throws {
            _ = try loadReportingWarnings(config)
            print("\(config): OK")
        }
    }
}

struct PasswordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pw", abstract: "Hash a password for a passwd-file (like doveadm pw).")

    @Option(name: .short, help: "Scheme: SHA512-CRYPT (default), SSHA512, PLAIN.")
    var scheme: String = "SHA512-CRYPT"

    @Option(name: .short, help: "The password (read from stdin when omitted).")
    var password: String?

    func run() throws {
        guard let s = PasswordScheme(name: scheme) else { throw RoostFailure("Unknown scheme: \(scheme)") }
        let pass = password ?? readLine(strippingNewline: true) ?? ""
        print(try PasswordScheme.generate(password: pass, scheme: s))
    }
}

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process", abstract: "Internal: a child process started by the master.",
        shouldDisplay: false)

    @Argument var role: String

    func run() throws {
        if role == AuthWorker.role { AuthWorker.run() }  // started by the auth process, not the master
        guard let r = ProcessRole(rawValue: role) else { throw RoostFailure("unknown process role \(role)") }
        ChildMain.run(role: r)
    }
}

/// Loads a configuration for the admin commands: errors become the exit message, warnings go to stderr.
func loadReportingWarnings(_ path: String) throws -> LoadedConfig {
    let loaded: LoadedConfig
    do { loaded = try ConfigLoader.load(path: path) } catch { throw RoostFailure("\(error)") }
    for w in loaded.warnings { printError("Warning: \(w)") }
    return loaded
}

struct RoostFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func printOut(_ s: String) {
    _ = s.withCString { write(1, $0, strlen($0)) }
}

func printError(_ s: String) {
    let line = s + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
