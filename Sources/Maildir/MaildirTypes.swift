import Foundation

/// One message as a session sees it.
public struct MaildirMessage: Equatable, Sendable {
    public let uid: UInt32
    /// Name without the `:2,` info; stable across flag changes (dovecot-uidlist's key).
    public let basename: String
    /// Current file name in cur/ (or new/ when `inNew`).
    public internal(set) var fileName: String
    public internal(set) var inNew: Bool
    public internal(set) var flags: MessageFlags
    /// Keywords in letter order (dovecot-keywords index order).
    public internal(set) var keywords: [String]
    /// Keyword letters as bits (bit i = letter "a"+i), including letters with no known name.
    public internal(set) var keywordMask: UInt32
    /// File size in bytes.
    public let size: Int64
    /// Size with CRLF line endings (IMAP RFC822.SIZE, Dovecot's W=).
    public let virtualSize: Int64
    /// IMAP INTERNALDATE: the file's modification time.
    public let internalDate: Date
    /// \Recent: true only in the one session that first saw the message (moved it out of new/).
    public internal(set) var recent: Bool

    var otherLetters: [UInt8] {
        MaildirFileName(parsing: fileName).otherLetters
    }
}

/// What changed in a folder since this session's previous sync: enough for IMAP to send
/// EXISTS, EXPUNGE and FETCH FLAGS.
public struct FolderChanges: Equatable, Sendable {
    public var added: [MaildirMessage] = []
    /// UIDs gone since the last sync, ascending.
    public var expunged: [UInt32] = []
    /// Messages whose flags or keywords changed (new values).
    public var flagsChanged: [MaildirMessage] = []
    /// The folder was recreated (new UIDVALIDITY): the session must start over.
    public var uidValidityChanged = false

    public var isEmpty: Bool { added.isEmpty && expunged.isEmpty && flagsChanged.isEmpty && !uidValidityChanged }
}

public enum FlagUpdate: Sendable {
    case replace, add, remove
}

public enum MaildirError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidName(MailboxNameError)
    case noSuchFolder(String)
    case folderExists(String)
    case cannotDeleteInbox
    case hasChildren(String)
    case noSuchMessage(UInt32)
    case readOnly
    case notAFolder(String)
    case corrupt(String)
    case renameIntoItself(String)
    /// Saving would go over quota; the text is quota_exceeded_message.
    case overQuota(String)

    public var description: String {
        switch self {
        case .invalidName(let e): return e.description
        case .noSuchFolder(let n): return "Mailbox doesn't exist: \(n)"
        case .folderExists(let n): return "Mailbox already exists: \(n)"
        case .cannotDeleteInbox: return "INBOX can't be deleted"
        case .hasChildren(let n): return "Mailbox has children: \(n)"
        case .noSuchMessage(let u): return "No such message: UID \(u)"
        case .readOnly: return "Mailbox is read-only"
        case .notAFolder(let p): return "Not a mail folder (symlink or not a directory): \(p)"
        case .corrupt(let p): return "Corrupt file: \(p)"
        case .renameIntoItself(let n): return "Can't rename mailbox under itself: \(n)"
        case .overQuota(let text): return text
        }
    }
}
