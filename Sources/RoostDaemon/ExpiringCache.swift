import Dispatch

/// Userdb answers kept for a few seconds (LMTP bursts to one mailbox), by name. Bounded: past
/// `capacity` entries it starts over rather than tracking ages. Not Sendable: one queue's state.
struct ExpiringCache<Value> {
    let lifetime: Double
    var capacity = 10_000
    private var entries: [String: (value: Value, at: UInt64)] = [:]

    init(lifetime seconds: Double) { lifetime = seconds }

    /// The value stored for `key` less than `lifetime` seconds ago.
    func value(for key: String) -> Value? {
        guard let e = entries[key], DispatchTime.now().uptimeNanoseconds - e.at < UInt64(lifetime * 1e9) else { return nil }
        return e.value
    }

    mutating func store(_ value: Value, for key: String) {
        if entries.count >= capacity { entries.removeAll() }
        entries[key] = (value, DispatchTime.now().uptimeNanoseconds)
    }

    mutating func removeAll() { entries.removeAll() }
}
