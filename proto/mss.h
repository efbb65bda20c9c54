/* multistream-select 1.0 protocol negotiation, sans-I/O.
 *
 * Both roles of the libp2p negotiation ("/multistream/1.0.0"): the initiator
 * (dialer) proposes protocol IDs from its list in order, the listener echoes a
 * supported one or answers "na". Every message is uvarint(len) || text || '\n'
 * where len counts the newline.
 *
 * Driving it:
 *   1. Create it with mss_initiator_new() or mss_listener_new(). An initiator
 *      has its header and first proposal queued at once (one write, without
 *      waiting for the peer's header, as js-libp2p and go-libp2p expect).
 *   2. Send what mss_pending_output() shows, then mss_output_consumed().
 *   3. Feed every received byte with mss_feed(). After each call, send the
 *      pending output and look at mss_state().
 *   4. MSS_DONE: mss_selected() names the protocol; mss_leftover() holds any
 *      bytes that arrived after the final negotiation message (pipelined
 *      application data): hand them to the next layer before anything new
 *      from the socket. Send pending output first: a listener's echo is
 *      queued there. Then mss_free().
 *   5. MSS_FAILED: mss_error() says why; close or reset the stream.
 *
 * Optimistic ("lazy") initiator: proposes exactly one protocol. After sending
 * the output the caller may write application data immediately; it must still
 * feed received bytes until MSS_DONE (the peer's header and echo), and an "na"
 * answer fails with -ENOPROTOOPT (the caller then resets the stream). Use it
 * only when the peer is known to support the protocol (e.g. from identify).
 *
 * Errors from mss_feed() (the state is then MSS_FAILED and stays so):
 *   -EPROTO       the peer broke the protocol: first message not the header,
 *                 a message over MSS_MAX_MESSAGE, a length prefix that is not
 *                 minimal or longer than MSS_MAX_VARINT_BYTES, no trailing
 *                 newline, an unexpected answer, too many rounds.
 *   -ENOPROTOOPT  the listener refused every protocol we proposed.
 *   -ENOMEM       out of memory.
 *   -EALREADY     called after MSS_DONE (feed the next layer instead).
 * mss_error() returns a human-readable reason for the failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest message on the wire, counting the newline; js and go reject more. */
#define MSS_MAX_MESSAGE 1024
/* The length prefix is at most 2 bytes (rust-libp2p's limit; 1024 fits). */
#define MSS_MAX_VARINT_BYTES 2
/* Most proposals (and "ls" requests) a listener answers before giving up; an
 * initiator is bounded by its own list. */
#define MSS_MAX_ROUNDS 16
/* Most protocols in one list. */
#define MSS_MAX_PROTOCOLS 64

#define MSS_HEADER "/multistream/1.0.0"

enum mss_state {
	MSS_NEGOTIATING,
	MSS_DONE,
	MSS_FAILED,
};

struct mss;

/* protocols: n IDs in order of preference, each 1..MSS_MAX_MESSAGE-1 bytes,
 * no newline or NUL, not "na" or "ls"; copied. lazy: optimistic mode, which
 * requires n == 1. Returns 0, -EINVAL for a bad list, -ENOMEM. Free with
 * mss_free(). */
int mss_initiator_new(const char *const *protocols, size_t n, bool lazy, struct mss **ret);
/* protocols: the IDs we support (same rules, n may be 0: then we answer "na"
 * to everything); copied. Answers "ls" with this list. */
int mss_listener_new(const char *const *protocols, size_t n, struct mss **ret);
/* NULL-safe; returns NULL. */
struct mss *mss_free(struct mss *m);

/* Consume all len bytes (data may be NULL when len is 0). Errors above. */
int mss_feed(struct mss *m, const uint8_t *data, size_t len);
enum mss_state mss_state(const struct mss *m);

/* Bytes to send now (*ret_ptr valid until the next call on m; *ret_len may be
 * 0). Mark n of them sent with mss_output_consumed(). */
void mss_pending_output(const struct mss *m, const uint8_t **ret_ptr, size_t *ret_len);
void mss_output_consumed(struct mss *m, size_t n);

/* The chosen protocol ID when MSS_DONE, else NULL. Owned by m. */
const char *mss_selected(const struct mss *m);
/* Bytes received after the final negotiation message, when MSS_DONE (else
 * length 0). Owned by m, valid until mss_free(). */
void mss_leftover(const struct mss *m, const uint8_t **ret_ptr, size_t *ret_len);
/* Why negotiation failed ("" when it did not). Owned by m. */
const char *mss_error(const struct mss *m);
