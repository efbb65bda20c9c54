/* The connection manager: admission against the named limits, one record
 * per connected peer, and the simultaneous-dial rule.
 *
 * Limits (struct host_limits; figures and reasons in docs/architecture.md):
 *   max_handshaking    checked when a socket is accepted or a dial starts
 *   max_conns_per_ip   inbound sockets (handshaking or open) from one IP
 *   max_conns          established connections, all peers
 *   max_conns_per_peer established connections to one peer (a draining
 *                      duplicate counts until it is gone)
 * A refusal is counted in host_stats (refused_handshake for the first,
 * refused_limit for the others) and returns -EBUSY with a message.
 *
 * Simultaneous dials: when a peer has two usable connections, both ends
 * must keep the same one without talking about it. We keep the connection
 * initiated by the peer whose peer ID bytes sort first (memcmp, shorter
 * first on a common prefix) and drain the other: GoAway(0), so no new
 * streams, then close once its streams have finished. Two connections in the
 * same direction (two racing dials by one side) keep the older one. */
#include "net-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* A per-IP refusal is logged as a warning (the other refusals only at
 * debug): it is what an operator sees when devices behind one NAT exceed
 * max-connections-per-ip. At most once per this long, so a flood from one
 * address cannot flood the log; the counters have every refusal. One
 * clock for the process: hosts share the log. */
#define PER_IP_WARN_EVERY_MS 10000
static uint64_t per_ip_warned_ms;

static void ip_text(const struct sockaddr_storage *sa, char *out, size_t len)
{
	const void *a = sa->ss_family == AF_INET6
	                        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (!inet_ntop(sa->ss_family, a, out, (socklen_t)len))
		snprintf(out, len, "?");
}

static unsigned count_inbound_ip(struct host *h, const struct sockaddr_storage *sa)
{
	unsigned n = 0;
	for (struct conn *c = h->conns; c; c = c->next)
		if (c->dir == CONN_INBOUND && c->state != CONN_DEAD &&
		    tcp_same_ip(&c->remote_sa, sa))
			n++;
	return n;
}

int connmgr_admit_inbound(struct host *h, const struct sockaddr_storage *remote, struct errmsg *err)
{
	if (h->st.handshaking >= h->lim.max_handshaking) {
		h->st.refused_handshake++;
		return errmsg_set(err, -EBUSY, "max_handshaking (%u) connections are handshaking",
		                  h->lim.max_handshaking);
	}
	if (count_inbound_ip(h, remote) >= h->lim.max_conns_per_ip) {
		h->st.refused_limit++;
		h->st.refused_per_ip++;
		char ip[INET6_ADDRSTRLEN];
		ip_text(remote, ip, sizeof(ip));
		uint64_t now = mono_ms();
		if (!per_ip_warned_ms || now - per_ip_warned_ms >= PER_IP_WARN_EVERY_MS) {
			per_ip_warned_ms = now;
			log_warning("refusing inbound connections from %s: max-connections-per-ip "
			            "(%u) reached for that address (%" PRIu64
			            " refused so far; raise max-connections-per-ip if these are "
			            "your devices behind one NAT)",
			            ip, h->lim.max_conns_per_ip, h->st.refused_per_ip);
		}
		return errmsg_set(err, -EBUSY, "max-connections-per-ip (%u) reached for %s",
		                  h->lim.max_conns_per_ip, ip);
	}
	return 0;
}

int connmgr_admit_dial(struct host *h, struct errmsg *err)
{
	if (h->st.handshaking >= h->lim.max_handshaking) {
		h->st.refused_handshake++;
		return errmsg_set(
		        err, -EBUSY,
		        "max_handshaking (%u) connections are handshaking; try again later",
		        h->lim.max_handshaking);
	}
	return 0;
}

static struct peer_rec *find_rec(struct host *h, const struct peerid *id)
{
	for (struct peer_rec *r = h->peers; r; r = r->next)
		if (peerid_equal(&r->id, id))
			return r;
	return NULL;
}

static struct peer_rec *get_rec(struct host *h, const struct peerid *id)
{
	struct peer_rec *r = find_rec(h, id);
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->id = *id;
	r->next = h->peers;
	h->peers = r;
	return r;
}

static void drop_rec(struct host *h, struct peer_rec *rec)
{
	for (struct peer_rec **pp = &h->peers; *pp; pp = &(*pp)->next) {
		if (*pp == rec) {
			*pp = rec->next;
			free(rec);
			return;
		}
	}
}

bool connmgr_prefer_ours(const struct peerid *ours, const struct peerid *theirs)
{
	size_t n = ours->len < theirs->len ? ours->len : theirs->len;
	int cmp = memcmp(ours->bytes, theirs->bytes, n);
	if (cmp == 0)
		return ours->len < theirs->len;
	return cmp < 0;
}

/* Of two usable connections to one peer, the one both ends keep. */
static struct conn *keeper(struct host *h, struct conn *old, struct conn *fresh)
{
	if (old->dir == fresh->dir)
		return old;
	bool ours_wins = connmgr_prefer_ours(&h->id, &fresh->peer);
	struct conn *ours = old->dir == CONN_OUTBOUND ? old : fresh;
	struct conn *theirs = ours == old ? fresh : old;
	return ours_wins ? ours : theirs;
}

static struct conn *usable(const struct peer_rec *rec, const struct conn *except)
{
	for (unsigned i = 0; i < rec->n; i++)
		if (rec->conns[i] != except && !rec->conns[i]->draining)
			return rec->conns[i];
	return NULL;
}

int connmgr_attach(struct host *h, struct conn *c, struct errmsg *err)
{
	/* c is already counted in st.conns. */
	if (h->st.conns > h->lim.max_conns) {
		h->st.refused_limit++;
		return errmsg_set(err, -EBUSY, "max_conns (%u) connections are open",
		                  h->lim.max_conns);
	}
	struct peer_rec *rec = find_rec(h, &c->peer);
	if (rec && rec->n >= h->lim.max_conns_per_peer) {
		h->st.refused_limit++;
		return errmsg_set(err, -EBUSY, "max_conns_per_peer (%u) connections to that peer",
		                  h->lim.max_conns_per_peer);
	}
	rec = rec ? rec : get_rec(h, &c->peer);
	if (!rec)
		return errmsg_set(err, -ENOMEM, "out of memory");
	rec->conns[rec->n++] = c;
	c->rec = rec;
	struct conn *other = usable(rec, c);
	if (other) {
		struct conn *keep = keeper(h, other, c);
		conn_drain(keep == c ? other : c, "duplicate connection to the same peer");
	}
	return 0;
}

void connmgr_detach(struct host *h, struct conn *c)
{
	struct peer_rec *rec = c->rec;
	if (!rec)
		return;
	for (unsigned i = 0; i < rec->n; i++) {
		if (rec->conns[i] == c) {
			rec->conns[i] = rec->conns[--rec->n];
			break;
		}
	}
	c->rec = NULL;
	if (rec->n == 0)
		drop_rec(h, rec);
}

struct conn *connmgr_best(struct host *h, const struct peerid *peer)
{
	struct peer_rec *rec = find_rec(h, peer);
	if (!rec)
		return NULL;
	struct conn *best = NULL;
	for (unsigned i = 0; i < rec->n; i++) {
		struct conn *c = rec->conns[i];
		if (c->state == CONN_OPEN && !c->draining &&
		    (!best || c->opened_ms > best->opened_ms))
			best = c;
	}
	return best;
}
