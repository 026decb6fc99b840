import COpenSSL

/// Why a certificate or key could not be used; names the file so an admin can fix it.
public struct TLSConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One server certificate: PEM certificate chain and key, loaded into an SSL_CTX with Roost's
/// secure defaults (TLS 1.2+ unless configured higher, no compression, no renegotiation).
///
/// The master builds one of these at startup and on SIGHUP to validate the files (mismatch,
/// expiry, unreadable) before anything serves; login processes build their own from the PEM
/// texts the master hands them.
public final class ServerTLSContext: @unchecked Sendable {  // SSL_CTX is thread-safe once configured
    public struct Options: Sendable {
        public var certificatePEM: String
        public var keyPEM: String
        public var keyPassword: String = ""
        /// "TLSv1.2" or "TLSv1.3" (Dovecot's ssl_min_protocol names; lower values are raised to TLSv1.2).
        public var minProtocol: String = "TLSv1.2"
        public var cipherList: String = ""
        public var cipherSuites: String = ""
        public var preferServerCiphers: Bool = false
        /// PEM CA certificates (and CRLs) for client certificates (Dovecot's ssl_ca); with
        /// `verifyClientCertificate` clients are asked for one, but need not send it.
        public var clientCAPEM: String = ""
        public var verifyClientCertificate: Bool = false
        /// Dovecot's ssl_require_crl: a client certificate only counts as valid when a CRL
        /// for every CA in its chain is in ssl_ca.
        public var requireCRL: Bool = true
        public var clientCAName: String = "ssl_ca"
        /// Names for error messages.
        public var certificateName: String = "ssl_cert"
        public var keyName: String = "ssl_key"

        public init(certificatePEM: String, keyPEM: String) {
            self.certificatePEM = certificatePEM
            self.keyPEM = keyPEM
        }
    }

    let ctx: OpaquePointer
    /// Other certificates chosen by SNI (`local_name`), by lowercased host name; "*.x" wildcards.
    private var byName: [(pattern: String, context: ServerTLSContext)] = []
    public let options: Options
    /// Seconds until the certificate expires.
    public let secondsUntilExpiry: Int

