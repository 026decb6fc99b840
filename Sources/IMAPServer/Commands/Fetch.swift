// FETCH / UID FETCH (RFC 3501 §6.4.5, §7.4.2). Message bytes are read and parsed only when
// an item needs them. ENVELOPE, BODY and BODYSTRUCTURE come from roost.cache when it holds the
// message (and are added to it whenever a message is parsed); top-level header sections then
// read only the header, whose size the cache knows. BODY[...] (not PEEK), RFC822 and
// RFC822.TEXT set \Seen in a read-write mailbox; the new FLAGS are then sent with the data
// (as Dovecot).
import IMAPProtocol
import Maildir
import MailMessage

enum FetchItem: Equatable {
    case uid, flags, internalDate, rfc822Size, envelope, body, bodyStructure
    case rfc822, rfc822Header, rfc822Text
    /// BODY[section]<partial>; `label` is the response name, e.g. `BODY[1.MIME]<0>`.
    case section(BodySection, label: String, peek: Bool)

    var setsSeen: Bool {
        switch self {
        case .rfc822, .rfc822Text: return true
        case .section(_, _, let peek): return !peek
        default: return false
        }
    }

    var needsMessage: Bool {
        switch self {
        case .uid, .flags, .internalDate, .rfc822Size: return false
        default: return true
        }
    }

    var partial: (offset: Int, count: Int)? {
        if case .section(let spec, _, _) = self { return spec.partial }
        return nil
    }

    /// The whole message or a partial of it (RFC822, BODY[], BODY.PEEK[], BODY[]<o.n>): what a
    /// large message streams from its file.
    var isWholeMessage: Bool {
        switch self {
        case .rfc822: return true
        case .section(let spec, _, _): return spec.path.isEmpty && spec.text == nil
        default: return false
        }
    }

    /// Kept whole in roost.cache.
    var fromCache: Bool {
        switch self {
        case .envelope, .body, .bodyStructure: return true
        default: return false
        }
    }

    /// Needs only the top-level header (read up to the header size roost.cache records).
    var headerOnly: Bool {
        switch self {
        case .rfc822Header: return true
        case .section(let spec, _, _):
            guard spec.path.isEmpty, let text = spec.text else { return false }
            switch text {
            case .header, .headerFields, .headerFieldsNot: return true
            default: return false
            }
        default: return false
        }
    }

    /// Message bytes go into the answer (a literal), not only metadata.
    var carriesContent: Bool {
        switch self {
        case .rfc822, .rfc822Header, .rfc822Text, .section: return true
        default: return false
        }
    }

    /// Needs the MIME structure (not just the raw bytes): everything but the whole message.
    var needsStructure: Bool {
        switch self {
        case .uid, .flags, .internalDate, .rfc822Size, .rfc822: return false
        case .section(let spec, _, _): return !spec.path.isEmpty || spec.text != nil
        default: return true
        }
    }

    /// The items argument of FETCH: a macro, one item or a list of items. Refusals are
    /// Dovecot's texts (imap-fetch.c, imap-fetch-body.c).
    static func parse(_ value: IMAPValue) throws -> [FetchItem] {
        if let list = value.listValue {
            guard !list.isEmpty else { throw CommandError.bad("FETCH list is empty.") }
            return try list.map { v in
                guard let atom = v.atomValue else { throw CommandError.bad("FETCH list contains non-atoms.") }
                return try parse(atom: atom)
            }
        }
        guard let atom = value.atomValue else { throw CommandError.bad("Invalid arguments.") }
        switch atom.uppercased() {
        case "ALL": return [.flags, .internalDate, .rfc822Size, .envelope]
        case "FAST": return [.flags, .internalDate, .rfc822Size]
        case "FULL": return [.flags, .internalDate, .rfc822Size, .envelope, .body]
        default: return [try parse(atom: atom)]
        }
    }

