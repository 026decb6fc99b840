import Testing
@testable import IMAPServer

/// The threading algorithms as pure functions (messages in, THREAD data out), and the message
/// id reader they depend on. The shapes are Dovecot 2.3's; IMAPThreadTests compares whole
/// answers with a live Dovecot.
@Suite struct MessageThreaderTests {
    /// A message with UID `uid`, sent at `uid` hours unless `sent` says otherwise.
    static func msg(_ uid: UInt32, id: String? = nil, refs: [String] = [], subject: String = "", sent: Int64? = nil) -> ThreadMessage {
        let base = BaseSubject.parse(subject)
        return ThreadMessage(uid: uid, messageID: id, references: refs, sent: sent ?? Int64(uid) * 3600,
                             baseSubject: Array(base.base.utf8), isReplyOrForward: base.isReplyOrForward)
    }

    static func references(_ messages: [ThreadMessage]) -> String { MessageThreader.references(messages).imapString() }

    @Test(arguments: [
        // A chain: each lone child follows its parent.
        ([msg(1, id: "a"), msg(2, id: "b", refs: ["a"]), msg(3, id: "c", refs: ["a", "b"])], "(1 2 3)"),
        // Two replies: siblings in parentheses, by date.
        ([msg(1, id: "a"), msg(2, id: "b", refs: ["a"], sent: 9 * 3600), msg(3, id: "c", refs: ["a"])], "(1 (3)(2))"),
        // A missing parent with two children stays as a dummy; with one it gives way.
        ([msg(1, id: "a", refs: ["x"]), msg(2, id: "b", refs: ["x"])], "((1)(2))"),
        ([msg(1, id: "a", refs: ["x", "y"])], "(1)"),
        // A dummy inside a thread goes; its children hang from the real ancestor.
        ([msg(1, id: "a"), msg(2, id: "b", refs: ["a", "x"]), msg(3, id: "c", refs: ["a", "x"])], "(1 (2)(3))"),
        // A parent that comes later.
        ([msg(1, id: "b", refs: ["a"]), msg(2, id: "a")], "(2 1)"),
        // Loops are cut where they would close; a self-reference is ignored.
        ([msg(1, id: "a", refs: ["b"]), msg(2, id: "b", refs: ["a"])], "(2 1)"),
        ([msg(1, id: "a", refs: ["a"])], "(1)"),
        // A duplicate id is a message of its own; no id at all likewise.
        ([msg(1, id: "a"), msg(2, id: "a"), msg(3, refs: ["a"])], "(1 3)(2)"),
        // The message's own last reference beats what another message said of it.
        ([msg(1, id: "c", refs: ["a", "b"]), msg(2, id: "b", refs: ["z"]), msg(3, id: "z")], "(3 2 1)"),
    ])
    func referencesLinks(_ messages: [ThreadMessage], _ expected: String) {
        #expect(Self.references(messages) == expected)
    }

    @Test func subjectsJoinRoots() {
        // A reply goes under the original; two originals get a dummy; so does a reply found first.
        #expect(Self.references([Self.msg(1, subject: "Re: x"), Self.msg(2, subject: "x")]) == "(2 1)")
        #expect(Self.references([Self.msg(1, subject: "x"), Self.msg(2, subject: "Re: x")]) == "(1 2)")
        #expect(Self.references([Self.msg(1, subject: "x"), Self.msg(2, subject: "[l] x")]) == "((1)(2))")
        #expect(Self.references([Self.msg(1, subject: "x (fwd)"), Self.msg(2, subject: "fw: x")]) == "((1)(2))")
        // No subject, no joining.
        #expect(Self.references([Self.msg(1), Self.msg(2)]) == "(1)(2)")
        // A dummy root takes its first child's subject, and the original joins it.
        #expect(Self.references([Self.msg(1, id: "a", refs: ["x"], subject: "Re: s"), Self.msg(2, id: "b", refs: ["x"], subject: "Re: s"),
                                 Self.msg(3, subject: "s")]) == "((1)(2)(3))")
    }

    @Test func refsOrdersThreadsByTheirNewestMessage() {
        let messages = [Self.msg(1, id: "a"), Self.msg(2, id: "b"), Self.msg(3, id: "c", refs: ["a"])]
        #expect(MessageThreader.refs(messages).imapString() == "(2)(1 3)")
        #expect(MessageThreader.references(messages).imapString() == "(1 3)(2)")
    }

    @Test func orderedSubjectRuns() {
        let sorted: [(id: UInt32, subject: [UInt8], sent: Int64)] = [
            (4, Array("A".utf8), 5), (2, Array("A".utf8), 6), (3, Array("A".utf8), 7),
            (5, Array("B".utf8), 1), (1, Array("B".utf8), 2), (6, Array("C".utf8), 5),
        ]
        #expect(MessageThreader.orderedSubject(sorted).imapString() == "(5 1)(4 (2)(3))(6)")
        #expect(MessageThreader.orderedSubject([]).imapString() == "")
    }

    @Test func renumbersForSequenceNumbers() {
        let f = MessageThreader.references([Self.msg(10, id: "a", refs: ["x"]), Self.msg(20, id: "b", refs: ["x"])])
        #expect(f.renumbered { $0 / 10 }.imapString() == "((1)(2))")
    }

    /// A chain thousands deep is built and written without recursion.
    @Test func deepChains() {
        let n = 5_000
        let messages = (1...n).map { i in Self.msg(UInt32(i), id: "m\(i)", refs: i == 1 ? [] : ["m\(i - 1)"]) }
        let text = MessageThreader.references(messages).imapString()
        #expect(text == "(" + (1...n).map(String.init).joined(separator: " ") + ")")
    }

    @Test(arguments: [
        ("<a@b>", ["a@b"]),
        ("  <a@b> <c@d>", ["a@b", "c@d"]),
        ("<noat> text <x@y>", ["x@y"]),
        ("< a @ b\r\n >", ["a@b"]),
        ("<\"quoted local\"@x>", ["quoted local@x"]),
        ("< \"quoted local\" @ x >", []),
        ("<(comment) a . b @ c>", ["a.b@c"]),
        ("<a[1]@b>", ["a[1]@b"]),
        ("no ids", []),
        ("<unterminated@x", []),
    ])
    func messageIDs(_ value: String, _ expected: [String]) {
        #expect(Array(MessageIDs(Array(value.utf8))) == expected)
    }

    @Test(arguments: [
        ("hello", false), ("Re: hello", true), ("hello (fwd)", true), ("[fwd: hello]", true),
        ("[list] hello", false), ("Fw[2]: hello", true), (" hello", false),
    ])
    func replyOrForwardMarkers(_ subject: String, _ marked: Bool) {
        #expect(BaseSubject.parse(subject).isReplyOrForward == marked)
    }
}
