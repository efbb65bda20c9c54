/* The Noise XX handshake pattern (Noise spec rev 34, HandshakeState) with
 * X25519, for libp2p:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 * Internal to the Noise module. It knows nothing of framing or of the libp2p
 * payload: write functions append one raw Noise message (no length prefix)
 * to a buffer, read functions take one and append its decrypted payload.
 *
 * Errors: -EPROTO for a message too short for its tokens or a remote key that
 * is a low-order point, -EBADMSG when a ciphertext fails authentication,
 * -ENOMEM, -EIO (OpenSSL), -EINVAL for a call out of order. On error the
 * state must not be used again (noise_hs_wipe() it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "noise-symmetric.h"

#define NOISE_DH_LEN X25519_KEY_LEN

struct noise_hs {
	bool initiator;
	unsigned step; /* messages processed so far, 0..3 */
	struct noise_symmetric ss;
	uint8_t s_priv[NOISE_DH_LEN], s_pub[NOISE_DH_LEN];
	uint8_t e_priv[NOISE_DH_LEN], e_pub[NOISE_DH_LEN];
	uint8_t rs[NOISE_DH_LEN], re[NOISE_DH_LEN];
};

/* s_priv: our static X25519 private key (copied). e_priv: the ephemeral key,
 * NULL for a fresh random one (tests inject a fixed key for vectors).
 * Prologue is empty, as libp2p over TCP requires. */
int noise_hs_init(struct noise_hs *hs, bool initiator, const uint8_t s_priv[NOISE_DH_LEN],
                  const uint8_t *e_priv);
void noise_hs_wipe(struct noise_hs *hs);

/* The next message: the initiator writes messages 1 and 3 and reads 2; the
 * responder reads 1 and 3 and writes 2. */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t len, struct buf *out);
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, struct buf *payload);
/* After message 3: true. */
bool noise_hs_finished(const struct noise_hs *hs);
/* Split into our sending and receiving CipherStates; call once finished. */
int noise_hs_split(const struct noise_hs *hs, struct noise_cipher *send, struct noise_cipher *recv);
/* The remote static key, valid once the message carrying it was read. */
const uint8_t *noise_hs_remote_static(const struct noise_hs *hs);
/* The handshake hash h (channel binding; test vectors). */
const uint8_t *noise_hs_hash(const struct noise_hs *hs);
