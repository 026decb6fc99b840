// IMAPMailSession: the authenticated and selected states of IMAP4rev1 (RFC 3501 §6.3–6.4)
// run in the user's mail process. Bytes in, actions out: the session never touches a socket;
// Maildir file I/O happens inside it.
//
// Implementation notes (invariants):
// - One command at a time: its untagged responses and its tagged status go out in one
//   `.send`, followed by `.folderChanged` for every folder whose contents or flags it changed
//   (the daemon tells the user's other sessions after the change is on disk).
// - The client's view of the selected folder is `SelectedMailbox.uids` (sequence number n is
//   `uids[n-1]`). It changes only when this session announces it: EXISTS appends, EXPUNGE
//   removes. A message another session expunged stays in the view (unfetchable) until an
//   EXPUNGE may be sent — RFC 3501 §7.4.1: no EXPUNGE during FETCH, STORE or SEARCH.
// - After every successful command in the selected state the folder is synced and the
//   updates go out before the tagged response; during IDLE they go out at once when the
//   daemon calls `mailboxChanged`.
// - Mailbox names on the wire are modified UTF-7 (RFC 3501 §5.1.3); the store uses Unicode.
// - Tagged texts are Dovecot 2.3's where RFC 3501 leaves them free: errors in a command line
//   read "Error in IMAP command NAME: text." (CommandError.bad), and every tagged text ends
//   in "." — Dovecot's end with its timing, "(0.001 + 0.000 secs).", which Roost leaves out.
//   IMAPDovecotErrorTests compares them with a running Dovecot.
import IMAPProtocol
import Maildir

public final class IMAPMailSession {
    public enum Action: Equatable, Sendable {
        case send([UInt8])
        case close(reason: String)
        /// This session changed `folder`'s messages or flags: other sessions should sync it.
        case folderChanged(String)
        /// A large message literal's data, streamed from its file in order with the `.send`s
        /// around it; the receiver closes the descriptor (see `MessageFileStream`).
        case sendFile(MessageFileLiteral)
    }

    public let user: String
    let store: MaildirStore
    var parser: IMAPCommandParser
    /// Bad commands in a row; any other answer resets it (Dovecot's bad_counter).
    private var badCommands = 0
    private var finished = false
    public static let maxBadCommands = 20

    var selected: SelectedMailbox?
    /// The tag of the IDLE command in progress.
    private var idleTag: String?
    /// Untagged responses of the command in progress.
    var out: [UInt8] = []
    /// Folders changed by the command in progress, in order.
    var changed: [String] = []
    /// Output of the command in progress that precedes `out`, when it streams message files.
    var streamedParts: [Action] = []
    /// An APPEND whose message literal is being written to disk as it arrives.
    var streamedAppend: StreamedAppend?

    public var selectedFolder: String? { selected?.folder.name }
    public var isIdling: Bool { idleTag != nil }

    /// `namespace inbox { mailbox NAME { special_use auto } }` (MailboxSettings.swift).
    let mailboxSettings: [IMAPMailboxSettings]
    /// Reports others' changes to the selected folder, so a sync after our own changes need
    /// not list the directories (FolderChangeMonitor.swift); the mail process's watcher.
    public var changeMonitor: FolderChangeMonitor?
    /// Dovecot's imap_quota plugin: QUOTA and its commands (Commands/Quota.swift).
    public var quotaCommands = false

    /// What CAPABILITY and the login's OK list.
    var capabilities: [String] { IMAPCapabilities.postLogin + (quotaCommands ? ["QUOTA"] : []) }

    public init(user: String, store: MaildirStore, maxLineLength: Int = 64 * 1024, maxLiteralSize: Int = 50 << 20,
                mailboxes: [IMAPMailboxSettings] = []) {
        self.user = user
        self.store = store
        self.mailboxSettings = mailboxes
        parser = IMAPCommandParser(maxLineLength: maxLineLength, maxLiteralSize: maxLiteralSize)
        parser.streamingLiteralThreshold = Self.streamingThreshold
    }

