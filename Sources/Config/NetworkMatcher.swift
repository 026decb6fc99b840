// Matches IP addresses against a list of networks (login_trusted_networks and the like).
// Entries are "127.0.0.0/8", "::1", "192.168.1.5", "2001:db8::/32"; IPv4-mapped IPv6 client
// addresses (::ffff:1.2.3.4) match IPv4 networks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct NetworkMatcher: Sendable, Hashable {
    struct Network: Sendable, Hashable {
        var bytes: [UInt8]   // 4 or 16
        var prefixLength: Int
    }

    let networks: [Network]

    /// Returns nil if an entry is not an IP address or network.
    public init?(cidrs: [String]) {
        var networks: [Network] = []
        for cidr in cidrs {
            guard let network = Self.parseNetwork(cidr) else { return nil }
            networks.append(network)
        }
        self.networks = networks
    }

    public static func isValid(_ cidr: String) -> Bool { parseNetwork(cidr) != nil }

    public func contains(ipString: String) -> Bool {
        guard var address = Self.parseAddress(ipString) else { return false }
        if address.count == 16, address.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            address = Array(address.suffix(4))
        }
        return networks.contains { network in
            network.bytes.count == address.count && Self.samePrefix(network.bytes, address, bits: network.prefixLength)
        }
    }

    static func parseNetwork(_ text: String) -> Network? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let bytes = parseAddress(String(parts[0])) else { return nil }
        var prefix = bytes.count * 8
        if parts.count == 2 {
            guard let p = SettingValue.number(String(parts[1])), p <= prefix else { return nil }
            prefix = p
        }
        return Network(bytes: bytes, prefixLength: prefix)
    }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var host = text
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func samePrefix(_ a: [UInt8], _ b: [UInt8], bits: Int) -> Bool {
        var remaining = bits
        for i in 0..<a.count where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xff : ~(0xff >> UInt8(remaining))
            if a[i] & mask != b[i] & mask { return false }
            remaining -= 8
        }
        return true
    }
}
