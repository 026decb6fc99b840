import Testing
@testable import Config

@Suite struct VariableExpanderTests {
    static let vars = ["user": "Jane.Doe@Example.COM", "home": "/home/jane"]

    @Test(arguments: [
        ("%u", "Jane.Doe@Example.COM", #line), ("%Lu", "jane.doe@example.com", #line),
        ("%Uu", "JANE.DOE@EXAMPLE.COM", #line), ("%n", "Jane.Doe", #line), ("%Ln", "jane.doe", #line),
        ("%d", "Example.COM", #line), ("%Ld", "example.com", #line), ("%h/Maildir", "/home/jane/Maildir", #line),
        ("maildir:~/Maildir:INBOX=/var/mail/%u", "maildir:~/Maildir:INBOX=/var/mail/Jane.Doe@Example.COM", #line),
        ("%{user}", "Jane.Doe@Example.COM", #line), ("%{username}", "Jane.Doe", #line),
        ("%{domain}", "Example.COM", #line), ("%{home}", "/home/jane", #line), ("%L{domain}", "example.com", #line),
        ("100%%", "100%", #line), ("%x %{nope}", "%x %{nope}", #line), ("trailing %", "trailing %", #line),
        ("/srv/%d/%n", "/srv/Example.COM/Jane.Doe", #line),
    ] as [(String, String, Int)])
    func expand(_ template: String, _ expected: String, _ line: Int) {
        #expect(VariableExpander.expand(template, Self.vars) == expected, "row at line \(line)")
    }

    @Test func userWithoutDomain() {
        #expect(VariableExpander.expand("%n|%d", ["user": "root"]) == "root|")
    }
}

@Suite struct NetworkMatcherTests {
    static let matcher = NetworkMatcher(cidrs: ["127.0.0.0/8", "::1", "192.168.1.5", "2001:db8::/32", "10.0.0.0/12"])!

    @Test(arguments: [
        ("127.0.0.1", true, #line), ("127.255.0.9", true, #line), ("128.0.0.1", false, #line),
        ("::1", true, #line), ("::2", false, #line), ("192.168.1.5", true, #line), ("192.168.1.6", false, #line),
        ("2001:db8:1::5", true, #line), ("2001:db9::1", false, #line), ("::ffff:127.0.0.1", true, #line),
        ("10.15.255.255", true, #line), ("10.16.0.0", false, #line), ("not an ip", false, #line), ("", false, #line),
    ] as [(String, Bool, Int)])
    func contains(_ ip: String, _ expected: Bool, _ line: Int) {
        #expect(Self.matcher.contains(ipString: ip) == expected, "row at line \(line)")
    }

    @Test func rejectsBadNetworks() {
        #expect(NetworkMatcher(cidrs: ["10.0.0.0/33"]) == nil)
        #expect(NetworkMatcher(cidrs: ["example.com"]) == nil)
        #expect(NetworkMatcher(cidrs: ["::/129"]) == nil)
        #expect(NetworkMatcher(cidrs: ["0.0.0.0/0"])?.contains(ipString: "8.8.8.8") == true)
        #expect(NetworkMatcher(cidrs: [])?.contains(ipString: "8.8.8.8") == false)
    }
}
