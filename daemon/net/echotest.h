/* The test echo protocol (/sdnetd-test/echo/1.0.0), registered only when
 * sdnetd runs with --enable-test-protocols (docs/operations.md): the
 * interop suite and the integration tests use it to move many streams and
 * many bytes between sdnetd and js-libp2p and compare them.
 *
 * Responder: every byte is written back as the window allows (what could
 * not be written stays unconsumed, so a slow reader slows the sender), and
 * FIN follows the peer's FIN once everything went back.
 *
 * Client (echotest_start): N streams to a peer's echo protocol, each
 * sending `bytes` deterministic pseudo-random bytes and checking every byte
 * that comes back. The bytes are tests/interop/peer.mjs's chunkOf(): stream
 * s is cut into 64 KiB chunks, chunk i starts its generator from (s, i), so
 * either side can verify the other. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

#define ECHOTEST_PROTOCOL_ID "/sdnetd-test/echo/1.0.0"
/* peer.mjs's CHUNK. */
#define ECHOTEST_CHUNK ((uint32_t)64 * 1024)
/* Streams one echotest_start() may ask for (test.echo's documented cap). */
#define ECHOTEST_MAX_STREAMS 1000
/* Streams it keeps open at once: under our max_streams_per_conn (512) and
 * yamux's 256 unacknowledged streams, above the 100 the interop suite runs
 * concurrently. The rest start as earlier ones finish. */
#define ECHOTEST_MAX_INFLIGHT 200
/* Inbound echo streams one peer may hold (the registry row's cap). */
#define ECHOTEST_MAX_INBOUND_PER_PEER 512

/* ---- the byte generator (pure) ---- */

struct echotest_gen {
	uint32_t stream;
	uint64_t chunk;    /* index of the current chunk */
	uint32_t in_chunk; /* bytes of it produced */
	uint32_t x;        /* generator state */
};

/* Position g at byte 0 of stream s. */
void echotest_gen_init(struct echotest_gen *g, uint32_t s);
/* The next n bytes of the stream. */
void echotest_gen_fill(struct echotest_gen *g, uint8_t *out, size_t n);

/* ---- responder ---- */

/* Register the echo responder on h under protocol (ECHOTEST_PROTOCOL_ID
 * when NULL). Errors from protocols_register(). */
int echotest_register(struct host *h, const char *protocol);

/* ---- client ---- */

struct echotest_result {
	bool ok;             /* every stream echoed every byte, in order */
	unsigned streams;    /* asked for */
	unsigned streams_ok; /* completed and matched */
	uint64_t bytes;      /* per stream */
	uint64_t ms;         /* from start to the last stream's end */
	int err;             /* first failure's errno, 0 when ok */
	char error[256];     /* what failed first, "" when ok */
};

struct echotest_op;
/* Called once, later on the loop; the op is freed after it returns. */
typedef void (*echotest_cb)(const struct echotest_result *r, void *ctx);

/* Start the echo to peer (over its current connection, looked up again for
 * every stream). protocol NULL: ECHOTEST_PROTOCOL_ID. The first failing
 * stream resets the others. Returns 0 (ret may be NULL), or -EINVAL
 * (streams 0 or over ECHOTEST_MAX_STREAMS, no cb), -ENOTCONN (no connection
 * to peer), -ENOMEM; then cb never runs. */
int echotest_start(struct host *h, const struct peerid *peer, const char *protocol,
                   unsigned streams, uint64_t bytes, echotest_cb cb, void *ctx,
                   struct echotest_op **ret);
/* Reset every stream and never call cb. Not from inside cb. */
void echotest_cancel(struct echotest_op *op);