    static func parse(atom: String) throws -> FetchItem {
        let upper = atom.uppercased()
        switch upper {
        case "UID": return .uid
        case "FLAGS": return .flags
        case "INTERNALDATE": return .internalDate
        case "RFC822.SIZE": return .rfc822Size
        case "ENVELOPE": return .envelope
        case "BODY": return .body
        case "BODYSTRUCTURE": return .bodyStructure
        case "RFC822": return .rfc822
        case "RFC822.HEADER": return .rfc822Header
        case "RFC822.TEXT": return .rfc822Text
        default: break
        }
        // Dovecot picks the item by the name up to the first character that is not a letter,
        // digit or "-", and words the error after it.
        switch upper.prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
        case "RFC822": throw CommandError.bad("Unknown parameter \(upper)")
        case "BODY": return try section(upper)
        default: throw CommandError.bad("Unknown parameter: \(upper)")
        }
    }

    /// `BODY[section]<partial>` or `BODY.PEEK[section]<partial>`, upper-cased.
    private static func section(_ upper: String) throws -> FetchItem {
        func bad(_ text: String) -> CommandError { .bad("Invalid BODY[..] parameter: \(text)") }
        let peek = upper.hasPrefix("BODY.PEEK")
        let rest = upper.dropFirst(peek ? 9 : 4)
        guard rest.first == "[" else { throw bad("Missing '['") }
        guard let close = rest.lastIndex(of: "]") else { throw bad("Missing ']'") }
        let inside = String(rest[rest.index(after: rest.startIndex)..<close])
        guard var spec = BodySection.parse(inside) else { throw CommandError.bad("Invalid BODY[..] section") }
        let tail = rest[rest.index(after: close)...]
        var label = "BODY[\(inside)]"
        if !tail.isEmpty {
            spec.partial = try partial(tail, bad: bad)
            label += "<\(spec.partial!.offset)>"
        }
        return .section(spec, label: label, peek: peek)
    }

    /// `<offset.count>`: RFC 3501 `"<" number "." nz-number ">"`, both 32-bit unsigned (no sign,
    /// no overflow later). Dovecot also takes `<offset>` and a count of 0.
    private static func partial(_ tail: Substring, bad: (String) -> CommandError) throws -> (offset: Int, count: Int) {
        guard tail.first == "<" else { throw bad("Unexpected data after ']'") }
        var rest = tail.dropFirst()
        func number() -> UInt32? {
            let digits = rest.prefix { $0 >= "0" && $0 <= "9" }
            rest = rest.dropFirst(digits.count)
            return digits.isEmpty ? nil : UInt32(digits)
        }
        guard let offset = number() else { throw bad("Too big partial start") }
        guard rest.first == "." else { throw bad(rest.first == ">" ? "Missing '.' in partial" : "Missing '>' in partial") }
        rest = rest.dropFirst()
        guard let count = number() else { throw bad("Too big partial end") }
        guard rest.first == ">" else { throw bad("Missing '>' in partial") }
        guard rest.count == 1 else { throw bad("Unexpected data after '>'") }
        guard count > 0 else { throw bad("Partial size is zero") }
        return (Int(offset), Int(count))
    }
}

extension IMAPMailSession {
    /// Sections (and RFC822, RFC822.TEXT, RFC822.HEADER) in one FETCH: each may be a whole
    /// message, so the count bounds one response. Real clients ask for a handful.
    static let maxContentItems = 32

