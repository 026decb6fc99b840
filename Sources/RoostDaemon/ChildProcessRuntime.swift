import Dispatch
import Foundation
import Glibc
import Logging
import RoostLog
import RoostSystem

/// Descriptor numbers every child process is started with.
enum ChildDescriptor {
    static let infoLog: Int32 = 1
    static let errorLog: Int32 = 2
    static let control: Int32 = 3
    static let debugLog: Int32 = 4
    /// Role-specific descriptors (listeners, the auth socket) start here.
    static let firstRoleDescriptor: Int32 = 5
}

/// The kinds of process the master starts (`roost process KIND`).
public enum ProcessRole: String, Sendable, CaseIterable {
    case login, auth, mail, lmtp
}

/// Start-up shared by every child: read the settings message the master sends first, set up
/// logging, and die with the master.
enum ChildProcessRuntime {
    static func readStartMessage() -> ControlMessage? {
        Sockets.setNonBlocking(ChildDescriptor.control, false)
        guard let received = try? DescriptorPassing.receive(on: ChildDescriptor.control, maxBytes: 1 << 20),
              !received.bytes.isEmpty,
              let message = ControlMessage(wire: received.bytes) else {
            return nil
        }
        received.fds.forEach { close($0) }
        return message
    }

    static func decodeSettings(_ message: ControlMessage) -> DaemonSettings? {
        guard let json = message["settings"] else { return nil }
        return try? JSONDecoder().decode(DaemonSettings.self, from: Data(json.utf8))
    }

    static func setUpLogging(_ spec: DaemonSettings.LogSpec) {
        RoostLogging.bootstrap(logSetup(spec, errorFD: ChildDescriptor.errorLog, infoFD: ChildDescriptor.infoLog,
                                        debugFD: ChildDescriptor.debugLog))
    }

    static func logSetup(_ spec: DaemonSettings.LogSpec, errorFD: Int32, infoFD: Int32, debugFD: Int32) -> LogSetup {
        LogSetup(errors: spec.errorsToSyslog ? .syslog : .descriptor(errorFD),
                 info: spec.infoToSyslog ? .syslog : .descriptor(infoFD),
                 debug: spec.debugEnabled ? (spec.infoToSyslog ? .syslog : .descriptor(debugFD)) : nil,
                 syslogFacility: LogSetup.facility(named: spec.facility) ?? LOG_MAIL,
                 timestampFormat: spec.timestampFormat)
    }

    static func fail(_ message: String) -> Never {
        Files.writeAll(fd: 2, Array("roost: Fatal: \(message)\n".utf8))
        exit(89)  // Dovecot's FATAL_DEFAULT exit code
    }
}

/// A Dovecot-style session id: 16 base64 characters of randomness.
enum SessionID {
    static func make() -> String {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<12 { bytes[i] = UInt8.random(in: 0...255) }
        return Data(bytes).base64EncodedString()
    }
}
