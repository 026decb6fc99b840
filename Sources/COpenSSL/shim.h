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
#include <openssl/buffer.h>
#include <string.h>
#include <stdint.h>

// Function-like macros and bit-flag constants do not import into Swift; these wrappers do.
static inline long roost_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int v) { return SSL_CTX_set_min_proto_version(ctx, v); }
static inline long roost_SSL_CTX_set_mode(SSL_CTX *ctx, long m) { return SSL_CTX_set_mode(ctx, m); }
static inline long roost_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline long roost_BIO_set_mem_eof_return(BIO *b, int v) { return BIO_set_mem_eof_return(b, v); }
static inline long roost_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long m) { return SSL_CTX_set_session_cache_mode(ctx, m); }
static inline long roost_SSL_CTX_clear_chain_certs(SSL_CTX *ctx) { return SSL_CTX_clear_chain_certs(ctx); }
static inline long roost_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *x) { return SSL_CTX_add0_chain_cert(ctx, x); }
static inline long roost_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
/// Bytes a memory BIO has allocated (BUF_MEM max), whatever it currently holds.
static inline long roost_BIO_mem_capacity(BIO *b) {
    BUF_MEM *m = NULL;
    BIO_get_mem_ptr(b, &m);
    return m ? (long)m->max : 0;
}
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
/// Client certificates: ask for one (optional, like Dovecot's ssl_verify_client_cert) and let
/// every handshake finish; a verification error (the last one) is kept in the SSL's app data and
/// read afterwards, so the login process can refuse authentication instead of the
/// connection (Dovecot: auth_ssl_require_client_cert).
static inline int roost_verify_keep_error(int ok, X509_STORE_CTX *x, int crl_optional) {
    int err = X509_STORE_CTX_get_error(x);
    // ssl_require_crl = no: a CA without a CRL is fine, but a CRL that is there still counts.
    if (!ok && !(crl_optional && err == X509_V_ERR_UNABLE_TO_GET_CRL)) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
        if (ssl) SSL_set_app_data(ssl, (void *)(intptr_t)err);  // the last one, as SSL_get_verify_result
    }
    return 1;
}
static inline int roost_verify_crl_required(int ok, X509_STORE_CTX *x) { return roost_verify_keep_error(ok, x, 0); }
static inline int roost_verify_crl_optional(int ok, X509_STORE_CTX *x) { return roost_verify_keep_error(ok, x, 1); }
static inline void roost_SSL_CTX_request_client_cert(SSL_CTX *ctx, int require_crl) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
                       require_crl ? roost_verify_crl_required : roost_verify_crl_optional);
    static const unsigned char sid[] = "roost";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    // No resumption: a resumed session would carry the verdict on a certificate checked under
    // another (SNI) context or before a reload of ssl_ca.
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
}

/// Loads every certificate and CRL of a PEM text (Dovecot's ssl_ca may hold both) into the
/// context's trust store and the list of CA names sent to clients. Returns the number of
/// certificates, or -1; *crls is the number of CRLs found.
static inline int roost_SSL_CTX_load_client_ca(SSL_CTX *ctx, const char *pem, int len, int require_crl, int *crls) {
    BIO *bio = BIO_new_mem_buf(pem, len);
    if (!bio) return -1;
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!infos) return -1;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    int certs = 0;
    *crls = 0;
    for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509) {
            X509_STORE_add_cert(store, info->x509);
            X509_NAME *n = X509_NAME_dup(X509_get_subject_name(info->x509));
            if (n) sk_X509_NAME_push(names, n);
            certs++;
        }
        if (info->crl) { X509_STORE_add_crl(store, info->crl); (*crls)++; }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    SSL_CTX_set_client_CA_list(ctx, names);
    // CRLs are checked when required, and whenever ssl_ca holds some (see roost_verify_keep_error).
    if (require_crl || *crls > 0) X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    ERR_clear_error();
    return certs;
}

/// After the handshake: 0 no client certificate, 1 valid, 2 present but not valid.
static inline int roost_SSL_client_cert_state(SSL *ssl) {
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (!peer) return 0;
    X509_free(peer);
    return SSL_get_app_data(ssl) == NULL ? 1 : 2;
}
static inline const char *roost_SSL_verify_error(SSL *ssl) {
    return X509_verify_cert_error_string((long)(intptr_t)SSL_get_app_data(ssl));
}

/// The client certificate's subject field `field` (e.g. "commonName", "x500UniqueIdentifier")
/// as malloc'ed UTF-8, or NULL.
static inline char *roost_SSL_client_cert_field(SSL *ssl, const char *field) {
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (!peer) return NULL;
    char *result = NULL;
    int nid = OBJ_txt2nid(field);
    int i = nid == NID_undef ? -1 : X509_NAME_get_index_by_NID(X509_get_subject_name(peer), nid, -1);
    if (i >= 0) {
        ASN1_STRING *data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(peer), i));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n >= 0 && memchr(utf8, 0, n) == NULL) result = strndup((const char *)utf8, n);
        OPENSSL_free(utf8);
    }
    X509_free(peer);
    return result;
}
#endif
