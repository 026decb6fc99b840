// The MIME tree of a message (RFC 2045/2046), as ranges into the original bytes.
//
// A part is its header, its body range, what kind of part it is, and the
// Content-* data IMAP needs. Sizes are "virtual": counted as if every bare LF
// were CRLF, which is how IMAP (RFC 3501 §7.4.2) and Dovecot report them.

public struct MessagePart: Sendable {
    public indirect enum Kind: Sendable {
        /// A leaf: text, application, image, … (also a multipart without boundary).
        case single
        /// multipart/*: the parts between the boundaries (possibly none).
        case multipart([MessagePart])
        /// message/rfc822: the embedded message (its own header and body).
        case message(MessagePart)
    }

    public let header: HeaderBlock
    public let bodyRange: Range<Int>
    public let kind: Kind
    public let content: ContentInfo
    /// Content-Type said text/* (or said nothing): BODYSTRUCTURE carries a line count.
    public let isText: Bool
    /// Content-Type said multipart/* (even when no boundary made children).
    public let isMultipart: Bool
    /// The part had MIME-Version or Content-Type, or sits in a multipart.
    public let isMIME: Bool
    public let headerSize: Int
    public let bodySize: Int
    public let bodyLines: Int

    public var bytes: [UInt8] { header.bytes }
    public var isMessageRFC822: Bool { if case .message = kind { return true } else { return false } }
    public var children: [MessagePart] {
        switch kind {
        case .single: return []
        case .multipart(let parts): return parts
        case .message(let m): return [m]
        }
    }
    /// The whole part: header then body.
    public var range: Range<Int> { header.range.lowerBound..<max(bodyRange.upperBound, header.range.upperBound) }
    public var totalSize: Int { headerSize + bodySize }
}

/// Content-* header data of one part (RFC 2045, 2183, 3282, 2557, 1864),
/// kept as the bytes written so IMAP answers can echo them.
public struct ContentInfo: Sendable, Equatable {
    public var type: [UInt8]?
    public var subtype: [UInt8]?
    public var typeParameters: [MIMEParameter] = []
    public var transferEncoding: [UInt8]?
    public var id: [UInt8]?
    public var description: [UInt8]?
    public var md5: [UInt8]?
    public var disposition: [UInt8]?
    public var dispositionParameters: [MIMEParameter] = []
    public var language: [[UInt8]]?
    public var location: [UInt8]?

    public init() {}

    public func parameter(_ name: String) -> [UInt8]? {
        let n = Array(name.utf8)
        return typeParameters.first { bytesEqualCaseInsensitive($0.name, n) }?.value
    }

    public var charset: String? { parameter("charset").map { String(decoding: $0, as: UTF8.self) } }

    /// Lowercased "type/subtype"; text/plain when absent (RFC 2045 §5.2).
    public var mimeType: String {
        guard let type else { return "text/plain" }
        let t = String(decoding: type, as: UTF8.self).lowercased()
        let s = String(decoding: subtype ?? [], as: UTF8.self).lowercased()
        return t + "/" + s
    }

    /// Parses the Content-* fields of `header` the way Dovecot's message-part-data does:
    /// first occurrence wins, broken values keep what could be read.
    init(header: HeaderBlock) {
        let bytes = header.bytes
        let prefix = Array("content-".utf8)
        for field in header.fields {
            let nr = field.nameRange
            guard nr.count > prefix.count,
                  bytes.equalsCaseInsensitive(nr.lowerBound..<nr.lowerBound + prefix.count, prefix),
                  field.valueRange != nil else { continue }
            let rest = (nr.lowerBound + prefix.count)..<nr.upperBound
            func named(_ s: String) -> Bool { bytes.equalsCaseInsensitive(rest, Array(s.utf8)) }
            if named("type") {
                guard type == nil else { continue }
                var lx = RFC822Lexer(header.fullValue(field))
                let ct = lx.parseContentType()
                type = ct.type
                subtype = ct.subtype
                if ct.ok { typeParameters = lx.parseParameters() }
            } else if named("transfer-encoding") {
                guard transferEncoding == nil else { continue }
                var lx = RFC822Lexer(header.fullValue(field))
                lx.skipCFWS()
                var tok: [UInt8] = []
                if lx.parseMIMEToken(into: &tok) >= 0, lx.atEnd, !tok.isEmpty { transferEncoding = tok }
            } else if named("id") {
                if id == nil { id = header.fullValue(field) }
            } else if named("md5") {
                if md5 == nil { md5 = header.fullValue(field) }
            } else if named("description") {
                if description == nil { description = header.fullValue(field) }
            } else if named("location") {
                if location == nil { location = header.fullValue(field) }
            } else if named("disposition") {
                guard dispositionParameters.isEmpty else { continue }
                var lx = RFC822Lexer(header.fullValue(field))
                lx.skipCFWS()
                var tok: [UInt8] = []
                guard lx.parseMIMEToken(into: &tok) >= 0 else { continue }
                disposition = tok
                dispositionParameters = lx.parseParameters()
            } else if named("language") {
                guard language == nil else { continue }
                var lx = RFC822Lexer(header.fullValue(field))
                lx.skipCFWS()
                var langs: [[UInt8]] = []
                while true {
                    var atom: [UInt8] = []
                    if lx.parseAtom(into: &atom) < 0 { break }
                    langs.append(atom)
                    guard lx.current == UInt8(ascii: ",") else { break }
                    lx.pos += 1
                    lx.skipCFWS()
                }
                if !langs.isEmpty { language = langs }
            }
        }
    }
}
