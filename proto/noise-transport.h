/* Noise transport phase: the two CipherStates from Split and the
 * length-prefixed frame codec. Internal to the Noise module.
 *
 * Errors: -EPROTO for a frame shorter than the AEAD tag, -EBADMSG for one
 * that fails authentication, -EOVERFLOW when a direction's nonces are used
 * up, -ENOMEM. After an error the transport must not be used again. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "noise-symmetric.h"

struct noise_transport {
	struct noise_cipher send;
	struct noise_cipher recv;
	uint8_t hdr[2];
	size_t hdr_len;   /* bytes of the length prefix collected so far */
	size_t frame_len; /* announced length, once hdr_len == 2 */
	struct buf frame; /* ciphertext of an incomplete frame */
};

/* Takes over the ciphers: what they own moves into t and they are left
 * without it (the caller still wipes them, which clears the key copies). */
void noise_transport_init(struct noise_transport *t, struct noise_cipher *send,
                          struct noise_cipher *recv);
void noise_transport_wipe(struct noise_transport *t);
/* Frames of at most NOISE_MAX_PLAINTEXT bytes appended to out; out is
 * restored on error. */
int noise_transport_encrypt(struct noise_transport *t, const uint8_t *pt, size_t len,
                            struct buf *out);
/* Plaintext of every completed frame appended to out; out is restored on
 * error. */
int noise_transport_decrypt(struct noise_transport *t, const uint8_t *data, size_t len,
                            struct buf *out);
/* Bytes of an incomplete frame held (length prefix included). */
size_t noise_transport_pending(const struct noise_transport *t);
