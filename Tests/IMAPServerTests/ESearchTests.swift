import Foundation
import Testing
@testable import IMAPServer
import Maildir

/// ESEARCH (RFC 4731): the expected lines are Dovecot 2.3's answers on the same messages.
@Suite struct ESearchTests {
    static func harness() throws -> SessionHarness {
        let h = try SessionHarness()
        for i in 0..<5 {
            try h.deliver("Subject: m\(i)\n\nbody \(i)\n", flags: i == 1 || i == 3 ? [.seen] : [])
        }
        #expect(h.transact("s SELECT INBOX").last?.hasPrefix("s OK") == true)
        return h
    }

    @Test func returnOptions() throws {
        let h = try Self.harness()
        #expect(h.transact("t3 SEARCH RETURN (MIN MAX ALL COUNT) ALL") == [
            "* ESEARCH (TAG \"t3\") MIN 1 MAX 5 ALL 1:5 COUNT 5", "t3 OK Search completed."])
        #expect(h.transact("t4 SEARCH RETURN () UNSEEN") == ["* ESEARCH (TAG \"t4\") ALL 1,3,5", "t4 OK Search completed."])
        #expect(h.transact("t5 SEARCH RETURN (COUNT) SEEN") == ["* ESEARCH (TAG \"t5\") COUNT 2", "t5 OK Search completed."])
        #expect(h.transact("t6 UID SEARCH RETURN (MIN MAX ALL COUNT) UNSEEN") == [
            "* ESEARCH (TAG \"t6\") UID MIN 1 MAX 5 ALL 1,3,5 COUNT 3", "t6 OK Search completed."])
        #expect(h.transact("t14 SEARCH RETURN (min) ALL") == ["* ESEARCH (TAG \"t14\") MIN 1", "t14 OK Search completed."])
        #expect(h.transact("t16 SEARCH RETURN (ALL) 1,3,5,2") == ["* ESEARCH (TAG \"t16\") ALL 1:3,5", "t16 OK Search completed."])
        #expect(h.transact("t17 SEARCH RETURN (ALL) 2:4 NOT 3") == ["* ESEARCH (TAG \"t17\") ALL 2,4", "t17 OK Search completed."])
        #expect(h.transact("t11 SEARCH RETURN (MAX) CHARSET UTF-8 ALL") == ["* ESEARCH (TAG \"t11\") MAX 5", "t11 OK Search completed."])
    }

    @Test func emptyResults() throws {
        let h = try Self.harness()
        #expect(h.transact("t7 UID SEARCH RETURN (ALL) SUBJECT nothing") == ["* ESEARCH (TAG \"t7\") UID", "t7 OK Search completed."])
        #expect(h.transact("t8 SEARCH RETURN (MIN MAX) SUBJECT nothing") == ["* ESEARCH (TAG \"t8\")", "t8 OK Search completed."])
        #expect(h.transact("t9 SEARCH RETURN (COUNT) SUBJECT nothing") == ["* ESEARCH (TAG \"t9\") COUNT 0", "t9 OK Search completed."])
        #expect(h.transact("t10 SEARCH RETURN (ALL COUNT) SUBJECT nothing") == ["* ESEARCH (TAG \"t10\") COUNT 0", "t10 OK Search completed."])
    }

    @Test func badOptions() throws {
        let h = try Self.harness()
        #expect(h.transact("t12 SEARCH RETURN (FOO) ALL") == ["t12 BAD Error in IMAP command SEARCH: Unknown SEARCH return option."])
        // SAVE (RFC 5182 SEARCHRES, IMAPSearchResTests) with an unknown option is refused too.
        #expect(h.transact("t15 SEARCH RETURN (SAVE FOO) ALL") == ["t15 BAD Error in IMAP command SEARCH: Unknown SEARCH return option."])
        #expect(h.transact("t13 SEARCH RETURN ALL") == ["t13 BAD Error in IMAP command SEARCH: Unknown argument RETURN."])
        // Without RETURN the answer stays RFC 3501's.
        #expect(h.transact("u SEARCH UNSEEN") == ["* SEARCH 1 3 5", "u OK Search completed."])
    }
}

@Suite struct SearchDepthTests {
    @Test func deeplyNestedKeysGetBADAndTheSessionGoesOn() throws {
        let h = try SessionHarness()
        try h.deliver(simpleMessage)
        _ = h.transact("s SELECT INBOX")
        let nots = Array(repeating: "NOT", count: 5000).joined(separator: " ")
        #expect(h.transact("a SEARCH \(nots) ALL") == ["a BAD Error in IMAP command SEARCH: Search keys nested too deeply."])
        let ors = Array(repeating: "OR", count: 5000).joined(separator: " ")
        #expect(h.transact("b SEARCH \(ors) ALL") == ["b BAD Error in IMAP command SEARCH: Search keys nested too deeply."])
        #expect(h.transact("c SEARCH NOT NOT ALL") == ["* SEARCH 1", "c OK Search completed."])
    }
}
