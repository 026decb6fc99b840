// APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315 §3).
import Foundation
import IMAPProtocol
import Maildir

extension IMAPMailSession {
    func append(_ c: IMAPCommand) throws -> CommandResult {
        guard c.arguments.count >= 2, c.arguments.count <= 4,
              case .literal(let message) = c.arguments[c.arguments.count - 1] else {
            throw CommandError.bad("Invalid arguments.")
        }
        let name = try mailboxName(c, at: 0)
        var flags: MessageFlags = []
        var keywords: [String] = []
        var date: Date?
        for argument in c.arguments[1..<(c.arguments.count - 1)] {
            if let list = argument.listValue, flags.isEmpty && keywords.isEmpty && date == nil {
                (flags, keywords) = try parseFlags(list)
            } else if let text = argument.stringBytes, date == nil,
                      let parsed = IMAPDate.parseDateTime(String(decoding: text, as: UTF8.self)) {
                date = parsed
            } else {
                throw CommandError.bad("Invalid arguments.")
            }
        }
        guard store.folderExists(name) else {
            throw CommandError.no(code: "TRYCREATE", text: "Mailbox doesn't exist: \(ModifiedUTF7.encode(name))")
        }
        let folder = try store.openFolder(name)
        defer { folder.close() }
        let uid = try folder.save(message, flags: flags, keywords: keywords, internalDate: date)
        noteChanged(folder.name)
        return .ok("Append completed.", code: "APPENDUID \(folder.uidValidity) \(uid)")
    }

    /// System flags and keywords of a flag list; \Recent and unknown \-flags are refused.
    func parseFlags(_ values: [IMAPValue]) throws -> (MessageFlags, [String]) {
        var flags: MessageFlags = []
        var keywords: [String] = []
        for value in values {
            guard let atom = value.atomValue else { throw CommandError.bad("Invalid flags.") }
            if atom.hasPrefix("\\") {
                guard let flag = MessageFlags(imapName: atom) else { throw CommandError.bad("Invalid system flag \(atom)") }
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
