/* Noise CipherState and SymmetricState (Noise spec rev 34, sections 5.1 and
 * 5.2) for the one suite libp2p uses: ChaChaPoly and SHA256. Internal to the
 * Noise module (noise-handshake.c, noise-transport.c) and its unit test.
 *
 * Errors: -EOVERFLOW when a CipherState has used its last nonce (2^64 - 2;
 * the value 2^64 - 1 is reserved and the spec forbids rekeying here, so the
 * connection must end), -EBADMSG for an authentication failure, -EINVAL for a
 * ciphertext shorter than the tag, -EIO from OpenSSL, -ENOMEM. Every state
 * holds secrets: *_wipe() clears them (and frees what they hold). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"
#define NOISE_HASH_LEN SHA256_LEN
#define NOISE_KEY_LEN CHACHAPOLY_KEY_LEN
#define NOISE_TAG_LEN AEAD_TAG_LEN
/* Nonce 2^64 - 1 is reserved by the Noise spec: never used to encrypt. */
#define NOISE_NONCE_MAX UINT64_MAX

struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	bool has_key;
	/* k set up in OpenSSL on first use and kept for every later message
	 * (a transport key seals or opens every frame of the connection).
	 * Owned: noise_cipher_wipe() frees it; a struct copy must not outlive
	 * or be wiped alongside its source (noise_transport_init() moves). */
	struct chachapoly_ctx *aead;
};

struct noise_symmetric {
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
	struct noise_cipher cs;
};

/* Noise's HKDF with two outputs (not RFC 5869's extract/expand API shape):
 * t = HMAC(ck, ikm), o1 = HMAC(t, 0x01), o2 = HMAC(t, o1 || 0x02). */
int noise_hkdf2(const uint8_t ck[NOISE_HASH_LEN], const void *ikm, size_t ikm_len,
                uint8_t o1[NOISE_HASH_LEN], uint8_t o2[NOISE_HASH_LEN]);

/* c is fresh or was wiped (a context it still held would leak). */
void noise_cipher_init(struct noise_cipher *c, const uint8_t k[NOISE_KEY_LEN]);
/* Frees the OpenSSL context and wipes the key. */
void noise_cipher_wipe(struct noise_cipher *c);
/* Encrypt len bytes to out (len + NOISE_TAG_LEN bytes; out may equal pt).
 * Without a key the plaintext is copied unchanged. */
int noise_cipher_encrypt(struct noise_cipher *c, const void *ad, size_t ad_len, const void *pt,
                         size_t len, uint8_t *out);
/* Decrypt ct_len bytes (>= NOISE_TAG_LEN with a key) to out. The nonce only
 * advances on success. */
int noise_cipher_decrypt(struct noise_cipher *c, const void *ad, size_t ad_len, const void *ct,
                         size_t ct_len, uint8_t *out);
/* Plaintext length of a ct_len-byte message (ct_len minus the tag if keyed). */
size_t noise_cipher_overhead(const struct noise_cipher *c);

/* InitializeSymmetric with NOISE_PROTOCOL_NAME (exactly 32 bytes, so h is the
 * name itself) followed by MixHash(prologue). */
void noise_sym_init(struct noise_symmetric *s, const void *prologue, size_t len);
int noise_sym_mix_hash(struct noise_symmetric *s, const void *data, size_t len);
int noise_sym_mix_key(struct noise_symmetric *s, const uint8_t *ikm, size_t len);
/* EncryptAndHash: out gets len + overhead bytes. */
int noise_sym_encrypt_hash(struct noise_symmetric *s, const void *pt, size_t len, uint8_t *out);
/* DecryptAndHash: out gets ct_len - overhead bytes. */
int noise_sym_decrypt_hash(struct noise_symmetric *s, const void *ct, size_t ct_len, uint8_t *out);
/* Split into the two transport CipherStates (c1: initiator -> responder). */
int noise_sym_split(const struct noise_symmetric *s, struct noise_cipher *c1,
                    struct noise_cipher *c2);
void noise_sym_wipe(struct noise_symmetric *s);
