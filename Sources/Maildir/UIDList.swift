// dovecot-uidlist, version 3 (Dovecot's maildir-uidlist.c):
//   3 V<uidvalidity> N<next-uid> G<mailbox guid hex> [other header fields]
//   <uid> [<ext fields, e.g. W1234 or G…>] :<basename>
// Dovecot appends records without rewriting the header, so the header's N may be stale:
// the next UID is max(N, highest uid + 1). Lines for files that no longer exist are normal
// (Dovecot compacts lazily); a file missing from cur/ and new/ is expunged. Version 1
// (`1 <uidvalidity> <next-uid>`, `<uid> <basename>`) is read too.

public struct UIDListEntry: Equatable, Sendable {
    public var uid: UInt32
    /// Extension fields exactly as written (space separated), kept on rewrite.
    public var extensions: String
    public var basename: String

    public init(uid: UInt32, extensions: String = "", basename: String) {
        self.uid = uid; self.extensions = extensions; self.basename = basename
    }
}

public struct UIDList: Equatable, Sendable {
    public var uidValidity: UInt32
    /// As written in the header; use `nextUID` for the effective value.
    public var headerNextUID: UInt32
    public var guid: String
    /// Header fields other than V, N and G (e.g. Dovecot's "M" modseq hint), kept verbatim.
    public var otherHeaderFields: [String]
    public var entries: [UIDListEntry]

    public init(uidValidity: UInt32, nextUID: UInt32 = 1, guid: String, entries: [UIDListEntry] = []) {
        self.uidValidity = uidValidity; self.headerNextUID = nextUID; self.guid = guid
        self.otherHeaderFields = []; self.entries = entries
    }

    public var nextUID: UInt32 {
        max(headerNextUID, (entries.last.map { $0.uid &+ 1 }) ?? 1, 1)
    }

    public enum ParseError: Error, Equatable, Sendable {
        case badHeader
        case badLine(Int)
    }

    /// Parses a whole file. A final line without "\n" (an interrupted append) is ignored.
    public init(parsing bytes: [UInt8]) throws {
        guard let headerEnd = bytes.firstIndex(of: 10) else { throw ParseError.badHeader }
        let header = bytes[..<headerEnd].split(separator: UInt8(ascii: " "))
        guard let version = header.first, version.count == 1 else { throw ParseError.badHeader }
        uidValidity = 0; headerNextUID = 1; guid = ""; otherHeaderFields = []; entries = []
        let v1 = version.first == UInt8(ascii: "1")
        if v1 {
            guard header.count >= 3, let validity = UIDList.number(header[1]), let next = UIDList.number(header[2]) else {
                throw ParseError.badHeader
            }
            uidValidity = validity; headerNextUID = next
        } else {
            guard version.first == UInt8(ascii: "3") else { throw ParseError.badHeader }
            for field in header.dropFirst() {
                guard let key = field.first else { continue }
                let value = field.dropFirst()
                switch key {
                case UInt8(ascii: "V"): guard let n = UIDList.number(value) else { throw ParseError.badHeader }; uidValidity = n
                case UInt8(ascii: "N"): guard let n = UIDList.number(value) else { throw ParseError.badHeader }; headerNextUID = n
                case UInt8(ascii: "G"): guid = String(decoding: value, as: UTF8.self)
                default: otherHeaderFields.append(String(decoding: field, as: UTF8.self))
                }
            }
        }
        guard uidValidity != 0 else { throw ParseError.badHeader }
        entries = try UIDList.parseRecords(bytes, from: headerEnd + 1, versionOne: v1, firstLine: 2)
    }

    /// Parses record lines starting at `offset` (used for records appended since the last read).
    /// Records must have increasing UIDs.
    static func parseRecords(_ bytes: [UInt8], from offset: Int, versionOne: Bool = false,
                             firstLine: Int = 1, after lastUID: UInt32 = 0) throws -> [UIDListEntry] {
        var entries: [UIDListEntry] = []
        var lineNumber = firstLine
        var start = offset
        var previous = lastUID
        while start < bytes.count {
            guard let end = bytes[start...].firstIndex(of: 10) else { break } // incomplete last line
            defer { start = end + 1; lineNumber += 1 }
            if end == start { continue }
            let line = bytes[start..<end]
            guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                  let uid = number(line[start..<space]), uid > previous else { throw ParseError.badLine(lineNumber) }
            let rest = line[(space + 1)...]
            if versionOne {
                entries.append(UIDListEntry(uid: uid, basename: String(decoding: rest, as: UTF8.self)))
            } else {
                // Fields up to the first one that starts with ":"; the file name is the rest.
                var colon: Int?
                var i = rest.startIndex
                while i < rest.endIndex {
                    if rest[i] == UInt8(ascii: ":") && (i == rest.startIndex || rest[i - 1] == UInt8(ascii: " ")) { colon = i; break }
                    i += 1
                }
                guard let c = colon, c + 1 < rest.endIndex else { throw ParseError.badLine(lineNumber) }
                var ext = rest[rest.startIndex..<c]
                while ext.last == UInt8(ascii: " ") { ext = ext.dropLast() }
                entries.append(UIDListEntry(uid: uid, extensions: String(decoding: ext, as: UTF8.self),
                                            basename: String(decoding: rest[(c + 1)...], as: UTF8.self)))
            }
            previous = uid
        }
        return entries
    }

    static func number<C: Collection>(_ digits: C) -> UInt32? where C.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 10 else { return nil }
        var n: UInt64 = 0
        for d in digits {
            guard d >= 48 && d <= 57 else { return nil }
            n = n * 10 + UInt64(d - 48)
        }
        return n <= UInt64(UInt32.max) ? UInt32(n) : nil
    }

    public var headerLine: String {
        var fields = ["3", "V\(uidValidity)", "N\(nextUID)", "G\(guid)"]
        fields.append(contentsOf: otherHeaderFields)
        return fields.joined(separator: " ") + "\n"
    }

    public static func recordLine(_ e: UIDListEntry) -> String {
        e.extensions.isEmpty ? "\(e.uid) :\(e.basename)\n" : "\(e.uid) \(e.extensions) :\(e.basename)\n"
    }

    /// The whole file in version 3 format (the header's N is the effective next UID).
    public func serialized() -> [UInt8] {
        var out = Array(headerLine.utf8)
        out.reserveCapacity(out.count + entries.count * 56)
        for e in entries { out.append(contentsOf: UIDList.recordLine(e).utf8) }
        return out
    }

    /// A new random 128-bit mailbox GUID in hex, like Dovecot's.
    public static func makeGUID() -> String {
        var g = SystemRandomNumberGenerator()
        var s = ""
        for _ in 0..<16 {
            let b = UInt8.random(in: 0...255, using: &g)
            s += String(b >> 4, radix: 16) + String(b & 0xf, radix: 16)
        }
        return s
    }
}
