// Multi-byte charsets Swift's Foundation converts on Linux: ISO-2022-JP (RFC 1468),
// Shift_JIS, UTF-16 and UTF-32. Kept apart so the rest of the module needs no Foundation.

import Foundation

extension Charset {
    static func foundationEncoding(_ canonicalName: String) -> String.Encoding? {
        switch canonicalName {
        case "iso-2022-jp": return .iso2022JP
        case "shift_jis": return .shiftJIS
        case "utf-16": return .utf16
        case "utf-16be": return .utf16BigEndian
        case "utf-16le": return .utf16LittleEndian
        case "utf-32": return .utf32
        case "utf-32be": return .utf32BigEndian
        case "utf-32le": return .utf32LittleEndian
        default: return nil
        }
    }

    static func foundationEncodingSupported(_ canonicalName: String) -> Bool {
        foundationEncoding(canonicalName) != nil
    }

    static func decodeWithFoundation(_ bytes: [UInt8], canonicalName: String) -> String? {
        guard let enc = foundationEncoding(canonicalName) else { return nil }
        return String(data: Data(bytes), encoding: enc)
    }
}
