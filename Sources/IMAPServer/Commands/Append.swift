// APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315 §3).
import Foundation
import IMAPProtocol
import Maildir

/// An APPEND whose message literal goes to the folder's tmp/ as it arrives (a literal of at
/// least `IMAPMailSession.streamingThreshold` bytes): memory stays bounded for any size.
final class StreamedAppend {
    let tag: String
    let target: AppendTarget
    var folder: MaildirFolder { target.folder }
    let writer: MessageWriter
    /// A write failed: the rest of the literal is read and dropped, the command fails.
    var failure: Error?

    init(tag: String, target: AppendTarget, writer: MessageWriter) {
        self.tag = tag
        self.target = target
        self.writer = writer
    }

    func write(_ bytes: [UInt8]) {
        guard failure == nil else { return }
        do { try writer.write(bytes) } catch { failure = error }
    }

    func abandon() {
        writer.abort()
        target.done()
    }
}

/// The folder an APPEND writes to: the selected one when it is that (its view then learns of
/// the message at its next sync, without a second folder instance loading the folder and
/// writing roost.index), else one opened for the command.
struct AppendTarget {
    let folder: MaildirFolder
    let isSelected: Bool

    func done() { if !isSelected { folder.close() } }
}

extension IMAPMailSession {
    /// Literals from this size on are streamed (APPEND in, FETCH of whole messages out).
    public static let streamingThreshold = 1 << 20

    func append(_ c: IMAPCommand) throws -> CommandResult {
        // This command's streamed literal is settled here, whatever happens: committed below,
        // or abandoned (tmp file removed) when the rest of the command is refused.
        var unsettled: StreamedAppend?
        if let s = streamedAppend, s.tag == c.tag {
            unsettled = s
            streamedAppend = nil
        }
        defer { unsettled?.abandon() }
        guard c.arguments.count >= 2 else {
            throw CommandError.bad(c.arguments.isEmpty ? "Missing arguments." : "Missing message size.")
        }
        guard c.arguments.count <= 4, case .literal(let message) = c.arguments[c.arguments.count - 1] else {
            throw CommandError.bad("Invalid arguments.")
        }
        let options = try appendOptions(c, count: c.arguments.count - 1)
        if let streamed = unsettled {
            unsettled = nil
            defer { streamed.target.done() }
            if let failure = streamed.failure {
                streamed.writer.abort()
                throw failure
            }
            let uid = try streamed.writer.commit(flags: options.flags, keywords: options.keywords,
                                                 internalDate: options.date)
            noteChanged(streamed.folder.name)
            return .ok("Append completed.", code: "APPENDUID \(streamed.folder.uidValidity) \(uid)")
        }
        let target = try appendTarget(options.name)
        defer { target.done() }
        let folder = target.folder
        guard !message.isEmpty else { throw CommandError.no("Can't save a zero byte message.") }
        let uid = try folder.save(message, flags: options.flags, keywords: options.keywords, internalDate: options.date)
        noteChanged(folder.name)
        return .ok("Append completed.", code: "APPENDUID \(folder.uidValidity) \(uid)")
    }

    /// A large APPEND literal was announced: check the mailbox, flags, date and quota now
    /// (refusing before the data, as Dovecot does), then write the data as it comes.
    func beginStreamedAppend(tag: String, arguments: [IMAPValue], size: Int, synchronizing: Bool) -> [Action] {
        let c = IMAPCommand(tag: tag, name: "APPEND", arguments: arguments)
        dropStreamedAppend()  // one in flight at a time; an unfinished one leaves nothing behind
        do {
            guard (1...3).contains(arguments.count) else { throw CommandError.bad("Invalid arguments.") }
            let options = try appendOptions(c, count: arguments.count)
            let target = try appendTarget(options.name)
            do {
                streamedAppend = StreamedAppend(tag: tag, target: target, writer: try target.folder.beginSave(size: size))
            } catch {
                target.done()
                throw error
            }
            return synchronizing ? [.send(line("+ OK"))] : []
        } catch {
            parser.refuseStreamedLiteral()
            let result: CommandResult
            switch error {
            case CommandError.bad(let text): return bad(tag, Self.commandErrorText(text, tag: tag, command: "APPEND"))
            case CommandError.no(let code, let text): result = CommandResult(status: .no, code: code, text: text)
            case let e as MaildirError:
                guard case .no(let code, let text) = CommandError(e) else { return bad(tag, "Invalid arguments.") }
                result = CommandResult(status: .no, code: code, text: text)
            default: result = CommandResult(status: .no, code: "SERVERBUG", text: Self.noText(for: error))
            }
            return [.send(IMAPResponse.tagged(tag: tag, status: result.status.wire, code: result.code,
                                              text: Self.sentence(result.text)).encoded)]
        }
    }

    /// Abandons the streamed APPEND in flight (of `tag`, or any): its tmp file goes, its folder closes.
    func dropStreamedAppend(tag: String? = nil) {
        guard let s = streamedAppend, tag == nil || s.tag == tag else { return }
        s.abandon()
        streamedAppend = nil
    }

    /// The connection ended: a half-received APPEND leaves nothing behind, open message files
    /// of an unsent FETCH are closed.
    public func connectionClosed() {
        streamedAppend?.abandon()
        streamedAppend = nil
        for case .sendFile(let literal) in streamedParts { MessageFileStream(literal).close() }
        streamedParts = []
    }

    private func appendTarget(_ name: String) throws -> AppendTarget {
        if let s = selected, !s.readOnly, s.folder.name == MailboxName.normalized(name) {
            return AppendTarget(folder: s.folder, isSelected: true)
        }
        guard store.folderExists(name) else { throw CommandError.missingTarget(name) }
        return AppendTarget(folder: try store.openFolder(name, takesRecent: false), isSelected: false)
    }

    /// Mailbox, flags and date: the first `count` arguments of APPEND.
    private func appendOptions(_ c: IMAPCommand, count: Int) throws
        -> (name: String, flags: MessageFlags, keywords: [String], date: Date?) {
        let name = try mailboxName(c, at: 0)
        var flags: MessageFlags = []
        var keywords: [String] = []
        var date: Date?
        for (i, argument) in c.arguments[1..<count].enumerated() {
            if let list = argument.listValue, i == 0 {
                (flags, keywords) = try parseFlags(list)
            } else if let text = argument.stringBytes, date == nil {
                guard let parsed = IMAPDate.parseDateTime(String(decoding: text, as: UTF8.self)) else {
                    throw CommandError.bad("Invalid internal date.")
                }
                date = parsed
            } else {
                throw CommandError.bad("Invalid arguments.")
            }
        }
        return (name, flags, keywords, date)
    }

    /// System flags and keywords of a flag list; \Recent and unknown \-flags are refused.
    func parseFlags(_ values: [IMAPValue]) throws -> (MessageFlags, [String]) {
        var flags: MessageFlags = []
        var keywords: [String] = []
        for value in values {
            guard let atom = value.atomValue else { throw CommandError.bad("Flags list contains non-atoms.") }
            if atom.hasPrefix("\\") {
                guard let flag = MessageFlags(imapName: atom) else {
                    throw CommandError.bad("Invalid system flag \(atom.uppercased())")
                }
                flags.insert(flag)
            } else {
                guard atom.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && !"(){%*\"\\]".utf8.contains($0) }) else {
                    throw CommandError.bad("Invalid keyword \(atom)")
                }
                if !keywords.contains(atom) { keywords.append(atom) }
            }
        }
        return (flags, keywords)
    }
}
