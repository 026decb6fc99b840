// THREAD's algorithms (RFC 5256 §3–4) as pure functions: messages in, a thread forest out.
// The answers must equal Dovecot 2.3's (lib-storage index-thread-links.c and
// index-thread-finish.c), so this follows its steps rather than the RFC's prose where they
// part:
// - Linking (§4 step 1): a message's References ids, else the first In-Reply-To id, form a
//   parent chain; a link that would close a loop is dropped; a child keeps its first parent,
//   except that a message's own last reference replaces whatever parent it was given before.
//   A second message with an id already taken is threaded as if it had none.
// - Dummies (step 3): a dummy inside a thread is dropped and its messages hang from the
//   nearest real ancestor; a dummy root stays, unless it has a single child.
// - Siblings and roots sort by sent date (the Date: header, else the internal date), then UID.
// - Subjects (step 5): roots are gathered by base subject in root order; a thread whose root is
//   a reply or forward ("Re:", "Fwd:", "(fwd)", "[fwd: …]") goes under one that is not, two of
//   a kind get a new dummy parent.
// REFS (Dovecot's own) skips step 5 and orders threads by their newest message.
import Foundation

/// What threading needs to know of one message.
struct ThreadMessage {
    var uid: UInt32
    /// The first id of Message-ID, if any.
    var messageID: String?
    /// The References ids, else the first In-Reply-To id (Dovecot ignores In-Reply-To when
    /// References holds an id).
    var references: [String]
    /// Date: in seconds since 1970, else the internal date.
    var sent: Int64
    /// Base subject in sort form (`BaseSubject`); empty when there is none.
    var baseSubject: [UInt8]
    var isReplyOrForward: Bool
}

/// Threads as a flat forest: node 0… with `children` by index; id 0 is a dummy.
struct ThreadForest: Equatable {
    var ids: [UInt32] = []
    var children: [[Int]] = []
    var roots: [Int] = []

    /// The same threads with other numbers (sequence numbers for THREAD, UIDs for UID THREAD).
    func renumbered(_ number: (UInt32) -> UInt32) -> ThreadForest {
        var f = self
        f.ids = ids.map { $0 == 0 ? 0 : number($0) }
        return f
    }

    mutating func add(_ id: UInt32) -> Int {
        ids.append(id)
        children.append([])
        return ids.count - 1
    }

    /// The THREAD response data as Dovecot writes it (imap/cmd-thread.c): a lone child follows
    /// its parent without parentheses, siblings each get their own, a dummy shows only its
    /// children. Iterative: a chain of replies may be thousands deep.
    func imapString() -> String {
        enum Step { case list([Int], root: Bool), text(String) }
        var out = ""
        var stack: [Step] = [.list(roots, root: true)]
        while let step = stack.popLast() {
            switch step {
            case .text(let t): out += t
            case .list(let list, let root):
                var steps: [Step] = []
                if list.count == 1 && !root {
                    let n = list[0]
                    steps.append(.text(String(ids[n])))
                    if !children[n].isEmpty { steps += [.text(" "), .list(children[n], root: false)] }
                } else {
                    for n in list {
                        if children[n].isEmpty {
                            steps.append(.text("(\(ids[n]))"))
                        } else {
                            steps.append(.text(ids[n] == 0 ? "(" : "(\(ids[n]) "))
                            steps += [.list(children[n], root: false), .text(")")]
                        }
                    }
                }
                stack += steps.reversed()
            }
        }
        return out
    }
}

enum MessageThreader {
    /// References kept per message: the first (the thread's start) and the last ones (the
    /// parents). Each link walks up the chain to refuse loops, so an unbounded list would cost
    /// its square; real mail stays far below.
    static let maxReferences = 100

    static func bounded(_ references: [String]) -> [String] {
        references.count > maxReferences ? [references[0]] + references.suffix(maxReferences - 1) : references
    }

    static func references(_ messages: [ThreadMessage]) -> ThreadForest {
        var t = Threading(messages)
        t.sortRoots()
        t.gatherSubjects()
        if t.mergeSubjectThreads() { t.sortRoots() }
        return t.forest()
    }

    static func refs(_ messages: [ThreadMessage]) -> ThreadForest {
        var t = Threading(messages)
        t.sortRootsByNewest()
        return t.forest()
    }

