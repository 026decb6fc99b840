import TLS

/// Builds the login process's TLS context (default certificate plus `local_name` ones chosen
/// by SNI) from the PEM texts the master read. The master builds it too, to refuse to start
/// (or to reload) with a mismatched, expired or unreadable certificate.
enum LoginTLS {
    static func makeContext(_ s: DaemonSettings) throws -> ServerTLSContext? {
        guard s.ssl != "no", let files = s.tlsDefault else { return nil }
        let main = try ServerTLSContext(options(files, s))
        for named in s.tlsNamed {
            main.addNamed(named.names, context: try ServerTLSContext(options(named, s)))
        }
        return main
    }

    private static func options(_ files: DaemonSettings.TLSFiles, _ s: DaemonSettings) -> ServerTLSContext.Options {
        var o = ServerTLSContext.Options(certificatePEM: files.certificatePEM, keyPEM: files.keyPEM)
        o.keyPassword = s.sslKeyPassword
        o.minProtocol = s.sslMinProtocol
        o.cipherList = s.sslCipherList
        o.cipherSuites = s.sslCipherSuites
        o.preferServerCiphers = s.sslPreferServerCiphers
        o.certificateName = files.certificateName
        o.keyName = files.keyName
        if let ca = s.sslClientCA {
            o.verifyClientCertificate = true
            o.clientCAPEM = ca
            o.clientCAName = s.sslClientCAName
            o.requireCRL = s.sslRequireCRL
        }
        return o
    }
}
