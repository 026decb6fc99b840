// dovecot-keywords: "<index> <name>" per line; index i is the file-name letter "a"+i, so a
// folder has at most 26 keywords on disk. Updated like Dovecot: under dovecot-keywords.lock,
// whose content then replaces the file. Indexes, once given, never change meaning.

public struct KeywordTable: Equatable, Sendable {
    /// names[i] is the keyword for letter "a"+i; nil for an unused index.
    public var names: [String?]

    public static let maximumCount = 26

    public init(names: [String?] = []) { self.names = names }

    public init(parsing bytes: [UInt8]) {
        names = []
        for line in bytes.split(separator: 10) {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                  let index = UIDList.number(line[line.startIndex..<space]), index < 26 else { continue }
            let name = String(decoding: line[(space + 1)...], as: UTF8.self)
            guard !name.isEmpty else { continue }
            while names.count <= Int(index) { names.append(nil) }
            names[Int(index)] = name
        }
    }

    public func serialized() -> [UInt8] {
        var out = ""
        for (i, name) in names.enumerated() { if let name { out += "\(i) \(name)\n" } }
        return Array(out.utf8)
    }

    /// Index of a keyword; IMAP keywords compare case-insensitively (RFC 3501 §2.3.2 treats
    /// flags as case-insensitive; Dovecot matches them case-insensitively too).
    public func index(of keyword: String) -> Int? {
        let lower = keyword.lowercased()
        return names.firstIndex { $0?.lowercased() == lower }
    }

    public func keywords(in mask: UInt32) -> [String] {
        var out: [String] = []
        var m = mask
        while m != 0 {
            let i = m.trailingZeroBitCount
            if i < names.count, let name = names[i] { out.append(name) }
            m &= m - 1
        }
        return out
    }

    /// Mask bits whose letter has no name in the table.
    public func unknownBits(in mask: UInt32) -> UInt32 {
        var known: UInt32 = 0
        for (i, n) in names.enumerated() where n != nil { known |= 1 << UInt32(i) }
        return mask & ~known
    }
}

enum KeywordsFile {
    static func load(_ path: String) throws -> KeywordTable {
        guard try FileSystem.lstatPath(path) != nil else { return KeywordTable() }
        return KeywordTable(parsing: try FileSystem.read(path))
    }

    /// Adds keywords (under the file's dotlock) and returns the table as now on disk.
    /// Keywords past the 26th cannot be stored and are left out (as Dovecot does).
    static func add(_ keywords: [String], at path: String) throws -> KeywordTable {
        let lock = try DotLock.acquire(path, timeout: 30, staleAfter: 30)
        var table: KeywordTable
        do { table = try load(path) } catch { lock.release(); throw error }
        var changed = false
        for k in keywords where table.index(of: k) == nil {
            if let free = table.names.firstIndex(where: { $0 == nil }) {
                table.names[free] = k; changed = true
            } else if table.names.count < KeywordTable.maximumCount {
                table.names.append(k); changed = true
            }
        }
        guard changed else { lock.release(); return table }
        do { try lock.replace(path, with: table.serialized()) } catch { lock.release(); throw error }
        return table
    }
}
