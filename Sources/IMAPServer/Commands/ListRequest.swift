// LIST as extended by LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and SPECIAL-USE
// (RFC 6154): the arguments as a value (`ListRequest.parse`) and the pure choice of which
// names are answered with which attributes (`ListPlanner`). No I/O here: the LIST handler
// reads the folders and subscriptions and feeds them in.
//
// Dovecot 2.3 is the model where the RFCs leave room:
// - The plain form (`LIST ref pattern`) always carries \HasChildren/\HasNoChildren and the
//   special-use flags, and says \Noselect for a name that only has children. The extended form
//   (selection or return options, or several patterns) says \NonExistent instead and gives
//   children and special-use flags only when asked (RETURN (CHILDREN), RETURN (SPECIAL-USE)).
// - Attribute order: \Subscribed, \Noselect or \NonExistent, children, special-use flags.
// - CHILDINFO ("SUBSCRIBED") only where a subscribed descendant does not match the pattern
//   itself (RFC 5258 §3.5: servers SHOULD suppress redundant CHILDINFO).
// - STATUS items are answered in the order MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN.
import IMAPProtocol
import Maildir

struct ListRequest: Equatable {
    var reference = ""
    var patterns: [String] = []
    /// Selection options (RFC 5258 §3.1, RFC 6154 §3). REMOTE is accepted and changes nothing.
    var selectSubscribed = false
    var selectSpecialUse = false
    var recursiveMatch = false
    /// Return options (RFC 5258 §3.2, RFC 6154 §3, RFC 5819).
    var returnSubscribed = false
    var returnChildren = false
    var returnSpecialUse = false
    /// STATUS items to answer after each selectable mailbox; empty = no STATUS.
    var statusItems: [String] = []
    /// The extended syntax was used: selection options, return options or a pattern list.
    var extended = false

    static let statusItemOrder = ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"]

    /// Dovecot's BAD texts; the session adds "Error in IMAP command LIST: ".
    static func bad(_ text: String) -> CommandError { .bad(text) }

    /// RFC 5258 §6: `LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`.
    static func parse(_ values: [IMAPValue]) throws -> ListRequest {
        var r = ListRequest()
        var i = 0
        if let options = values.first?.listValue {
            r.extended = true
            try r.parseSelection(options)
            i = 1
        }
        guard values.count > i, let ref = values[i].astringBytes else { throw bad("Invalid reference.") }
        guard values.count > i + 1 else { throw bad("Invalid pattern.") }
        r.reference = decode(ref) ?? ""
        if let list = values[i + 1].listValue {
            r.extended = true
            r.patterns = try list.compactMap { value in
                guard let bytes = value.astringBytes else { throw bad("Invalid pattern.") }
                return decode(bytes)
            }
        } else if let bytes = values[i + 1].astringBytes {
            r.patterns = decode(bytes).map { [$0] } ?? []
        } else {
            throw bad("Invalid pattern.")
        }
        // A reference that is not modified UTF-7 names no mailbox: nothing matches (Dovecot).
        if decode(ref) == nil { r.patterns = [] }
        i += 2
        if i < values.count {
            guard values[i].atomValue?.uppercased() == "RETURN", i + 2 == values.count,
                  let options = values[i + 1].listValue else {
                throw bad("Extra arguments")
            }
            r.extended = true
            try r.parseReturn(options)
        }
        if r.selectSubscribed { r.returnSubscribed = true }
        if r.selectSpecialUse { r.returnSpecialUse = true }
        return r
    }

    private mutating func parseSelection(_ options: [IMAPValue]) throws {
        for option in options {
            guard let atom = option.atomValue else { throw Self.bad("List options contains non-atoms.") }
            switch atom.uppercased() {
            case "SUBSCRIBED": selectSubscribed = true
            case "SPECIAL-USE": selectSpecialUse = true
            case "RECURSIVEMATCH": recursiveMatch = true
            case "REMOTE": break
            default: throw Self.bad("Unknown select options")
            }
        }
        // RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) is a BAD.
        if recursiveMatch && !selectSubscribed && !selectSpecialUse {
            throw Self.bad("RECURSIVEMATCH must not be the only selection")
        }
    }

    private mutating func parseReturn(_ options: [IMAPValue]) throws {
        var k = 0
        while k < options.count {
            switch options[k].atomValue?.uppercased() {
            case "SUBSCRIBED": returnSubscribed = true
            case "CHILDREN": returnChildren = true
            case "SPECIAL-USE": returnSpecialUse = true
            case "STATUS":
                guard k + 1 < options.count, let items = options[k + 1].listValue else {
                    throw Self.bad("Unknown return options")
                }
                statusItems = try Self.statusItems(items, bad: Self.bad)
                k += 1
            default: throw Self.bad("Unknown return options")
            }
            k += 1
        }
    }

