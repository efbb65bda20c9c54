/* Secure device pairing, /spacedrive/pairing/1.0.0, sans-I/O
 * (docs/pairing.md has the design and the reasoning).
 *
 * Two kinds of object:
 *   struct pairing_session   one per pairing code and role: the code's keys,
 *                            our DeviceInfo, the expiry, the failure count,
 *                            the rate limiter (initiator) and, once paired,
 *                            the result. Long-lived: from `pair generate` /
 *                            `pair join` to the end.
 *   struct pairing_exchange  one per pairing stream (a Noise-secured stream
 *                            on which /spacedrive/pairing/1.0.0 was agreed):
 *                            the four messages, nonces and ephemeral keys.
 * An initiator session serves any number of exchanges one after another (a
 * few at once), and pairs at most one joiner. A joiner session tries
 * candidates (one exchange each) until one pairs or the session ends.
 *
 * Driving it (both roles):
 *   1. pairing_initiator_new() or pairing_joiner_new().
 *   2. Per stream: pairing_exchange_new() with the peer ID that Noise
 *      authenticated for that connection. A joiner's Hello is queued at once.
 *   3. Send pairing_exchange_pending_output(), then
 *      pairing_exchange_output_consumed(). Feed received bytes with
 *      pairing_exchange_feed(); after each call send the pending output and
 *      look at pairing_exchange_state(). On end of stream call
 *      pairing_exchange_eof().
 *   4. An exchange that reaches a terminal state may still have output (the
 *      initiator's Result): send it, then close the stream and free it.
 *      PAIRING_COMPLETED: pairing_exchange_result() (same as
 *      pairing_session_result()) holds the peer's DeviceInfo and the session
 *      keys: store the device.
 *   5. Arm a timer for pairing_session_next_timeout() and call
 *      pairing_session_tick() when it fires: that expires the session and
 *      ends stalled exchanges.
 *   6. pairing_session_state() reports progress (poll it after every call to
 *      emit state-change events); pairing_session_cancel() ends it early.
 * Sessions and exchanges may be freed in either order: freeing a session
 * ends its exchanges (state PAIRING_CANCELLED, "pairing session ended").
 *
 * One session, many streams: any call on a session or on one of its
 * exchanges may end the session's other exchanges (expiry, cancel, a
 * completed pairing, a new stream evicting an idle one). After every call,
 * look at each of the session's exchanges: send its pending output (an
 * initiator's refusal Result) and close the stream once it is final. Copy the
 * pending output out at once (into the socket buffer): the pointer is valid
 * only until the next call on the exchange or its session.
 *
 * Time is always an argument (milliseconds on a monotonic clock); nothing
 * here reads a clock. Randomness (nonces, ephemeral keys, fresh codes) comes
 * from the CSPRNG.
 *
 * Errors from pairing_exchange_feed() and _eof() (the exchange is then in a
 * terminal state; pairing_exchange_error() has the sentence):
 *   -EPROTO           the peer broke the protocol: a malformed or unexpected
 *                     message, bytes before our reply, a low-order key, the
 *                     stream closed early (the text says which)
 *   -EMSGSIZE         a frame over PAIRING_MAX_MESSAGE
 *   -EPROTONOSUPPORT  another protocol version
 *   -EPERM            the peer's DeviceInfo is invalid or names a peer ID
 *                     other than the one Noise authenticated
 *   -EACCES           a proof did not verify: the peer does not hold this
 *                     code (or it is an impostor)
 *   -ENOKEY           the joiner's code is not this session's code
 *   -EALREADY         the code already paired a device
 *   -ETIME            the code expired
 *   -ETIMEDOUT        the exchange stalled past PAIRING_EXCHANGE_TIMEOUT_MS
 *   -ECANCELED        the session was cancelled (by us, or after
 *                     PAIRING_MAX_FAILURES failed proofs)
 *   -EAGAIN           rate limited (initiator refused the Hello)
 *   -EBUSY            (state only) replaced by a newer stream while it
 *                     still waited for its Hello
 *   -ENOMEM, -EIO     out of memory, OpenSSL failure
 * A joiner that receives a refusal reports the errno of its code (see
 * pairing_status_errno()). Calling feed on a terminal exchange returns
 * -EALREADY and changes nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bip39.h"
#include "errmsg.h"
#include "pairing-code.h"
#include "pairing-msg.h"
#include "pairing-transcript.h"
#include "peerid.h"

#define PAIRING_PROTOCOL_ID "/spacedrive/pairing/1.0.0"
/* A code's default lifetime. */
#define PAIRING_DEFAULT_LIFETIME_MS (5 * 60 * 1000)
/* Failed proofs that cancel an initiator session; failed exchanges that end
 * a joiner session. */
#define PAIRING_MAX_FAILURES 3
/* Exchanges a session runs at once. At the cap, a new initiator exchange
 * replaces the oldest one still waiting for its Hello; else it is refused. */
#define PAIRING_MAX_EXCHANGES 8
/* An exchange has this long from its creation to finish. */
#define PAIRING_EXCHANGE_TIMEOUT_MS (30 * 1000)

enum pairing_state {
	PAIRING_WAITING_FOR_CONNECTION,
	PAIRING_CONNECTED,      /* a stream is open; no proof has passed yet */
	PAIRING_AUTHENTICATING, /* Hello accepted; proofs under way */
	PAIRING_COMPLETED,
	PAIRING_FAILED,
	PAIRING_CANCELLED,
	PAIRING_EXPIRED,
};

/* What a completed pairing gives the daemon to store. */
struct pairing_result {
	struct pairing_device_info peer;
	struct pairing_session_keys keys;
	/* The transcript hash: identifies this pairing (not secret). */
	uint8_t pairing_id[PAIRING_HASH_LEN];
};

