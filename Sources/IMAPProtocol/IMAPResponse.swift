// Responses from server to client, encoded to bytes (RFC 3501 §7, formal syntax §9).
//
// The encoder never lets client-controlled text break a response line: status text has CR
// and LF replaced by spaces, and strings go out quoted only when every byte is safe,
// otherwise as a literal `{n}\r\n...`.

public enum IMAPStatus: String, Sendable, Hashable {
    case ok = "OK"
    case no = "NO"
    case bad = "BAD"
    case preauth = "PREAUTH"
    case bye = "BYE"
}

public enum IMAPResponse: Sendable, Hashable {
    /// `tag OK [CODE] text`.
    case tagged(tag: String, status: IMAPStatus, code: String?, text: String)
    /// `* OK [CODE] text`, also `* BYE`, `* PREAUTH`, `* BAD`.
    case untaggedStatus(status: IMAPStatus, code: String?, text: String)
    /// `* payload` where the payload is already encoded (it may hold literals).
    case untagged([UInt8])
    /// `+ text`.
    case continuation(String)

    /// `* payload` from text the server wrote itself (e.g. `3 EXISTS`).
    public static func untagged(_ payload: String) -> IMAPResponse { .untagged(Array(payload.utf8)) }

    /// The BAD answer to a rejected command: tagged when the tag is known, else `* BAD`.
    public static func bad(tag: String?, text: String) -> IMAPResponse {
        guard let tag else { return .untaggedStatus(status: .bad, code: nil, text: text) }
        return .tagged(tag: tag, status: .bad, code: nil, text: text)
    }

    /// The response with its CRLF.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .tagged(let tag, let status, let code, let text):
            out.append(contentsOf: IMAPEncoder.lineSafe(tag).utf8)
            out.append(ASCII.space)
            Self.appendStatus(status, code: code, text: text, to: &out)
        case .untaggedStatus(let status, let code, let text):
            out.append(contentsOf: "* ".utf8)
            Self.appendStatus(status, code: code, text: text, to: &out)
        case .untagged(let payload):
            out.append(contentsOf: "* ".utf8)
            out.append(contentsOf: payload)
        case .continuation(let text):
            out.append(contentsOf: "+ ".utf8)
            out.append(contentsOf: IMAPEncoder.lineSafe(text).utf8)
        }
        out.append(contentsOf: [ASCII.cr, ASCII.lf])
        return out
    }

    private static func appendStatus(_ status: IMAPStatus, code: String?, text: String, to out: inout [UInt8]) {
        out.append(contentsOf: status.rawValue.utf8)
        if let code {
            out.append(contentsOf: " [".utf8)
            out.append(contentsOf: IMAPEncoder.lineSafe(code).utf8)
            out.append(ASCII.rbracket)
        }
        if !text.isEmpty {
            out.append(ASCII.space)
            out.append(contentsOf: IMAPEncoder.lineSafe(text).utf8)
        }
    }
}

public enum IMAPEncoder {
    /// Strings longer than this go out as literals even when they could be quoted.
    public static let maxQuotedLength = 1024

    /// An astring: a bare atom when every byte is an ASTRING-CHAR (and it is not `NIL`),
    /// else quoted or literal.
    public static func astring(_ bytes: some Collection<UInt8>, allowUTF8: Bool = false) -> [UInt8] {
        if !bytes.isEmpty, bytes.count <= maxQuotedLength, bytes.allSatisfy(\.isIMAPAStringChar),
           !bytes.equalsCaseInsensitive("NIL") {
            return Array(bytes)
        }
        return string(bytes, allowUTF8: allowUTF8)
    }

    public static func astring(_ text: String, allowUTF8: Bool = false) -> [UInt8] {
        astring(text.utf8, allowUTF8: allowUTF8)
    }

    /// An nstring: `NIL` for nil, else quoted when safe, literal otherwise.
    public static func quotedOrLiteral(_ bytes: [UInt8]?, allowUTF8: Bool = false) -> [UInt8] {
        guard let bytes else { return Array("NIL".utf8) }
        return string(bytes, allowUTF8: allowUTF8)
    }

    public static func quotedOrLiteral(_ text: String?, allowUTF8: Bool = false) -> [UInt8] {
        quotedOrLiteral(text.map { Array($0.utf8) }, allowUTF8: allowUTF8)
    }

    /// A string: quoted when every byte is a 7-bit TEXT-CHAR (or, with `allowUTF8` under
    /// RFC 6855 UTF8=ACCEPT, valid UTF-8) and it is short; a literal otherwise.
    public static func string(_ bytes: some Collection<UInt8>, allowUTF8: Bool = false) -> [UInt8] {
        let quotable = bytes.count <= maxQuotedLength
            && bytes.allSatisfy { $0 != ASCII.cr && $0 != ASCII.lf && $0 != ASCII.nul && ($0 < 0x80 || allowUTF8) }
            && (!allowUTF8 || String(validating: Array(bytes), as: UTF8.self) != nil)
        return quotable ? quoted(bytes) : literal(bytes)
    }

    /// `"..."` escaping `"` and `\`. The caller guarantees no CR, LF or NUL.
    public static func quoted(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = [ASCII.quote]
        out.reserveCapacity(bytes.count + 2)
        for byte in bytes {
            if byte == ASCII.quote || byte == ASCII.backslash { out.append(ASCII.backslash) }
            out.append(byte)
        }
        out.append(ASCII.quote)
        return out
    }

    /// `{n}\r\n` followed by the bytes.
    public static func literal(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out = Array("{\(bytes.count)}\r\n".utf8)
        out.append(contentsOf: bytes)
        return out
    }

    /// Text with CR and LF replaced by spaces, so it cannot end a response line early.
    static func lineSafe(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == ASCII.cr || $0 == ASCII.lf }) else { return text }
        return String(decoding: text.utf8.map { $0 == ASCII.cr || $0 == ASCII.lf ? ASCII.space : $0 }, as: UTF8.self)
    }
}
