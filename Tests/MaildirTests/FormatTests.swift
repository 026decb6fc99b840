import Testing
import Foundation
@testable import Maildir

@Suite struct ModifiedUTF7Tests {
    static let table: [(String, String, UInt)] = [
        ("INBOX", "INBOX", #line),
        ("Entwürfe", "Entw&APw-rfe", #line),
        ("a&b", "a&-b", #line),
        ("&", "&-", #line),
        ("日本語", "&ZeVnLIqe-", #line),
        ("Ω~", "&A6k-~", #line),
        ("tab\u{7f}", "tab&AH8-", #line),
        ("😀", "&2D3eAA-", #line),
        ("x/y", "x/y", #line),
        ("Ünïcödé", "&ANw-n&AO8-c&APY-d&AOk-", #line),
    ]

    @Test func encodeAndDecodeTable() {
        for (plain, encoded, line) in Self.table {
            #expect(ModifiedUTF7.encode(plain) == encoded, "line \(line)")
            #expect(ModifiedUTF7.decode(encoded) == plain, "line \(line)")
        }
    }

    @Test func rejectsInvalid() {
        for bad in ["&", "&Jjo", "&AGE-", "&2D0-", "a\u{e9}", "&==-", "&ZeVnLIq-"] {
            #expect(ModifiedUTF7.decode(bad) == nil, "\(bad)")
        }
    }
}

@Suite struct FileNameTests {
    @Test func parsesDovecotNames() {
        let n = MaildirFileName(parsing: "1795688575.M688550P25631.vm,S=105,W=112:2,Fab")
        #expect(n.basename == "1795688575.M688550P25631.vm,S=105,W=112")
        #expect(n.flags == [.flagged])
        #expect(n.keywordMask == 0b11)
        #expect(n.size == 105 && n.virtualSize == 112)
        #expect(n.curName == "1795688575.M688550P25631.vm,S=105,W=112:2,Fab")
    }

    @Test func sortsLettersAndKeepsUnknown() {
        var n = MaildirFileName(parsing: "123.M1P2.host:2,SPa")
        #expect(n.otherLetters == [UInt8(ascii: "P")])
        n.flags = [.seen, .draft, .answered, .deleted, .flagged]
        n.keywordMask = 1 << 25 | 1 << 2
        #expect(n.infoSuffix == ":2,DFPRSTcz")
    }

    @Test func namesWithoutInfo() {
        let n = MaildirFileName(parsing: "123.M1P2.host")
        #expect(n.basename == "123.M1P2.host" && n.flags.isEmpty && n.size == nil)
        #expect(n.curName == "123.M1P2.host:2,")
        #expect(MaildirFileName(parsing: "1.M2P3.h,S=12:2,").size == 12)
        #expect(MaildirFileName(parsing: "1.M2P3.h,S=x1:2,").size == nil)
    }

    @Test func crlfSizeCountsBareLF() {
        #expect(crlfSize(of: Array("a\nb\r\nc\n".utf8)) == 9)
        #expect(crlfSize(of: [UInt8]()) == 0)
    }
}

@Suite struct UIDListTests {
    @Test func roundTrip() throws {
        let text = "3 V1795688577 N5 G210790257f08086b1f64000083ecc375\n1 :a.M1P1.h,S=9,W=10\n2 W112 G9 :b.M2P1.h\n3 :c\n"
        let list = try UIDList(parsing: Array(text.utf8))
        #expect(list.uidValidity == 1795688577)
        #expect(list.headerNextUID == 5 && list.nextUID == 5)
        #expect(list.entries.map(\.uid) == [1, 2, 3])
        #expect(list.entries[1].extensions == "W112 G9" && list.entries[1].basename == "b.M2P1.h")
        #expect(String(decoding: list.serialized(), as: UTF8.self) == text)
        #expect(try UIDList(parsing: list.serialized()) == list)
    }

    @Test func staleHeaderNextUID() throws {
        // Dovecot appends records without rewriting the header.
        let list = try UIDList(parsing: Array("3 V7 N2 Gab\n1 :x\n2 :y\n5 :z\n".utf8))
        #expect(list.nextUID == 6)
        #expect(list.headerLine == "3 V7 N6 Gab\n")
    }

    @Test func ignoresTornLastLineAndReadsVersion1() throws {
        let torn = try UIDList(parsing: Array("3 V7 N1 G\n1 :x\n2 :y".utf8))
        #expect(torn.entries.map(\.uid) == [1])
        let v1 = try UIDList(parsing: Array("1 1000 4\n1 a.b.c\n3 d.e.f:2,S\n".utf8))
        #expect(v1.uidValidity == 1000 && v1.entries.map(\.basename) == ["a.b.c", "d.e.f:2,S"])
    }

    @Test func rejectsBadInput() {
        #expect(throws: UIDList.ParseError.self) { try UIDList(parsing: Array("garbage\n".utf8)) }
        #expect(throws: UIDList.ParseError.self) { try UIDList(parsing: Array("3 V0 N1\n".utf8)) }
        #expect(throws: UIDList.ParseError.self) { try UIDList(parsing: Array("3 V1 N1\n2 :a\n2 :b\n".utf8)) }
        #expect(throws: UIDList.ParseError.self) { try UIDList(parsing: Array("3 V1 N1\nx :a\n".utf8)) }
    }
}

@Suite struct KeywordAndSubscriptionFormatTests {
    @Test func keywordTable() {
        let t = KeywordTable(parsing: Array("0 $Junk\n1 work\n3 later\n".utf8))
        #expect(t.names == ["$Junk", "work", nil, "later"])
        #expect(t.index(of: "WORK") == 1)
        #expect(t.keywords(in: 0b1011) == ["$Junk", "work", "later"])
        #expect(t.unknownBits(in: 0b10100) == 0b10100)
        #expect(String(decoding: t.serialized(), as: UTF8.self) == "0 $Junk\n1 work\n3 later\n")
    }

    @Test func subscriptionsVersion2AsDovecotWritesIt() {
        let dovecot = Array("V\t2\n\nSent\nArchive\t2023\nEntw&APw-rfe\n".utf8)
        let names = SubscriptionsFile.parse(dovecot)
        #expect(names == ["Sent", "Archive/2023", "Entwürfe"])
        #expect(SubscriptionsFile.serialize(names) == dovecot)
        #expect(SubscriptionsFile.parse(Array("INBOX\nA/B\n".utf8)) == ["INBOX", "A/B"])
    }
}

@Suite struct MailboxNameTests {
    @Test func mapsToDirectories() throws {
        #expect(try MailboxName.directoryName(for: "Sent") == ".Sent")
        #expect(try MailboxName.directoryName(for: "A/B") == ".A.B")
        #expect(try MailboxName.directoryName(for: "Entwürfe/日本") == ".Entw&APw-rfe.&ZeVnLA-")
        #expect(MailboxName.name(forDirectory: ".A.B") == "A/B")
        #expect(MailboxName.name(forDirectory: ".Entw&APw-rfe") == "Entwürfe")
        #expect(MailboxName.name(forDirectory: "..x") == nil)
        #expect(MailboxName.name(forDirectory: ".a.") == nil)
        #expect(MailboxName.name(forDirectory: "cur") == nil)
        #expect(MailboxName.isInbox("inBox"))
    }

    @Test func refusesUnsafeNames() {
        let cases: [(String, MailboxNameError)] = [
            ("", .empty), ("..", .dotInName), ("../x", .dotInName), ("a/../../etc", .dotInName),
            (".hidden", .dotInName), ("/abs", .leadingSeparator), ("a//b", .adjacentSeparators), ("a/", .trailingSeparator),
            ("nul\u{0}x", .invalidCharacter("U+0000")), ("tab\tx", .invalidCharacter("U+0009")),
            ("del\u{7f}", .invalidCharacter("U+007F")), ("a*", .wildcard("*")), ("%", .wildcard("%")),
            (String(repeating: "x", count: 256), .tooLong), (String(repeating: "ü", count: 100), .tooLong),
        ]
        for (name, expected) in cases {
            #expect(throws: expected) { try MailboxName.directoryName(for: name) }
        }
    }
}
