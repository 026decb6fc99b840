// A passwd-file loaded from disk and kept current.
//
// Settings: `passdb { driver = passwd-file  args = [scheme=X] [username_format=%u] PATH }`,
// and the same for `userdb` (see `PasswdFileArgs`).
//
// Implementation notes:
// - On lookup the file is stat()ed at most once per `checkInterval` (1 s, as Dovecot);
//   a change of mtime, size or inode reloads it. Editors that write a temp file and
//   rename() it are seen as an inode change.
// - A file that vanishes or cannot be read drops every record (no stale logins) and
//   makes lookups throw, so the caller answers "temporary failure", not "unknown user".
// - State is guarded by a Mutex; `onLoad` runs outside it, on the looking-up thread.

import Foundation
import Glibc
import Synchronization

public enum PasswdFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotRead(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotRead(let path, let e): return "passwd-file \(path): \(String(cString: strerror(e)))"
        }
    }
}

/// Parsed `args` of a passwd-file passdb or userdb.
public struct PasswdFileArgs: Sendable, Equatable {
    /// Default scheme for passwords without `{SCHEME}` (Dovecot default: CRYPT).
    public var scheme: String
    /// Template applied to the login name before lookup (default `%u`).
    public var usernameFormat: String
    /// File path; may itself hold %-variables (per-domain files such as `/etc/roost/%d/passwd`).
    public var path: String

    public enum ParseError: Error, Equatable, Sendable {
        case missingPath
        case unknownSetting(String)
        case extraArgument(String)
    }

    public init(scheme: String = "CRYPT", usernameFormat: String = "%u", path: String) {
        self.scheme = scheme
        self.usernameFormat = usernameFormat
        self.path = path
    }

    /// Parses e.g. `"scheme=SHA512-CRYPT username_format=%n /etc/roost/users"`.
    public init(parse args: String) throws(ParseError) {
        self.init(path: "")
        var path: String?
        for token in args.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
            if path != nil { throw .extraArgument(token) }
            if token.hasPrefix("scheme=") {
                scheme = String(token.dropFirst("scheme=".count)).uppercased()
            } else if token.hasPrefix("username_format=") {
                usernameFormat = String(token.dropFirst("username_format=".count))
            } else if token.contains("="), !token.hasPrefix("/"), !token.hasPrefix(".") {
                throw .unknownSetting(token)
            } else {
                path = token
            }
        }
        guard let path, !path.isEmpty else { throw .missingPath }
        self.path = path
    }

    /// The key looked up in the file for a login name.
    public func lookupName(for user: String) -> String {
        UsernameFormat.expand(usernameFormat, user: user)
    }

    /// The file to read for a login name (expands %d etc. in `path`).
    public func expandedPath(for user: String) -> String {
        path.contains("%") ? UsernameFormat.expand(path, user: user) : path
    }
}

public final class PasswdFileDB: Sendable {
    public let path: String
    public let checkInterval: Duration

    /// What one (re)load produced, for logging.
    public struct Load: Sendable {
        public var path: String
        public var userCount: Int
        public var issues: [PasswdFileIssue]
        public var error: PasswdFileError?
    }

    private struct FileIdentity: Equatable {
        var mtimeSeconds: Int
        var mtimeNanoseconds: Int
        var size: Int64
        var inode: UInt64
    }

    private struct State {
        var file: PasswdFile?
        var identity: FileIdentity?
        var error: PasswdFileError?
        var lastCheck: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let onLoad: (@Sendable (Load) -> Void)?

    /// Loads `path` now (a failure is remembered and retried on the next lookup).
    public init(path: String, checkInterval: Duration = .seconds(1),
                onLoad: (@Sendable (Load) -> Void)? = nil) {
        self.path = path
        self.checkInterval = checkInterval
        self.onLoad = onLoad
        refresh(force: true)
    }

    /// The record for `username` (already formatted with username_format), nil if absent.
    /// Throws when the file cannot be read.
    public func lookup(_ username: String) throws(PasswdFileError) -> PasswdFileRecord? {
        refresh(force: false)
        let result: Result<PasswdFileRecord?, PasswdFileError> = state.withLock { s in
            if let error = s.error { return .failure(error) }
            return .success(s.file?.records[username])
        }
        return try result.get()
    }

    /// All records of the current load (for `doveadm user '*'`-style listing).
    public var records: [String: PasswdFileRecord] {
        refresh(force: false)
        return state.withLock { $0.file?.records ?? [:] }
    }

    /// Issues of the current load.
    public var issues: [PasswdFileIssue] { state.withLock { $0.file?.issues ?? [] } }

    /// Re-reads the file if it changed (or unconditionally with `force`).
    public func refresh(force: Bool) {
        let now = ContinuousClock.now
        let due = state.withLock { s -> Bool in
            if !force, let last = s.lastCheck, now - last < checkInterval { return false }
            s.lastCheck = now
            return true
        }
        guard due else { return }
        let load: Load? = {
            let identity: FileIdentity
            switch Self.identity(of: path) {
            case .failure(let error):
                return state.withLock { s -> Load? in
                    let changed = s.error != error || s.file != nil
                    s.file = nil; s.identity = nil; s.error = error
                    return changed ? Load(path: path, userCount: 0, issues: [], error: error) : nil
                }
            case .success(let id): identity = id
            }
            if !force, state.withLock({ $0.identity == identity && $0.error == nil }) { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                let error = PasswdFileError.cannotRead(path: path, errno: errno == 0 ? EIO : errno)
                return state.withLock { s in
                    s.file = nil; s.identity = nil; s.error = error
                    return Load(path: path, userCount: 0, issues: [], error: error)
                }
            }
            let file = PasswdFile(parsing: String(decoding: data, as: UTF8.self), path: path)
            state.withLock { s in s.file = file; s.identity = identity; s.error = nil }
            return Load(path: path, userCount: file.records.count, issues: file.issues, error: nil)
        }()
        if let load { onLoad?(load) }
    }

    private static func identity(of path: String) -> Result<FileIdentity, PasswdFileError> {
        var st = stat()
        guard stat(path, &st) == 0 else { return .failure(.cannotRead(path: path, errno: errno)) }
        return .success(FileIdentity(mtimeSeconds: Int(st.st_mtim.tv_sec), mtimeNanoseconds: Int(st.st_mtim.tv_nsec),
                                     size: Int64(st.st_size), inode: UInt64(st.st_ino)))
    }
}
