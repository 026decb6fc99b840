// Byte-level helpers shared by the MailMessage parsers.
//
// Everything in this module works on `[UInt8]` and integer ranges into the
// original message; nothing here allocates per byte on the hot path.

#if canImport(Glibc)
import Glibc
#endif

@usableFromInline let asciiCR: UInt8 = 0x0D
@usableFromInline let asciiLF: UInt8 = 0x0A
@usableFromInline let asciiSP: UInt8 = 0x20
@usableFromInline let asciiTAB: UInt8 = 0x09

@inlinable func isLWSP(_ b: UInt8) -> Bool { b == asciiSP || b == asciiTAB }

@inlinable func asciiLower(_ b: UInt8) -> UInt8 {
    (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
}

@inlinable func asciiUpper(_ b: UInt8) -> UInt8 {
    (b >= 0x61 && b <= 0x7A) ? b & ~0x20 : b
}

extension Array where Element == UInt8 {
    /// Case-insensitive (ASCII) comparison of `self[range]` against `other`.
    @inlinable func equalsCaseInsensitive(_ range: Range<Int>, _ other: some Collection<UInt8>) -> Bool {
        guard range.count == other.count else { return false }
        var i = range.lowerBound
        for o in other {
            if asciiLower(self[i]) != asciiLower(o) { return false }
            i += 1
        }
        return true
    }

    /// Index of the next LF at or after `from` (before `end`), or nil.
    @inlinable func indexOfLF(from: Int, end: Int) -> Int? {
        var i = from
        while i < end {
            if self[i] == asciiLF { return i }
            i += 1
        }
        return nil
    }
}

/// ASCII case-insensitive equality for byte sequences.
@inlinable func bytesEqualCaseInsensitive(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return zip(a, b).allSatisfy { asciiLower($0) == asciiLower($1) }
}

/// Size of `bytes[range]` once every bare LF becomes CRLF (RFC 3501 sizes count CRLF).
/// The byte before the range decides whether an LF at its start is bare, as in Dovecot.
func crlfSize(_ bytes: [UInt8], _ range: Range<Int>) -> (size: Int, lines: Int) {
    var lines = 0, missingCR = 0
    var i = range.lowerBound
    while i < range.upperBound {
        if bytes[i] == asciiLF {
            lines += 1
            if i == 0 || bytes[i - 1] != asciiCR { missingCR += 1 }
        }
        i += 1
    }
    return (range.count + missingCR, lines)
}

/// Copy of `bytes[range]` with every bare LF turned into CRLF. An LF at the start of the
/// range counts as bare. Works line by line with memchr, so a message that is already CRLF
/// (the usual case) costs one scan and one copy.
func crlfNormalized(_ bytes: [UInt8], _ range: Range<Int>) -> [UInt8] {
    bytes.withUnsafeBufferPointer { buf -> [UInt8] in
        guard let base = buf.baseAddress, !range.isEmpty else { return [] }
        var bareLFs: [Int] = []
        var i = range.lowerBound
        while i < range.upperBound, let hit = memchr(base + i, Int32(asciiLF), range.upperBound - i) {
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if at == range.lowerBound || base[at - 1] != asciiCR { bareLFs.append(at) }
            i = at + 1
        }
        guard !bareLFs.isEmpty else { return Array(buf[range]) }
        var out: [UInt8] = []
        out.reserveCapacity(range.count + bareLFs.count)
        var from = range.lowerBound
        for lf in bareLFs {
            out.append(contentsOf: buf[from..<lf])
            out.append(asciiCR)
            from = lf
        }
        out.append(contentsOf: buf[from..<range.upperBound])
        return out
    }
}