    /// The tagged OK for the LOGIN/AUTHENTICATE the login process started.
    public func loginCompleted(tag: String) -> [Action] {
        createAutoMailboxes()
        return [.send(line("\(tag) OK [CAPABILITY \(IMAPCapabilities.line(capabilities))] Logged in"))]
    }

    public func receive(_ bytes: some Collection<UInt8>) -> [Action] {
        parser.append(bytes)
        var actions: [Action] = []
        while !finished {
            if let tag = idleTag {
                guard let raw = parser.nextRawLine() else { break }
                actions += endIdle(tag: tag, line: raw)
                continue
            }
            guard let event = parser.next() else { break }
            actions += handle(event)
        }
        return actions
    }

    /// Another session or a delivery changed `folder`. Updates for the selected folder go out
    /// now during IDLE, otherwise at the end of the next command. The daemon passes one `round`
    /// to every session it tells about the same change, so the folder is scanned once for all.
    public func mailboxChanged(_ folder: String, sharing round: FolderScanRound? = nil) -> [Action] {
        guard !finished, let selected, selected.folder.name == MailboxName.normalized(folder) else { return [] }
        selected.needsSync = true
        guard isIdling else {
            if let round { takeOverWithoutAnnouncing(round) }
            return []
        }
        out = []
        syncSelected(allowExpunge: true, round: round)
        let bytes = out
        out = []
        return bytes.isEmpty ? [] : [.send(bytes)]
    }

    public func autoLogout() -> [Action] {
        finished = true
        closeSelected()
        return [.send(line("* BYE Disconnected for inactivity.")), .close(reason: "Disconnected for inactivity")]
    }

    public func shutdown() -> [Action] {
        finished = true
        closeSelected()
        return [.send(line("* BYE Server shutting down.")), .close(reason: "Server shutting down")]
    }

    private func handle(_ event: IMAPParseEvent) -> [Action] {
        switch event {
        case .continuationNeeded:
            return [.send(line("+ OK"))]
        case .error(let tag, let command, let error):
            if let tag { dropStreamedAppend(tag: tag) }
            return bad(tag, Self.parseErrorText(error, tag: tag, command: command))
        case .lineTooLong(let tag, let command):
            if let tag { dropStreamedAppend(tag: tag) }
            return bad(tag, Self.commandErrorText("Too long argument", tag: tag, command: command))
        case .literalTooBig(let tag, _):
            if let tag { dropStreamedAppend(tag: tag) }
            return bad(tag, "[TOOBIG] Literal too big.")
        case .command(let c):
            return execute(c)
        case .literalStreamStarted(let tag, _, let arguments, let size, let synchronizing):
            return beginStreamedAppend(tag: tag, arguments: arguments, size: size, synchronizing: synchronizing)
        case .literalData(let bytes):
            streamedAppend?.write(bytes)
            return []
        }
    }

    /// `tag BAD message`. `counted`: an error in the command line, which counts towards
    /// `maxBadCommands` (Dovecot's client_send_command_error); state errors such as "No mailbox
    /// selected." reset the count like any other answer.
    func bad(_ tag: String?, _ message: String, counted: Bool = true) -> [Action] {
        badCommands = counted ? badCommands + 1 : 0
        var actions: [Action] = [.send(line("\(tag ?? "*") BAD \(Self.sentence(message))"))]
        if badCommands >= Self.maxBadCommands {
            finished = true
            actions += [.send(line("* BYE Too many invalid IMAP commands.")), .close(reason: "Too many invalid IMAP commands")]
        }
        return actions
    }

    // MARK: Dispatch

    /// Dovecot's text for an error in a command line (imap-client.c client_send_command_error).
    static func commandErrorText(_ text: String, tag: String?, command: String?) -> String {
        guard tag != nil else { return "Error in IMAP tag: \(text)" }
        guard let command else { return "Error in IMAP command: \(text)" }
        return "Error in IMAP command \(command): \(text)"
    }