    func fetch(_ c: IMAPCommand) throws -> CommandResult {
        guard let s = selected else { throw CommandError.noMailboxSelected }
        let byUID = c.name == "UID FETCH"
        guard c.arguments.count == 2, let text = c.atom(at: 0) else { throw CommandError.bad("Invalid arguments.") }
        let seqs = try s.resolve(text, byUID: byUID)
        var items = try FetchItem.parse(c.arguments[1])
        if byUID && !items.contains(.uid) { items.insert(.uid, at: 0) }
        // One answer per distinct item: a line repeating BODY[] thousands of times must not
        // make one response thousands of bodies long (or open a file per copy).
        var distinct: [FetchItem] = []
        for item in items where !distinct.contains(item) { distinct.append(item) }
        items = distinct
        guard items.count(where: \.carriesContent) <= Self.maxContentItems else {
            throw CommandError.bad("Too many message sections (at most \(Self.maxContentItems)).")
        }
        let marksSeen = !s.readOnly && items.contains(where: \.setsSeen)
        var expunged = false
        for seq in seqs {
            let uid = s.uids[seq - 1]
            guard var m = s.folder.message(uid: uid) else { expunged = true; continue }
            var flagsChanged = false
            if marksSeen && !m.flags.contains(.seen) {
                if let updated = try s.folder.setFlags(uids: [uid], flags: .seen, mode: .add).first {
                    m = updated
                    flagsChanged = true
                    noteChanged(s.folder.name)
                }
            }
            // The MIME parse is skipped when only whole messages are wanted (BODY[], RFC822).
            var raw: [UInt8]?
            var message: MailMessage?
            // A large message asked for whole is streamed from its file, not read into memory.
            let streams = m.size >= Self.streamingThreshold && items.contains(where: \.isWholeMessage) &&
                items.allSatisfy { !$0.needsMessage || $0.isWholeMessage }
            var literals: [MessageFileLiteral] = []
            if streams {
                for item in items where item.isWholeMessage {
                    guard let literal = try? s.folder.messageLiteral(uid: uid, partial: item.partial) else { break }
                    literals.append(literal)
                }
                guard literals.count == items.count(where: \.isWholeMessage) else {
                    literals.forEach { MessageFileStream($0).close() }
                    expunged = true
                    continue
                }
            }
            // roost.cache may answer everything (no read) or all but header sections (read the
            // header only); a message that is parsed anyway goes into the cache.
            var cached = items.contains { $0.fromCache || $0.headerOnly } ? s.folder.cachedData(for: m) : nil
            if let c = cached, items.allSatisfy({ !$0.needsMessage || $0.fromCache || $0.headerOnly }) {
                if items.contains(where: \.headerOnly) {
                    guard let head = try? s.folder.readMessagePrefix(uid: uid, length: c.headerSize) else {
                        expunged = true; continue
                    }
                    message = MailMessage(bytes: head)
                }
            } else if items.contains(where: \.needsMessage) && !streams {
                guard let bytes = try? s.folder.readMessage(uid: uid) else { expunged = true; continue }
                raw = bytes
                if items.contains(where: \.needsStructure) {
                    let parsed = MailMessage(bytes: bytes)
                    message = parsed
                    if cached == nil {
                        let data = CachedMessageData(parsed)
                        s.folder.storeCachedData(data, for: m)
                        cached = data
                    }
                }
            }
            // One buffer per message, appended in place: a large body is copied once here.
            var response = Array("* \(seq) FETCH (".utf8)
            // Room for the tagged reply too, so finishing the command does not reallocate.
            response.reserveCapacity(256 + (raw?.count ?? 0))
            var first = true
            for item in items {
                if !first { response.append(0x20) }
                first = false
                if streams && item.isWholeMessage {
                    stream(item, literals.removeFirst(), after: &response)
                    continue
                }
                appendFetchData(item, m, raw: raw, message: message, cached: cached, to: &response)
            }
            if flagsChanged && !items.contains(.flags) {
                response += Array(" FLAGS \(flagList(m))".utf8)
            }
            response += [UInt8(ascii: ")"), 13, 10]
            emit(response)
        }
        s.folder.flushMessageCache()
        if expunged {
            return .ok("Some messages were also expunged.", code: "EXPUNGEISSUED")
        }
        return .ok("Fetch completed.")
    }

    /// Queues `response` (ending in the literal's `{n}` line) and then the message file itself;
    /// `response` starts over for the rest of the FETCH line.
    private func stream(_ item: FetchItem, _ literal: MessageFileLiteral, after response: inout [UInt8]) {
        var name = "RFC822"
        if case .section(_, let label, _) = item { name = label }
        response += Array("\(name) {\(literal.length)}\r\n".utf8)
        if !out.isEmpty { streamedParts.append(.send(out)) }
        out = []
        streamedParts += [.send(response), .sendFile(literal)]
        response = []
    }

    private func appendFetchData(_ item: FetchItem, _ m: MaildirMessage, raw: [UInt8]?, message: MailMessage?,
                                 cached: CachedMessageData?, to out: inout [UInt8]) {
        func literal(_ name: String, _ bytes: [UInt8]) {
            out += Array("\(name) {\(bytes.count)}\r\n".utf8)
            out.append(contentsOf: bytes)
        }
        switch item {
        case .uid: out += Array("UID \(m.uid)".utf8)
        case .flags: out += Array("FLAGS \(flagList(m))".utf8)
        case .internalDate:
            let date = selected?.folder.internalDate(of: m) ?? m.internalDate
            out += Array("INTERNALDATE \(IMAPDate.format(date))".utf8)
        case .rfc822Size: out += Array("RFC822.SIZE \(m.virtualSize)".utf8)
        case .envelope: out += Array("ENVELOPE ".utf8) + (cached?.envelope ?? message?.envelopeBytes() ?? [])
        case .body: out += Array("BODY ".utf8) + (cached?.body ?? message?.bodyStructure(extended: false) ?? [])
        case .bodyStructure:
            out += Array("BODYSTRUCTURE ".utf8) + (cached?.bodyStructure ?? message?.bodyStructure(extended: true) ?? [])
        case .rfc822: literal("RFC822", raw.map { MailMessage.wholeMessage($0) } ?? [])
        case .rfc822Header: literal("RFC822.HEADER", message?.section(BodySection(text: .header)) ?? [])
        case .rfc822Text: literal("RFC822.TEXT", message?.section(BodySection(text: .text)) ?? [])
        case .section(let spec, let label, _):
            if let message {
                literal(label, message.section(spec))
            } else {
                literal(label, raw.map { MailMessage.wholeMessage($0, partial: spec.partial) } ?? [])
            }
        }
    }
}
