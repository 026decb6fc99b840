// Maildir file names: `<base>[:2,<info>]`, where base is `<secs>.M<usecs>P<pid>.<host>` plus
// Dovecot's `,S=<size>,W=<crlf-size>` fields, and info is the sorted system-flag letters
// (D F P R S T) followed by keyword letters a–z (index into dovecot-keywords).

/// IMAP system flags that Maildir stores in file names (\Recent is session state, not here).
public struct MessageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let draft = MessageFlags(rawValue: 1 << 0)     // D
    public static let flagged = MessageFlags(rawValue: 1 << 1)   // F
    public static let answered = MessageFlags(rawValue: 1 << 2)  // R ("replied")
    public static let seen = MessageFlags(rawValue: 1 << 3)      // S
    public static let deleted = MessageFlags(rawValue: 1 << 4)   // T ("trashed")

    /// IMAP spelling, in Dovecot's order.
    public var imapNames: [String] {
        var out: [String] = []
        if contains(.answered) { out.append("\\Answered") }
        if contains(.flagged) { out.append("\\Flagged") }
        if contains(.deleted) { out.append("\\Deleted") }
        if contains(.seen) { out.append("\\Seen") }
        if contains(.draft) { out.append("\\Draft") }
        return out
    }

    public init?(imapName: String) {
        switch imapName.lowercased() {
        case "\\answered": self = .answered
        case "\\flagged": self = .flagged
        case "\\deleted": self = .deleted
        case "\\seen": self = .seen
        case "\\draft": self = .draft
        default: return nil
        }
    }
}

/// The parsed parts of one message file name.
public struct MaildirFileName: Equatable, Sendable {
    /// Name without the `:2,…` info part; what dovecot-uidlist records.
    public var basename: String
    public var flags: MessageFlags
    /// Keyword letters as indexes 0…25 (bit i = letter "a"+i).
    public var keywordMask: UInt32
    /// Info letters Roost does not interpret (e.g. P "passed"); kept on rename.
    public var otherLetters: [UInt8]
    /// `S=` from the base name: the file's size in bytes.
    public var size: Int64?
    /// `W=` from the base name: the size with every line ending as CRLF (RFC822.SIZE).
    public var virtualSize: Int64?

    public init(basename: String, flags: MessageFlags = [], keywordMask: UInt32 = 0, otherLetters: [UInt8] = []) {
        self.basename = basename
        self.flags = flags
        self.keywordMask = keywordMask
        self.otherLetters = otherLetters
        (size, virtualSize) = MaildirFileName.sizes(in: Array(basename.utf8))
    }

    /// Parses a file name found in cur/ or new/.
    public init(parsing name: String) {
        let bytes = Array(name.utf8)
        var colon = bytes.count
        if let i = bytes.lastIndex(of: UInt8(ascii: ":")) { colon = i }
        self.init(basename: String(decoding: bytes[..<colon], as: UTF8.self))
        // Only the ":2," info version carries flags (":1," is experimental semantics).
        guard colon + 3 <= bytes.count, bytes[colon + 1] == UInt8(ascii: "2"), bytes[colon + 2] == UInt8(ascii: ",") else {
            return
        }
        for c in bytes[(colon + 3)...] where !MaildirFileName.apply(infoLetter: c, to: &flags, keywords: &keywordMask) {
            if !otherLetters.contains(c) { otherLetters.append(c) }
        }
    }

    /// One letter of the `:2,` info: a system flag or a keyword (a-z). False for any other letter.
    static func apply(infoLetter c: UInt8, to flags: inout MessageFlags, keywords: inout UInt32) -> Bool {
        switch c {
        case UInt8(ascii: "D"): flags.insert(.draft)
        case UInt8(ascii: "F"): flags.insert(.flagged)
        case UInt8(ascii: "R"): flags.insert(.answered)
        case UInt8(ascii: "S"): flags.insert(.seen)
        case UInt8(ascii: "T"): flags.insert(.deleted)
        case UInt8(ascii: "a")...UInt8(ascii: "z"): keywords |= 1 << UInt32(c - UInt8(ascii: "a"))
        default: return false
        }
        return true
    }