    /// STATUS data items (RFC 3501 §6.3.10), deduplicated, in Dovecot's answer order.
    static func statusItems(_ values: [IMAPValue], bad: (String) -> CommandError) throws -> [String] {
        guard !values.isEmpty else { throw bad("Empty status list.") }
        var wanted = Set<String>()
        for value in values {
            guard let atom = value.atomValue?.uppercased() else { throw bad("Status list contains non-atoms.") }
            guard statusItemOrder.contains(atom) else { throw bad("Invalid status item \(atom).") }
            wanted.insert(atom)
        }
        return statusItemOrder.filter(wanted.contains)
    }

    /// A pattern or reference in modified UTF-7; nil when it is not (it then matches nothing).
    private static func decode(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self).flatMap(ModifiedUTF7.decode)
    }
}

/// One LIST response line to be.
struct ListEntry: Equatable {
    var name: String
    var attributes: [String]
    /// `(CHILDINFO ("SUBSCRIBED"))` follows the name (RFC 5258 §3.5).
    var childInfo = false
    /// The mailbox exists and can be selected: a LIST-STATUS STATUS line may follow.
    var selectable: Bool
}

/// Which names a LIST answers, with which attributes.
struct ListPlanner {
    let request: ListRequest
    let folders: [FolderInfo]
    let subscriptions: [String]
    let specialUse: SpecialUseTable

    private var matchers: [MailboxPattern] { request.patterns.map { MailboxPattern(request.reference + $0) } }

    func matches(_ name: String) -> Bool { matchers.contains { $0.matches(name) } }

    func entries() -> [ListEntry] {
        request.selectSubscribed ? subscribedEntries() : folderEntries()
    }

    /// Existing mailboxes and the parents of existing mailboxes.
    private func folderEntries() -> [ListEntry] {
        let subscribed = Set(subscriptions.map(MailboxName.normalized))
        var out: [ListEntry] = []
        for info in folders where matches(info.name) {
            let flags = info.noSelect ? [] : specialUse.flags(for: info.name)
            if request.selectSpecialUse && flags.isEmpty { continue }
            out.append(entry(info.name, exists: !info.noSelect, hasChildren: info.hasChildren,
                             subscribed: subscribed.contains(info.name), specialUse: flags))
        }
        return out
    }

    /// `LIST (SUBSCRIBED …)`: subscribed names (existing or not) in the subscriptions file's
    /// order; with RECURSIVEMATCH also the matching ancestors of subscribed names that do not
    /// match, with CHILDINFO, each just before the first subscribed name below it.
    private func subscribedEntries() -> [ListEntry] {
        var existing = Set<String>(), parents = Set<String>()
        for f in folders {
            if !f.noSelect { existing.insert(f.name) }
            if f.hasChildren { parents.insert(f.name) }
        }
        var selected: [String] = []
        var seen = Set<String>()
        for raw in subscriptions {
            let name = MailboxName.normalized(raw)
            guard seen.insert(name).inserted else { continue }
            if request.selectSpecialUse && (!existing.contains(name) || specialUse.flags(for: name).isEmpty) { continue }
            selected.append(name)
        }
        let selectedSet = Set(selected)
        var childInfo = Set<String>()
        if request.recursiveMatch {
            for name in selected where !matches(name) {
                for ancestor in Self.ancestors(of: name) where matches(ancestor) { childInfo.insert(ancestor) }
            }
        }
        var out: [ListEntry] = []
        var listed = Set<String>()
        func add(_ name: String) {
            guard listed.insert(name).inserted else { return }
            let exists = existing.contains(name)
            var e = entry(name, exists: exists, hasChildren: parents.contains(name), subscribed: selectedSet.contains(name),
                          specialUse: exists ? specialUse.flags(for: name) : [])
            e.childInfo = childInfo.contains(name)
            out.append(e)
        }
        for name in selected {
            for ancestor in Self.ancestors(of: name) where childInfo.contains(ancestor) { add(ancestor) }
            if matches(name) { add(name) }
        }
        return out
    }

    private func entry(_ name: String, exists: Bool, hasChildren: Bool, subscribed: Bool, specialUse flags: [String]) -> ListEntry {
        var attributes: [String] = []
        if request.returnSubscribed && subscribed { attributes.append("\\Subscribed") }
        if !exists { attributes.append(request.extended ? "\\NonExistent" : "\\Noselect") }
        if !request.extended || request.returnChildren { attributes.append(hasChildren ? "\\HasChildren" : "\\HasNoChildren") }
        if !request.extended || request.returnSpecialUse { attributes += flags }
        return ListEntry(name: name, attributes: attributes, selectable: exists)
    }

    /// "a/b/c" → ["a", "a/b"], shallowest first.
    static func ancestors(of name: String) -> [String] {
        let levels = name.split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count > 1 else { return [] }
        return (1..<levels.count).map { levels[..<$0].joined(separator: "/") }
    }
}
