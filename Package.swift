// swift-tools-version: 6.0
// Roost: an IMAP/POP3/LMTP mail server. Module dependency direction (no cycles):
//   CSystem, COpenSSL  ->  RoostSystem  ->  Reactor
//   Config -> Auth ; IMAPProtocol -> IMAPServer ; RoostLog
//   everything -> RoostDaemon (processes) -> roost (CLI)
import PackageDescription

let package = Package(
    name: "Roost",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "roost", targets: ["roost"]),
        .executable(name: "roost-bench", targets: ["roost-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C shims for glibc bits Swift cannot import (CMSG macros, accept4, setresuid, crypt_r, prctl).
        .target(name: "CSystem", linkerSettings: [.linkedLibrary("crypt")]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPAM", providers: [.apt(["libpam0g-dev"])]),
        .target(name: "RoostSystem", dependencies: ["CSystem", "COpenSSL"]),
        .target(name: "RoostLog", dependencies: [
            "RoostSystem", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Reactor", dependencies: ["RoostSystem"]),
        .target(name: "TLS", dependencies: ["COpenSSL"]),
        .target(name: "Config", dependencies: []),
        .target(name: "Auth", dependencies: ["RoostSystem", "CSystem", "COpenSSL", "CPAM", "Config"]),
        .target(name: "MailCore", dependencies: []),
        .target(name: "IMAPProtocol", dependencies: []),
        .target(name: "IMAPServer", dependencies: ["IMAPProtocol", "MailCore", "Maildir", "MailMessage"]),
        .target(name: "POP3Server", dependencies: ["MailCore"]),
        .target(name: "SMTPProtocol", dependencies: []),
        .target(name: "Maildir", dependencies: ["RoostSystem"]),
        .target(name: "MailMessage", dependencies: []),
        .target(name: "RoostDaemon", dependencies: [
            "Config", "Auth", "Reactor", "RoostSystem", "CSystem", "RoostLog", "IMAPProtocol", "IMAPServer", "POP3Server", "SMTPProtocol", "MailCore", "TLS", "Maildir",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "roost", dependencies: [
            "RoostDaemon", "Config", "Auth",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmarks stay out of the server's graph: their own client code, OpenSSL for TLS;
        // the store benchmark drives the Maildir library directly.
        .executableTarget(name: "roost-bench", dependencies: [
            "COpenSSL", "Maildir", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth"]),
        .testTarget(name: "IMAPProtocolTests", dependencies: ["IMAPProtocol"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "RoostSystem"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "COpenSSL"]),
        .testTarget(name: "POP3ServerTests", dependencies: ["POP3Server", "MailCore"]),
        .testTarget(name: "SMTPProtocolTests", dependencies: ["SMTPProtocol"]),
        .testTarget(name: "MailMessageTests", dependencies: ["MailMessage"]),
        .testTarget(name: "IMAPServerTests", dependencies: ["IMAPServer", "Maildir", "IMAPProtocol"]),
        .testTarget(name: "MaildirTests", dependencies: ["Maildir"]),
        .testTarget(name: "RoostDaemonTests", dependencies: ["RoostDaemon"]),
        .testTarget(name: "IntegrationTests", dependencies: ["RoostSystem"]),
    ],
    swiftLanguageModes: [.v6]
)
