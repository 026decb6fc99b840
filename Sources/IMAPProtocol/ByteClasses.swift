// Character classes of the IMAP grammar (RFC 3501 §9), as predicates on bytes.
//
// Only ASCII matters here; 8-bit bytes are never atom, tag or astring characters.

enum ASCII {
    static let nul: UInt8 = 0x00
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22       // "
    static let percent: UInt8 = 0x25     // %
    static let lparen: UInt8 = 0x28      // (
    static let rparen: UInt8 = 0x29      // )
    static let asterisk: UInt8 = 0x2A    // *
    static let plus: UInt8 = 0x2B        // +
    static let comma: UInt8 = 0x2C       // ,
    static let colon: UInt8 = 0x3A       // :
    static let lbracket: UInt8 = 0x5B    // [
    static let backslash: UInt8 = 0x5C   // \
    static let rbracket: UInt8 = 0x5D    // ]
    static let lbrace: UInt8 = 0x7B      // {
    static let rbrace: UInt8 = 0x7D      // }
    static let tilde: UInt8 = 0x7E       // ~
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
}

extension UInt8 {
    var isASCIIDigit: Bool { self >= ASCII.zero && self <= ASCII.nine }

    /// CTL: %x00-1F / %x7F.
    var isIMAPControl: Bool { self < 0x20 || self == 0x7F }

    /// ATOM-CHAR: any CHAR except atom-specials `( ) { SP CTL % * " \ ]`.
    var isIMAPAtomChar: Bool {
        guard self > 0x20, self < 0x7F else { return false }
        switch self {
        case ASCII.lparen, ASCII.rparen, ASCII.lbrace, ASCII.percent,
             ASCII.asterisk, ASCII.quote, ASCII.backslash, ASCII.rbracket:
            return false
        default:
            return true
        }
    }

    /// ASTRING-CHAR: ATOM-CHAR / resp-specials (`]`).
    var isIMAPAStringChar: Bool { isIMAPAtomChar || self == ASCII.rbracket }

    /// tag: 1*<any ASTRING-CHAR except "+">.
    var isIMAPTagChar: Bool { isIMAPAStringChar && self != ASCII.plus }

    /// Bytes an argument atom may hold when read leniently: ATOM-CHAR plus the
    /// list wildcards `%` `*`, the flag prefix `\` and `]` (astring, section ends).
    var isIMAPArgumentAtomChar: Bool {
        guard self > 0x20, self < 0x7F else { return false }
        switch self {
        case ASCII.lparen, ASCII.rparen, ASCII.lbrace, ASCII.quote:
            return false
        default:
            return true
        }
    }
}

extension Sequence<UInt8> {
    /// Compares with an ASCII string, ignoring ASCII letter case.
    func equalsCaseInsensitive(_ ascii: String) -> Bool {
        var mine = makeIterator()
        for other in ascii.utf8 {
            guard let byte = mine.next(), byte.asciiLowercased == other.asciiLowercased else { return false }
        }
        return mine.next() == nil
    }
}

extension UInt8 {
    var asciiLowercased: UInt8 { (self >= 0x41 && self <= 0x5A) ? self + 0x20 : self }
    var asciiUppercased: UInt8 { (self >= 0x61 && self <= 0x7A) ? self - 0x20 : self }
}
