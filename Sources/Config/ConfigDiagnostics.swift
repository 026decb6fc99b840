// Errors and warnings of the configuration loader. Every one carries the file and line an
// administrator has to open, and prints as `FILE:LINE: message`, like Dovecot's own
// "Error in configuration file FILE line LINE" but in the compiler shape editors can jump to.

/// Where an entry of the configuration came from.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// A configuration that cannot be used: syntax error, unknown setting, bad value, missing file.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    init(_ location: SourceLocation, _ message: String) {
        self.init(file: location.file, line: location.line, message: message)
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// Something the administrator should know about but that does not stop Roost: a setting
/// Roost does not implement yet, a Dovecot 1.x name that was translated.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    init(_ location: SourceLocation, _ message: String) {
        self.init(file: location.file, line: location.line, message: message)
    }

    public var description: String { "\(file):\(line): \(message)" }
}