    public init(_ options: Options) throws {
        self.options = options
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSConfigurationError("SSL_CTX_new failed: \(openSSLError())") }
        self.ctx = ctx
        var built = false
        defer { if !built { SSL_CTX_free(ctx) } }
        SSL_CTX_set_options(ctx, roost_ssl_secure_options() | (options.preferServerCiphers ? roost_ssl_server_preference() : 0))
        _ = roost_SSL_CTX_set_mode(ctx, roost_mode_release_buffers())
        _ = roost_SSL_CTX_set_session_cache_mode(ctx, 0)  // SSL_SESS_CACHE_OFF: no shared state across processes
        let minimum = options.minProtocol.uppercased() == "TLSV1.3" ? roost_TLS1_3_VERSION() : roost_TLS1_2_VERSION()
        guard roost_SSL_CTX_set_min_proto_version(ctx, minimum) == 1 else {
            throw TLSConfigurationError("ssl_min_protocol \(options.minProtocol) rejected: \(openSSLError())")
        }
        if !options.cipherList.isEmpty, SSL_CTX_set_cipher_list(ctx, options.cipherList) != 1 {
            throw TLSConfigurationError("ssl_cipher_list: no usable ciphers in '\(options.cipherList)': \(openSSLError())")
        }
        if !options.cipherSuites.isEmpty, SSL_CTX_set_ciphersuites(ctx, options.cipherSuites) != 1 {
            throw TLSConfigurationError("ssl_cipher_suites: no usable suites in '\(options.cipherSuites)': \(openSSLError())")
        }
        let cert = try Self.loadCertificateChain(ctx: ctx, pem: options.certificatePEM, name: options.certificateName)
        defer { X509_free(cert) }
        try Self.loadKey(ctx: ctx, pem: options.keyPEM, password: options.keyPassword, name: options.keyName,
                         certificateName: options.certificateName)
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSConfigurationError("\(options.keyName) does not match the certificate in \(options.certificateName): \(openSSLError())")
        }
        var ok: Int32 = 0
        let left = roost_cert_seconds_left(cert, &ok)
        guard ok == 1 else { throw TLSConfigurationError("\(options.certificateName): unreadable expiry date") }
        guard left > 0 else {
            throw TLSConfigurationError("\(options.certificateName): certificate has expired")
        }
        if options.verifyClientCertificate {
            try Self.loadClientCA(ctx: ctx, options: options)
        }
        // Last: once every stored property is set, a throw would also run deinit (double free).
        built = true
        secondsUntilExpiry = Int(left)
    }

    deinit { SSL_CTX_free(ctx) }

    /// Adds certificates selected by the client's SNI name (Dovecot's `local_name`).
    public func addNamed(_ names: [String], context: ServerTLSContext) {
        for n in names { byName.append((n.lowercased(), context)) }
        if byName.count == names.count {
            let unmanaged = Unmanaged.passUnretained(self).toOpaque()
            _ = roost_SSL_CTX_set_servername_callback(ctx, { ssl, _, arg in
                guard let ssl, let arg, let raw = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else {
                    return roost_SSL_TLSEXT_ERR_OK()
                }
                let me = Unmanaged<ServerTLSContext>.fromOpaque(arg).takeUnretainedValue()
                let host = String(cString: raw).lowercased()
                if let match = me.context(forHost: host) {
                    SSL_set_SSL_CTX(ssl, match.ctx)
                }
                return roost_SSL_TLSEXT_ERR_OK()
            }, unmanaged)
        }
    }

    func context(forHost host: String) -> ServerTLSContext? {
        if let exact = byName.first(where: { $0.pattern == host }) { return exact.context }
        return byName.first { entry in
            entry.pattern.hasPrefix("*.") && host.hasSuffix(entry.pattern.dropFirst(1)) &&
                !host.dropLast(entry.pattern.count - 1).contains(".")
        }?.context
    }

    private static func loadCertificateChain(ctx: OpaquePointer, pem: String, name: String) throws -> OpaquePointer {
        guard let bio = makeBIO(pem) else { throw TLSConfigurationError("\(name): out of memory") }
        defer { BIO_free(bio) }
        guard let leaf = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
            throw TLSConfigurationError("\(name): no PEM certificate found: \(openSSLError())")
        }
        guard SSL_CTX_use_certificate(ctx, leaf) == 1 else {
            X509_free(leaf)
            throw TLSConfigurationError("\(name): certificate rejected: \(openSSLError())")
        }
        // The rest of the file is the chain, leaf first (as Dovecot's ssl_cert).
        _ = roost_SSL_CTX_clear_chain_certs(ctx)
        while let extra = PEM_read_bio_X509(bio, nil, nil, nil) {
            if roost_SSL_CTX_add0_chain_cert(ctx, extra) != 1 { X509_free(extra) }
        }
        ERR_clear_error()  // the loop ends on "no start line"
        return leaf
    }

    private static func loadKey(ctx: OpaquePointer, pem: String, password: String, name: String,
                                certificateName: String) throws {
        guard let bio = makeBIO(pem) else { throw TLSConfigurationError("\(name): out of memory") }
        defer { BIO_free(bio) }
        let key: OpaquePointer? = password.withCString { pw in
            PEM_read_bio_PrivateKey(bio, nil, nil, UnsafeMutableRawPointer(mutating: pw))
        }
        guard let key else { throw TLSConfigurationError("\(name): no usable PEM private key (wrong ssl_key_password?): \(openSSLError())") }
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(ctx, key) == 1 else {
            throw TLSConfigurationError("\(name) does not match the certificate in \(certificateName): \(openSSLError())")
        }
    }

    private static func loadClientCA(ctx: OpaquePointer, options: Options) throws {
        guard !options.clientCAPEM.isEmpty else {
            throw TLSConfigurationError("ssl_verify_client_cert set, but ssl_ca not")
        }
        var crls: Int32 = 0
        let bytes = Array(options.clientCAPEM.utf8)
        let certs = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) {
                roost_SSL_CTX_load_client_ca(ctx, $0.baseAddress, Int32($0.count), options.requireCRL ? 1 : 0, &crls)
            }
        }
        guard certs > 0 else {
            throw TLSConfigurationError("\(options.clientCAName): no PEM CA certificate found")
        }
        roost_SSL_CTX_request_client_cert(ctx, options.requireCRL ? 1 : 0)
    }

    private static func makeBIO(_ text: String) -> OpaquePointer? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }.map { bio in
            // BIO_new_mem_buf does not copy: copy into a fresh memory BIO we own.
            let owned = BIO_new(BIO_s_mem())!
            _ = bytes.withUnsafeBytes { BIO_write(owned, $0.baseAddress, Int32($0.count)) }
            BIO_free(bio)
            return owned
        }
    }
}

/// The most recent OpenSSL error queue entry as text (and clears the queue).
func openSSLError() -> String {
    var last: String?
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buf = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buf, buf.count)
        last = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    return last ?? "unknown error"
}

/// Self-signed certificates for the embedded dev instance (OpenSSL API, not the CLI).
public enum SelfSignedCertificate {
    public static func make(commonName: String = "localhost",
                            subjectAltName: String = "DNS:localhost,IP:127.0.0.1,IP:::1",
                            days: Int = 3650) throws -> (certificatePEM: String, keyPEM: String) {
        var cert: UnsafeMutablePointer<CChar>?
        var key: UnsafeMutablePointer<CChar>?
        guard roost_make_self_signed(commonName, subjectAltName, Int32(days), &cert, &key) == 1,
              let cert, let key else {
            throw TLSConfigurationError("creating a self-signed certificate failed: \(openSSLError())")
        }
        defer {
            free(cert)
            free(key)
        }
        return (String(cString: cert), String(cString: key))
    }
}