/* Counters (RPC `pairing.status`, tests). */
struct pairing_stats {
	unsigned exchanges;     /* exchanges created */
	unsigned failed_proofs; /* initiator: bad Proofs; joiner: bad Challenges */
	unsigned failed;        /* exchanges that ended in failure, any reason */
	unsigned unknown_code;  /* initiator: Hellos for another code */
	unsigned rate_limited;  /* initiator: Hellos refused by the limiter */
	unsigned refused_late;  /* initiator: Hellos after the session ended */
};

struct pairing_params {
	/* The code: PAIRING_ENTROPY_LEN bytes, or else 12 words (as typed).
	 * An initiator given neither draws a fresh code. Copied. */
	const uint8_t *entropy;
	const char *words;
	/* Ours (required, checked with pairing_device_info_check(); its
	 * peer_id is our libp2p peer ID, the one Noise proves to the other
	 * side; protocol_version is the daemon's device protocol version, e.g.
	 * PAIRING_VERSION). Copied. */
	const struct pairing_device_info *info;
	uint64_t now_ms;
	/* Lifetime from now_ms; 0 means PAIRING_DEFAULT_LIFETIME_MS. */
	uint64_t lifetime_ms;
};

struct pairing_session;
struct pairing_exchange;

/* Returns 0; -EINVAL (bad DeviceInfo, missing params; err says which),
 * -ENOENT / -EINVAL / -EBADMSG from the words (see pairing_code_from_words:
 * err names the word and suggests one), -ENOMEM, -EIO. A joiner needs a
 * code. Free with pairing_session_free(). */
int pairing_initiator_new(const struct pairing_params *p, struct pairing_session **ret,
                          struct errmsg *err);
int pairing_joiner_new(const struct pairing_params *p, struct pairing_session **ret,
                       struct errmsg *err);
/* NULL-safe; wipes every secret; ends live exchanges; returns NULL. */
struct pairing_session *pairing_session_free(struct pairing_session *s);

enum pairing_role pairing_session_role(const struct pairing_session *s);
enum pairing_state pairing_session_state(const struct pairing_session *s);
/* Why the session ended, or the last failed exchange's reason while it
 * runs ("" if none). Owned by s. */
const char *pairing_session_error(const struct pairing_session *s);
/* The errno of that reason (0 if none). */
int pairing_session_errno(const struct pairing_session *s);
uint64_t pairing_session_expires_at(const struct pairing_session *s);
const struct pairing_stats *pairing_session_stats(const struct pairing_session *s);
/* The 12 words, while the session holds the code (-ESTALE once it ended
 * and the code was wiped). out is a secret: wipe it after showing it. */
int pairing_session_words(const struct pairing_session *s, char out[BIP39_MNEMONIC_MAX]);
/* The public rendezvous id (kept after the end, to answer "code used"). */
const uint8_t *pairing_session_rendezvous_id(const struct pairing_session *s);
/* The DHT record key (-ESTALE once the session ended). */
int pairing_session_record_key(const struct pairing_session *s, uint8_t out[PAIRING_KEY_LEN]);
/* The result once PAIRING_COMPLETED, else NULL. Owned by s. */
const struct pairing_result *pairing_session_result(const struct pairing_session *s);

/* Expire the session and time out stalled exchanges as of now_ms. */
void pairing_session_tick(struct pairing_session *s, uint64_t now_ms);
/* When tick must next run (UINT64_MAX: nothing left to time). */
uint64_t pairing_session_next_timeout(const struct pairing_session *s);
/* End the session now: live exchanges are cancelled (an initiator's get a
 * Result to send). -EALREADY if it had already ended. */
int pairing_session_cancel(struct pairing_session *s);

/* A new exchange on a stream with remote_peer (as authenticated by Noise;
 * copied). Initiator sessions accept exchanges even after they ended, to
 * answer "code already used" or "expired"; joiner sessions return -ESTALE
 * then. -EBUSY: PAIRING_MAX_EXCHANGES are running (reset the stream);
 * -EINVAL: remote_peer is our own peer ID or invalid; -ENOMEM, -EIO. */
int pairing_exchange_new(struct pairing_session *s, const struct peerid *remote_peer,
                         uint64_t now_ms, struct pairing_exchange **ret);
/* NULL-safe; wipes secrets; returns NULL. */
struct pairing_exchange *pairing_exchange_free(struct pairing_exchange *x);

/* Consume all len bytes (data may be NULL when len is 0). Errors above. */
int pairing_exchange_feed(struct pairing_exchange *x, const uint8_t *data, size_t len,
                          uint64_t now_ms);
/* The peer closed its side: fails the exchange unless it is terminal. */
int pairing_exchange_eof(struct pairing_exchange *x, uint64_t now_ms);
/* Bytes to send (*ret_ptr valid until the next call on x or its session). */
void pairing_exchange_pending_output(const struct pairing_exchange *x, const uint8_t **ret_ptr,
                                     size_t *ret_len);
void pairing_exchange_output_consumed(struct pairing_exchange *x, size_t n);

enum pairing_state pairing_exchange_state(const struct pairing_exchange *x);
/* Why it failed ("" if it did not). Owned by x. */
const char *pairing_exchange_error(const struct pairing_exchange *x);
int pairing_exchange_errno(const struct pairing_exchange *x);
/* The result if this exchange completed the pairing, else NULL. Owned by x. */
const struct pairing_result *pairing_exchange_result(const struct pairing_exchange *x);
const struct peerid *pairing_exchange_remote(const struct pairing_exchange *x);

const char *pairing_state_name(enum pairing_state st);
bool pairing_state_is_final(enum pairing_state st);
