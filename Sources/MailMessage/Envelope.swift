// IMAP ENVELOPE (RFC 3501 §7.4.2) from a message header.
//
// Date, Subject, In-Reply-To and Message-ID take the last field of that name;
// address fields collect every field of that name (Dovecot does both).
// Sender and Reply-To default to From (RFC 3501 §7.4.2).

public struct Envelope: Sendable, Equatable {
    public var date: [UInt8]?
    public var subject: [UInt8]?
    public var from: [MailAddress] = []
    public var sender: [MailAddress] = []
    public var replyTo: [MailAddress] = []
    public var to: [MailAddress] = []
    public var cc: [MailAddress] = []
    public var bcc: [MailAddress] = []
    public var inReplyTo: [UInt8]?
    public var messageID: [UInt8]?

    public init() {}

    public init(header: HeaderBlock) {
        let b = header.bytes
        for f in header.fields {
            let n = f.nameRange
            guard n.count >= 2, n.count <= 11 else { continue }
            func named(_ s: String) -> Bool { b.equalsCaseInsensitive(n, Array(s.utf8)) }
            if named("date") { date = header.fullValue(f) }
            else if named("subject") { subject = header.fullValue(f) }
            else if named("message-id") { messageID = header.fullValue(f) }
            else if named("in-reply-to") { inReplyTo = header.fullValue(f) }
            else if named("from") { from += AddressParser.parse(header.fullValue(f)) }
            else if named("sender") { sender += AddressParser.parse(header.fullValue(f)) }
            else if named("reply-to") { replyTo += AddressParser.parse(header.fullValue(f)) }
            else if named("to") { to += AddressParser.parse(header.fullValue(f)) }
            else if named("cc") { cc += AddressParser.parse(header.fullValue(f)) }
            else if named("bcc") { bcc += AddressParser.parse(header.fullValue(f)) }
        }
    }

    /// The parenthesised ENVELOPE as IMAP wire bytes (may contain literals).
    public var imapBytes: [UInt8] {
        var w = IMAPWriter()
        w.byte(UInt8(ascii: "("))
        write(into: &w)
        w.byte(UInt8(ascii: ")"))
        return w.out
    }

    func write(into w: inout IMAPWriter) {
        w.nstringNoLF(date)
        w.byte(asciiSP)
        if let subject { w.humanString(subject) } else { w.raw("NIL") }
        for list in [from, sender.isEmpty ? from : sender, replyTo.isEmpty ? from : replyTo, to, cc, bcc] {
            w.byte(asciiSP)
            Self.writeAddresses(list, into: &w)
        }
        w.byte(asciiSP)
        w.nstringNoLF(inReplyTo)
        w.byte(asciiSP)
        w.nstringNoLF(messageID)
    }

    static func writeAddresses(_ list: [MailAddress], into w: inout IMAPWriter) {
        guard !list.isEmpty else { w.raw("NIL"); return }
        w.byte(UInt8(ascii: "("))
        for a in list {
            w.byte(UInt8(ascii: "("))
            if let name = a.name { w.humanString(name) } else { w.raw("NIL") }
            w.byte(asciiSP)
            w.nstring(a.route)
            w.byte(asciiSP)
            w.nstring(a.mailbox)
            w.byte(asciiSP)
            w.nstring(a.domain)
            w.byte(UInt8(ascii: ")"))
        }
        w.byte(UInt8(ascii: ")"))
    }
}
