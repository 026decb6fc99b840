import COpenSSL

/// One server-side TLS session over memory BIOs: ciphertext from the socket goes in, plaintext
/// comes out, and what OpenSSL wants to send is drained for the socket. No I/O here, so the
/// reactor drives it from Dispatch sources (non-blocking handshakes: want-read/want-write are
/// just "feed me more").
public final class TLSSession {
    public enum Event: Equatable, Sendable {
        case handshakeCompleted
        /// The handshake or a record failed; the reason is OpenSSL's text.
        case failed(String)
        /// The peer sent close_notify.
        case closed
    }

    private let ssl: OpaquePointer
    private var input: OpaquePointer   // network → OpenSSL
    private var output: OpaquePointer  // OpenSSL → network
    public private(set) var handshakeDone = false
    private var failed = false

    public init(context: ServerTLSContext) throws {
        let ssl = SSL_new(context.ctx), r = BIO_new(BIO_s_mem()), w = BIO_new(BIO_s_mem())
        guard let ssl, let r, let w else {
            // Whatever was made is freed (out of memory is the only way here).
            if let ssl { SSL_free(ssl) }
            if let r { BIO_free(r) }
            if let w { BIO_free(w) }
            throw TLSConfigurationError("SSL_new failed: \(openSSLError())")
        }
        _ = roost_BIO_set_mem_eof_return(r, -1)  // empty input means "want more", not EOF
        _ = roost_BIO_set_mem_eof_return(w, -1)
        SSL_set_bio(ssl, r, w)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        input = r
        output = w
    }

    deinit { SSL_free(ssl) }

    /// Feeds bytes from the network. Returns decrypted application data, bytes to send back
    /// (handshake messages, alerts) and at most one event.
    public func receive(_ ciphertext: UnsafeRawBufferPointer) -> (plaintext: [UInt8], output: [UInt8], event: Event?) {
        if !ciphertext.isEmpty {
            _ = BIO_write(input, ciphertext.baseAddress, Int32(ciphertext.count))
        }
        var event: Event?
        if !handshakeDone && !failed {
            let r = SSL_do_handshake(ssl)
            if r == 1 {
                handshakeDone = true
                event = .handshakeCompleted
            } else {
                let err = SSL_get_error(ssl, r)
                if err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE {
                    failed = true
                    return ([], drainOutput(), .failed(describe(err)))
                }
            }
        }
        var plain: [UInt8] = []
        if handshakeDone && !failed {
            // A temporary buffer, not a stored one: an idle session then costs no 16 KB
            // (10,000 idle TLS clients would hold 160 MB of scratch space).
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16 * 1024) { scratch in
                while true {
                    let n = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
                    if n > 0 {
                        plain.append(contentsOf: scratch[0..<Int(n)])
                        continue
                    }
                    let err = SSL_get_error(ssl, n)
                    if err == SSL_ERROR_ZERO_RETURN {
                        event = event ?? .closed
                    } else if err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE {
                        failed = true
                        event = .failed(describe(err))
                    }
                    break
                }
            }
        }
        let out = drainOutput()
        releaseIdleBuffers()
        return (plain, out, event)
    }

    /// Encrypts application data; returns the records to send.
    public func send(_ plaintext: some Collection<UInt8>) -> [UInt8] {
        guard handshakeDone, !failed, !plaintext.isEmpty else { return [] }
        let bytes = Array(plaintext)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(bytes.count - offset)) }
            if n <= 0 { failed = true; break }
            offset += Int(n)
        }
        return drainOutput()
    }

    /// close_notify to send before closing the socket.
    public func shutdown() -> [UInt8] {
        guard handshakeDone, !failed else { return [] }
        _ = SSL_shutdown(ssl)
        return drainOutput()
    }

    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    public var cipherName: String { SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "" }
    /// The client's certificate once the handshake is done (see ServerTLSContext.Options.verifyClientCertificate).
    public enum ClientCertificate: Equatable, Sendable {
        case none, valid
        /// Sent but failed verification; OpenSSL's reason.
        case invalid(String)
    }
    public var clientCertificate: ClientCertificate {
        guard handshakeDone else { return .none }
        switch roost_SSL_client_cert_state(ssl) {
        case 1: return .valid
        case 2: return .invalid(String(cString: roost_SSL_verify_error(ssl)))
        default: return .none
        }
    }
    /// A subject field of the client certificate (Dovecot's ssl_cert_username_field), if present.
    public func clientCertificateField(_ field: String) -> String? {
        guard handshakeDone, let raw = roost_SSL_client_cert_field(ssl, field) else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }
    public var serverName: String? { SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) } }

    /// Memory BIOs keep the capacity of the largest burst they carried (the handshake, a big
    /// FETCH); an idle session should not. When both are empty and hold more than a few KB,
    /// fresh ones replace them (SSL_set_bio frees the old pair).
    private func releaseIdleBuffers() {
        guard handshakeDone, !failed, BIO_ctrl_pending(input) == 0, BIO_ctrl_pending(output) == 0,
              roost_BIO_mem_capacity(input) + roost_BIO_mem_capacity(output) > 4096,
              let r = BIO_new(BIO_s_mem()) else { return }
        guard let w = BIO_new(BIO_s_mem()) else {
            BIO_free(r)
            return
        }
        _ = roost_BIO_set_mem_eof_return(r, -1)
        _ = roost_BIO_set_mem_eof_return(w, -1)
        SSL_set_bio(ssl, r, w)
        input = r
        output = w
    }

    private func drainOutput() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let n = out.withUnsafeMutableBytes { BIO_read(output, $0.baseAddress, Int32(pending)) }
        return n > 0 ? Array(out[0..<Int(n)]) : []
    }

    private func describe(_ err: Int32) -> String {
        let reason = openSSLError()
        return err == SSL_ERROR_SYSCALL ? "SSL_accept() failed: unexpected EOF" : "SSL_accept() failed: \(reason)"
    }
}
