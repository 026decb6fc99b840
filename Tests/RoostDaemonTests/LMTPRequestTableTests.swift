import Testing
@testable import RoostDaemon

/// The master's table of LMTP requests in flight: who may answer what, and what is failed
/// when a child goes away.
@Suite struct LMTPRequestTableTests {
    final class Child {
        let name: String
        init(_ name: String) { self.name = name }
    }

    let lmtp = Child("lmtp"), auth = Child("auth"), alice = Child("mail alice"), bob = Child("mail bob")

    /// A mail process that echoes another request's key (confused, or compromised by a message
    /// it parsed) neither acknowledges another user's delivery nor answers a recipient lookup;
    /// the request stays pending for the process it went to.
    @Test func onlyTheChildARequestWentToCanAnswerIt() {
        var table = LMTPRequestTable<Child>()
        let forBob = table.add(.init(lmtp: lmtp, request: "7", sentTo: bob, stage: .delivery(user: "bob")))
        let lookup = table.add(.init(lmtp: lmtp, request: "8", sentTo: auth, stage: .recipientLookup(name: "carol@x", detail: "")))
        #expect(table.take(forBob, answeredBy: alice) == nil)
        #expect(table.take(lookup, answeredBy: alice) == nil)
        #expect(table.take(lookup, answeredBy: bob) == nil)
        #expect(table.count == 2)
        let delivered = table.take(forBob, answeredBy: bob)
        #expect(delivered?.request == "7" && delivered?.stage.answerKind == "deliver-result")
        #expect(table.take(forBob, answeredBy: bob) == nil, "answered once")
        #expect(table.take(lookup, answeredBy: auth)?.stage.answerKind == "rcpt-result")
        #expect(table.count == 0)
    }

    /// When the auth process dies, every lookup it owed comes back at once, in the order asked,
    /// and nothing another child owes.
    @Test func aChildThatGoesAwayHandsBackWhatItOwed() {
        var table = LMTPRequestTable<Child>()
        for i in 0..<20 {
            _ = table.add(.init(lmtp: lmtp, request: "r\(i)", sentTo: auth, stage: .recipientLookup(name: "u\(i)@x", detail: "")))
        }
        _ = table.add(.init(lmtp: lmtp, request: "d", sentTo: auth,
                            stage: .deliveryIdentity(message: ControlMessage("deliver", ["user": "u"]), spool: -1)))
        _ = table.add(.init(lmtp: lmtp, request: "m", sentTo: alice, stage: .delivery(user: "alice")))
        _ = table.add(.init(lmtp: lmtp, request: "q", sentTo: alice, stage: .quotaCheck(user: "alice")))
        #expect(table.hasRequests(sentTo: auth))
        let owed = table.removeAll(sentTo: auth)
        #expect(owed.map(\.request) == (0..<20).map { "r\($0)" } + ["d"])
        #expect(owed.map(\.stage.answerKind) == Array(repeating: "rcpt-result", count: 20) + ["deliver-result"])
        #expect(!table.hasRequests(sentTo: auth))
        #expect(table.removeAll(sentTo: auth).isEmpty)
        #expect(table.removeAll(sentTo: alice).map(\.stage.answerKind) == ["deliver-result", "rcpt-result"])
    }

    @Test func anLMTPProcessThatGoesAwayTakesItsRequestsAlong() {
        var table = LMTPRequestTable<Child>()
        let other = Child("new lmtp")
        _ = table.add(.init(lmtp: lmtp, request: "1", sentTo: alice, stage: .delivery(user: "alice")))
        let kept = table.add(.init(lmtp: other, request: "1", sentTo: alice, stage: .delivery(user: "alice")))
        #expect(table.removeAll(askedBy: lmtp).count == 1)
        #expect(table.take(kept, answeredBy: alice)?.lmtp === other)
    }
}
