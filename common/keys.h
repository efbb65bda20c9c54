/* libp2p identity keys.
 *
 * Ed25519 is the key we own: generate, sign, verify, and the libp2p
 * PublicKey/PrivateKey protobuf encodings (deterministic: Type then Data).
 * Other peers may present secp256k1, ECDSA (P-256) or RSA keys; for those we
 * only decode and verify signatures, per peer-ids.md:
 *   secp256k1: 33-byte compressed point, ECDSA over SHA-256, DER signature
 *   ECDSA:     DER SubjectPublicKeyInfo, ECDSA over SHA-256, DER signature
 *   RSA:       DER SubjectPublicKeyInfo, RSASSA-PKCS1-v1_5 with SHA-256
 * Errors: -EBADMSG malformed encoding, -EPROTONOSUPPORT unknown key type,
 * -EKEYREJECTED bad signature, -ENOMEM, -EIO (OpenSSL).
 *
 * Decoding policy (keys.c): RSA keys outside 2048..8192 bits are refused with
 * -EKEYREJECTED (go-libp2p's bounds); ECDSA keys must be on P-256, P-384 or
 * P-521 (else -EPROTONOSUPPORT); secp256k1 also accepts the 65-byte
 * uncompressed point and re-encodes it compressed. The *_encode functions
 * append to out. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum key_type {
	KEY_TYPE_RSA = 0,
	KEY_TYPE_ED25519 = 1,
	KEY_TYPE_SECP256K1 = 2,
	KEY_TYPE_ECDSA = 3,
};

#define ED25519_PUBLIC_LEN 32
#define ED25519_SEED_LEN 32
#define ED25519_SIG_LEN 64
/* Largest encoded PublicKey we accept from a peer (RSA 8192-bit SPKI fits). */
#define PUBKEY_MAX_ENCODED 2048
/* Largest signature we accept from a peer. */
#define SIGNATURE_MAX_LEN 1024

/* Our own Ed25519 key pair. The seed is secret; key_free wipes it. */
struct privkey {
	uint8_t seed[ED25519_SEED_LEN];
	uint8_t pub[ED25519_PUBLIC_LEN];
};

/* A peer's public key of any supported type (opaque; key_pub_free frees). */
struct pubkey;

int privkey_generate(struct privkey *ret);
/* Derive the public half from a 32-byte seed. */
int privkey_from_seed(const uint8_t seed[ED25519_SEED_LEN], struct privkey *ret);
void privkey_wipe(struct privkey *k);
int privkey_sign(const struct privkey *k, const void *msg, size_t len,
                 uint8_t sig[ED25519_SIG_LEN]);
/* libp2p PrivateKey protobuf: Type=Ed25519, Data = seed || pub (64 bytes).
 * Decoding also accepts the legacy 96-byte form when its two public-key copies
 * match. The output buffer holds a secret: wipe it. */
int privkey_encode(const struct privkey *k, struct buf *out);
int privkey_decode(const uint8_t *data, size_t len, struct privkey *ret);
/* libp2p PublicKey protobuf of our key (36 bytes for Ed25519). */
int privkey_encode_public(const struct privkey *k, struct buf *out);

/* Decode a PublicKey protobuf (any supported type) received from a peer. */
int pubkey_decode(const uint8_t *data, size_t len, struct pubkey **ret);
struct pubkey *pubkey_from_ed25519(const uint8_t pub[ED25519_PUBLIC_LEN]);
enum key_type pubkey_type(const struct pubkey *k);
/* Canonical PublicKey protobuf encoding (what peer IDs are derived from). */
int pubkey_encode(const struct pubkey *k, struct buf *out);
/* 0 if sig is a valid signature of msg under k, else -EKEYREJECTED. */
int pubkey_verify(const struct pubkey *k, const void *msg, size_t len, const uint8_t *sig,
                  size_t sig_len);
void pubkey_free(struct pubkey *k);
const char *key_type_name(enum key_type t);
