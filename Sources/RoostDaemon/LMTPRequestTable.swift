/// The lmtp process's requests the master has passed on and not yet answered: a recipient's
/// userdb lookup (auth process), a delivery's identity lookup (auth process), a quota check or
/// a delivery (the user's mail process). Each entry names the one child that may answer it.
///
/// Implementation notes:
/// - An answer is taken only from the child the request was sent to. A mail process that
///   echoes another request's key — confused, or compromised by a message it parsed — can
///   neither acknowledge another user's delivery nor answer a recipient lookup.
/// - When a child goes away, `removeAll(sentTo:)` hands back everything it owed, so the master
///   fails those requests at once instead of the lmtp process waiting for its timeout.
/// - Generic over the child type so the rules are unit-tested without processes.
struct LMTPRequestTable<Child: AnyObject> {
    enum Stage {
        /// RCPT: userdb lookup of `name` (the recipient cache's key); `detail` is the part after
        /// recipient_delimiter.
        case recipientLookup(name: String, detail: String)
        /// DATA: the recipient's identity, looked up again before the spool (a descriptor the
        /// table owns until the entry is taken or removed) goes to its mail process.
        case deliveryIdentity(message: ControlMessage, spool: Int32)
        /// lmtp_rcpt_check_quota in the user's mail process.
        case quotaCheck(user: String)
        /// The spool is with the user's mail process.
        case delivery(user: String)

        /// The lmtp process's name for the answer.
        var answerKind: String {
            switch self {
            case .recipientLookup, .quotaCheck: return "rcpt-result"
            case .deliveryIdentity, .delivery: return "deliver-result"
            }
        }
    }

    struct Entry {
        /// The lmtp process that asked, and its id for the request.
        let lmtp: Child
        let request: String
        /// The only child whose answer finishes this request.
        let sentTo: Child
        let stage: Stage
    }

    private var entries: [String: Entry] = [:]
    private var nextKey = 1

    var count: Int { entries.count }

    /// Records a request about to be sent; the returned key travels with it.
    mutating func add(_ entry: Entry) -> String {
        let key = "l\(nextKey)"
        nextKey += 1
        entries[key] = entry
        return key
    }

    /// The entry an answer from `child` finishes; nil (and the entry left alone) when the key
    /// is unknown or the request went to another child.
    mutating func take(_ key: String, answeredBy child: Child) -> Entry? {
        guard let entry = entries[key], entry.sentTo === child else { return nil }
        return entries.removeValue(forKey: key)
    }

    /// Drops a request whose sending failed.
    mutating func remove(_ key: String) {
        entries.removeValue(forKey: key)
    }

    /// Everything `child` still owes (it exited or its channel closed).
    mutating func removeAll(sentTo child: Child) -> [Entry] {
        removeAll { $0.sentTo === child }
    }

    /// Everything an lmtp process asked (it exited: nobody waits for the answers).
    mutating func removeAll(askedBy lmtp: Child) -> [Entry] {
        removeAll { $0.lmtp === lmtp }
    }

    func contains(_ key: String) -> Bool { entries[key] != nil }

    func hasRequests(sentTo child: Child) -> Bool {
        entries.values.contains { $0.sentTo === child }
    }

    private mutating func removeAll(where matches: (Entry) -> Bool) -> [Entry] {
        let keys = entries.filter { matches($0.value) }.map(\.key).sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }
        return keys.compactMap { entries.removeValue(forKey: $0) }
    }
}
