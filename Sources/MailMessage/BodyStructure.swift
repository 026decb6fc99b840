// IMAP BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, §9 "body") from a MessagePart tree.
//
// Field order, NIL placement, the default ("charset" "us-ascii") for text
// parts and the empty text/plain stand-in for a multipart without parts follow
// Dovecot's imap-bodystructure.c; type, subtype and parameter names keep the
// case written in the message, as Dovecot does.

extension MessagePart {
    /// BODY (extended: false) or BODYSTRUCTURE (extended: true), parenthesised, as wire bytes.
    public func bodyStructure(extended: Bool) -> [UInt8] {
        var w = IMAPWriter()
        w.byte(UInt8(ascii: "("))
        writeStructure(into: &w, extended: extended)
        w.byte(UInt8(ascii: ")"))
        return w.out
    }

    func writeStructure(into w: inout IMAPWriter, extended: Bool) {
        if isMultipart { writeMultipart(into: &w, extended: extended) } else { writeSingle(into: &w, extended: extended) }
    }

    private static func writeParams(_ params: [MIMEParameter], defaultCharset: Bool, into w: inout IMAPWriter) {
        if !defaultCharset && params.isEmpty { w.raw("NIL"); return }
        w.byte(UInt8(ascii: "("))
        var seenCharset = false
        for (i, p) in params.enumerated() {
            if i > 0 { w.byte(asciiSP) }
            if defaultCharset, bytesEqualCaseInsensitive(p.name, Array("charset".utf8)) { seenCharset = true }
            w.string(p.name)
            w.byte(asciiSP)
            w.string(p.value)
        }
        if defaultCharset && !seenCharset {
            if !params.isEmpty { w.byte(asciiSP) }
            w.raw("\"charset\" \"us-ascii\"")
        }
        w.byte(UInt8(ascii: ")"))
    }

    private func writeCommonExtension(into w: inout IMAPWriter) {
        w.byte(asciiSP)
        if let d = content.disposition {
            w.byte(UInt8(ascii: "("))
            w.string(d)
            w.byte(asciiSP)
            Self.writeParams(content.dispositionParameters, defaultCharset: false, into: &w)
            w.byte(UInt8(ascii: ")"))
        } else {
            w.raw("NIL")
        }
        w.byte(asciiSP)
        if let langs = content.language, !langs.isEmpty {
            w.byte(UInt8(ascii: "("))
            for (i, l) in langs.enumerated() {
                if i > 0 { w.byte(asciiSP) }
                w.string(l)
            }
            w.byte(UInt8(ascii: ")"))
        } else {
            w.raw("NIL")
        }
        w.byte(asciiSP)
        w.nstringNoLF(content.location)
    }

    private func writeMultipart(into w: inout IMAPWriter, extended: Bool) {
        let parts = children
        if parts.isEmpty {
            // RFC 2046 requires at least one part; stand in an empty text/plain.
            w.raw("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0")
            w.raw(extended ? " NIL NIL NIL NIL)" : ")")
        }
        for p in parts {
            w.byte(UInt8(ascii: "("))
            p.writeStructure(into: &w, extended: extended)
            w.byte(UInt8(ascii: ")"))
        }
        w.byte(asciiSP)
        w.string(content.subtype ?? [])
        guard extended else { return }
        w.byte(asciiSP)
        Self.writeParams(content.typeParameters, defaultCharset: false, into: &w)
        writeCommonExtension(into: &w)
    }

    private func writeSingle(into w: inout IMAPWriter, extended: Bool) {
        let text: Bool
        if case .message = kind {
            w.raw("\"message\" \"rfc822\"")
            text = false
        } else if let type = content.type {
            text = bytesEqualCaseInsensitive(type, Array("text".utf8))
            w.string(type)
            w.byte(asciiSP)
            w.string(content.subtype ?? [])
        } else {
            w.raw("\"text\" \"plain\"")
            text = true
        }
        w.byte(asciiSP)
        Self.writeParams(content.typeParameters, defaultCharset: text, into: &w)
        w.byte(asciiSP)
        w.nstringNoLF(content.id)
        w.byte(asciiSP)
        w.nstringNoLF(content.description)
        w.byte(asciiSP)
        if let te = content.transferEncoding { w.string(te) } else { w.raw("\"7bit\"") }
        w.raw(" \(bodySize)")
        if text {
            w.raw(" \(bodyLines)")
        } else if case .message(let inner) = kind {
            w.raw(" (")
            Envelope(header: inner.header).write(into: &w)
            w.raw(") (")
            inner.writeStructure(into: &w, extended: extended)
            w.raw(") \(bodyLines)")
        }
        guard extended else { return }
        w.byte(asciiSP)
        w.nstringNoLF(content.md5)
        writeCommonExtension(into: &w)
    }
}
