// Content-Transfer-Encoding decoders (RFC 2045 §6.7 quoted-printable, §6.8 base64)
// and the RFC 2047 §4.2 "Q" variant. Lenient: bad bytes are skipped (base64) or
// kept as written (quoted-printable); nothing throws.

public enum TransferEncoding {
    /// Decodes `bytes` written in `encoding` ("base64", "quoted-printable"; anything
    /// else — 7bit, 8bit, binary, unknown — is returned unchanged).
    public static func decode(_ bytes: some Collection<UInt8>, encoding: String) -> [UInt8] {
        switch encoding.lowercased().trimmingSpaces {
        case "base64": return decodeBase64(bytes)
        case "quoted-printable": return decodeQuotedPrintable(bytes)
        default: return Array(bytes)
        }
    }

    private static func base64Value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    /// Base64; characters outside the alphabet are ignored, "=" ends the data.
    public static func decodeBase64(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3 / 4)
        var acc: UInt32 = 0
        var n = 0
        for c in bytes {
            if c == UInt8(ascii: "=") { break }
            guard let v = base64Value(c) else { continue }
            acc = acc << 6 | UInt32(v)
            n += 1
            if n == 4 {
                out.append(UInt8(acc >> 16 & 0xFF)); out.append(UInt8(acc >> 8 & 0xFF)); out.append(UInt8(acc & 0xFF))
                acc = 0; n = 0
            }
        }
        if n == 2 { out.append(UInt8(acc >> 4 & 0xFF)) }
        if n == 3 { out.append(UInt8(acc >> 10 & 0xFF)); out.append(UInt8(acc >> 2 & 0xFF)) }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// Quoted-printable: "=XX" escapes, "=" at line end is a soft break, trailing
    /// whitespace on a line is dropped (RFC 2045 §6.7 rule 3). With `underscoreIsSpace`
    /// it is RFC 2047's "Q" encoding.
    public static func decodeQuotedPrintable(_ input: some Collection<UInt8>, underscoreIsSpace: Bool = false) -> [UInt8] {
        let bytes = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var lineStartOut = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "=") {
                if i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) {
                    out.append(h << 4 | l)
                    lineStartOut = out.count   // an encoded space is not trailing padding
                    i += 3
                    continue
                }
                // Soft line break: "=" then optional whitespace then [CR]LF (or end).
                var j = i + 1
                while j < bytes.count, isLWSP(bytes[j]) { j += 1 }
                if j == bytes.count { i = j; continue }
                if bytes[j] == asciiLF { i = j + 1; lineStartOut = out.count; continue }
                if bytes[j] == asciiCR, j + 1 < bytes.count, bytes[j + 1] == asciiLF { i = j + 2; lineStartOut = out.count; continue }
                out.append(c)   // broken escape: keep it
                i += 1
                continue
            }
            if c == asciiLF || (c == asciiCR && i + 1 < bytes.count && bytes[i + 1] == asciiLF) {
                while out.count > lineStartOut, let last = out.last, isLWSP(last) { out.removeLast() }
                if c == asciiCR { out.append(asciiCR); i += 1 }
                out.append(asciiLF)
                i += 1
                lineStartOut = out.count
                continue
            }
            out.append(underscoreIsSpace && c == UInt8(ascii: "_") ? asciiSP : c)
            i += 1
        }
        return out
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
