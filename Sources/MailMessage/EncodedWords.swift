// RFC 2047 encoded-word decoding for header text ("=?charset?B|Q?text?=").
//
// Adjacent encoded words separated only by whitespace are joined (§6.2), and
// consecutive words in the same charset are decoded together so a multi-byte
// character split across words survives. Unknown charsets and broken words are
// kept as written; unencoded 8-bit text is read as UTF-8 (Windows-1252 if invalid).

public enum HeaderDecoder {
    /// Decodes RFC 2047 words in a header value (folding line breaks are removed first).
    public static func decodeEncodedWords(_ value: [UInt8]) -> String {
        let bytes = value.filter { $0 != asciiCR && $0 != asciiLF }
        var result = ""
        var pendingCharset: String? = nil
        var pendingBytes: [UInt8] = []
        var afterWord = false   // textStart sits right after an encoded word
        var i = 0
        var textStart = 0

        func flush() {
            guard let cs = pendingCharset else { return }
            result += Charset.decode(pendingBytes, name: cs) ?? Charset.decodeUnlabelled(pendingBytes)
            pendingCharset = nil
            pendingBytes = []
        }

        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "="), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "?"),
                  let word = parseWord(bytes, at: i) else {
                i += 1
                continue
            }
            let between = bytes[textStart..<i]
            if !(afterWord && between.allSatisfy(isLWSP)) {   // RFC 2047 §6.2: drop space between words
                flush()
                result += Charset.decodeUnlabelled(between)
            }
            if let cs = pendingCharset, Charset.canonicalName(cs) != Charset.canonicalName(word.charset) { flush() }
            pendingCharset = word.charset
            pendingBytes += word.decoded
            afterWord = true
            i = word.end
            textStart = i
        }
        flush()
        result += Charset.decodeUnlabelled(bytes[textStart..<bytes.count])
        return result
    }

    public static func decodeEncodedWords(_ value: String) -> String { decodeEncodedWords(Array(value.utf8)) }

    struct Word {
        var charset: String
        var decoded: [UInt8]
        var end: Int
    }

    /// "=?" charset "?" encoding "?" encoded-text "?=" starting at `start`.
    static func parseWord(_ b: [UInt8], at start: Int) -> Word? {
        var i = start + 2
        let csStart = i
        while i < b.count, b[i] != UInt8(ascii: "?") {
            if b[i] <= 0x20 || b[i] >= 0x7F { return nil }
            i += 1
        }
        guard i + 2 < b.count, i > csStart, b[i + 2] == UInt8(ascii: "?") else { return nil }
        let charset = String(decoding: b[csStart..<i], as: UTF8.self)
        let enc = asciiUpper(b[i + 1])
        guard enc == UInt8(ascii: "B") || enc == UInt8(ascii: "Q") else { return nil }
        let textStart = i + 3
        var j = textStart
        while j + 1 < b.count, !(b[j] == UInt8(ascii: "?") && b[j + 1] == UInt8(ascii: "=")) {
            if b[j] == asciiSP || b[j] == asciiTAB { return nil }
            j += 1
        }
        guard j + 1 < b.count else { return nil }
        let text = b[textStart..<j]
        let decoded = enc == UInt8(ascii: "B") ? TransferEncoding.decodeBase64(text)
                                               : TransferEncoding.decodeQuotedPrintable(text, underscoreIsSpace: true)
        return Word(charset: charset, decoded: decoded, end: j + 2)
    }
}
