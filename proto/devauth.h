/* Device authentication, /spacedrive/device/1.0.0 (docs/protocols/device-auth.md).
 *
 * On every new connection to a paired device both sides prove that they
 * hold the pairing's per-direction MAC keys, bound to this connection, so
 * a copied libp2p identity key alone never makes a trusted device. Sans-I/O:
 * the codec, the transcript, the proofs and the key-rotation derivation;
 * the daemon (daemon/persist) owns streams, keys on disk and time.
 *
 * Frames (before authentication completes): uvarint(len) || body, len <=
 * DEVAUTH_MAX_FRAME; body = u8 type, then
 *   HELLO        (opener -> responder)  u8 version, u64 epoch, nonce[32]
 *   HELLO_PROOF  (responder -> opener)  u8 version, u64 epoch, u64 session
 *                                       epoch, nonce[32], mac[32]
 *   PROOF        (opener -> responder)  mac[32]
 *   RESULT       (either, last)         u8 code, u8 n, reason[n] (printable)
 * integers big-endian. `epoch` is the sender's current key epoch; the
 * session epoch is the lower of the two (a side that stored a rotation the
 * other did not finish still has the previous keys). After RESULT{OK} from
 * the responder the stream carries DeviceMessage frames (proto/devmsg.h).
 *
 * Transcript TH = SHA-256("sdnetd/device-auth/1" || opener peer ID ||
 * responder peer ID || nonce_o || nonce_r || u64 session epoch), every
 * variable field u32-length-prefixed. Proof of side X = HMAC-SHA256(X's send
 * MAC key of the session epoch, "opener proof"|"responder proof" || TH):
 * the peer IDs are the ones Noise authenticated on this connection, the
 * nonces are fresh from both sides, so a proof is good for this connection
 * and direction only.
 *
 * Key rotation (SessionRefresh in DeviceMessage; the daemon runs it): new
 * keys = HKDF(salt = rekey TH, ikm = X25519(eph_p, eph_r) || the four old
 * keys in proposer order, info = one label per direction and purpose). Old
 * keys feed in, so a fresh X25519 exchange alone (an attacker who only
 * holds the identity key) cannot produce them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"
#include "pairing-transcript.h"
#include "peerid.h"

#define DEVAUTH_PROTOCOL_ID "/spacedrive/device/1.0.0"
#define DEVAUTH_VERSION 1
#define DEVAUTH_NONCE_LEN 32
#define DEVAUTH_MAC_LEN HMAC_SHA256_LEN
#define DEVAUTH_HASH_LEN SHA256_LEN
/* Longest reason in a RESULT (a sentence for the log). */
#define DEVAUTH_REASON_MAX 200
/* Largest auth frame body: HELLO_PROOF is 82 bytes, RESULT at most 203. */
#define DEVAUTH_MAX_FRAME 256

enum devauth_type {
	DEVAUTH_HELLO = 1,
	DEVAUTH_HELLO_PROOF = 2,
	DEVAUTH_PROOF = 3,
	DEVAUTH_RESULT = 4,
};

/* RESULT codes; anything else decodes as -EBADMSG. */
enum devauth_code {
	DEVAUTH_OK = 0,
	DEVAUTH_NOT_PAIRED = 1,  /* the sender has no pairing with us */
	DEVAUTH_BAD_PROOF = 2,   /* a proof did not verify */
	DEVAUTH_NO_KEYS = 3,     /* no keys for the session epoch: must re-pair */
	DEVAUTH_REVOKED = 4,     /* the sender revoked us */
	DEVAUTH_EXPIRED = 5,     /* the sender's pairing expired: must re-pair */
	DEVAUTH_UNSUPPORTED = 6, /* version */
	DEVAUTH_PROTOCOL = 7,    /* unexpected frame */
	DEVAUTH_CODE_MAX = DEVAUTH_PROTOCOL,
};

enum devauth_role {
	DEVAUTH_OPENER,
	DEVAUTH_RESPONDER,
};

