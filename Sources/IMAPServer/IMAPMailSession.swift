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
        return [.send(line("\(tag) OK [CAPABILITY \(IMAPCapabilities.line(IMAPCapabilities.postLogin))] Logged in"))]
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
        guard isIdling else { return [] }
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
        case .error(let tag, let error):
            if let tag { dropStreamedAppend(tag: tag) }
            return bad(tag, error.message)
        case .lineTooLong(let tag):
            if let tag { dropStreamedAppend(tag: tag) }
            return bad(tag, "Too long command line.")
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

    func bad(_ tag: String?, _ message: String) -> [Action] {
        badCommands += 1
        var actions: [Action] = [.send(line("\(tag ?? "*") BAD \(message)"))]
        if badCommands >= Self.maxBadCommands {
            finished = true
            actions += [.send(line("* BYE Too many invalid IMAP commands.")), .close(reason: "Too many invalid IMAP commands")]
        }
        return actions
    }

    // MARK: Dispatch

    private func execute(_ c: IMAPCommand) -> [Action] {
        out = []
        changed = []
        guard let entry = Self.commands[c.name] else {
            if c.name == "LOGIN" || c.name == "AUTHENTICATE" { return bad(c.tag, "Already logged in.") }
            return bad(c.tag, "Unknown command.")
        }
        if entry.needsSelected && selected == nil { return bad(c.tag, "No mailbox selected.") }
        if let s = selected, s.needsSync, c.name != "IDLE" {
            // Someone else changed the folder: let the command see the current state.
            syncSelected(allowExpunge: entry.allowsExpunge)
        }
        let result: CommandResult
        do {
            result = try entry.handler(self)(c)
        } catch let error as CommandError {
            switch error {
            case .bad(let text): return bad(c.tag, text)
            case .no(let code, let text): result = CommandResult(status: .no, code: code, text: text)
            }
        } catch let error as MaildirError {
            guard case .no(let code, let text) = CommandError(error) else { return bad(c.tag, "Invalid arguments.") }
            result = CommandResult(status: .no, code: code, text: text)
        } catch {
            result = CommandResult(status: .no, code: "SERVERBUG", text: Self.noText(for: error))
        }
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
        let tagged = IMAPResponse.tagged(tag: c.tag, status: result.status.wire, code: result.code, text: result.text)
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
        "DELETE": CommandEntry(handler: { $0.delete }),
        "RENAME": CommandEntry(handler: { $0.rename }),
        "SUBSCRIBE": CommandEntry(handler: { $0.subscribe }),
        "UNSUBSCRIBE": CommandEntry(handler: { $0.unsubscribe }),
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
        "FETCH": CommandEntry(handler: { $0.fetch }, needsSelected: true, allowsExpunge: false),
        "UID FETCH": CommandEntry(handler: { $0.fetch }, needsSelected: true, allowsExpunge: false),
        "STORE": CommandEntry(handler: { $0.storeFlags }, needsSelected: true, allowsExpunge: false),
        "UID STORE": CommandEntry(handler: { $0.storeFlags }, needsSelected: true, allowsExpunge: false),
        "COPY": CommandEntry(handler: { $0.copy }, needsSelected: true),
        "UID COPY": CommandEntry(handler: { $0.copy }, needsSelected: true),
        "MOVE": CommandEntry(handler: { $0.move }, needsSelected: true),
        "UID MOVE": CommandEntry(handler: { $0.move }, needsSelected: true),
        "IDLE": CommandEntry(handler: { $0.idle }),
    ]

    // MARK: Simple commands

    func capability(_ c: IMAPCommand) throws -> CommandResult {
        untagged("CAPABILITY \(IMAPCapabilities.line(IMAPCapabilities.postLogin))")
        return .ok("Capability completed.")
    }

    func noop(_ c: IMAPCommand) throws -> CommandResult { .ok("NOOP completed.") }

    func check(_ c: IMAPCommand) throws -> CommandResult { .ok("Check completed.") }

    func logout(_ c: IMAPCommand) throws -> CommandResult { CommandResult(status: .logout, code: nil, text: "") }

    func id(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count == 1, parseIDParameters(c.arguments[0]) != nil else {
            throw CommandError.bad("Invalid ID parameters.")
        }
        untagged("ID (\"name\" \"Roost\")")
        return .ok("ID completed.")
    }

    /// RFC 5161: no extension Roost knows needs enabling, so nothing is enabled.
    func enable(_ c: IMAPCommand) throws -> CommandResult {
        guard !c.arguments.isEmpty, c.arguments.allSatisfy({ $0.atomValue != nil }) else {
            throw CommandError.bad("Missing capabilities.")
        }
        untagged("ENABLED")
        return .ok("Enabled.")
    }

    func namespace(_ c: IMAPCommand) throws -> CommandResult {
        untagged("NAMESPACE ((\"\" \"/\")) NIL NIL")
        return .ok("Namespace completed.")
    }

    // MARK: IDLE (RFC 2177)

    func idle(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.isEmpty else { throw CommandError.bad("IDLE takes no arguments.") }
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
            return bad(tag, "Expected DONE.")
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

/// Thrown by handlers: `.bad` for syntax and state errors, `.no` for refusals.
enum CommandError: Error {
    case bad(String)
    case no(code: String?, text: String)

    static func no(_ text: String) -> CommandError { .no(code: nil, text: text) }

    /// Dovecot's answers for store errors.
    init(_ error: MaildirError) {
        switch error {
        case .noSuchFolder(let name): self = .no(code: "NONEXISTENT", text: "Mailbox doesn't exist: \(ModifiedUTF7.encode(name))")
        case .folderExists: self = .no(code: "ALREADYEXISTS", text: "Mailbox already exists")
        case .invalidName(let e): self = .no(code: "CANNOT", text: "Invalid mailbox name: \(e.description).")
        case .cannotDeleteInbox: self = .no(code: "CANNOT", text: "INBOX can't be deleted.")
        case .hasChildren: self = .no(code: "INUSE", text: "Mailbox has children, delete them first")
        case .noSuchMessage: self = .no(code: "EXPUNGEISSUED", text: "Some of the requested messages no longer exist.")
        case .readOnly: self = .no(code: nil, text: "Mailbox is read-only.")
        case .notAFolder(let p): self = .no(code: "NONEXISTENT", text: "Mailbox doesn't exist: \(p.split(separator: "/").last.map(String.init) ?? "")")
        case .corrupt: self = .no(code: "SERVERBUG", text: "Internal error occurred. Refer to server log for more information.")
        case .renameIntoItself: self = .no(code: "CANNOT", text: "Can't rename mailbox under itself.")
        // RFC 9208 §4.3: OVERQUOTA; the text is quota_exceeded_message.
        case .overQuota(let text): self = .no(code: "OVERQUOTA", text: text)
        }
    }
}
