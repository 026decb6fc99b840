// IMAP string encoding for FETCH data (RFC 3501 §4.3, §9 "string"/"nstring").
//
// Quoted strings may not hold CR, LF or 8-bit bytes, so those values go out as
// literals. The choice between quoted and literal follows Dovecot's
// imap-quote.c so answers match it byte for byte.

struct IMAPWriter {
    var out: [UInt8] = []

    mutating func raw(_ s: String) { out.append(contentsOf: s.utf8) }
    mutating func byte(_ b: UInt8) { out.append(b) }

    /// nstring: NIL, a quoted string, or a literal when the value needs one
    /// (CR, LF, 8-bit, or more than four quoted-specials).
    mutating func nstring(_ value: [UInt8]?) {
        guard let value else { raw("NIL"); return }
        var escapes = 0
        for b in value {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                escapes += 1
                if escapes > 4 { literal(value); return }
            case asciiCR, asciiLF:
                literal(value); return
            default:
                if b >= 0x80 { literal(value); return }
            }
        }
        quoted(value)
    }

    mutating func string(_ value: [UInt8]) { nstring(value) }
    mutating func string(_ value: String) { nstring(Array(value.utf8)) }

    /// nstring with CR and LF removed first (Content-ID, Content-Location, Date, …).
    mutating func nstringNoLF(_ value: [UInt8]?) {
        guard let value else { raw("NIL"); return }
        if value.contains(asciiCR) || value.contains(asciiLF) {
            nstring(value.filter { $0 != asciiCR && $0 != asciiLF })
        } else {
            nstring(value)
        }
    }

    mutating func quoted(_ value: [UInt8]) {
        byte(UInt8(ascii: "\""))
        for b in value {
            switch b {
            case asciiCR, asciiLF: continue
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                byte(UInt8(ascii: "\\")); byte(b)
            default:
                if b >= 0x80 { continue }
                byte(b)
            }
        }
        byte(UInt8(ascii: "\""))
    }

    mutating func literal(_ value: [UInt8]) {
        raw("{\(value.count)}\r\n")
        out.append(contentsOf: value)
    }

    /// Text meant for people (Subject, display names): line breaks dropped, runs of
    /// whitespace collapsed, NUL shown as 0x80; written quoted when untouched,
    /// otherwise as a literal (Dovecot's imap_append_string_for_humans).
    mutating func humanString(_ src: [UInt8]) {
        var removeCount = 0
        var whitespacePrefix = true, lastLWSP = true, modify = false
        for b in src {
            switch b {
            case 0:
                lastLWSP = false; modify = true
            case asciiTAB, asciiSP:
                if b == asciiTAB { modify = true }
                if lastLWSP { modify = true; removeCount += 1 }
                lastLWSP = true
            case asciiCR, asciiLF:
                removeCount += 1; modify = true
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                modify = true; lastLWSP = false
            default:
                if b & 0x80 != 0 { modify = true }
                lastLWSP = false
            }
            if !lastLWSP { whitespacePrefix = false }
        }
        if lastLWSP && !src.isEmpty && !whitespacePrefix { modify = true; removeCount += 1 }
        if !modify {
            byte(UInt8(ascii: "\"")); out.append(contentsOf: src); byte(UInt8(ascii: "\""))
            return
        }
        if src.count == removeCount { raw("\"\""); return }
        var text: [UInt8] = []
        text.reserveCapacity(src.count)
        lastLWSP = true; whitespacePrefix = true
        for b in src {
            switch b {
            case 0:
                text.append(0x80); lastLWSP = false
            case asciiTAB, asciiSP:
                if !lastLWSP { text.append(asciiSP) }
                lastLWSP = true
            case asciiCR, asciiLF:
                break
            default:
                lastLWSP = false; text.append(b)
            }
            if !lastLWSP { whitespacePrefix = false }
        }
        if lastLWSP && !src.isEmpty && !whitespacePrefix, !text.isEmpty { text.removeLast() }
        literal(text)
    }
}
