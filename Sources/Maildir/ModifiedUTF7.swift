// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII except "&" stands for
// itself, "&" is "&-", everything else is UTF-16 in modified base64 ("," for "/", no padding)
// between "&" and "-". Dovecot stores folder names on disk in this form.

public enum ModifiedUTF7 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    /// Encodes a Unicode name.
    public static func encode(_ name: String) -> String {
        var out: [UInt8] = []
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            out.append(UInt8(ascii: "&"))
            var bytes: [UInt8] = []
            for unit in pending { bytes.append(UInt8(unit >> 8)); bytes.append(UInt8(unit & 0xff)) }
            var i = 0
            while i < bytes.count {
                let b0 = Int(bytes[i])
                let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
                let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
                out.append(alphabet[b0 >> 2])
                out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
                if i + 1 < bytes.count { out.append(alphabet[((b1 & 0xf) << 2) | (b2 >> 6)]) }
                if i + 2 < bytes.count { out.append(alphabet[b2 & 0x3f]) }
                i += 3
            }
            out.append(UInt8(ascii: "-"))
            pending.removeAll()
        }
        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7e {
                flush()
                out.append(UInt8(scalar.value))
                if scalar == "&" { out.append(UInt8(ascii: "-")) }
            } else {
                pending.append(contentsOf: UTF16.encode(scalar)!)
            }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a modified UTF-7 name; nil when it is not valid (bare 8-bit, bad base64, an
    /// encoded printable ASCII character, unpaired surrogates, non-zero padding bits).
    public static func decode(_ encoded: String) -> String? {
        let bytes = Array(encoded.utf8)
        var result = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c >= 0x20 && c <= 0x7e else { return nil }
            if c != UInt8(ascii: "&") {
                result.append(Unicode.Scalar(c)); i += 1; continue
            }
            i += 1
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "-") { result.append("&"); i += 1; continue }
            var bits = 0, buffer = 0
            var units: [UInt16] = []
            var sawEnd = false
            while i < bytes.count {
                let d = bytes[i]; i += 1
                if d == UInt8(ascii: "-") { sawEnd = true; break }
                let v = reverse[Int(d)]
                guard v >= 0 else { return nil }
                buffer = (buffer << 6) | Int(v); bits += 6
                if bits >= 16 {
                    bits -= 16
                    units.append(UInt16((buffer >> bits) & 0xffff))
                    buffer &= (1 << bits) - 1
                }
            }
            guard sawEnd, !units.isEmpty, bits < 6, buffer == 0 else { return nil }
            var iterator = units.makeIterator()
            var decoder = UTF16()
            loop: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let s):
                    // Printable ASCII must not be base64-encoded (RFC 3501 §5.1.3).
                    if s.value >= 0x20 && s.value <= 0x7e { return nil }
                    result.append(s)
                case .emptyInput: break loop
                case .error: return nil
                }
            }
        }
        return String(result)
    }
}
