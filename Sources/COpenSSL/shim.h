#ifndef ROOST_COPENSSL_SHIM_H
#define ROOST_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <string.h>

// Function-like macros and bit-flag constants do not import into Swift; these wrappers do.
static inline long roost_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) { return SSL_CTX_set_min_proto_version(ctx, v); }
static inline long roost_SSL_CTX_set_mode(SSL_CTX *ctx, long m) { return SSL_CTX_set_mode(ctx, m); }
static inline long roost_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline long roost_BIO_set_mem_eof_return(BIO *b, int v) { return BIO_set_mem_eof_return(b, v); }
static inline long roost_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long m) { return SSL_CTX_set_session_cache_mode(ctx, m); }
static inline long roost_SSL_CTX_clear_chain_certs(SSL_CTX *ctx) { return SSL_CTX_clear_chain_certs(ctx); }
static inline long roost_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *x) { return SSL_CTX_add0_chain_cert(ctx, x); }
static inline long roost_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline long roost_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int v) { return SSL_CTX_set_max_proto_version(ctx, v); }
static inline long roost_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *l) { return SSL_CTX_set1_groups_list(ctx, l); }

/// Options every Roost server context gets: no compression, no renegotiation, server cipher
/// order only when asked (see roost_server_cipher_preference).
static inline uint64_t roost_ssl_secure_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3;
}
static inline uint64_t roost_ssl_server_preference(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline long roost_mode_release_buffers(void) { return SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE; }
static inline int roost_TLS1_VERSION(void) { return TLS1_VERSION; }
static inline int roost_TLS1_1_VERSION(void) { return TLS1_1_VERSION; }
static inline int roost_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
static inline int roost_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }

/// SNI: OpenSSL calls `cb(ssl, alert, arg)` with the client's server name available through
/// SSL_get_servername; the callback switches the SSL's context with SSL_set_SSL_CTX.
typedef int (*roost_servername_cb)(SSL *, int *, void *);
static inline long roost_SSL_CTX_set_servername_callback(SSL_CTX *ctx, roost_servername_cb cb, void *arg) {
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
    return SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline int roost_SSL_TLSEXT_ERR_OK(void) { return SSL_TLSEXT_ERR_OK; }
static inline int roost_SSL_TLSEXT_ERR_NOACK(void) { return SSL_TLSEXT_ERR_NOACK; }

/// A self-signed P-256 certificate for `cn` with the given subjectAltName (e.g.
/// "DNS:localhost,IP:127.0.0.1"), valid for `days`. PEM texts are malloc'ed into *cert/*key.
static inline int roost_make_self_signed(const char *cn, const char *san, int days, char **cert, char **key) {
    int ok = 0;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    if (!pkey || !x || !cb || !kb) goto done;
    X509_set_version(x, 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Roost self-signed", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    if (!ext) goto done;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(x, pkey, EVP_sha256())) goto done;
    if (!PEM_write_bio_X509(cb, x) || !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL)) goto done;
    char *p; long n;
    n = BIO_get_mem_data(cb, &p); *cert = strndup(p, n);
    n = BIO_get_mem_data(kb, &p); *key = strndup(p, n);
    ok = 1;
done:
    BIO_free(cb); BIO_free(kb); X509_free(x); EVP_PKEY_free(pkey);
    return ok;
}

/// Seconds until the certificate's notAfter (negative: expired). 0 on parse failure with *ok = 0.
static inline long roost_cert_seconds_left(X509 *x, int *ok) {
    int days = 0, secs = 0;
    *ok = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
    return (long)days * 86400 + secs;
}
#endif