struct devauth_msg {
	enum devauth_type type;
	uint8_t version;        /* HELLO, HELLO_PROOF */
	uint64_t epoch;         /* HELLO, HELLO_PROOF: the sender's current epoch */
	uint64_t session_epoch; /* HELLO_PROOF */
	uint8_t nonce[DEVAUTH_NONCE_LEN];
	uint8_t mac[DEVAUTH_MAC_LEN];
	enum devauth_code code; /* RESULT */
	char reason[DEVAUTH_REASON_MAX + 1];
};

/* Append uvarint(len) || body. -EINVAL for an unknown type or code, a
 * reason over DEVAUTH_REASON_MAX (cut it first) or with control bytes. */
int devauth_encode(const struct devauth_msg *m, struct buf *out);
/* Decode one unframed body (lpmsg_next() with DEVAUTH_MAX_FRAME finds it).
 * *ret written on success. -EBADMSG (err says which field), -EMSGSIZE. */
int devauth_decode(const uint8_t *data, size_t len, struct devauth_msg *ret, struct errmsg *err);

/* "ok", "not_paired", "bad_proof", ... (stable words for history and RPC). */
const char *devauth_code_name(enum devauth_code c);

/* The session epoch both sides use: the lower of the two current epochs.
 * -ESTALE when we have no keys for it: ours is more than one ahead, or one
 * ahead and we no longer keep the previous epoch's keys. */
int devauth_session_epoch(uint64_t ours, bool have_previous, uint64_t theirs, uint64_t *ret);

struct devauth_transcript {
	const struct peerid *opener, *responder;
	const uint8_t *nonce_o, *nonce_r; /* DEVAUTH_NONCE_LEN each */
	uint64_t epoch;                   /* the session epoch */
};

int devauth_hash(const struct devauth_transcript *t, uint8_t out[DEVAUTH_HASH_LEN]);
/* The proof of the side playing `who`, keyed with that side's send MAC key. */
int devauth_proof(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN], enum devauth_role who,
                  const uint8_t th[DEVAUTH_HASH_LEN], uint8_t out[DEVAUTH_MAC_LEN]);
/* Constant-time check of a received proof; 0 or -EACCES. */
int devauth_verify(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN], enum devauth_role who,
                   const uint8_t th[DEVAUTH_HASH_LEN], const uint8_t mac[DEVAUTH_MAC_LEN]);

/* ---- key rotation ---------------------------------------------------------- */

enum devauth_rekey_role {
	DEVAUTH_PROPOSER,
	DEVAUTH_ACCEPTER,
};

/* What the rotation proofs and keys cover. Pointers borrowed. */
struct devauth_rekey {
	const struct peerid *proposer, *accepter;
	uint64_t epoch;               /* the new epoch */
	const uint8_t *eph_p, *eph_r; /* X25519 public keys */
};

int devauth_rekey_hash(const struct devauth_rekey *t, uint8_t out[DEVAUTH_HASH_LEN]);
/* New keys for `us` from the X25519 result, the old keys (our view) and
 * the rekey transcript hash. */
int devauth_rekey_derive(const uint8_t shared[X25519_KEY_LEN],
                         const struct pairing_session_keys *old, enum devauth_rekey_role us,
                         const uint8_t th[DEVAUTH_HASH_LEN], struct pairing_session_keys *ret);
/* Rotation proofs: "propose" with the proposer's old send MAC key, "accept"
 * with the accepter's new one, "commit" with the proposer's new one. */
enum devauth_rekey_step {
	DEVAUTH_REKEY_PROPOSE,
	DEVAUTH_REKEY_ACCEPT,
	DEVAUTH_REKEY_COMMIT,
};
int devauth_rekey_proof(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN],
                        enum devauth_rekey_step step, const uint8_t th[DEVAUTH_HASH_LEN],
                        uint8_t out[DEVAUTH_MAC_LEN]);
int devauth_rekey_verify(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN],
                         enum devauth_rekey_step step, const uint8_t th[DEVAUTH_HASH_LEN],
                         const uint8_t *mac, size_t mac_len);
