import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
    /// IMAP INTERNALDATE: the file's modification time. A cold scan does not stat files whose
    /// names carry S= and W= (as Dovecot's sync does not): the date is then looked up on first
    /// use. `MaildirFolder.internalDate(of:)` remembers it; this property only stats.
    public var internalDate: Date {
        Date(timeIntervalSince1970: internalDateSeconds.isNaN ? MaildirMessage.fileDate(filePath) ?? 0 : internalDateSeconds)
    }
    /// Seconds since 1970; NaN until known.
    var internalDateSeconds: Double
    /// The folder directory (for the lazy date lookup).
    let folderPath: String
    /// \Recent: true only in the one session that first saw the message (moved it out of new/).
    public internal(set) var recent: Bool

    /// Field by field, with two unknown (NaN) dates equal.
    public static func == (a: MaildirMessage, b: MaildirMessage) -> Bool {
        a.uid == b.uid && a.basename == b.basename && a.fileName == b.fileName && a.inNew == b.inNew &&
            a.flags == b.flags && a.keywords == b.keywords && a.keywordMask == b.keywordMask && a.size == b.size &&
            a.virtualSize == b.virtualSize && a.recent == b.recent && a.folderPath == b.folderPath &&
            (a.internalDateSeconds == b.internalDateSeconds || (a.internalDateSeconds.isNaN && b.internalDateSeconds.isNaN))
    }

    var filePath: String { folderPath + (inNew ? "/new/" : "/cur/") + fileName }

    static func fileDate(_ path: String) -> Double? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return FileStamp(st).modificationTime
    }

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
