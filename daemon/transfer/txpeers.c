/* Peers found over mDNS, remembered for Spacedrop: `network spacedrop
 * <peer id>` to a nearby device that is not paired dials the addresses it
 * announced. Bounded: at most TXPEERS_MAX peers (the oldest goes), each
 * with its last announcement's addresses. */
#include "transfers-internal.h"

#include <stdlib.h>
#include <string.h>

#define TXPEERS_MAX 256
#define TXPEERS_MAX_ADDRS 16

struct txpeer {
	struct peerid id;
	struct multiaddr addrs[TXPEERS_MAX_ADDRS];
	size_t n;
	uint64_t seen;
};

struct tx_peer_cache {
	struct txpeer peers[TXPEERS_MAX];
	size_t n;
	uint64_t clock;
};

static void clear(struct txpeer *p)
{
	for (size_t i = 0; i < p->n; i++)
		multiaddr_free(&p->addrs[i]);
	p->n = 0;
}

static struct txpeer *find(struct tx_peer_cache *c, const struct peerid *id)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (peerid_equal(&c->peers[i].id, id))
			return &c->peers[i];
	return NULL;
}

void transfers_peer_seen(struct transfers *svc, const struct peerid *id,
                         const struct multiaddr *addrs, size_t n_addrs)
{
	if (!svc->peers && !(svc->peers = calloc(1, sizeof(*svc->peers))))
		return;
	struct tx_peer_cache *c = svc->peers;
	struct txpeer *p = find(c, id);
	if (!p && c->n < TXPEERS_MAX) {
		p = &c->peers[c->n++];
	} else if (!p) {
		p = &c->peers[0];
		for (size_t i = 1; i < c->n; i++)
			if (c->peers[i].seen < p->seen)
				p = &c->peers[i];
	}
	clear(p);
	p->id = *id;
	p->seen = ++c->clock;
	for (size_t i = 0; i < n_addrs && p->n < TXPEERS_MAX_ADDRS; i++)
		if (multiaddr_copy(&addrs[i], &p->addrs[p->n]) == 0)
			p->n++;
}

void transfers_peer_gone(struct transfers *svc, const struct peerid *id)
{
	struct tx_peer_cache *c = svc->peers;
	struct txpeer *p = find(c, id);
	if (!p)
		return;
	clear(p);
	*p = c->peers[--c->n];
}

size_t txpeers_get(struct transfers *svc, const struct peerid *id, const struct multiaddr **ret)
{
	struct txpeer *p = find(svc->peers, id);
	if (!p)
		return 0;
	*ret = p->addrs;
	return p->n;
}

void txpeers_free(struct transfers *svc)
{
	struct tx_peer_cache *c = svc->peers;
	for (size_t i = 0; c && i < c->n; i++)
		clear(&c->peers[i]);
	free(c);
	svc->peers = NULL;
}
