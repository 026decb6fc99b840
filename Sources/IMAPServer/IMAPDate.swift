// IMAP date and date-time (RFC 3501 §9: "date", "date-time") and the day of an RFC 5322
// Date: header for SENTBEFORE/SENTON/SENTSINCE. Days are counted from 1970-01-01; internal
// dates are shown and compared in UTC.
import Foundation

enum IMAPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `dd-Mon-yyyy hh:mm:ss +zzzz` (day may be space-padded).
    static func parseDateTime(_ text: String) -> Date? {
        let trimmed = text.hasPrefix(" ") ? String(text.dropFirst()) : text
        let parts = trimmed.split(separator: " ")
        guard parts.count == 3, let day = parseDate(String(parts[0])) else { return nil }
        let time = parts[1].split(separator: ":").compactMap { Int($0) }
        let zone = parts[2]
        guard time.count == 3, time[0] < 24, time[1] < 60, time[2] < 61, zone.count == 5,
              let sign = zone.first, sign == "+" || sign == "-", let hhmm = Int(zone.dropFirst()) else { return nil }
        let offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (sign == "-" ? -1 : 1)
        let seconds = day * 86400 + time[0] * 3600 + time[1] * 60 + time[2] - offset
        return Date(timeIntervalSince1970: Double(seconds))
    }

    /// `d-Mon-yyyy` → days since the epoch.
    static func parseDate(_ text: String) -> Int? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let d = Int(parts[0]), let y = Int(parts[2]), parts[2].count == 4,
              let m = months.firstIndex(where: { $0.lowercased() == parts[1].lowercased() }),
              d >= 1, d <= 31 else { return nil }
        return days(year: y, month: m + 1, day: d)
    }

    /// Days from 1970-01-01 (proleptic Gregorian).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func day(of date: Date) -> Int { Int((date.timeIntervalSince1970 / 86400).rounded(.down)) }

    /// `"17-Jul-1996 02:44:25 +0000"` (INTERNALDATE, RFC 3501 §7.4.2).
    static func format(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let dayNumber = Int((Double(seconds) / 86400).rounded(.down))
        let rest = seconds - dayNumber * 86400
        let (y, m, d) = civil(dayNumber)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\"\(two(d))-\(months[m - 1])-\(y) \(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60)) +0000\""
    }

    static func civil(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The calendar day of an RFC 5322 date ("Tue, 1 Jul 2003 10:52:37 +0200"), time and zone
    /// disregarded (RFC 3501 §6.4.4 SENTBEFORE).
    static func parseHeaderDay(_ text: String) -> Int? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
        if let first = words.first, Int(first) == nil { words.removeFirst() }
        guard words.count >= 3, let d = Int(words[0]),
              let m = months.firstIndex(where: { $0.lowercased() == words[1].prefix(3).lowercased() }),
              var y = Int(words[2]) else { return nil }
        if y < 50 { y += 2000 } else if y < 1000 { y += 1900 }
        return days(year: y, month: m + 1, day: d)
    }

    /// Seconds since the epoch (UTC) of an RFC 5322 date ("Tue, 1 Jul 2003 10:52:37 +0200"),
    /// for SORT DATE. A missing or unknown zone counts as UTC (RFC 5322 §4.3: "-0000").
    static func parseHeaderTimestamp(_ text: String) -> Int64? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
        if let first = words.first, Int(first) == nil { words.removeFirst() }
        guard words.count >= 4, let day = parseHeaderDay(words[0..<3].joined(separator: " ")) else { return nil }
        let time = words[3].split(separator: ":").map { Int($0) }
        guard time.count == 2 || time.count == 3, let h = time[0], let m = time[1], h < 24, m < 60,
              let sec = time.count == 3 ? time[2] : 0, sec < 61 else { return nil }
        var offset = 0
        if words.count > 4 {
            let zone = words[4]
            if zone.count == 5, let sign = zone.first, sign == "+" || sign == "-", let hhmm = Int(zone.dropFirst()) {
                offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (sign == "-" ? -1 : 1)
            } else if let hours = obsoleteZones[zone.uppercased()] {
                offset = hours * 3600
            }
        }
        return Int64(day) * 86400 + Int64(h * 3600 + m * 60 + sec - offset)
    }

    /// RFC 5322 §4.3 obs-zone.
    static let obsoleteZones = ["UT": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
                                "MST": -7, "MDT": -6, "PST": -8, "PDT": -7]
}
