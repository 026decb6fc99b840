import Testing
@testable import IMAPServer

@Suite struct IMAPMailSessionSmokeTests {
    @Test func capabilitiesAfterLoginAreListed() {
        #expect(IMAPCapabilities.postLogin.first == "IMAP4rev1")
    }
}
