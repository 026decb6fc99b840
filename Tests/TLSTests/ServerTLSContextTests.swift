import COpenSSL
import Testing
@testable import TLS

@Suite struct ServerTLSContextTests {
    @Test func selfSignedCertificateLoadsAndHandshakes() throws {
        let (cert, key) = try SelfSignedCertificate.make()
        let server = try ServerTLSContext(.init(certificatePEM: cert, keyPEM: key))
        #expect(server.secondsUntilExpiry > 86400 * 3000)
        let (version, received) = try handshake(server: server, clientMax: roost_TLS1_3_VERSION(), send: "hello")
        #expect(version == "TLSv1.3")
        #expect(received == "hello")
        let (v12, _) = try handshake(server: server, clientMax: roost_TLS1_2_VERSION(), send: "x")
        #expect(v12 == "TLSv1.2")
    }

    @Test func tls11IsRefused() throws {
        let (cert, key) = try SelfSignedCertificate.make()
        let server = try ServerTLSContext(.init(certificatePEM: cert, keyPEM: key))
        #expect(throws: (any Error).self) { _ = try handshake(server: server, clientMax: roost_TLS1_1_VERSION(), send: "x") }
    }

    @Test func mismatchedKeyIsNamed() throws {
        let (cert, _) = try SelfSignedCertificate.make()
        let (_, otherKey) = try SelfSignedCertificate.make()
        var options = ServerTLSContext.Options(certificatePEM: cert, keyPEM: otherKey)
        options.certificateName = "/etc/ssl/a.pem"
        options.keyName = "/etc/ssl/b.key"
        #expect { _ = try ServerTLSContext(options) } throws: { error in
            "\(error)".contains("/etc/ssl/b.key does not match the certificate in /etc/ssl/a.pem")
        }
    }

    @Test func expiredCertificateIsRefused() throws {
        let (cert, key) = try SelfSignedCertificate.make(days: -1)
        var options = ServerTLSContext.Options(certificatePEM: cert, keyPEM: key)
        options.certificateName = "/x/old.pem"
        #expect { _ = try ServerTLSContext(options) } throws: { "\($0)".contains("/x/old.pem: certificate has expired") }
    }

    @Test func garbageIsRefusedWithTheFileName() throws {
        var options = ServerTLSContext.Options(certificatePEM: "not a cert", keyPEM: "nope")
        options.certificateName = "/x/garbage.pem"
        #expect { _ = try ServerTLSContext(options) } throws: { "\($0)".contains("/x/garbage.pem: no PEM certificate found") }
    }

    @Test func sniSelectsTheNamedCertificate() throws {
        let (cert, key) = try SelfSignedCertificate.make(commonName: "default.test", subjectAltName: "DNS:default.test")
        let (cert2, key2) = try SelfSignedCertificate.make(commonName: "mail.example.org", subjectAltName: "DNS:mail.example.org")
        let server = try ServerTLSContext(.init(certificatePEM: cert, keyPEM: key))
        server.addNamed(["mail.example.org"], context: try ServerTLSContext(.init(certificatePEM: cert2, keyPEM: key2)))
        #expect(try peerCommonName(server: server, sni: "mail.example.org") == "mail.example.org")
        #expect(try peerCommonName(server: server, sni: "other.test") == "default.test")
        #expect(try peerCommonName(server: server, sni: nil) == "default.test")
    }
}

/// A client SSL over memory BIOs pumped against a TLSSession.
private struct TestFailure: Error { let text: String }

private func makeClient(maxVersion: Int32, sni: String?) -> (OpaquePointer, OpaquePointer, OpaquePointer) {
    let ctx = SSL_CTX_new(TLS_client_method())!
    SSL_CTX_set_security_level(ctx, 0)
    _ = roost_SSL_CTX_set_min_proto_version(ctx, roost_TLS1_VERSION())
    _ = roost_SSL_CTX_set_max_proto_version(ctx, maxVersion)
    let ssl = SSL_new(ctx)!
    let r = BIO_new(BIO_s_mem())!, w = BIO_new(BIO_s_mem())!
    SSL_set_bio(ssl, r, w)
    SSL_set_connect_state(ssl)
    if let sni { _ = roost_SSL_set_tlsext_host_name(ssl, sni) }
    SSL_CTX_free(ctx)
    return (ssl, r, w)
}

private func drain(_ bio: OpaquePointer) -> [UInt8] {
    let n = Int(BIO_ctrl_pending(bio))
    var out = [UInt8](repeating: 0, count: n)
    if n > 0 { _ = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(n)) } }
    return out
}

private func pump(server: TLSSession, client: OpaquePointer, r: OpaquePointer, w: OpaquePointer) throws -> [UInt8] {
    var plain: [UInt8] = []
    for _ in 0..<20 {
        _ = SSL_do_handshake(client)
        let toServer = drain(w)
        let result = toServer.withUnsafeBytes { server.receive($0) }
        plain += result.plaintext
        if case .failed(let why) = result.event { throw TestFailure(text: why) }
        if !result.output.isEmpty { _ = result.output.withUnsafeBytes { BIO_write(r, $0.baseAddress, Int32($0.count)) } }
        if SSL_is_init_finished(client) == 1 && server.handshakeDone && toServer.isEmpty && result.output.isEmpty { break }
    }
    guard SSL_is_init_finished(client) == 1 else { throw TestFailure(text: "handshake did not finish") }
    return plain
}

private func handshake(server context: ServerTLSContext, clientMax: Int32, send: String) throws -> (String, String) {
    let server = try TLSSession(context: context)
    let (client, r, w) = makeClient(maxVersion: clientMax, sni: nil)
    defer { SSL_free(client) }
    _ = try pump(server: server, client: client, r: r, w: w)
    _ = SSL_write(client, send, Int32(send.utf8.count))
    let records = drain(w)
    let got = records.withUnsafeBytes { server.receive($0) }
    return (String(cString: SSL_get_version(client)), String(decoding: got.plaintext, as: UTF8.self))
}

private func peerCommonName(server context: ServerTLSContext, sni: String?) throws -> String {
    let server = try TLSSession(context: context)
    let (client, r, w) = makeClient(maxVersion: roost_TLS1_3_VERSION(), sni: sni)
    defer { SSL_free(client) }
    _ = try pump(server: server, client: client, r: r, w: w)
    guard let cert = SSL_get1_peer_certificate(client) else { throw TestFailure(text: "no peer cert") }
    defer { X509_free(cert) }
    var buf = [CChar](repeating: 0, count: 256)
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, &buf, 256)
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
