/* libp2p ping (/ipfs/ping/1.0.0, ping/ping.md): we answer every peer's
 * pings (at most two inbound ping streams per peer, as js allows) and can
 * ping a peer: 32 random bytes out, the same 32 back, RTT from the write to
 * the complete echo, 10 s timeout per round (js's figure). */
#pragma once

#include <stdint.h>

#include "host.h"

#define PING_PROTOCOL_ID "/ipfs/ping/1.0.0"
#define PING_SIZE 32
#define PING_TIMEOUT_MS 10000

/* Register the responder on h. */
int ping_register(struct host *h);

struct ping_op;
/* Called after each round: rtt_us on success, or err < 0 and a message
 * (the op ends at the first error). done is true on the last call. */
typedef void (*ping_cb)(uint64_t rtt_us, int err, const char *msg, bool done, void *ctx);

/* Ping the peer of c count times (interval_ms between rounds) on one
 * stream. cb runs once per round, later on the loop. ping_cancel() stops
 * it without calling cb again. */
int ping_start(struct host *h, struct conn *c, unsigned count, uint32_t interval_ms, ping_cb cb,
               void *ctx, struct ping_op **ret);
void ping_cancel(struct ping_op *op);