    /// A line the parser refused. Dovecot reads the arguments of known commands only, so an
    /// unknown one is "Unknown command" whatever follows it.
    static func parseErrorText(_ error: IMAPParseError, tag: String?, command: String?) -> String {
        switch error {
        case .emptyLine, .invalidTag: return commandErrorText("Invalid tag", tag: nil, command: nil)
        default:
            if let command, commands[command] == nil { return commandErrorText("Unknown command", tag: tag, command: command) }
            return commandErrorText(error.message, tag: tag, command: command)
        }
    }

    /// Dovecot ends every tagged text of the mail process in "." (after its timing).
    static func sentence(_ text: String) -> String { text.hasSuffix(".") ? text : text + "." }

    private func execute(_ c: IMAPCommand) -> [Action] {
        out = []
        changed = []
        guard let entry = Self.commands[c.name], !entry.needsQuotaPlugin || quotaCommands else {
            // LOGIN, AUTHENTICATE and STARTTLS too: the mail process does not know them.
            return bad(c.tag, Self.commandErrorText("Unknown command", tag: c.tag, command: c.name))
        }
        if entry.needsSelected && selected == nil { return bad(c.tag, "No mailbox selected.", counted: false) }
        if let s = selected, s.needsSync, c.name != "IDLE" {
            // Someone else changed the folder: let the command see the current state.
            syncSelected(allowExpunge: entry.allowsExpunge)
        }
        var result: CommandResult
        do {
            result = try entry.handler(self)(c)
        } catch let error as CommandError {
            switch error {
            case .bad(let text): return bad(c.tag, Self.commandErrorText(text, tag: c.tag, command: c.name))
            case .badState(let text): return bad(c.tag, text, counted: false)
            case .no(let code, let text): result = CommandResult(status: .no, code: code, text: text)
            }
        } catch let error as MaildirError {
            guard case .no(let code, let text) = CommandError(error) else {
                return bad(c.tag, Self.commandErrorText("Invalid arguments", tag: c.tag, command: c.name))
            }
            result = CommandResult(status: .no, code: code, text: text)
        } catch {
            result = CommandResult(status: .no, code: "SERVERBUG", text: Self.noText(for: error))
        }
        badCommands = 0
        // Dovecot's imap_get_error_string: NONEXISTENT only for the commands flagged for it.
        if result.code == "NONEXISTENT" && !entry.usesNonexistent { result.code = nil }
        if case .idle = result.status { return finishCommand([.send(out)]) }
        if case .logout = result.status {
            finished = true
            closeSelected()
            return [.send(out + line("* BYE Logging out") + line("\(c.tag) OK Logout completed.")),
                    .close(reason: "Logged out")]
        }
        if selected != nil && result.status != .bad {
            syncSelected(allowExpunge: entry.allowsExpunge)
        }
        let tagged = IMAPResponse.tagged(tag: c.tag, status: result.status.wire, code: result.code,
                                         text: Self.sentence(result.text))
        // Appended in place: `out` may hold a large FETCH body that must not be copied again.
        out += tagged.encoded
        return finishCommand([.send(out)])
    }

    private func finishCommand(_ actions: [Action]) -> [Action] {
        let notes = changed.map { Action.folderChanged($0) }
        let parts = streamedParts
        out = []
        changed = []
        streamedParts = []
        return parts + actions + notes
    }

    struct CommandEntry: Sendable {
        let handler: @Sendable (IMAPMailSession) -> (IMAPCommand) throws -> CommandResult
        var needsSelected = false
        /// RFC 3501 §7.4.1: false for FETCH, STORE and SEARCH.
        var allowsExpunge = true
        /// A missing mailbox is `NO [NONEXISTENT]` (RFC 5530); for the other commands it is a
        /// plain NO, as Dovecot's COMMAND_FLAG_USE_NONEXISTENT has it.
        var usesNonexistent = false
        /// Offered only with the imap_quota plugin.
        var needsQuotaPlugin = false
    }

