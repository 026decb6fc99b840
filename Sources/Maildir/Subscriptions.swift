// `subscriptions` in the mail root. Dovecot 2.3 writes version 2: a "V\t2" line, an empty
// line, then one name per line with the hierarchy separator written as TAB and each level in
// modified UTF-7 ("Archive\t2023"). Version 1 files (no header, one name per line, "/" or "."
// separated) are read too. Replaced under subscriptions.lock like Dovecot.

enum SubscriptionsFile {
    /// Unicode names with "/" as separator, in file order.
    static func parse(_ bytes: [UInt8]) -> [String] {
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
        var separator: UInt8 = UInt8(ascii: "/")
        if let first = lines.first, first == Array("V\t2".utf8) {
            lines.removeFirst()
            separator = 9
        }
        var names: [String] = []
        for line in lines where !line.isEmpty {
            let levels = line.split(separator: separator, omittingEmptySubsequences: false)
            let decoded = levels.map { ModifiedUTF7.decode(String(decoding: $0, as: UTF8.self)) ?? String(decoding: $0, as: UTF8.self) }
            let name = decoded.joined(separator: "/")
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    static func serialize(_ names: [String]) -> [UInt8] {
        var out = "V\t2\n\n"
        for name in names {
            out += name.split(separator: "/", omittingEmptySubsequences: false)
                .map { ModifiedUTF7.encode(String($0)) }.joined(separator: "\t") + "\n"
        }
        return Array(out.utf8)
    }

    static func load(_ path: String) throws -> [String] {
        guard try FileSystem.lstatPath(path) != nil else { return [] }
        return parse(try FileSystem.read(path))
    }

    static func update(_ path: String, _ change: (inout [String]) -> Void) throws {
        let lock = try DotLock.acquire(path, timeout: 30, staleAfter: 30)
        do {
            var names = try load(path)
            change(&names)
            try lock.replace(path, with: serialize(names))
        } catch {
            lock.release(); throw error
        }
    }
}
