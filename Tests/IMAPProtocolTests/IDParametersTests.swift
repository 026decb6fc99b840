import Testing
import IMAPProtocol

private func idArgument(_ line: String) -> IMAPValue? {
    guard case .command(let id)? = parseEvents("a ID " + line + "\r\n").last else { return nil }
    return id.argument(at: 0)
}

private func idPairs(_ line: String) -> [(String, String?)]? {
    idArgument(line).flatMap(parseIDParameters)
}

@Test func idNilAndEmpty() {
    #expect(idPairs("NIL")?.isEmpty == true)
    #expect(idPairs("()")?.isEmpty == true)
}

@Test func idPairs() throws {
    let pairs = try #require(idPairs(#"("name" "Thunderbird" "version" NIL "os" {5+}"# + "\r\nLinux)"))
    #expect(pairs.map(\.0) == ["name", "version", "os"])
    #expect(pairs.map(\.1) == ["Thunderbird", nil, "Linux"])
}

@Test("malformed or oversized ID arguments", arguments: [
    #"("name")"#,
    #""name""#,
    "FOO",
    #"(NIL "x")"#,
    #"("name" ("x"))"#,
    #"(("a") "x")"#,
    "(\"" + String(repeating: "k", count: 31) + "\" \"v\")",
    "(\"k\" \"" + String(repeating: "v", count: 1025) + "\")",
    "(" + (0...30).map { "\"k\($0)\" \"v\"" }.joined(separator: " ") + ")",
])
func idMalformed(argument: String) throws {
    let value = try #require(idArgument(argument))
    #expect(parseIDParameters(value) == nil)
}

@Test func idLimitsInclusive() {
    let thirty = "(" + (1...30).map { _ in
        "\"" + String(repeating: "k", count: 30) + "\" \"" + String(repeating: "v", count: 1024) + "\""
    }.joined(separator: " ") + ")"
    #expect(idPairs(thirty)?.count == 30)
}
