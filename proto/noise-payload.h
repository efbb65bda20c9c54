/* The libp2p Noise handshake payload (noise/README.md): the sender's
 * identity key, its signature over the Noise static key, and extensions
 * (stream muxers for inlined muxer negotiation). Internal to the Noise
 * module; the codec is protobuf-c over proto/schema/noise.proto.
 *
 * Errors from noise_payload_verify(), with err filled:
 *   -EPROTO           not a protobuf, identity key or signature missing or
 *                     over its cap, identity key malformed
 *   -EPROTONOSUPPORT  identity key of an unknown type
 *   -EKEYREJECTED     the signature does not cover the static key received
 *   -ENOMEM */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"
#include "keys.h"
#include "peerid.h"

/* What the identity key signs, followed by the 32-byte X25519 static key. */
#define NOISE_STATIC_KEY_PREFIX "noise-libp2p-static-key:"

/* Sign our static key and encode the payload. n_muxers 0 leaves the
 * extensions out entirely (then the peer negotiates the muxer with
 * multistream-select). */
int noise_payload_encode(const struct privkey *identity, const uint8_t static_pub[32],
                         const char *const *muxers, size_t n_muxers, struct buf *out);

struct noise_payload_result {
	/* The PublicKey protobuf exactly as received (malloc'd, caller frees). */
	uint8_t *identity_key;
	size_t identity_key_len;
	struct peerid peer;
	/* The remote sent a non-empty stream_muxers list. */
	bool has_muxers;
	/* Index in our list of the muxer both support, chosen by the
	 * initiator's order; -1 when there is none or a list is missing. */
	int muxer;
};

/* Decode a received payload, verify its signature over the static key rs
 * that arrived in the same handshake, derive the sender's peer ID and match
 * muxer lists (ours: in our order of preference; remote_is_initiator says
 * whose order decides). ret is written only on success. */
int noise_payload_verify(const uint8_t *data, size_t len, const uint8_t rs[32],
                         const char *const *ours, size_t n_ours, bool remote_is_initiator,
                         struct noise_payload_result *ret, struct errmsg *err);
