import ArgumentParser
import Foundation
import Glibc
import Maildir

/// roost-bench: load generator and side-by-side benchmark driver (Roost vs Dovecot 2.3).
/// Performance claims are ratios measured in one run against the anchor, never absolute
/// times from a noisy machine.
@main
struct RoostBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roost-bench", abstract: "Benchmarks Roost (and Dovecot) over real sockets.",
        subcommands: [Run.self, Compare.self, Store.self])

    /// The Maildir store on its own: open a big folder cold and warm, list, change, save.
    struct Store: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Maildir store benchmark (folder open cold/warm at N messages).")
        @Option(help: "Messages in the folder.") var messages = 100_000
        @Option(help: "Where to build the Maildir (a temp dir by default).") var root: String?

        func run() throws {
            let dir = root ?? NSTemporaryDirectory() + "roost-bench-store-\(getpid())"
            defer { if root == nil { try? FileManager.default.removeItem(atPath: dir) } }
            let results = MaildirBenchmark.run(root: dir, count: messages)
            print("roost-bench store: \(messages) messages in \(dir)")
            for (name, value) in results.sorted(by: { $0.key < $1.key }) {
                print(String(format: "%-28@ %12.2f", name as NSString, value))
            }
            // The anchor for the cold open: Dovecot's rebuild of the same folder (optional).
            let (dovecot, note) = DovecotResync.medianMilliseconds(maildir: dir)
            if let dovecot, let cold = results["open_cold_ms"] {
                print(String(format: "%-28@ %12.2f", "dovecot_force_resync_ms" as NSString, dovecot))
                print(String(format: "%-28@ %12.2f", "cold_vs_dovecot_ratio" as NSString, cold / dovecot))
            }
            print("dovecot: \(note)")
        }
    }

    struct LoadOptions: ParsableArguments {
        @Option(help: "Concurrent clients.") var clients = 10
        @Option(help: "Seconds per run.") var duration = 5.0
        @Option(help: "Message size for lmtp (bytes).") var size = 8192
        @Option(help: "Recipients per LMTP transaction (distinct users).") var recipients = 1
        @Flag(help: "idle: the sessions use IMAPS (implicit TLS) instead of plain IMAP.") var tls = false
        @Flag(help: "idle: deliver by renaming a file into the user's Maildir new/ (an outside delivery agent) instead of LMTP; timed from the rename.")
        var outside = false
    }

    /// One profile against an already running server.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run one profile against a running server.")
        @Argument(help: "Profile: \(Profiles.names.joined(separator: ", "))") var profile: String
        @OptionGroup var load: LoadOptions
        @Option var host = "127.0.0.1"
        @Option var imapPort = 143
        @Option var imapsPort = 993
        @Option var pop3Port = 110
        @Option var lmtpPort = 24
        @Option var user = "bench1"
        @Option var password = "benchpass"
        @Option(help: "Users bench1…benchN.") var users = 1
        @Option(help: "idle --outside: the directory holding the users' homes (<homes>/<user>/Maildir).") var homes: String?

        func run() throws {
            let t = Target(host: host, imapPort: imapPort, imapsPort: imapsPort, pop3Port: pop3Port, lmtpPort: lmtpPort,
                           user: user, password: password, users: users, homes: homes)
            let r = try Profiles.run(profile, target: t, clients: load.clients, duration: load.duration, size: load.size,
                                     recipients: load.recipients, tls: load.tls, outside: load.outside)
            for (name, value) in r.metrics { print(String(format: "%-28@ %12.2f", name as NSString, value)) }
        }
    }

    /// Roost vs Dovecot on identical Maildirs, alternating A B A B …
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a profile against Roost and Dovecot in alternation.")
        @Argument(help: "Profile: \(Profiles.names.joined(separator: ", "))") var profile: String
        @OptionGroup var load: LoadOptions
        @Option(help: "A/B pairs (medians are reported).") var pairs = 3
        @Option(help: "Seconds of unmeasured load on each server before the pairs (0: none).") var warmup = 2.0
        @Option(help: "Users (bench1…benchN).") var users = 10
        @Option(help: "Messages per user in the prepared Maildirs.") var messages = 50
        @Option(help: "Fixed message size for the prepared Maildirs (default: realistic mix).") var messageSize: Int?
        @Option(help: "Messages per user already waiting in new/ (undelivered-to-IMAP mail, e.g. 4000).") var inNew = 0
        @Option(help: "The roost binary.") var roost: String?
        @Flag(help: "Run the profile against Roost only (no Dovecot).") var roostOnly = false

        func run() throws {
            let binary = roost ?? (URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("roost").path)
            let template = try ServerSetup.makeTemplate(users: users, messages: messages, maxSize: 10 << 20, fixedSize: messageSize,
                                                        inNew: inNew)
            defer { try? FileManager.default.removeItem(atPath: template) }
            let roostDir = try ServerSetup.instance(from: template, name: "roost")
            let dovecotDir = try ServerSetup.instance(from: template, name: "dovecot")
            defer {
                try? FileManager.default.removeItem(atPath: roostDir)
                try? FileManager.default.removeItem(atPath: dovecotDir)
            }
            // --roost-only: sizes Dovecot cannot reach on this machine (e.g. 10,000 TLS sessions
            // would be 10,000 imap-login processes) are measured on Roost alone.
            var servers = [try ServerSetup.startRoost(binary: binary, dir: roostDir)]
            if !roostOnly { servers.append(try ServerSetup.startDovecot(dir: dovecotDir)) }
            defer { servers.forEach { $0.stop() } }
            var results: [String: [String: [Double]]] = [:]
            var memory: [String: (rss: Int, pss: Int, processes: Int)] = [:]
            // A short unmeasured run first: the first seconds after start (processes spawned,
            // caches cold, and on ext4 without a journal an inode allocator that skips the
            // inodes of files deleted in the last minutes) are not what either server sustains.
            if warmup > 0 && profile != "idle" {
                for server in servers {
                    var t = server.target
                    t.users = users
                    t.homes = server.directory + "/home"
                    _ = try Profiles.run(profile, target: t, clients: load.clients, duration: warmup, size: load.size,
                                         recipients: load.recipients, tls: load.tls, outside: load.outside)
                }
            }
            for pair in 1...pairs {
                for server in servers {
                    var t = server.target
                    t.users = users
                    t.memory = { server.memory() }
                    t.homes = server.directory + "/home"
                    let r = try Profiles.run(profile, target: t, clients: load.clients, duration: load.duration, size: load.size,
                                             recipients: load.recipients, tls: load.tls, outside: load.outside)
                    for (name, value) in r.metrics { results[name, default: [:]][server.name, default: []].append(value) }
                    memory[server.name] = server.memory()
                    FileHandle.standardError.write(Data("pair \(pair) \(server.name): \(r.metrics.first.map { "\($0.0) \(String(format: "%.1f", $0.1))" } ?? "")\n".utf8))
                }
            }
            let date = ISO8601DateFormatter().string(from: Date())
            print("roost-bench compare \(profile): \(load.clients) clients, \(load.duration) s x \(pairs) pairs, \(users) users x \(messages) messages\(inNew > 0 ? " + \(inNew) in new/" : "")\(load.recipients > 1 ? ", \(load.recipients) recipients" : ""), \(ProcessInfo.processInfo.activeProcessorCount) cores, \(date)")
            print("| metric | Roost (median) | Dovecot (median) | Roost/Dovecot |")
            print("|---|---:|---:|---:|")
            let order = results.keys.sorted()
            for name in order {
                let a = median(results[name]?["roost"] ?? []), b = median(results[name]?["dovecot"] ?? [])
                let ratio = b == 0 ? 0 : a / b
                print(String(format: "| %@ | %.2f | %.2f | %.2f%@ |", name as NSString, a, b, ratio,
                             (name.hasSuffix(" ms") ? " (lower is better)" : "") as NSString))
            }
            for name in ["roost", "dovecot"] {
                if let m = memory[name] { print("\(name): \(m.processes) processes, RSS \(m.rss / 1024) MiB, PSS \(m.pss / 1024) MiB (after the last run)") }
            }
        }

        func median(_ v: [Double]) -> Double {
            guard !v.isEmpty else { return 0 }
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
    }
}
