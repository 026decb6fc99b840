// Server side of the SASL mechanisms Roost offers: PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login). Pure state machines over raw (already base64-decoded)
// bytes: they yield challenges to send and, finally, credentials for the passdb.
// Which transport carries them (IMAP AUTHENTICATE, SMTP AUTH, the Dovecot auth
// protocol) is the caller's business; `SASLBase64` helps with the common encoding.
//
// Implementation notes:
// - A session gives exactly one terminal step (.credentials or .failure); any step
//   after that is a failure.
// - Identities and passwords must be valid UTF-8 without NUL (RFC 4616 §2 UTF8-SAFE).
// - An authzid different from the authcid fails: Roost has no master users.

import Foundation

public enum SASLMechanism: String, CaseIterable, Sendable, Equatable {
    case plain = "PLAIN"
    case login = "LOGIN"

    /// Case-insensitive lookup by mechanism name.
    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }
}

public enum SASLFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message does not have the mechanism's shape (NUL count, empty authcid, ...).
    case malformed(String)
    /// A response longer than `SASLSession.maxResponseLength`.
    case tooLong
    /// Not valid UTF-8.
    case invalidUTF8
    /// authzid given and different from authcid.
    case authzidMismatch
    /// A response arrived after the exchange had finished.
    case unexpectedResponse

    public var description: String {
        switch self {
        case .malformed(let why): return "invalid input: \(why)"
        case .tooLong: return "response too long"
        case .invalidUTF8: return "invalid UTF-8"
        case .authzidMismatch: return "authorization identity differs from authentication identity"
        case .unexpectedResponse: return "unexpected response"
        }
    }
}

public enum SASLStep: Sendable, Equatable {
    /// Send this (raw, not yet base64-encoded) challenge and wait for a response.
    case challenge([UInt8])
    /// The exchange is complete: check these against the passdb.
    case credentials(user: String, password: String, authzid: String?)
    case failure(SASLFailure)
}

public struct SASLSession: Sendable {
    /// Longest response accepted; RFC 4616 requires at least 255 octets per field.
    public static let maxResponseLength = 8192

    public let mechanism: SASLMechanism
    private enum State: Sendable { case initial, awaitingPlain, awaitingUser, awaitingPassword(String), finished }
    private var state = State.initial

    public init(mechanism: SASLMechanism) {
        self.mechanism = mechanism
    }

    /// Begins the exchange, with the client's initial response if it sent one
    /// (an empty array is an empty initial response, distinct from none).
    public mutating func start(initialResponse: [UInt8]?) -> SASLStep {
        guard case .initial = state else { return finish(.failure(.unexpectedResponse)) }
        switch mechanism {
        case .plain:
            guard let initialResponse else {
                state = .awaitingPlain
                return .challenge([])
            }
            return finish(Self.parsePlain(initialResponse))
        case .login:
            // Dovecot treats a LOGIN initial response as the user name.
            state = .awaitingUser
            if let initialResponse { return step(initialResponse) }
            return .challenge(Array("Username:".utf8))
        }
    }

    /// Feeds the client's (decoded) response to the last challenge.
    public mutating func step(_ clientResponse: [UInt8]) -> SASLStep {
        switch state {
        case .awaitingPlain:
            return finish(Self.parsePlain(clientResponse))
        case .awaitingUser:
            switch Self.text(clientResponse) {
            case .failure(let f): return finish(.failure(f))
            case .success(let user):
                guard !user.isEmpty else { return finish(.failure(.malformed("empty user name"))) }
                state = .awaitingPassword(user)
                return .challenge(Array("Password:".utf8))
            }
        case .awaitingPassword(let user):
            switch Self.text(clientResponse) {
            case .failure(let f): return finish(.failure(f))
            case .success(let password):
                return finish(.credentials(user: user, password: password, authzid: nil))
            }
        case .initial, .finished:
            return finish(.failure(.unexpectedResponse))
        }
    }

    private mutating func finish(_ step: SASLStep) -> SASLStep {
        state = .finished
        return step
    }

    /// RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.
    static func parsePlain(_ message: [UInt8]) -> SASLStep {
        guard message.count <= maxResponseLength else { return .failure(.tooLong) }
        let parts = message.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failure(.malformed("expected 2 NUL separators, found \(parts.count - 1)"))
        }
        var fields: [String] = []
        for part in parts {
            guard let s = String(validating: part, as: UTF8.self) else { return .failure(.invalidUTF8) }
            fields.append(s)
        }
        let (authzid, authcid, password) = (fields[0], fields[1], fields[2])
        guard !authcid.isEmpty else { return .failure(.malformed("empty authentication identity")) }
        if !authzid.isEmpty && authzid != authcid { return .failure(.authzidMismatch) }
        return .credentials(user: authcid, password: password, authzid: authzid.isEmpty ? nil : authzid)
    }

    static func text(_ bytes: [UInt8]) -> Result<String, SASLFailure> {
        guard bytes.count <= maxResponseLength else { return .failure(.tooLong) }
        guard !bytes.contains(0) else { return .failure(.malformed("NUL in response")) }
        guard let s = String(validating: bytes, as: UTF8.self) else { return .failure(.invalidUTF8) }
        return .success(s)
    }
}

/// A client's line in a SASL exchange, after base64 decoding.
public enum SASLClientResponse: Sendable, Equatable {
    case data([UInt8])
    /// `*`: the client aborts the exchange (RFC 4954 §4, RFC 3501 §6.2.2).
    case cancel
    case invalidBase64
}

public enum SASLBase64 {
    /// Decodes a client response line (without CRLF). `=` is an empty initial response
    /// when `equalsIsEmpty` (SASL-IR, SMTP AUTH); an empty line is an empty response.
    public static func decodeClientResponse(_ line: String, equalsIsEmpty: Bool = false) -> SASLClientResponse {
        if line == "*" { return .cancel }
        if line.isEmpty || (equalsIsEmpty && line == "=") { return .data([]) }
        guard let bytes = decode(line) else { return .invalidBase64 }
        return .data(bytes)
    }

    /// Strict base64 (RFC 4648 alphabet, padding required, no whitespace); nil if invalid.
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.count % 4 == 0 else { return nil }
        return Data(base64Encoded: text).map { Array($0) }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
