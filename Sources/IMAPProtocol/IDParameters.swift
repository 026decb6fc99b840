// Argument of the ID command (RFC 2971 §3.3):
//   id_params_list ::= "(" #(string SPACE nstring) ")" / nil
// Field strings are at most 30 octets, values at most 1024, at most 30 pairs.
// Read leniently: atoms are taken where strings are required; bytes that are not UTF-8
// are replaced (the values only end up in logs).

/// The field/value pairs of an ID command argument; `[]` for NIL; nil when malformed or over
/// the RFC 2971 limits.
public func parseIDParameters(_ value: IMAPValue) -> [(String, String?)]? {
    if value.isNil { return [] }
    guard let items = value.listValue, items.count % 2 == 0, items.count <= 2 * 30 else { return nil }
    var pairs: [(String, String?)] = []
    pairs.reserveCapacity(items.count / 2)
    var index = 0
    while index < items.count {
        let field = items[index]
        let value = items[index + 1]
        index += 2
        guard !field.isNil, let key = field.astringBytes, key.count <= 30 else { return nil }
        let text: String?
        if value.isNil {
            text = nil
        } else {
            guard let bytes = value.astringBytes, bytes.count <= 1024 else { return nil }
            text = String(decoding: bytes, as: UTF8.self)
        }
        pairs.append((String(decoding: key, as: UTF8.self), text))
    }
    return pairs
}
