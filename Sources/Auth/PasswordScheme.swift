// Password schemes: verifying a plaintext password against a stored Dovecot-format
// password, and generating new ones the way `doveadm pw` does.
//
// Stored form: `{SCHEME}data` or `{SCHEME.HEX}data` / `{SCHEME.B64}data`, or bare `data`
// read with the passdb's default scheme (`scheme=` in passdb args; CRYPT for passwd-file).
// Scheme names are case-insensitive, as in Dovecot.
//
// Implementation notes:
// - Every comparison of secret-derived bytes is constant-time (`constantTimeEquals`).
// - The *-CRYPT schemes all go through glibc/libxcrypt crypt_r (`roost_crypt`): the stored
//   hash is its own setting, and the password matches when crypt(password, stored) == stored.
// - Salted digests (SSHA, SSHA256, SSHA512) store digest || salt; Dovecot requires a
//   non-empty salt.
// - A stored password that cannot be decoded is an error (the caller logs it with the user),
//   not a mismatch: an admin needs to see it.
// - Not supported: PLAIN-TRUNC, MD5 (alias), CRAM-MD5, DIGEST-MD5, SCRAM-*, ARGON2*, PBKDF2.

import CSystem
import COpenSSL
import Foundation

public enum PasswordSchemeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The scheme named in `{...}` (or the default scheme) is not one Roost knows.
    case unknownScheme(String)
    /// The stored data cannot be decoded for its scheme (bad base64/hex, wrong length,
    /// crypt refused the setting).
    case malformedStoredPassword(scheme: String, reason: String)
    /// `generate` was asked for a scheme it does not produce.
    case cannotGenerate(String)
    /// The system random generator failed.
    case randomFailure

    public var description: String {
        switch self {
        case .unknownScheme(let s): return "unknown scheme \(s)"
        case .malformedStoredPassword(let s, let r): return "invalid \(s) password: \(r)"
        case .cannotGenerate(let s): return "cannot generate passwords for scheme \(s)"
        case .randomFailure: return "RAND_bytes failed"
        }
    }
}

/// How the bytes of a digest scheme are written in the stored password.
public enum PasswordEncoding: String, Sendable, Equatable {
    case base64 = "B64"
    case hex = "HEX"
}

public enum PasswordScheme: String, CaseIterable, Sendable, Equatable {
    case plain = "PLAIN"
    case crypt = "CRYPT"
    case md5Crypt = "MD5-CRYPT"
    case sha256Crypt = "SHA256-CRYPT"
    case sha512Crypt = "SHA512-CRYPT"
    case blfCrypt = "BLF-CRYPT"
    case sha1 = "SHA"
    case ssha1 = "SSHA"
    case sha256 = "SHA256"
    case ssha256 = "SSHA256"
    case sha512 = "SHA512"
    case ssha512 = "SSHA512"

    /// Looks a scheme up by its Dovecot name (case-insensitive; CLEAR, CLEARTEXT and SHA1 are aliases).
    public init?(name: String) {
        let upper = name.uppercased()
        switch upper {
        case "CLEAR", "CLEARTEXT": self = .plain
        case "SHA1": self = .sha1
        default:
            guard let s = PasswordScheme(rawValue: upper) else { return nil }
            self = s
        }
    }

    var isCrypt: Bool {
        switch self {
        case .crypt, .md5Crypt, .sha256Crypt, .sha512Crypt, .blfCrypt: return true
        default: return false
        }
    }

    var digest: Digest? {
        switch self {
        case .sha1, .ssha1: return .sha1
        case .sha256, .ssha256: return .sha256
        case .sha512, .ssha512: return .sha512
        default: return nil
        }
    }

    var isSalted: Bool { self == .ssha1 || self == .ssha256 || self == .ssha512 }

    /// Dovecot's default encoding: base64 for digests, none (raw text) for PLAIN and crypt.
    var defaultEncoding: PasswordEncoding? { digest == nil ? nil : .base64 }
}

/// A stored password split into scheme, explicit encoding suffix and data.
public struct StoredPassword: Sendable, Equatable {
    public let scheme: PasswordScheme
    /// The `.HEX`/`.B64` suffix if one was written.
    public let encoding: PasswordEncoding?
    public let data: String

    /// Parses `{SCHEME[.ENC]}data`; bare data uses `defaultScheme` (Dovecot: CRYPT for passwd-file).
    public init(_ stored: String, defaultScheme: String = "CRYPT") throws(PasswordSchemeError) {
        var schemeName = defaultScheme
        var data = Substring(stored)
        if stored.hasPrefix("{"), let close = stored.firstIndex(of: "}") {
            schemeName = String(stored[stored.index(after: stored.startIndex)..<close])
            data = stored[stored.index(after: close)...]
        }
        var encoding: PasswordEncoding?
        if let dot = schemeName.lastIndex(of: "."),
           let enc = PasswordEncoding(rawValue: schemeName[schemeName.index(after: dot)...].uppercased()) {
            encoding = enc
            schemeName = String(schemeName[..<dot])
        }
        guard let scheme = PasswordScheme(name: schemeName) else {
            throw .unknownScheme(schemeName.uppercased())
        }
        self.scheme = scheme
        self.encoding = encoding
        self.data = String(data)
    }