    /// The command table: name → handler and the state it needs.
    static let commands: [String: CommandEntry] = [
        "CAPABILITY": CommandEntry(handler: { $0.capability }),
        "NOOP": CommandEntry(handler: { $0.noop }),
        "CHECK": CommandEntry(handler: { $0.check }, needsSelected: true),
        "LOGOUT": CommandEntry(handler: { $0.logout }),
        "ID": CommandEntry(handler: { $0.id }),
        "ENABLE": CommandEntry(handler: { $0.enable }),
        "NAMESPACE": CommandEntry(handler: { $0.namespace }),
        "SELECT": CommandEntry(handler: { $0.select }),
        "EXAMINE": CommandEntry(handler: { $0.examine }),
        "CREATE": CommandEntry(handler: { $0.create }),
        "DELETE": CommandEntry(handler: { $0.delete }, usesNonexistent: true),
        "RENAME": CommandEntry(handler: { $0.rename }, usesNonexistent: true),
        "SUBSCRIBE": CommandEntry(handler: { $0.subscribe }),
        "UNSUBSCRIBE": CommandEntry(handler: { $0.unsubscribe }, usesNonexistent: true),
        "LIST": CommandEntry(handler: { $0.list }),
        "LSUB": CommandEntry(handler: { $0.lsub }),
        "STATUS": CommandEntry(handler: { $0.status }),
        "APPEND": CommandEntry(handler: { $0.append }),
        "CLOSE": CommandEntry(handler: { $0.close }, needsSelected: true),
        "UNSELECT": CommandEntry(handler: { $0.unselect }, needsSelected: true),
        "EXPUNGE": CommandEntry(handler: { $0.expunge }, needsSelected: true),
        "UID EXPUNGE": CommandEntry(handler: { $0.expunge }, needsSelected: true),
        "SEARCH": CommandEntry(handler: { $0.search }, needsSelected: true, allowsExpunge: false),
        "UID SEARCH": CommandEntry(handler: { $0.search }, needsSelected: true, allowsExpunge: false),
        "SORT": CommandEntry(handler: { $0.sort }, needsSelected: true, allowsExpunge: false),
        "UID SORT": CommandEntry(handler: { $0.sort }, needsSelected: true, allowsExpunge: false),
        "THREAD": CommandEntry(handler: { $0.thread }, needsSelected: true, allowsExpunge: false),
        "UID THREAD": CommandEntry(handler: { $0.thread }, needsSelected: true, allowsExpunge: false),
        "FETCH": CommandEntry(handler: { $0.fetch }, needsSelected: true, allowsExpunge: false),
        "UID FETCH": CommandEntry(handler: { $0.fetch }, needsSelected: true, allowsExpunge: false),
        "STORE": CommandEntry(handler: { $0.storeFlags }, needsSelected: true, allowsExpunge: false),
        "UID STORE": CommandEntry(handler: { $0.storeFlags }, needsSelected: true, allowsExpunge: false),
        "COPY": CommandEntry(handler: { $0.copy }, needsSelected: true),
        "UID COPY": CommandEntry(handler: { $0.copy }, needsSelected: true),
        "MOVE": CommandEntry(handler: { $0.move }, needsSelected: true),
        "UID MOVE": CommandEntry(handler: { $0.move }, needsSelected: true),
        "IDLE": CommandEntry(handler: { $0.idle }),
        "GETQUOTAROOT": CommandEntry(handler: { $0.getQuotaRoot }, needsQuotaPlugin: true),
        "GETQUOTA": CommandEntry(handler: { $0.getQuota }, needsQuotaPlugin: true),
        "SETQUOTA": CommandEntry(handler: { $0.setQuota }, needsQuotaPlugin: true),
    ]

    // MARK: Simple commands

    func capability(_ c: IMAPCommand) throws -> CommandResult {
        untagged("CAPABILITY \(IMAPCapabilities.line(capabilities))")
        return .ok("Capability completed.")
    }

    func noop(_ c: IMAPCommand) throws -> CommandResult { .ok("NOOP completed.") }

