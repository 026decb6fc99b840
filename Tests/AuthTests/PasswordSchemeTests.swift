import Testing
@testable import Auth

/// Vectors generated with `doveadm pw -s SCHEME -p PASS` (Dovecot 2.3.19),
/// `openssl passwd -6/-5/-1 -salt …` and Python's crypt.crypt (DES).
struct PasswordSchemeTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var stored: String
        var password: String
        var line: Int
        var testDescription: String { "\(stored.prefix(24))… (line \(line))" }
        init(_ stored: String, _ password: String, line: Int = #line) {
            self.stored = stored
            self.password = password
            self.line = line
        }
    }

    static let pw = "S3cret pässword!"

    static let vectors: [Vector] = [
        Vector("{CRYPT}$2y$05$SsEgDMTsF7vE32gTpG2ISOqlnRBPfGiSNvhBzpULjT6gwNjV6BG.O", pw),
        Vector("{MD5-CRYPT}$1$UFs5tZTj$yDVMa1KQVIVw1RdGZgVaI0", pw),
        Vector("{SHA256-CRYPT}$5$Z2yKbMnWshFBBx7x$UVb2oLZHb12xWE212V10X8m/8Y73NGEAcoiqdmHm6XD", pw),
        Vector("{SHA512-CRYPT}$6$m/LFGO9Y5VjdHGVf$seknUB51kmPJ1erti08yAinFYftK4yeOu3QnEzX8G4lMynRcM6xSEu1ZOUdpahGWHUBMaclSK8tXdqA.OfvrO/", pw),
        Vector("{BLF-CRYPT}$2y$05$TZys1pTC7PuMNRQQb/cauOYOxDjD98mpF9wZwOWcj540TOkhaRXQe", pw),
        Vector("{SHA512}LVDkWG3ex3J2v5bjnbXjOsQtR3f5aVuwxzOrgCWH7xooQR8qzbP2tbQyGuAJUesK7L9dqCfnQKtSOOdZAQJunw==", pw),
        Vector("{SSHA512}gWrkxYCy9o5+16AdI2HjASzlHWfkYmxFnK6LdzfRJRrgcXzmFEwzxggyhrwlkn3WclE+SmK+Ea053QBrhDUrHh5oiz4=", pw),
        Vector("{SHA256}ikKcU8BFzcyoVWIVvCE/dqpW3T1TVw4kgGqzsWtoYt0=", pw),
        Vector("{SSHA256}mFtmWQfBZbf2zCx+NmGRoDUawNXQJjHQJHElZnEQUTtm/vRn", pw),
        Vector("{SHA}iw8imJa9j7QsPt4TThg/U08z6to=", pw),
        Vector("{SSHA}K7tq+Y3rx86FP/mcq+TpwZzbxnpH8NHE", pw),
        Vector("{PLAIN}S3cret pässword!", pw),
        Vector("{CLEAR}S3cret pässword!", pw),
        Vector("{CLEARTEXT}S3cret pässword!", pw),
        Vector("{SHA512.HEX}2d50e4586ddec77276bf96e39db5e33ac42d4777f9695bb0c733ab802587ef1a28411f2acdb3f6b5b4321ae00951eb0aecbf5da827e740ab5238e75901026e9f", pw),
        Vector("{SSHA512.HEX}350e5ce924dd8f5056b56d52a6e8c771bd1fb13fb08fff04ded7b5f4a109651fb00f6efb57a9a905a9ef47bd49cb4ccf01cd404b14514fab42659760cb1c6af5c01c4f11", pw),
        Vector("{SHA256.HEX}8a429c53c045cdcca8556215bc213f76aa56dd3d53570e24806ab3b16b6862dd", pw),
        Vector("{SHA.HEX}8b0f229896bd8fb42c3ede134e183f534f33eada", pw),
        Vector("{SSHA.HEX}fda660921cc50eeac78e3c5a8ee7625a1b8f50408b448d6e", pw),
        Vector("{SHA256.B64}ikKcU8BFzcyoVWIVvCE/dqpW3T1TVw4kgGqzsWtoYt0=", pw),
        Vector("{PLAIN.HEX}5333637265742070c3a47373776f726421", pw),
        Vector("{PLAIN.B64}UzNjcmV0IHDDpHNzd29yZCE=", pw),
        // Hex without a suffix: Dovecot guesses hex from the length.
        Vector("{SHA256}8a429c53c045cdcca8556215bc213f76aa56dd3d53570e24806ab3b16b6862dd", pw),
        // Lowercase scheme names and the SHA1 alias.
        Vector("{sha512-crypt}$6$m/LFGO9Y5VjdHGVf$seknUB51kmPJ1erti08yAinFYftK4yeOu3QnEzX8G4lMynRcM6xSEu1ZOUdpahGWHUBMaclSK8tXdqA.OfvrO/", pw),
        Vector("{SHA1}iw8imJa9j7QsPt4TThg/U08z6to=", pw),
        // openssl passwd
        Vector("{SHA512-CRYPT}$6$abcdefgh12345678$va.5Cu4V3VVDTTqGxBFLJLe96seoR7t27vdfZXImlG605uxgrHTyzCgabN4Vc/Y7Qs3Z1NzMmGGkjXsRvwVIt1", "hunter2"),
        Vector("{SHA256-CRYPT}$5$saltsalt$OIdfjX.u4Y3SJ4I2bX8w5BMf1VAUhHABNUirScDzZi3", "hunter2"),
        Vector("{MD5-CRYPT}$1$saltsalt$ZliGyAN3DciDHEkDboonh/", "hunter2"),
        // Bare crypt strings under the passwd-file default scheme CRYPT, including DES.
        Vector("$6$abcdefgh12345678$va.5Cu4V3VVDTTqGxBFLJLe96seoR7t27vdfZXImlG605uxgrHTyzCgabN4Vc/Y7Qs3Z1NzMmGGkjXsRvwVIt1", "hunter2"),
        Vector("ab0ozUNIgzCZ.", "hunter2"),
        Vector("{SSHA256.B64}ZgYddOri+rHeZ8FUa/ZQaxTexhNEt0R3M0JnZEESR9GzgsRo", "hunter2"),
        Vector("{SHA512-CRYPT}$6$O3Qkb4W40WDXf/43$yJVHnwvoYxzBB0Q75Au4ntYSBIqU0wRvdc6jTK2813pc3mynE5I/vnaoAoPH5AEaIN210FSobxFJG5fiwqnGV0", ""),
        Vector("{SSHA}QV/Hu1QvFvNh9q7yuqfFUej/onEzYClR", ""),
        Vector("{SHA512.HEX}8f12d9f49636f861a6dacf6dac28bb53de42eb912ec67f31d615eb2aefa893f751d6d9c27a61922ce14c7dfb1cc01bbda251716bfb65dd3754786bff016071b0", "tab\tcolon:"),
    ]

    @Test(arguments: vectors)
    func correctPasswordMatches(_ v: Vector) throws {
        #expect(try PasswordScheme.verify(password: v.password, stored: v.stored), "line \(v.line)")
    }

    @Test(arguments: vectors)
    func wrongPasswordsFail(_ v: Vector) throws {
        for wrong in [v.password + "x", String(v.password.dropLast()), v.password.uppercased() + "!", "\u{0}" + v.password]
        where wrong != v.password {
            #expect(try !PasswordScheme.verify(password: wrong, stored: v.stored), "line \(v.line): \(wrong)")
        }
    }

    @Test func defaultSchemeAppliesToBareData() throws {
        #expect(try PasswordScheme.verify(password: "hunter2", stored: "hunter2", defaultScheme: "PLAIN"))
        #expect(try PasswordScheme.verify(password: pwBare, stored: "LVDkWG3ex3J2v5bjnbXjOsQtR3f5aVuwxzOrgCWH7xooQR8qzbP2tbQyGuAJUesK7L9dqCfnQKtSOOdZAQJunw==", defaultScheme: "SHA512"))
        #expect(try !PasswordScheme.verify(password: "nope", stored: "hunter2", defaultScheme: "plain"))
    }
    private var pwBare: String { Self.pw }

    struct ErrorCase: Sendable {
        var stored: String
        var error: PasswordSchemeError
        var line: Int
        init(_ stored: String, _ error: PasswordSchemeError, line: Int = #line) {
            self.stored = stored; self.error = error; self.line = line
        }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase("{ARGON2ID}$argon2id$v=19$m=65536", .unknownScheme("ARGON2ID")),
        ErrorCase("{PLAIN-TRUNC}5-hello", .unknownScheme("PLAIN-TRUNC")),
        ErrorCase("{SHA512.FOO}abc", .unknownScheme("SHA512.FOO")),
        ErrorCase("{SHA256}not*base64", .malformedStoredPassword(scheme: "SHA256", reason: "invalid base64")),
        ErrorCase("{SHA256}aGVsbG8=", .malformedStoredPassword(scheme: "SHA256", reason: "length 5, expected 32")),
        ErrorCase("{SHA256.HEX}zz", .malformedStoredPassword(scheme: "SHA256", reason: "invalid hex")),
        ErrorCase("{SSHA}iw8imJa9j7QsPt4TThg/U08z6to=", .malformedStoredPassword(scheme: "SSHA", reason: "too short")),
        ErrorCase("{SHA512-CRYPT}$9$nonsense", .malformedStoredPassword(scheme: "SHA512-CRYPT", reason: "crypt() rejected the stored hash")),
    ]

    @Test(arguments: errorCases)
    func malformedStoredPasswordsThrow(_ c: ErrorCase) {
        #expect(throws: c.error, "line \(c.line)") {
            try PasswordScheme.verify(password: "x", stored: c.stored)
        }
    }

    @Test func unknownDefaultScheme() {
        #expect(throws: PasswordSchemeError.unknownScheme("WHIRLPOOL")) {
            try PasswordScheme.verify(password: "x", stored: "abc", defaultScheme: "whirlpool")
        }
    }

    @Test func storedPasswordParts() throws {
        let s = try StoredPassword("{ssha512.hex}abcd")
        #expect(s.scheme == .ssha512)
        #expect(s.encoding == .hex)
        #expect(s.data == "abcd")
        let bare = try StoredPassword("$1$x$y")
        #expect(bare.scheme == .crypt && bare.encoding == nil && bare.data == "$1$x$y")
    }

    @Test(arguments: [PasswordScheme.sha512Crypt, .ssha512, .plain])
    func generatedPasswordsVerify(_ scheme: PasswordScheme) throws {
        let a = try PasswordScheme.generate(password: "correct horse", scheme: scheme)
        #expect(a.hasPrefix("{\(scheme.rawValue)}"))
        #expect(try PasswordScheme.verify(password: "correct horse", stored: a))
        #expect(try !PasswordScheme.verify(password: "correct horsE", stored: a))
        if scheme != .plain {
            let b = try PasswordScheme.generate(password: "correct horse", scheme: scheme)
            #expect(a != b, "salt must be random")
        }
    }

    @Test func generatedSHA512CryptShape() throws {
        let s = try PasswordScheme.generate(password: "pw", scheme: .sha512Crypt)
        let parts = s.dropFirst("{SHA512-CRYPT}".count).split(separator: "$")
        #expect(parts.count == 3)
        #expect(parts[0] == "6")
        #expect(parts[1].count == 16)
        #expect(parts[2].count == 86)
    }

    @Test func cannotGenerateOtherSchemes() {
        #expect(throws: PasswordSchemeError.cannotGenerate("MD5-CRYPT")) {
            try PasswordScheme.generate(password: "x", scheme: .md5Crypt)
        }
    }

    @Test func constantTimeCompare() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2], [1, 2, 3]))
        #expect(constantTimeEquals([], []))
    }
}
