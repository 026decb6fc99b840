import ArgumentParser
import Auth
import Config
import Glibc
import RoostDaemon

/// `roost auth test USER [PASSWORD]`, like `doveadm auth test`: runs the configured passdb
/// chain in this process (run it as root for PAM and shadow, as the auth process does).
struct AuthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Authentication tools (like doveadm auth).", subcommands: [Test.self])

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a user's password against the passdbs.")

        @Option(name: .shortAndLong, help: "Configuration file.")
        var config: String = "roost-dev/roost.conf"

        @Argument(help: "User name as a client would send it.")
        var user: String

        @Argument(help: "Password (asked for when omitted).")
        var password: String?

        func run() throws {
            let (databases, config) = try loadDatabases(self.config)
            let pass = password ?? String(cString: getpass("Password: "))
            let name = UsernameFormat.expand(config.authUsernameFormat, user: user)
            switch databases.verify(user: name, password: pass) {
            case .ok(let canonical, _):
                printOut("passdb: \(user) auth succeeded\nextra fields:\n  user=\(canonical)\n")
            case .unknownUser(let driver):
                printOut("passdb: \(user) auth failed (\(driver): unknown user)\n")
                throw ExitCode(77)
            case .mismatch(let driver):
                printOut("passdb: \(user) auth failed (\(driver): password mismatch)\n")
                throw ExitCode(77)
            case .refused(let driver, let reason):
                printOut("passdb: \(user) auth failed (\(driver): \(reason))\n")
                throw ExitCode(77)
            case .internalFailure(let driver, let reason):
                printOut("passdb: \(user) auth failed (\(driver): internal error: \(reason))\n")
                throw ExitCode(75)
            }
        }
    }
}

/// `roost user USER`, like `doveadm user`: the userdb fields of a user.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Show a user's userdb record (like doveadm user).")

    @Option(name: .shortAndLong, help: "Configuration file.")
    var config: String = "roost-dev/roost.conf"

    @Argument(help: "User name.")
    var user: String

    func run() throws {
        let (databases, config) = try loadDatabases(self.config)
        let name = UsernameFormat.expand(config.authUsernameFormat, user: user)
        guard let record = databases.lookupUser(name) else {
            printError("userdb lookup: user \(user) doesn't exist")
            throw ExitCode(67)
        }
        var out = "field\tvalue\nuser\t\(record.username)\n"
        for field in record.userdbFields { out += "\(field.name)\t\(field.value ?? "")\n" }
        if record.mail == nil && !config.mailLocation.isEmpty { out += "mail\t\(config.mailLocation)\n" }
        printOut(out)
    }
}

private func loadDatabases(_ path: String) throws -> (AuthDatabases, RoostConfig) {
    let loaded: LoadedConfig
    do { loaded = try ConfigLoader.load(path: path) } catch { throw RoostFailure("\(error)") }
    let config = loaded.config
    do {
        let dbs = try AuthDatabases(passdbs: config.passdbs.map { ($0.driver, $0.args) },
                                    userdbs: config.userdbs.map { ($0.driver, $0.args) })
        return (dbs, config)
    } catch {
        throw RoostFailure("\(error)")
    }
}

/// `roost deliver`: Dovecot's dovecot-lda, for Postfix's `mailbox_command`.
struct DeliverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver", abstract: "Deliver a message from stdin into a user's Maildir (like dovecot-lda).")

    @Option(name: .shortAndLong, help: "Configuration file.")
    var config: String = "/etc/roost/dovecot.conf"
    @Option(name: .customShort("d"), help: "Destination user (default: the invoking user).")
    var user: String?
    @Option(name: .customShort("m"), help: "Folder to save into (created if missing).")
    var folder: String?
    @Option(name: .customShort("f"), help: "Envelope sender (Return-Path).")
    var sender: String?
    @Option(name: .customShort("a"), help: "Original recipient address (Delivered-To).")
    var address: String?
    @Flag(name: .customShort("e"), help: "Write rejection reasons to stderr (they always are).")
    var rejectToStderr = false

    func run() throws {
        let code = LocalDelivery.run(.init(configPath: config, user: user, folder: folder, sender: sender,
                                           address: address, rejectToStderr: rejectToStderr))
        if code != 0 { throw ExitCode(code) }
    }
}