    /// True when `password` matches. Throws for data that cannot be a password of its scheme.
    public func matches(_ password: String) throws(PasswordSchemeError) -> Bool {
        if scheme.isCrypt { return try cryptMatches(password) }
        let raw = try decodedBytes()
        let plainBytes = Array(password.utf8)
        guard let digest = scheme.digest else {
            return constantTimeEquals(raw, plainBytes)
        }
        if scheme.isSalted {
            guard raw.count > digest.length else {
                throw .malformedStoredPassword(scheme: scheme.rawValue, reason: "too short")
            }
            let salt = Array(raw[digest.length...])
            let expected = Array(raw[..<digest.length])
            return constantTimeEquals(digest.hash(plainBytes + salt), expected)
        }
        return constantTimeEquals(digest.hash(plainBytes), raw)
    }

    private func cryptMatches(_ password: String) throws(PasswordSchemeError) -> Bool {
        // crypt(3) reads C strings: a NUL inside the password would silently truncate it.
        if password.utf8.contains(0) { return false }
        guard let computed = systemCrypt(key: password, setting: data) else {
            throw .malformedStoredPassword(scheme: scheme.rawValue, reason: "crypt() rejected the stored hash")
        }
        return constantTimeEquals(Array(computed.utf8), Array(data.utf8))
    }

    private func decodedBytes() throws(PasswordSchemeError) -> [UInt8] {
        var encoding = self.encoding ?? scheme.defaultEncoding
        // Dovecot guesses hex when an unsalted digest has exactly twice the digest length.
        if self.encoding == nil, let digest = scheme.digest, !scheme.isSalted,
           data.utf8.count == digest.length * 2, data.utf8.allSatisfy(\.isHexDigit) {
            encoding = .hex
        }
        let bytes: [UInt8]
        switch encoding {
        case nil:
            bytes = Array(data.utf8)
        case .hex?:
            guard let b = hexDecode(data) else {
                throw .malformedStoredPassword(scheme: scheme.rawValue, reason: "invalid hex")
            }
            bytes = b
        case .base64?:
            guard let d = Data(base64Encoded: data) else {
                throw .malformedStoredPassword(scheme: scheme.rawValue, reason: "invalid base64")
            }
            bytes = Array(d)
        }
        if let digest = scheme.digest, !scheme.isSalted, bytes.count != digest.length {
            throw .malformedStoredPassword(scheme: scheme.rawValue,
                                           reason: "length \(bytes.count), expected \(digest.length)")
        }
        return bytes
    }
}

extension PasswordScheme {
    /// Verifies `password` against a stored Dovecot-format password.
    public static func verify(password: String, stored: String,
                              defaultScheme: String = "CRYPT") throws(PasswordSchemeError) -> Bool {
        try StoredPassword(stored, defaultScheme: defaultScheme).matches(password)
    }

    /// Generates a stored password with its `{SCHEME}` prefix, like `doveadm pw -s SCHEME`.
    /// Supported: SHA512-CRYPT (16-character salt, `$6$`), SSHA512 (8-byte salt), PLAIN.
    public static func generate(password: String, scheme: PasswordScheme) throws(PasswordSchemeError) -> String {
        switch scheme {
        case .plain:
            return "{PLAIN}" + password
        case .sha512Crypt:
            let alphabet = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
            // 256 is a multiple of 64, so `byte % 64` is unbiased.
            let salt = try randomBytes(16).map { alphabet[Int($0 % 64)] }
            let setting = "$6$" + String(decoding: salt, as: UTF8.self)
            guard !password.utf8.contains(0),
                  let hash = systemCrypt(key: password, setting: setting) else {
                throw .cannotGenerate(scheme.rawValue)
            }
            return "{SHA512-CRYPT}" + hash
        case .ssha512:
            let salt = try randomBytes(8)
            let digest = Digest.sha512.hash(Array(password.utf8) + salt)
            return "{SSHA512}" + Data(digest + salt).base64EncodedString()
        default:
            throw .cannotGenerate(scheme.rawValue)
        }
    }
}

// MARK: - Primitives

enum Digest {
    case sha1, sha256, sha512

    var length: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha512: return 64
        }
    }

    func hash(_ input: [UInt8]) -> [UInt8] {
        let md: OpaquePointer? = switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let ok = input.withUnsafeBytes { inBuf in
            EVP_Digest(inBuf.baseAddress, inBuf.count, &out, &outLength, md, nil)
        }
        precondition(ok == 1 && Int(outLength) == length, "EVP_Digest failed")
        return Array(out[..<length])
    }
}

/// Compares in time that depends only on the lengths (lengths are not secret here).
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}

func randomBytes(_ count: Int) throws(PasswordSchemeError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw .randomFailure }
    return bytes
}

/// crypt_r through the CSystem shim; nil when crypt rejects the setting.
func systemCrypt(key: String, setting: String) -> String? {
    var out = [CChar](repeating: 0, count: 512)
    let rc = roost_crypt(key, setting, &out, out.count)
    defer { for i in out.indices { out[i] = 0 } }
    guard rc == 0 else { return nil }
    return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func hexDecode(_ s: String) -> [UInt8]? {
    let chars = Array(s.utf8)
    guard chars.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let hi = chars[i].hexValue, let lo = chars[i + 1].hexValue else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

extension UInt8 {
    var hexValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return self - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    var isHexDigit: Bool { hexValue != nil }
}
