/* Crypto wrappers over OpenSSL 3 EVP.
 *
 * Every function returns 0 or a negative errno: -EINVAL for bad sizes or
 * arguments, -EBADMSG for an authentication failure (AEAD tag mismatch), -EIO
 * for an OpenSSL failure. Output buffers are written only on success (AEAD
 * open writes nothing usable on failure and wipes what it wrote). Secrets held
 * in structs here are wiped with OPENSSL_cleanse by their *_wipe helpers;
 * callers wipe their own stack copies with crypto_wipe(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SHA256_LEN 32
#define HMAC_SHA256_LEN 32
#define X25519_KEY_LEN 32
#define CHACHAPOLY_KEY_LEN 32
#define CHACHAPOLY_NONCE_LEN 12
#define AEAD_TAG_LEN 16
#define AES256GCM_KEY_LEN 32
#define AES256GCM_NONCE_LEN 12
/* HKDF-SHA256 can produce at most 255 blocks. */
#define HKDF_SHA256_MAX_OUT (255 * 32)

void crypto_wipe(void *p, size_t len);
/* Constant-time comparison; true when equal. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* CSPRNG (OpenSSL RAND_bytes). */
int crypto_random(void *out, size_t len);

int crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Incremental SHA-256 for streamed data (file hashing). */
struct sha256_ctx;
struct sha256_ctx *sha256_new(void);
int sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Finishing re-arms the context for a new hash. */
int sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);
void sha256_free(struct sha256_ctx *c);

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[HMAC_SHA256_LEN]);
/* RFC 5869 HKDF-SHA256 (extract + expand). salt may be NULL/0 (zero salt). */
int crypto_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                       const void *info, size_t info_len, void *out, size_t out_len);
/* PBKDF2-HMAC-SHA256. */
int crypto_pbkdf2_sha256(const void *pw, size_t pw_len, const void *salt, size_t salt_len,
                         uint32_t iterations, void *out, size_t out_len);

/* X25519 (RFC 7748). priv is a raw 32-byte scalar (clamped internally). */
int x25519_keygen(uint8_t priv[X25519_KEY_LEN], uint8_t pub[X25519_KEY_LEN]);
int x25519_public(const uint8_t priv[X25519_KEY_LEN], uint8_t pub[X25519_KEY_LEN]);
/* Fails with -EINVAL when the result is all zeros (low-order point). */
int x25519_shared(const uint8_t priv[X25519_KEY_LEN], const uint8_t peer_pub[X25519_KEY_LEN],
                  uint8_t out[X25519_KEY_LEN]);

/* ChaCha20-Poly1305 (RFC 8439). Seal writes pt_len + 16 bytes to out; open
 * reads ct_len >= 16 and writes ct_len - 16 bytes. out may equal in. */
int chachapoly_seal(const uint8_t key[CHACHAPOLY_KEY_LEN],
                    const uint8_t nonce[CHACHAPOLY_NONCE_LEN], const void *ad, size_t ad_len,
                    const void *pt, size_t pt_len, uint8_t *out);
int chachapoly_open(const uint8_t key[CHACHAPOLY_KEY_LEN],
                    const uint8_t nonce[CHACHAPOLY_NONCE_LEN], const void *ad, size_t ad_len,
                    const void *ct, size_t ct_len, uint8_t *out);

/* The same AEAD with the key set up once, for many messages under one key
 * (Noise transport frames): the cipher is fetched and the key scheduled when
 * the context is made, and each seal/open only sets the nonce, instead of a
 * fetch and a fresh EVP context per message. Seal and open are exactly
 * chachapoly_seal() / chachapoly_open() with the context's key (same sizes,
 * aliasing, errors and wiping on failure). new: 0, -EINVAL (NULL key or
 * ret), -ENOMEM, -EIO. free wipes the key material and returns NULL;
 * NULL-safe. A context is not thread-safe. */
struct chachapoly_ctx;
int chachapoly_ctx_new(const uint8_t key[CHACHAPOLY_KEY_LEN], struct chachapoly_ctx **ret);
struct chachapoly_ctx *chachapoly_ctx_free(struct chachapoly_ctx *c);
int chachapoly_ctx_seal(struct chachapoly_ctx *c, const uint8_t nonce[CHACHAPOLY_NONCE_LEN],
                        const void *ad, size_t ad_len, const void *pt, size_t pt_len, uint8_t *out);
int chachapoly_ctx_open(struct chachapoly_ctx *c, const uint8_t nonce[CHACHAPOLY_NONCE_LEN],
                        const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out);

/* AES-256-GCM with a 12-byte nonce and 16-byte tag appended; same shape. */
int aesgcm_seal(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t nonce[AES256GCM_NONCE_LEN],
                const void *ad, size_t ad_len, const void *pt, size_t pt_len, uint8_t *out);
int aesgcm_open(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t nonce[AES256GCM_NONCE_LEN],
                const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out);
