// CCrypto: SHA-256 from libcrypto (OpenSSL's EVP interface), for the hashes manifests and the demo's
// stage cache record. Why a library: libcrypto uses the CPU's SHA extensions (SHA-NI) or AVX2 code
// where it has them, several times the rate of portable code (tools/bench-sha256 measures it).
// The shim keeps OpenSSL's headers out of Swift: four functions (new, update, final, free) over an
// opaque context.
#ifndef CCRYPTO_H
#define CCRYPTO_H
#include <stddef.h>
#include <stdint.h>

/// A new SHA-256 context, or NULL when libcrypto cannot make one (out of memory).
void *CCrypto_sha256_new(void);
/// Feeds `count` bytes; returns 1 on success, 0 on failure.
int CCrypto_sha256_update(void *context, const void *bytes, size_t count);
/// Writes the 32-byte digest to `digest` and resets the context for a new message; returns 1 or 0.
int CCrypto_sha256_final(void *context, uint8_t digest[32]);
/// Frees the context (NULL is allowed).
void CCrypto_sha256_free(void *context);
#endif