    /// ORDEREDSUBJECT (RFC 5256 §3) from the messages already in SORT (SUBJECT DATE) order:
    /// runs of one base subject, ordered by their first message's date, then its number.
    static func orderedSubject(_ sorted: [(id: UInt32, subject: [UInt8], sent: Int64)]) -> ThreadForest {
        var runs: [[Int]] = []
        for (i, m) in sorted.enumerated() {
            if let last = runs.last?.last, sorted[last].subject == m.subject { runs[runs.count - 1].append(i) } else { runs.append([i]) }
        }
        runs.sort { a, b in (sorted[a[0]].sent, sorted[a[0]].id) < (sorted[b[0]].sent, sorted[b[0]].id) }
        var f = ThreadForest()
        for run in runs {
            let root = f.add(sorted[run[0]].id)
            f.roots.append(root)
            for i in run.dropFirst() { let c = f.add(sorted[i].id); f.children[root].append(c) }
        }
        return f
    }
}

/// Dovecot's thread cache and its "finish" step, for one THREAD command.
private struct Threading {
    struct Node {
        var uid: UInt32 = 0          // 0: a dummy (an id only referred to)
        var parent = 0               // 0: none
        var sent: Int64 = 0
        var message = -1             // index into `messages`
    }
    struct Root {
        var node: Int
        var uid: UInt32
        var sent: Int64 = 0
        var dummy: Bool
        var ignore = false
        var replyOrForward = false
        var index1 = 0, parentIndex1 = 0   // 1-based positions while gathering subjects
    }

    let messages: [ThreadMessage]
    var nodes = [Node()]                  // index 0 unused
    var byID: [String: Int] = [:]
    // Children lists after dummies are dropped (Dovecot's shadow nodes).
    var firstChild: [Int] = []
    var nextSibling: [Int] = []
    var roots: [Root] = []

    init(_ messages: [ThreadMessage]) {
        self.messages = messages
        for (i, m) in messages.enumerated() { add(m, i) }
        createShadows()
    }

    private mutating func node(for id: String) -> Int {
        if let n = byID[id] { return n }
        nodes.append(Node())
        byID[id] = nodes.count - 1
        return nodes.count - 1
    }

    private mutating func add(_ m: ThreadMessage, _ index: Int) {
        var me = m.messageID.map { node(for: $0) } ?? 0
        if me == 0 || nodes[me].uid != 0 {           // no id, or a duplicate: a node of its own
            nodes.append(Node())
            me = nodes.count - 1
        }
        nodes[me].uid = m.uid
        nodes[me].sent = m.sent
        nodes[me].message = index
        var parent = 0
        for id in MessageThreader.bounded(m.references) {
            let n = node(for: id)
            if parent != 0 { link(parent, n) }
            parent = n
        }
        // RFC 5256 §4 step 1.C: the message's own references are surer than what others said.
        if nodes[me].parent != parent && nodes[me].parent != 0 { nodes[me].parent = 0 }
        if parent != 0 { link(parent, me) }
    }

    private mutating func link(_ parent: Int, _ child: Int) {
        var n = parent
        while n != child {                           // child above parent: a loop
            n = nodes[n].parent
            if n == 0 { break }
        }
        if n == child { return }
        if nodes[child].parent == 0 { nodes[child].parent = parent }
    }

    private mutating func addShadowChild(_ parent: Int, _ child: Int) {
        nextSibling[child] = firstChild[parent]
        firstChild[parent] = child
    }

    /// Step 2–3: roots are the nodes without a parent; a message hangs from its nearest real
    /// ancestor, or from the dummy at the top.
    private mutating func createShadows() {
        firstChild = Array(repeating: 0, count: nodes.count)
        nextSibling = firstChild
        for idx in 1..<nodes.count {
            let node = nodes[idx]
            if node.parent == 0 {
                roots.append(Root(node: idx, uid: node.uid, dummy: node.uid == 0))
                continue
            }
            guard node.uid != 0 else { continue }
            var p = node.parent
            while nodes[p].uid == 0 && nodes[p].parent != 0 { p = nodes[p].parent }
            addShadowChild(p, idx)
        }
    }

    private func hasChildren(_ n: Int) -> Bool { firstChild[n] != 0 }

    /// Children by sent date, then UID.
    private func sortedChildren(_ parent: Int) -> [Int] {
        var list: [Int] = []
        var c = firstChild[parent]
        while c != 0 { list.append(c); c = nextSibling[c] }
        return list.sorted { (nodes[$0].sent, nodes[$0].uid) < (nodes[$1].sent, nodes[$1].uid) }
    }

