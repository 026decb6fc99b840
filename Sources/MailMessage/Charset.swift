// Charset conversion to Unicode for SEARCH and display (RFC 2045 §5.1 charset,
// RFC 2046 §4.1.2, RFC 2047 §3).
//
// UTF-8, US-ASCII, ISO-8859-1…16 (not 12), Windows-1250…1258, KOI8-R/U and
// IBM866 are converted here without Foundation (tables in SingleByteTables.swift,
// generated from Python's codecs). ISO-2022-JP, Shift_JIS and UTF-16/32 go
// through Foundation in CharsetFoundation.swift. Unknown charsets give nil so
// callers can choose a fallback.

public enum Charset {
    /// Lowercased name with common aliases folded to one spelling, e.g.
    /// "Latin1" -> "iso-8859-1", "cp1252" -> "windows-1252", "UTF8" -> "utf-8".
    public static func canonicalName(_ name: String) -> String {
        var n = name.lowercased().trimmingCharacters(in: " \t\"'")
        if let star = n.firstIndex(of: "*") { n = String(n[..<star]) }   // RFC 2231 language suffix
        switch n {
        case "utf8", "utf-8", "unicode-1-1-utf-8": return "utf-8"
        case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "iso-ir-6", "cp367", "ibm367": return "us-ascii"
        case "latin1", "l1", "iso8859-1", "iso_8859-1", "iso-8859-1", "iso_8859-1:1987", "cp819", "ibm819": return "iso-8859-1"
        case "latin2", "l2": return "iso-8859-2"
        case "latin-9", "latin9", "l9": return "iso-8859-15"
        case "cyrillic": return "iso-8859-5"
        case "greek": return "iso-8859-7"
        case "hebrew": return "iso-8859-8"
        case "sjis", "shift-jis", "shift_jis", "x-sjis", "ms_kanji", "csshiftjis", "windows-31j", "cp932": return "shift_jis"
        case "iso2022jp", "iso-2022-jp", "csiso2022jp": return "iso-2022-jp"
        case "cp866", "866", "ibm866": return "ibm866"
        case "koi8r", "koi8-r", "cskoi8r": return "koi8-r"
        case "koi8u", "koi8-u": return "koi8-u"
        default: break
        }
        for prefix in ["iso8859-", "iso_8859-", "iso-8859-", "iso8859_"] where n.hasPrefix(prefix) {
            let rest = n.dropFirst(prefix.count).prefix { $0.isNumber }
            return "iso-8859-" + rest
        }
        for prefix in ["cp", "windows-", "win-", "x-cp", "ms-"] where n.hasPrefix(prefix) {
            let rest = n.dropFirst(prefix.count)
            if rest.count == 4, rest.hasPrefix("125"), rest.allSatisfy(\.isNumber) { return "windows-" + rest }
        }
        return n
    }

    /// Converts `bytes` in charset `name` to a String; nil when the charset is unknown.
    /// Invalid sequences become U+FFFD.
    public static func decode(_ bytes: some Collection<UInt8>, name: String) -> String? {
        let n = canonicalName(name)
        switch n {
        case "utf-8", "us-ascii":
            return String(decoding: bytes, as: UTF8.self)
        case "iso-8859-1":
            var s = String.UnicodeScalarView()
            for b in bytes { s.append(Unicode.Scalar(b)) }
            return String(s)
        default:
            if let table = SingleByteTables.table(n) {
                var s = String.UnicodeScalarView()
                for b in bytes {
                    if b < 0x80 {
                        s.append(Unicode.Scalar(b))
                    } else {
                        s.append(Unicode.Scalar(UInt32(table[Int(b) - 0x80])) ?? "\u{FFFD}")
                    }
                }
                return String(s)
            }
            return decodeWithFoundation(Array(bytes), canonicalName: n)
        }
    }

    /// Like `decode`, but nil also when `bytes` are not text in the charset: malformed UTF-8
    /// (US-ASCII is read as UTF-8, as Dovecot does), a byte the charset leaves unmapped
    /// (ISO-8859-3 0xA5, Windows-1252 0x81: iconv refuses those too) or input Foundation
    /// refuses. For text a client typed, e.g. SEARCH strings, where such bytes are an error.
    public static func decodeValidating(_ bytes: some Collection<UInt8>, name: String) -> String? {
        let n = canonicalName(name)
        switch n {
        case "utf-8", "us-ascii":
            return String(validating: Array(bytes), as: UTF8.self)
        default:
            if let table = SingleByteTables.table(n),
               bytes.contains(where: { $0 >= 0x80 && table[Int($0) - 0x80] == 0xFFFD }) {
                return nil
            }
            return decode(bytes, name: n)
        }
    }

    /// Whether `decode` knows the charset.
    public static func isSupported(_ name: String) -> Bool {
        let n = canonicalName(name)
        return ["utf-8", "us-ascii", "iso-8859-1"].contains(n) || SingleByteTables.table(n) != nil
            || foundationEncodingSupported(n)
    }

    /// Text of unlabelled 8-bit bytes: UTF-8 when valid, else Windows-1252.
    public static func decodeUnlabelled(_ bytes: some Collection<UInt8>) -> String {
        if let s = String(validating: Array(bytes), as: UTF8.self) { return s }
        return decode(bytes, name: "windows-1252") ?? String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
