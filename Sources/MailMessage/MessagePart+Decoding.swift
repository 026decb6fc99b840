// Decoded views of a part for SEARCH (RFC 3501 §6.4.4 BODY/TEXT/header keys).

extension MessagePart {
    /// The body with its Content-Transfer-Encoding undone (RFC 2045 §6).
    public func decodedBody() -> [UInt8] {
        let raw = bytes[bodyRange]
        guard let te = content.transferEncoding else { return Array(raw) }
        return TransferEncoding.decode(raw, encoding: String(decoding: te, as: UTF8.self))
    }

    /// The body as text: transfer-decoded, then converted from its charset
    /// (unknown or absent charset: UTF-8, else Windows-1252). Nil for non-text parts.
    public func decodedText() -> String? {
        guard isText, !isMultipart else { return nil }
        let body = decodedBody()
        if let cs = content.charset, let s = Charset.decode(body, name: cs) { return s }
        return Charset.decodeUnlabelled(body)
    }
}

extension HeaderBlock {
    /// Value of the first field `name`, unfolded and with RFC 2047 words decoded.
    public func decodedValue(_ name: String) -> String? {
        first(name).map { HeaderDecoder.decodeEncodedWords(unfoldedValue($0)) }
    }
}
