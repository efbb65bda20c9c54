/* The pairing transcript, the two proofs and the session keys
 * (docs/pairing.md).
 *
 * Transcript hash TH = SHA-256(label || field...), each field as a u32
 * big-endian length then its bytes, in this order: version, "initiator",
 * initiator peer ID, "joiner", joiner peer ID, rendezvous id, nonce_i,
 * nonce_j, eph_i, eph_j, DeviceInfo_i, DeviceInfo_j (the encodings as sent).
 * Length prefixes make the encoding unambiguous; fixed positions and the role
 * tags bind who played which part.
 *
 * Proofs: mac_i = HMAC-SHA256(auth_key, "...initiator proof" || TH) and
 * mac_j = HMAC-SHA256(auth_key, "...joiner proof" || TH). The role labels
 * differ, so one side's proof is never valid as the other's.
 *
 * Session keys: HKDF-SHA256(salt = TH, ikm = X25519(eph) || auth_key) with a
 * distinct label per direction and purpose; each side gets its view (its
 * send key is the other's receive key). Errors: -EINVAL, -EIO. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "peerid.h"

#define PAIRING_HASH_LEN SHA256_LEN
#define PAIRING_MAC_LEN HMAC_SHA256_LEN
#define PAIRING_NONCE_LEN 32
#define PAIRING_SESSION_KEY_LEN 32

enum pairing_role {
	PAIRING_ROLE_INITIATOR,
	PAIRING_ROLE_JOINER,
};

/* Everything the proofs cover. Pointers are borrowed. */
struct pairing_transcript {
	uint32_t version;
	const struct peerid *initiator_peer;
	const struct peerid *joiner_peer;
	const uint8_t *rendezvous_id;     /* PAIRING_RENDEZVOUS_LEN bytes */
	const uint8_t *nonce_i, *nonce_j; /* PAIRING_NONCE_LEN bytes each */
	const uint8_t *eph_i, *eph_j;     /* X25519 public keys */
	const uint8_t *info_i, *info_j;   /* encoded DeviceInfo records */
	size_t info_i_len, info_j_len;
};

/* Distinct keys per direction and purpose, from one side's point of view. */
struct pairing_session_keys {
	uint8_t send_key[PAIRING_SESSION_KEY_LEN];
	uint8_t receive_key[PAIRING_SESSION_KEY_LEN];
	uint8_t send_mac_key[PAIRING_SESSION_KEY_LEN];
	uint8_t receive_mac_key[PAIRING_SESSION_KEY_LEN];
};

int pairing_transcript_hash(const struct pairing_transcript *t, uint8_t out[PAIRING_HASH_LEN]);
/* The proof of the party playing `who`. */
int pairing_proof(const uint8_t *auth_key, enum pairing_role who,
                  const uint8_t th[PAIRING_HASH_LEN], uint8_t out[PAIRING_MAC_LEN]);
/* shared: the X25519 result of the two ephemeral keys. */
int pairing_session_keys_derive(const uint8_t shared[X25519_KEY_LEN], const uint8_t *auth_key,
                                const uint8_t th[PAIRING_HASH_LEN], enum pairing_role us,
                                struct pairing_session_keys *ret);
void pairing_session_keys_wipe(struct pairing_session_keys *k);
