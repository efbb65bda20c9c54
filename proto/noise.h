/* libp2p Noise secure channel ("/noise", noise/README.md), sans-I/O.
 *
 * Noise_XX_25519_ChaChaPoly_SHA256 with an empty prologue; every message on
 * the wire is a 2-byte big-endian length then at most NOISE_MAX_FRAME bytes.
 * Messages 2 and 3 carry the libp2p handshake payload: our identity key, its
 * Ed25519 signature over "noise-libp2p-static-key:" || our X25519 static key,
 * and (when configured) our stream muxers for inlined muxer negotiation
 * (connections/inlined-muxer-negotiation.md). It never touches a socket;
 * nothing here depends on time (the handshake timeout is the caller's).
 *
 * Driving it:
 *   1. noise_new() with a struct noise_config. An initiator has message 1
 *      queued at once.
 *   2. Send what noise_pending_output() shows, then noise_output_consumed().
 *   3. Feed received bytes with noise_feed() while NOISE_HANDSHAKING; it
 *      returns how many it took. It stops right after the final handshake
 *      message: the bytes it did not take are transport frames the peer
 *      pipelined behind it, so pass them to noise_decrypt(). After every
 *      call send the pending output (the initiator's message 3 is queued
 *      there when the state turns NOISE_DONE) and check noise_state().
 *   4. NOISE_DONE: noise_remote_peer() is the authenticated peer ID;
 *      noise_muxer() names the muxer agreed inside the handshake, or is NULL
 *      when either side sent no list (then run multistream-select for the
 *      muxer inside the channel, as usual). Now noise_encrypt() and
 *      noise_decrypt() carry the application's bytes.
 *   5. NOISE_FAILED: noise_error() says why; close the connection.
 *
 * Errors (negative errno); any error but -EINVAL / -EALREADY / -ENOTCONN is
 * final: the state becomes NOISE_FAILED and every later call returns it.
 *   -EPROTO           the peer broke the protocol: a handshake message too
 *                     short, a transport frame shorter than the AEAD tag, a
 *                     payload that is not a valid protobuf or lacks the
 *                     identity key or signature, a malformed identity key,
 *                     a low-order X25519 key
 *   -EBADMSG          a handshake or transport ciphertext failed
 *                     authentication (tampered or garbage bytes)
 *   -EKEYREJECTED     the identity signature does not cover the peer's Noise
 *                     static key
 *   -EPROTONOSUPPORT  the peer's identity key has an unknown type
 *   -EPERM            the authenticated peer is not the expected one; the
 *                     message names both peer IDs
 *   -ENOPROTOOPT      both sides offered stream muxers and none is common
 *   -EOVERFLOW        a direction used up its 2^64 - 1 nonces: reconnect
 *   -ENOMEM, -EIO     out of memory, OpenSSL failure
 *   -EINVAL           bad argument or configuration (not final)
 *   -EALREADY         noise_feed() after the handshake (not final)
 *   -ENOTCONN         noise_encrypt()/noise_decrypt() before it (not final) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "keys.h"
#include "peerid.h"

#define NOISE_PROTOCOL_ID "/noise"
/* Longest Noise message (the wire length prefix is a u16). */
#define NOISE_MAX_FRAME 65535
/* Plaintext per transport frame: the frame less the 16-byte AEAD tag. */
#define NOISE_MAX_PLAINTEXT (NOISE_MAX_FRAME - 16)
/* X25519 key size of the Noise static and ephemeral keys. */
#define NOISE_KEY_SIZE 32
/* Most muxers we offer, and the longest name. */
#define NOISE_MAX_MUXERS 8
#define NOISE_MAX_MUXER_LEN 128

enum noise_role {
	NOISE_INITIATOR, /* the dialer (or DCUtR's "client") */
	NOISE_RESPONDER,
};

enum noise_state {
	NOISE_HANDSHAKING,
	NOISE_DONE,
	NOISE_FAILED,
};

struct noise_config {
	enum noise_role role;
	/* Our libp2p identity (required; copied). */
	const struct privkey *identity;
	/* The peer we mean to reach (the dialed /p2p/ ID), or NULL to accept
	 * any authenticated peer; checked in either role. Copied. */
	const struct peerid *expected_peer;
	/* Muxers we offer in message 2 or 3, in order of preference (each
	 * 1..NOISE_MAX_MUXER_LEN bytes, copied); n_muxers 0 sends no
	 * stream_muxers extension and so always falls back to
	 * multistream-select. */
	const char *const *muxers;
	size_t n_muxers;
	/* Our X25519 static private key (NOISE_KEY_SIZE bytes, copied), or NULL
	 * for a fresh one for this connection. It must never be stored. */
	const uint8_t *static_key;
	/* Tests only: a fixed ephemeral private key for byte-exact vectors.
	 * NULL (always, in production) draws a fresh one. */
	const uint8_t *test_ephemeral_key;
};

struct noise;

/* Returns 0, -EINVAL (missing identity, bad muxer list), -ENOMEM, -EIO.
 * Free with noise_free(). */
int noise_new(const struct noise_config *cfg, struct noise **ret);
/* NULL-safe; wipes every key; returns NULL. */
struct noise *noise_free(struct noise *n);

/* Handshake input: takes bytes up to the end of the final handshake message
 * and returns how many (the rest, if any, is transport data for
 * noise_decrypt()). data may be NULL when len is 0. Errors above. */
long noise_feed(struct noise *n, const uint8_t *data, size_t len);
enum noise_state noise_state(const struct noise *n);

/* Handshake bytes to send (*ret_ptr valid until the next call on n). */
void noise_pending_output(const struct noise *n, const uint8_t **ret_ptr, size_t *ret_len);
void noise_output_consumed(struct noise *n, size_t n_sent);

/* Encrypt len bytes into frames of at most NOISE_MAX_PLAINTEXT plaintext
 * bytes each, appended to out (len 0 appends nothing). On error out is left
 * as it was. */
int noise_encrypt(struct noise *n, const uint8_t *data, size_t len, struct buf *out);
/* Take any chunk of received bytes (partial frames, several frames) and
 * append the plaintext of every frame completed so far to out. An
 * incomplete frame waits inside n (at most NOISE_MAX_FRAME + 2 bytes). On
 * error out is left as it was. */
int noise_decrypt(struct noise *n, const uint8_t *data, size_t len, struct buf *out);
/* Received bytes of an incomplete frame or handshake message: non-zero at
 * end of stream means the peer stopped mid-message. */
size_t noise_input_pending(const struct noise *n);

/* After NOISE_DONE (else NULL / -ENOTCONN): */
const struct peerid *noise_remote_peer(const struct noise *n);
/* The peer's PublicKey protobuf as it sent it. */
int noise_remote_identity_key(const struct noise *n, const uint8_t **ret_ptr, size_t *ret_len);
/* The muxer agreed in the handshake (one of ours), or NULL. */
const char *noise_muxer(const struct noise *n);
/* The final handshake hash (32 bytes; channel binding, test vectors). */
const uint8_t *noise_handshake_hash(const struct noise *n);

/* Why the handshake or the channel failed ("" if it did not). */
const char *noise_error(const struct noise *n);
