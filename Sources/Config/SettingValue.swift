// Parsing of setting values by type, with Dovecot 2.3's units. Each function returns nil for
// a malformed value; `ConfigValidator` turns that into a `FILE:LINE:` error.

import Foundation

public enum SettingValue {
    /// Dovecot booleans are `yes` and `no` (any case).
    public static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "yes": true
        case "no": false
        default: nil
        }
    }

    public static func number(_ text: String) -> Int? {
        guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return nil }
        return Int(text)
    }

    public static func octal(_ text: String) -> UInt32? {
        guard !text.isEmpty, text.allSatisfy({ ("0"..."7").contains($0) }) else { return nil }
        return UInt32(text, radix: 8)
    }

    /// Words separated by spaces or commas: `*, ::` → ["*", "::"].
    public static func list(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
    }

    /// Bytes: `1024`, `10M`, `256 M`, `1 GB`, `4k`.
    public static func size(_ text: String) -> UInt64? {
        guard let (value, unit) = splitUnit(text) else { return nil }
        let multiplier: UInt64
        switch unit.lowercased() {
        case "", "b": multiplier = 1
        case "k", "kb": multiplier = 1 << 10
        case "m", "mb": multiplier = 1 << 20
        case "g", "gb": multiplier = 1 << 30
        case "t", "tb": multiplier = 1 << 40
        default: return nil
        }
        let (result, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : result
    }

    /// Seconds: `2`, `2 secs`, `1 min`, `500 ms`, `1h`, `1 week`.
    public static func seconds(_ text: String) -> Double? {
        guard let (value, unit) = splitUnit(text) else { return nil }
        let factor: Double
        switch unit.lowercased() {
        case "ms", "msec", "msecs", "millisecond", "milliseconds": factor = 0.001
        case "", "s", "sec", "secs", "second", "seconds": factor = 1
        case "m", "min", "mins", "minute", "minutes": factor = 60
        case "h", "hour", "hours": factor = 3600
        case "d", "day", "days": factor = 86400
        case "w", "week", "weeks": factor = 7 * 86400
        default: return nil
        }
        return Double(value) * factor
    }

    private static func splitUnit(_ text: String) -> (UInt64, String)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = UInt64(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        return (value, unit)
    }
}
