/* Rate limit on pairing Hellos: a token bucket per peer and one for
 * everyone, with time passed in (sans-I/O).
 *
 * Each bucket is kept as GCRA's "theoretical arrival time": a request at
 * now is allowed while tat - now <= (burst - 1) * interval, and moves tat
 * one interval on (from max(tat, now)). One u64 per bucket, no division, no
 * clock. A request is allowed only when both its peer's bucket and the global
 * bucket allow it, and a refused request takes nothing from either, so a
 * flood does not push the legitimate joiner's wait further out.
 *
 * The peer table holds PAIRING_LIMIT_PEERS entries. A new peer takes a free
 * slot, else the slot of a peer whose bucket is full again, else the one
 * nearest to full; evicting a drained peer only returns it to a fresh
 * bucket, and the global bucket still bounds the total. */
#pragma once

#include <stdint.h>

#include "peerid.h"

/* A joiner retries at most a few times; a guesser gets 3 tries, then one
 * every 10 s. */
#define PAIRING_LIMIT_PEER_BURST 3
#define PAIRING_LIMIT_PEER_INTERVAL_MS 10000
/* Everyone together: 10 at once, then one a second (each allowed Hello costs
 * an X25519 key generation, a DH and a few HKDF/HMAC runs). */
#define PAIRING_LIMIT_GLOBAL_BURST 10
#define PAIRING_LIMIT_GLOBAL_INTERVAL_MS 1000
/* Peers remembered at once. */
#define PAIRING_LIMIT_PEERS 64

struct pairing_limit_entry {
	struct peerid peer;
	uint64_t tat;
};

struct pairing_limit {
	uint64_t global_tat;
	unsigned n;
	struct pairing_limit_entry peers[PAIRING_LIMIT_PEERS];
};

void pairing_limit_init(struct pairing_limit *l);
/* 0: allowed (one token taken from both buckets); -EAGAIN: refused. */
int pairing_limit_take(struct pairing_limit *l, const struct peerid *peer, uint64_t now_ms);
