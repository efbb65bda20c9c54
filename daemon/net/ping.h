/* libp2p ping (/ipfs/ping/1.0.0, ping/ping.md): we answer every peer's
 * pings (at most two inbound ping streams per peer, as js allows) and can
 * ping a peer: 32 random bytes out, the same 32 back, RTT from the write to
 * the complete echo, 10 s timeout per round by default (js's figure). All
 * rounds of one ping_start() share one stream, as the spec intends. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "host.h"

#define PING_PROTOCOL_ID "/ipfs/ping/1.0.0"
#define PING_SIZE 32
#define PING_TIMEOUT_MS 10000
/* Inbound ping streams one peer may hold open (js's maxInboundStreams). */
#define PING_MAX_INBOUND_PER_PEER 2

/* Register the responder on h. Errors from protocols_register(). */
int ping_register(struct host *h);

struct ping_op;

/* Called after each round: rtt_us on success, or err < 0 and msg (the op
 * ends at the first error): -ENOPROTOOPT the peer does not speak ping,
 * -ETIMEDOUT no echo within the timeout, -EBADMSG a wrong echo,
 * -ECONNRESET / -ECONNABORTED the stream or connection went, or an error
 * of host_open_stream(). done is true on the last call; the op is freed
 * right after that call returns. */
typedef void (*ping_cb)(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx);

struct ping_params {
	unsigned count;       /* rounds, >= 1 */
	uint32_t interval_ms; /* between the end of a round and the next */
	uint32_t timeout_ms;  /* per round; 0 takes PING_TIMEOUT_MS */
};

/* Ping the peer of c. cb runs once per round, later on the loop. Returns 0
 * and (ret may be NULL) the op, or -EINVAL (count 0, no cb), -ENOMEM, or an
 * error of host_open_stream() (then cb never runs). */
int ping_start(struct host *h, struct conn *c, const struct ping_params *p, ping_cb cb, void *ctx,
               struct ping_op **ret);
/* Stop without calling cb again (the stream is reset). Allowed from inside
 * cb; not after the call with done true has returned (the op is gone). */
void ping_cancel(struct ping_op *op);
