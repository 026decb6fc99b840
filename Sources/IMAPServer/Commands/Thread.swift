// THREAD / UID THREAD (RFC 5256 §3–4): the messages SEARCH would find, in threads.
// ORDEREDSUBJECT groups the SORT (SUBJECT DATE) order by base subject; REFERENCES and
// Dovecot's REFS thread by Message-ID, References and In-Reply-To (MessageThreader.swift).
// The header keys are SORT's (SortHeaderKeys, read once per mail process). Answers and error
// texts are Dovecot 2.3's (imap/cmd-thread.c): an empty result is "* THREAD " with its space.
import Foundation
import IMAPProtocol

enum ThreadAlgorithm: String, CaseIterable {
    case orderedSubject = "ORDEREDSUBJECT", references = "REFERENCES", refs = "REFS"
}

extension IMAPMailSession {
    func thread(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        let args = c.arguments
        guard args.count > 1, let name = args[0].astringBytes, args[1].astringBytes != nil else {
            throw CommandError.bad("Invalid arguments.")
        }
        guard let algorithm = ThreadAlgorithm(rawValue: String(decoding: name, as: UTF8.self).uppercased()) else {
            throw CommandError.bad("Unknown thread algorithm.")
        }
        guard args.count > 2 else { throw CommandError.bad("Missing search parameters") }
        let key = try searchKey([.atom("CHARSET"), args[1]] + args.dropFirst(2), options: nil, in: s)
        let byUID = c.name == "UID THREAD"
        let forest: ThreadForest
        if algorithm == .orderedSubject {
            let rows = sortedRows([SortCriterion(key: .subject, reverse: false), SortCriterion(key: .date, reverse: false)],
                                  matching: key, in: s, byUID: byUID)
            forest = MessageThreader.orderedSubject(rows.map { row in
                guard case .text(let subject) = row.values[0], case .number(let sent) = row.values[1] else {
                    return (row.id, [], 0)
                }
                return (row.id, subject, sent)
            })
        } else {
            var messages: [ThreadMessage] = []
            var seqs: [UInt32: UInt32] = [:]
            forEachMatch(of: key, in: s) { candidate in
                let h = Self.headerKeys(candidate, in: s)
                let arrival = Int64(candidate.internalDate.timeIntervalSince1970.rounded(.down))
                let sent = h.sent ?? arrival
                messages.append(ThreadMessage(uid: candidate.meta.uid, messageID: h.messageID, references: h.references,
                                              sent: sent, baseSubject: h.subject, isReplyOrForward: h.subjectIsReplyOrForward))
                if !byUID { seqs[candidate.meta.uid] = UInt32(candidate.seq) }
            }
            s.folder.flushMessageCache()
            let threads = algorithm == .refs ? MessageThreader.refs(messages) : MessageThreader.references(messages)
            forest = byUID ? threads : threads.renumbered { seqs[$0] ?? 0 }
        }
        untagged("THREAD " + forest.imapString())
        return .ok("Thread completed.")
    }
}