    func check(_ c: IMAPCommand) throws -> CommandResult { .ok("Check completed.") }

    func logout(_ c: IMAPCommand) throws -> CommandResult { CommandResult(status: .logout, code: nil, text: "") }

    /// RFC 2971: one list of string pairs, or NIL (Dovecot answers OK to anything).
    func id(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 1, parseIDParameters(c.arguments[0]) != nil else {
            throw CommandError.bad("Invalid ID parameters")
        }
        untagged("ID (\"name\" \"Roost\")")
        return .ok("ID completed.")
    }

    /// RFC 5161: no extension Roost knows needs enabling, so nothing is enabled.
    func enable(_ c: IMAPCommand) throws -> CommandResult {
        // RFC 5161 §3.1: at least one capability (Dovecot answers OK to none).
        guard !c.arguments.isEmpty else { throw CommandError.bad("Missing arguments.") }
        guard c.arguments.allSatisfy({ $0.atomValue != nil }) else { throw CommandError.bad("Invalid arguments.") }
        untagged("ENABLED")
        return .ok("Enabled.")
    }

    func namespace(_ c: IMAPCommand) throws -> CommandResult {
        untagged("NAMESPACE ((\"\" \"/\")) NIL NIL")
        return .ok("Namespace completed.")
    }

    // MARK: IDLE (RFC 2177)

    func idle(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.isEmpty else { throw CommandError.bad("Invalid arguments.") }
        if selected != nil { syncSelected(allowExpunge: true) }
        out += line("+ idling")
        idleTag = c.tag
        return CommandResult(status: .idle, code: nil, text: "")
    }

    private func endIdle(tag: String, line raw: RawLineResult) -> [Action] {
        idleTag = nil
        out = []
        guard case .line(let bytes) = raw, bytes.count == 4,
              String(decoding: bytes, as: UTF8.self).uppercased() == "DONE" else {
            return bad(tag, "Expected DONE.", counted: false)
        }
        if selected != nil { syncSelected(allowExpunge: true) }
        let bytesOut = out + line("\(tag) OK Idle completed.")
        out = []
        return [.send(bytesOut)]
    }

    // MARK: Output helpers

    func untagged(_ text: String) { out += line("* " + text) }

    func untagged(bytes: [UInt8]) { out += Array("* ".utf8) + bytes + [13, 10] }

    /// A complete response line (with "* " and CRLF) built by the caller; moved, not copied,
    /// when nothing else is queued.
    func emit(_ response: [UInt8]) {
        if out.isEmpty { out = response } else { out.append(contentsOf: response) }
    }

    func noteChanged(_ folder: String) {
        if !changed.contains(folder) { changed.append(folder) }
    }

    func line(_ s: String) -> [UInt8] { Array(s.utf8) + [13, 10] }

    /// The NO text for a store error; internal failures are not described to the client.
    static func noText(for error: Error) -> String {
        if let e = error as? MaildirError, case .no(_, let text) = CommandError(e) { return text }
        return "Internal error occurred. Refer to server log for more information."
    }
}

/// A handler's tagged answer.
struct CommandResult {
    enum Status: Equatable {
        case ok, no, bad
        /// LOGOUT: the session sends BYE and closes.
        case logout
        /// IDLE: no tagged answer until DONE.
        case idle

        var wire: IMAPStatus {
            switch self {
            case .ok, .logout, .idle: return .ok
            case .no: return .no
            case .bad: return .bad
            }
        }
    }

    var status: Status
    var code: String?
    var text: String

    static func ok(_ text: String, code: String? = nil) -> CommandResult {
        CommandResult(status: .ok, code: code, text: text)
    }
}

/// Thrown by handlers: `.bad` for errors in the arguments, `.badState` for a command the
/// state does not allow, `.no` for refusals.
enum CommandError: Error {
    /// Sent as "Error in IMAP command NAME: text." and counted as a bad command.
    case bad(String)
    /// Sent as it is.
    case badState(String)
    case no(code: String?, text: String)

