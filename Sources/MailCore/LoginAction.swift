/// What a pre-login protocol session (IMAP, POP3) asks the login process to do. The session
/// is a pure state machine; the login process owns the socket, TLS and the auth connection.
public enum LoginAction: Equatable, Sendable {
    case send([UInt8])
    /// Start SASL with the auth process; `initialResponse` is base64 (nil: none, "=": empty).
    case authenticate(tag: String, mechanism: String, initialResponse: String?)
    /// The client's base64 answer to the last challenge.
    case authContinue(String)
    /// The client cancelled the exchange.
    case authCancel
    /// Authentication succeeded: hand the connection (and any pipelined bytes) to the mail process.
    case handOff(tag: String, pending: [UInt8])
    case startTLS
    case close(reason: String)
}

/// The common face of IMAP's and POP3's pre-login sessions, as the login process sees it.
public protocol LoginSession: AnyObject {
    /// "imap" or "pop3": the auth service name and the log prefix (`imap-login`).
    var protocolName: String { get }
    var failedAttempts: Int { get }
    var lastUser: String? { get }
    var lastMechanism: String? { get }
    func greeting() -> [LoginAction]
    func receive(_ bytes: UnsafeRawBufferPointer) -> [LoginAction]
    func receive(_ bytes: [UInt8]) -> [LoginAction]
    func authChallenge(_ base64: String) -> [LoginAction]
    func authFinished(success: Bool, user: String?, reason: String?, temporary: Bool) -> [LoginAction]
    func tlsStarted(plaintextAllowed: Bool)
    func shutdownMessage() -> [LoginAction]
}

/// Settings both pre-login protocols share.
public struct LoginSessionSettings: Sendable {
    public var greeting: String
    public var mechanisms: [String]
    public var plaintextAllowed: Bool
    public var startTLSAvailable: Bool
    public var tlsConfigured: Bool
    public var maxLineLength: Int
    public var maxBadCommands: Int

    public init(greeting: String = "Roost ready.", mechanisms: [String] = ["PLAIN", "LOGIN"],
                plaintextAllowed: Bool = true, startTLSAvailable: Bool = false,
                maxLineLength: Int = 64 * 1024, maxBadCommands: Int = 10) {
        self.greeting = greeting
        self.mechanisms = mechanisms
        self.plaintextAllowed = plaintextAllowed
        self.startTLSAvailable = startTLSAvailable
        self.tlsConfigured = startTLSAvailable
        self.maxLineLength = maxLineLength
        self.maxBadCommands = maxBadCommands
    }
}
