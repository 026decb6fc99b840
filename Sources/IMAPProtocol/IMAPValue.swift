// The generic value tree a command's arguments are parsed into, and the command itself.
//
// The syntax layer does not know what FETCH or SEARCH mean; it hands the command
// handlers a tree of atoms, strings and lists, and the handlers (or later
// typed parsers such as a FETCH-attribute parser) give it meaning.
//
// Decisions:
// - Sequence sets, numbers, flags (`\Seen`) and search keys stay `.atom`; see `SequenceSet.parse`.
// - `BODY[HEADER.FIELDS (FROM TO)]<0.100>` is ONE atom: the bracketed part is kept
//   verbatim, spaces and parentheses included, so a FETCH parser can take it apart later.
// - `NIL` in any letter case becomes `.nil`. Where the grammar wants an astring (a mailbox
//   or user called "nil"), `astringBytes` turns it back into the bytes `NIL`.

/// One argument of an IMAP command.
public enum IMAPValue: Sendable, Hashable {
    /// A bare atom, e.g. `FLAGS`, `1:*`, `\Seen`, `BODY.PEEK[HEADER]<0.100>`.
    case atom(String)
    /// A quoted string with its escapes removed.
    case quoted([UInt8])
    /// A literal (`{n}`, `{n+}` or literal8 `~{n}`) with its raw bytes.
    case literal([UInt8])
    /// A parenthesized list.
    case list([IMAPValue])
    /// The atom `NIL`.
    case `nil`
}

extension IMAPValue {
    /// The bytes of an astring (atom, quoted or literal); `NIL` reads as the atom "NIL".
    /// Nil for lists.
    public var astringBytes: [UInt8]? {
        switch self {
        case .atom(let text): return Array(text.utf8)
        case .quoted(let bytes), .literal(let bytes): return bytes
        case .nil: return Array("NIL".utf8)
        case .list: return nil
        }
    }

    /// The bytes of a `string` (quoted or literal only), as RFC 3501 requires in some positions.
    public var stringBytes: [UInt8]? {
        switch self {
        case .quoted(let bytes), .literal(let bytes): return bytes
        default: return nil
        }
    }

    /// The astring decoded as UTF-8; nil for lists and for bytes that are not valid UTF-8.
    public var stringValue: String? {
        guard let bytes = astringBytes else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The text of a bare atom, else nil.
    public var atomValue: String? {
        if case .atom(let text) = self { return text }
        return nil
    }

    /// The elements of a parenthesized list, else nil.
    public var listValue: [IMAPValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    public var isNil: Bool {
        if case .nil = self { return true }
        return false
    }
}

/// One complete client command: `tag SP name [SP arguments]`.
public struct IMAPCommand: Sendable, Hashable {
    /// The client's tag, echoed in the tagged response.
    public var tag: String
    /// Upper-cased command name; `UID` commands are joined: `"UID FETCH"`.
    public var name: String
    public var arguments: [IMAPValue]

    public init(tag: String, name: String, arguments: [IMAPValue] = []) {
        self.tag = tag
        self.name = name
        self.arguments = arguments
    }

    public func argument(at index: Int) -> IMAPValue? {
        arguments.indices.contains(index) ? arguments[index] : nil
    }

    /// The astring argument at `index` as bytes (see `IMAPValue.astringBytes`).
    public func astring(at index: Int) -> [UInt8]? { argument(at: index)?.astringBytes }

    /// The astring argument at `index` decoded as UTF-8.
    public func string(at index: Int) -> String? { argument(at: index)?.stringValue }

    /// The bare atom at `index`.
    public func atom(at index: Int) -> String? { argument(at: index)?.atomValue }

    /// The list at `index`.
    public func list(at index: Int) -> [IMAPValue]? { argument(at: index)?.listValue }
}