    /// Step 4; a dummy root with one child gives it its place, one with more sorts as its first.
    mutating func sortRoots() {
        for i in roots.indices where !roots[i].ignore {
            if roots[i].dummy {
                guard hasChildren(roots[i].node) else { roots[i].ignore = true; continue }
                let children = sortedChildren(roots[i].node)
                let first = nodes[children[0]]
                if children.count == 1 {
                    roots[i].node = children[0]
                    roots[i].dummy = false
                }
                (roots[i].uid, roots[i].sent) = (first.uid, first.sent)
            } else {
                (roots[i].uid, roots[i].sent) = (nodes[roots[i].node].uid, nodes[roots[i].node].sent)
            }
        }
        roots.sort { ($0.sent, $0.uid) < ($1.sent, $1.uid) }
    }

    /// Step 5.B: the subject table, in root order. A dummy root speaks with its first child's
    /// subject; a dummy or an original displaces a reply already in the table.
    mutating func gatherSubjects() {
        var table: [[UInt8]: Int] = [:]
        for i in roots.indices {
            roots[i].index1 = i + 1
            let idx: Int
            if !roots[i].dummy { idx = roots[i].node } else if !roots[i].ignore { idx = sortedChildren(roots[i].node)[0] } else { continue }
            let m = messages[nodes[idx].message]
            guard !m.baseSubject.isEmpty else { continue }
            if let h = table[m.baseSubject] {
                if !roots[h].dummy && (roots[i].dummy || (roots[h].replyOrForward && !m.isReplyOrForward)) {
                    roots[h].parentIndex1 = roots[i].index1
                    table[m.baseSubject] = i
                } else {
                    roots[i].parentIndex1 = roots[h].index1
                }
            } else {
                table[m.baseSubject] = i
            }
            roots[i].replyOrForward = m.isReplyOrForward
        }
    }

    /// Step 5.C: each root that lost its subject table place joins the one that holds it.
    mutating func mergeSubjectThreads() -> Bool {
        var changed = false
        for i in 0..<roots.count where roots[i].parentIndex1 != 0 && !roots[i].ignore {
            merge(i)
            changed = true
        }
        return changed
    }

    private mutating func merge(_ cur: Int) {
        var root = cur
        repeat { root = roots[root].parentIndex1 - 1 } while roots[root].parentIndex1 != 0
        if roots[cur].dummy {
            // Both dummies: the children of both become siblings.
            var c = firstChild[roots[cur].node]
            while c != 0 {
                let next = nextSibling[c]
                addShadowChild(roots[root].node, c)
                c = next
            }
            firstChild[roots[cur].node] = 0
            roots[cur].ignore = true
        } else if roots[root].dummy || (roots[cur].replyOrForward && !roots[root].replyOrForward) {
            addShadowChild(roots[root].node, roots[cur].node)
            roots[cur].ignore = true
        } else {
            firstChild.append(0)
            nextSibling.append(0)
            let dummy = firstChild.count - 1
            addShadowChild(dummy, roots[root].node)
            addShadowChild(dummy, roots[cur].node)
            roots[root].parentIndex1 = roots.count + 1
            roots[root].ignore = true
            roots[cur].ignore = true
            roots.append(Root(node: dummy, uid: 0, dummy: true, index1: roots.count + 1))
        }
    }

    /// REFS: threads by their newest message (sent date), then root UID.
    mutating func sortRootsByNewest() {
        var position: [Int: Int] = [:]
        for (i, r) in roots.enumerated() {
            position[r.node] = i
            if r.dummy && !hasChildren(r.node) { roots[i].ignore = true }
        }
        for idx in 1..<nodes.count where nodes[idx].uid != 0 {
            var top = idx
            while nodes[top].parent != 0 { top = nodes[top].parent }
            if let i = position[top], roots[i].sent < nodes[idx].sent { roots[i].sent = nodes[idx].sent }
        }
        roots.sort { ($0.sent, $0.uid) < ($1.sent, $1.uid) }
    }

    func forest() -> ThreadForest {
        var f = ThreadForest()
        var pending: [(Int, Int)] = []               // (forest node, shadow node)
        for r in roots where !r.ignore {
            if r.dummy && !hasChildren(r.node) { continue }
            let n = f.add(r.dummy ? 0 : r.uid)
            f.roots.append(n)
            pending.append((n, r.node))
        }
        while let (n, idx) = pending.popLast() {
            guard hasChildren(idx) else { continue }
            for c in sortedChildren(idx) {
                let child = f.add(nodes[c].uid)
                f.children[n].append(child)
                pending.append((child, c))
            }
        }
        return f
    }
}
