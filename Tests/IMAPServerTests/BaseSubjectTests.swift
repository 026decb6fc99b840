import Testing
@testable import IMAPServer

/// RFC 5256 §2.1 base subjects, in sort form (uppercased, decomposed).
@Suite struct BaseSubjectTests {
    @Test(arguments: [
        ("Re: hello", "HELLO"),
        ("RE: RE:  re:topic   ", "TOPIC"),
        ("Fwd: hello (fwd)", "HELLO"),
        ("hello (fwd) (FWD)  ", "HELLO"),
        ("[list] Fwd: Hello (fwd)", "HELLO"),
        ("Re[2]: hello", "HELLO"),
        ("[a][b] fw: [c] re[d]: final", "FINAL"),
        ("[only a blob]", "[ONLY A BLOB]"),              // removing the blob would leave nothing
        ("[blob]   ", "[BLOB]"),
        ("[fwd: re: [x] Topic]", "TOPIC"),
        ("[Fwd: Re: [fwd: hi]]", "HI"),                  // step 6 repeats from step 2
        ("Fw: Fwd: [x]", "[X]"),
        ("re:", ""),
        ("\t (fwd)  ", ""),
        ("Rebus: not a reply", "REBUS: NOT A REPLY"),
        ("Re : spaced", "SPACED"),
        ("a\t\tb  c", "A B C"),
        ("[unclosed re: x", "[UNCLOSED RE: X"),
    ])
    func baseSubject(_ subject: String, _ base: String) {
        #expect(BaseSubject.of(subject) == base)
    }

    @Test func accentedLettersSortWithTheirBaseLetter() {
        let e = Array(BaseSubject.sortForm("Édouard").utf8)
        #expect(e.lexicographicallyPrecedes(Array(BaseSubject.sortForm("Undisclosed").utf8)))
        #expect(Array(BaseSubject.sortForm("Carl").utf8).lexicographicallyPrecedes(e))
    }
}
