/* GCRA token buckets for pairing Hellos; see pairing-limit.h. */
#include "pairing-limit.h"

#include <errno.h>
#include <string.h>

void pairing_limit_init(struct pairing_limit *l)
{
	memset(l, 0, sizeof(*l));
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static bool allows(uint64_t tat, uint64_t now, unsigned burst, uint64_t interval)
{
	return max_u64(tat, now) - now <= (uint64_t)(burst - 1) * interval;
}

static struct pairing_limit_entry *slot(struct pairing_limit *l, const struct peerid *peer,
                                        uint64_t now)
{
	for (unsigned i = 0; i < l->n; i++)
		if (peerid_equal(&l->peers[i].peer, peer))
			return &l->peers[i];
	struct pairing_limit_entry *e = NULL;
	if (l->n < PAIRING_LIMIT_PEERS) {
		e = &l->peers[l->n++];
	} else {
		e = &l->peers[0];
		for (unsigned i = 1; i < l->n && e->tat > now; i++)
			if (l->peers[i].tat < e->tat)
				e = &l->peers[i];
	}
	e->peer = *peer;
	e->tat = 0;
	return e;
}

int pairing_limit_take(struct pairing_limit *l, const struct peerid *peer, uint64_t now_ms)
{
	struct pairing_limit_entry *e = slot(l, peer, now_ms);
	if (!allows(e->tat, now_ms, PAIRING_LIMIT_PEER_BURST, PAIRING_LIMIT_PEER_INTERVAL_MS) ||
	    !allows(l->global_tat, now_ms, PAIRING_LIMIT_GLOBAL_BURST,
	            PAIRING_LIMIT_GLOBAL_INTERVAL_MS))
		return -EAGAIN;
	e->tat = max_u64(e->tat, now_ms) + PAIRING_LIMIT_PEER_INTERVAL_MS;
	l->global_tat = max_u64(l->global_tat, now_ms) + PAIRING_LIMIT_GLOBAL_INTERVAL_MS;
	return 0;
}