    /// The `:2,<info>` suffix: system letters and unknown letters sorted (ASCII), then keywords.
    public var infoSuffix: String {
        var letters: [UInt8] = otherLetters
        if flags.contains(.draft) { letters.append(UInt8(ascii: "D")) }
        if flags.contains(.flagged) { letters.append(UInt8(ascii: "F")) }
        if flags.contains(.answered) { letters.append(UInt8(ascii: "R")) }
        if flags.contains(.seen) { letters.append(UInt8(ascii: "S")) }
        if flags.contains(.deleted) { letters.append(UInt8(ascii: "T")) }
        letters.sort()
        for i in 0..<26 where keywordMask & (1 << UInt32(i)) != 0 { letters.append(UInt8(ascii: "a") + UInt8(i)) }
        return ":2," + String(decoding: letters, as: UTF8.self)
    }

    /// The file name for cur/.
    public var curName: String { basename + infoSuffix }

    /// Extracts `,S=` and `,W=` values from a base name.
    static func sizes<C: RandomAccessCollection>(in bytes: C) -> (Int64?, Int64?) where C.Element == UInt8, C.Index == Int {
        var size: Int64?, vsize: Int64?
        var i = 0
        while i + 2 < bytes.count {
            if bytes[i] == UInt8(ascii: ","), bytes[i + 2] == UInt8(ascii: "="),
               bytes[i + 1] == UInt8(ascii: "S") || bytes[i + 1] == UInt8(ascii: "W") {
                var j = i + 3
                var value: Int64 = 0
                var digits = 0
                while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57, digits < 18 {
                    value = value * 10 + Int64(bytes[j] - 48); j += 1; digits += 1
                }
                if digits > 0 && (j == bytes.count || bytes[j] == UInt8(ascii: ",")) {
                    if bytes[i + 1] == UInt8(ascii: "S") { size = value } else { vsize = value }
                }
                i = j
            } else {
                i += 1
            }
        }
        return (size, vsize)
    }
}

/// Size of a message with every bare LF counted as CRLF (Dovecot's W=, IMAP RFC822.SIZE).
public func crlfSize<C: Collection>(of bytes: C) -> Int64 where C.Element == UInt8 {
    var count = Int64(0)
    var previous: UInt8 = 0
    for b in bytes {
        if b == 10 && previous != 13 { count += 1 }
        count += 1
        previous = b
    }
    return count
}

/// What a folder scan needs from a file name, read in one pass over its UTF-8 bytes without
/// allocating (a cold open of a big folder does this once per file).
struct FileNameFacts {
    /// Bytes before the last ":" (the whole name when there is none).
    var basenameLength = 0
    var flags: MessageFlags = []
    var keywordMask: UInt32 = 0
    var size: Int64?
    var virtualSize: Int64?

    init(_ name: String) {
        if let facts = name.utf8.withContiguousStorageIfAvailable({ FileNameFacts(bytes: $0) }) {
            self = facts
        } else {
            self = Array(name.utf8).withUnsafeBufferPointer { FileNameFacts(bytes: $0) }
        }
    }

    init(bytes: UnsafeBufferPointer<UInt8>) {
        var colon = bytes.count
        var i = bytes.count - 1
        while i >= 0 {
            if bytes[i] == UInt8(ascii: ":") { colon = i; break }
            i -= 1
        }
        basenameLength = colon
        (size, virtualSize) = MaildirFileName.sizes(in: UnsafeBufferPointer(rebasing: bytes[..<colon]))
        // Same letters as MaildirFileName(parsing:); only ":2," carries flags.
        guard colon + 3 <= bytes.count, bytes[colon + 1] == UInt8(ascii: "2"), bytes[colon + 2] == UInt8(ascii: ",") else {
            return
        }
        for c in bytes[(colon + 3)...] {
            _ = MaildirFileName.apply(infoLetter: c, to: &flags, keywords: &keywordMask)
        }
    }

    /// The base name of `name` (which these facts were read from).
    func basename(of name: String) -> String {
        if basenameLength == name.utf8.count { return name }
        return String(decoding: name.utf8.prefix(basenameLength), as: UTF8.self)
    }
}
