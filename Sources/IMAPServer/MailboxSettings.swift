// Per-mailbox settings of the INBOX namespace, from Dovecot's
// `namespace inbox { mailbox Sent { special_use = \Sent  auto = subscribe } }`:
// - `special_use` flags (RFC 6154 §2) show in LIST, LSUB and `LIST (SPECIAL-USE)`;
// - `auto = create` creates the mailbox when the user logs in, `auto = subscribe` also
//   subscribes it (Dovecot creates them when the user's mailbox list is first used).
// Roost has one namespace with the separator "/": names here are Roost's mailbox names.
import Maildir

public struct IMAPMailboxSettings: Sendable, Codable, Hashable {
    public enum Auto: String, Sendable, Codable, Hashable {
        case no, create, subscribe
    }

    public var name: String
    /// e.g. ["\\Sent"]; empty when the mailbox only has `auto`.
    public var specialUse: [String]
    public var auto: Auto

    public init(name: String, specialUse: [String], auto: Auto) {
        self.name = MailboxName.normalized(name)
        self.specialUse = specialUse
        self.auto = auto
    }

    /// Dovecot's `auto` setting value; anything else reads as `no`.
    public init(name: String, specialUse: [String], auto: String) {
        self.init(name: name, specialUse: specialUse, auto: Auto(rawValue: auto.lowercased()) ?? .no)
    }
}

/// The special-use flags per mailbox name (INBOX normalized), for LIST.
struct SpecialUseTable {
    private var flags: [String: [String]] = [:]

    init(_ mailboxes: [IMAPMailboxSettings]) {
        for m in mailboxes {
            for flag in m.specialUse where !flags[m.name, default: []].contains(flag) {
                flags[m.name, default: []].append(flag)
            }
        }
    }

    func flags(for name: String) -> [String] { flags[MailboxName.normalized(name)] ?? [] }

    var isEmpty: Bool { flags.isEmpty }
}

extension IMAPMailSession {
    /// Creates the `auto = create|subscribe` mailboxes that are missing and subscribes the
    /// `auto = subscribe` ones that are not subscribed. Failures leave the session usable:
    /// the mailbox is then simply missing from LIST.
    func createAutoMailboxes() {
        let auto = mailboxSettings.filter { $0.auto != .no }
        guard !auto.isEmpty else { return }
        let subscribed = Set((try? store.subscriptions()) ?? [])
        for m in auto {
            if !store.folderExists(m.name) { try? store.createFolder(m.name) }
            if m.auto == .subscribe && !subscribed.contains(m.name) { try? store.subscribe(m.name) }
        }
    }
}
