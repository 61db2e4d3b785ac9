// CCrypto: libcrypto's EVP SHA-256 behind stable C names (see include/CCrypto.h).
#include "CCrypto.h"
#include <openssl/evp.h>

void *CCrypto_sha256_new(void) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context && EVP_DigestInit_ex(context, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(context);
        return NULL;
    }
    return context;
}

int CCrypto_sha256_update(void *context, const void *bytes, size_t count) {
    return EVP_DigestUpdate((EVP_MD_CTX *)context, bytes, count) == 1;
}

int CCrypto_sha256_final(void *context, uint8_t digest[32]) {
    unsigned int length = 0;
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)context, digest, &length) != 1 || length != 32) return 0;
    return EVP_DigestInit_ex((EVP_MD_CTX *)context, EVP_sha256(), NULL) == 1;
}

void CCrypto_sha256_free(void *context) { EVP_MD_CTX_free((EVP_MD_CTX *)context); }