    static func no(_ text: String) -> CommandError { .no(code: nil, text: text) }

    static let noMailboxSelected = CommandError.badState("No mailbox selected.")

    /// Dovecot's answers for store errors (the session drops NONEXISTENT where Dovecot does).
    init(_ error: MaildirError) {
        switch error {
        case .noSuchFolder(let name): self = .missingMailbox(name)
        case .folderExists: self = .no(code: "ALREADYEXISTS", text: "Mailbox already exists.")
        case .invalidName(let e): self = .invalidName(e)
        case .cannotDeleteInbox: self = .no(code: nil, text: "INBOX can't be deleted.")
        case .hasChildren: self = .no(code: "INUSE", text: "Mailbox has children, delete them first.")
        case .noSuchMessage: self = .no(code: "EXPUNGEISSUED", text: "Some of the requested messages no longer exist.")
        case .readOnly: self = .no(code: nil, text: "Mailbox is read-only.")
        case .notAFolder(let p): self = .missingMailbox(p.split(separator: "/").last.map(String.init) ?? "")
        case .corrupt: self = .no(code: "SERVERBUG", text: "Internal error occurred. Refer to server log for more information.")
        case .renameIntoItself: self = .no(code: nil, text: "Can't rename mailbox under its own child.")
        // RFC 9208 §4.3: OVERQUOTA; the text is quota_exceeded_message.
        case .overQuota(let text): self = .no(code: "OVERQUOTA", text: text)
        }
    }

    static func missingMailbox(_ name: String, code: String = "NONEXISTENT") -> CommandError {
        .no(code: code, text: "Mailbox doesn't exist: \(ModifiedUTF7.encode(name)).")
    }

    /// Dovecot's mailbox_verify_name texts (Maildir++ layout).
    static func invalidName(_ error: MailboxNameError) -> CommandError {
        switch error {
        case .empty: return .no(code: "CANNOT", text: "Invalid mailbox name: Name is empty.")
        case .leadingSeparator: return .no(code: "CANNOT", text: "Invalid mailbox name: Begins with hierarchy separator.")
        case .trailingSeparator: return .no(code: "CANNOT", text: "Invalid mailbox name: Ends with hierarchy separator.")
        case .adjacentSeparators: return .no(code: "CANNOT", text: "Invalid mailbox name: Has adjacent hierarchy separators.")
        case .dotInName: return .no(code: "CANNOT", text: "Character not allowed in mailbox name: '.'.")
        case .wildcard(let c): return .no(code: "CANNOT", text: "Character not allowed in mailbox name: '\(c)'.")
        case .tooLong: return .no(code: "CANNOT", text: "Mailbox name too long.")
        case .invalidCharacter: return .notMUTF7
        }
    }

    static let notMUTF7 = CommandError.no(code: nil, text: "Mailbox name is not valid mUTF-7.")

    /// A COPY, MOVE or APPEND target that is not there: the name's own error when it is not a
    /// valid name, else `NO [TRYCREATE]` (RFC 3501 §6.3.11).
    static func missingTarget(_ name: String) -> CommandError {
        do { try MailboxName.validate(name, forCreation: false) } catch { return invalidName(error) }
        return missingMailbox(name, code: "TRYCREATE")
    }
}

extension SelectedMailbox {
    /// The sequence numbers a FETCH, STORE, COPY, MOVE or UID EXPUNGE set names; Dovecot's BAD
    /// texts for a set that does not parse or (by sequence number) names a message that is not
    /// there. `$` alone is the saved result (RFC 5182 §2.1: not part of a larger set).
    func resolve(_ text: String, byUID: Bool) throws -> [Int] {
        if text == "$" { return savedResult.flatMap { resolve($0, byUID: true) } ?? [] }
        guard let set = SequenceSet.parse(text), let seqs = resolve(set, byUID: byUID) else {
            throw CommandError.bad(byUID ? "Invalid uidset" : "Invalid messageset")
        }
        return seqs
    }
}
