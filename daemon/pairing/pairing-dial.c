/* The joiner's way to the initiator: dial `--peer`, or look the rendezvous
 * id up through the discovery backends and dial each new candidate (its
 * addresses one after another), then open /spacedrive/pairing/1.0.0 on the
 * connection. The pairing proof decides which candidate is the right one.
 *
 * A dial outlives nothing: each host_dial/host_open_stream carries a small
 * context that names its session by id and is on the service's list, so a
 * session that ends, or a service that is freed, before the host calls
 * back just orphans it (the callback then resets what it got). */
#include "pairing-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/rendezvous.h"
#include "log.h"

struct pdial {
	struct pairing_service *svc; /* NULL once orphaned */
	struct pdial *next;          /* svc->dials */
	char session_id[PAIRING_SESSION_ID_LEN + 1];
	struct multiaddr addrs[PAIRING_SVC_MAX_DIAL_ADDRS];
	size_t n_addrs, next_addr;
	char last_error[ERRMSG_MAX];
};

static void pdial_free(struct pdial *d)
{
	for (size_t i = 0; i < d->n_addrs; i++)
		multiaddr_free(&d->addrs[i]);
	free(d);
}

static void unlink_dial(struct pdial *d)
{
	if (!d->svc)
		return;
	for (struct pdial **pp = &d->svc->dials; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
}

static struct psession *session_of(struct pdial *d)
{
	if (!d->svc)
		return NULL;
	for (struct psession *ps = d->svc->sessions; ps; ps = ps->next)
		if (strcmp(ps->id, d->session_id) == 0)
			return ps;
	return NULL;
}

/* Done with d: the session no longer waits for it. */
static void dial_done(struct pdial *d)
{
	struct psession *ps = session_of(d);
	if (ps && ps->dials)
		ps->dials--;
	unlink_dial(d);
	struct pairing_service *svc = d->svc;
	pdial_free(d);
	if (svc)
		psvc_settle(svc);
}

/* With --peer, a dial that fails ends the join: there is nobody else. */
static void dial_failed(struct pdial *d, int err, const char *msg)
{
	struct psession *ps = session_of(d);
	char addr[MULTIADDR_TEXT_MAX] = "?";
	if (d->n_addrs && multiaddr_to_string(&d->addrs[d->next_addr - 1], addr, sizeof(addr)) < 0)
		snprintf(addr, sizeof(addr), "?");
	snprintf(d->last_error, sizeof(d->last_error), "cannot reach %.120s: %.100s", addr,
	         msg && *msg ? msg : strerror(-err));
	if (ps && ps->have_peer && !ps->final) {
		char text[PSVC_REASON_MAX];
		snprintf(text, sizeof(text),
		         "%s; check the address and that sdnetd runs there ('network info' "
		         "shows its addresses)",
		         d->last_error);
		psession_finish(ps, PAIRING_FAILED, err, text);
	} else if (ps) {
		log_info("pairing %s: candidate: %s", ps->id, d->last_error);
	}
}

static void on_opened(struct stream *s, int err, void *ctx)
{
	struct pdial *d = ctx;
	struct psession *ps = session_of(d);
	if (s && (!ps || ps->final || pstream_attach_outbound(ps, s) < 0))
		stream_reset(s);
	if (!s && ps)
		dial_failed(d, err,
		            err == -ENOPROTOOPT ? "it does not speak " PAIRING_PROTOCOL_ID
		                                : "could not open the pairing stream");
	dial_done(d);
}

static void dial_next(struct pdial *d);

static void on_dialed(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct pdial *d = ctx;
	struct psession *ps = session_of(d);
	if (!ps || ps->final) {
		dial_done(d);
		return;
	}
	if (!c) {
		if (d->next_addr < d->n_addrs) {
			log_debug("pairing %s: %s", ps->id, msg ? msg : strerror(-err));
			dial_next(d);
			return;
		}
		dial_failed(d, err, msg);
		dial_done(d);
		return;
	}
	int r = host_open_stream(h, c, PAIRING_PROTOCOL_ID, on_opened, d);
	if (r < 0) {
		dial_failed(d, r, "could not open the pairing stream");
		dial_done(d);
	}
}

static void dial_next(struct pdial *d)
{
	struct multiaddr *ma = &d->addrs[d->next_addr++];
	int r = host_dial(d->svc->cfg.host, ma, 0, on_dialed, d);
	if (r < 0) {
		dial_failed(d, r, "the dial could not start");
		dial_done(d);
	}
}

/* Dial addrs (copied) for ps; the peer, when known, is appended as /p2p. */
static int dial(struct psession *ps, const struct multiaddr *addrs, size_t n,
                const struct peerid *peer)
{
	struct pdial *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->svc = ps->svc;
	memcpy(d->session_id, ps->id, sizeof(d->session_id));
	for (size_t i = 0; i < n && d->n_addrs < PAIRING_SVC_MAX_DIAL_ADDRS; i++) {
		struct multiaddr *ma = &d->addrs[d->n_addrs];
		if (multiaddr_copy(&addrs[i], ma) < 0)
			continue;
		struct peerid has;
		if (peer && multiaddr_get_p2p(ma, &has) < 0 && multiaddr_append_p2p(ma, peer) < 0) {
			multiaddr_free(ma);
			continue;
		}
		d->n_addrs++;
	}
	if (d->n_addrs == 0) {
		pdial_free(d);
		return -EINVAL;
	}
	d->next = ps->svc->dials;
	ps->svc->dials = d;
	ps->dials++;
	dial_next(d);
	return 0;
}

static bool tried(struct psession *ps, const struct peerid *peer)
{
	for (unsigned i = 0; i < ps->n_tried; i++)
		if (peerid_equal(&ps->tried[i], peer))
			return true;
	return false;
}

/* A discovery backend found a candidate for our rendezvous id. */
static void on_found(const struct peerid *peer, const struct multiaddr *addrs, size_t n, void *ctx)
{
	struct psession *ps = ctx;
	if (ps->final || !peer || n == 0 || tried(ps, peer) ||
	    peerid_equal(peer, host_peer_id(ps->svc->cfg.host)))
		return;
	if (ps->n_tried == PAIRING_SVC_MAX_CANDIDATES) {
		log_info("pairing %s: more than %d candidates answered; ignoring the rest", ps->id,
		         PAIRING_SVC_MAX_CANDIDATES);
		return;
	}
	ps->tried[ps->n_tried++] = *peer;
	if (dial(ps, addrs, n, peer) < 0)
		log_info("pairing %s: a candidate announced no usable address", ps->id);
}

int pdial_start(struct psession *ps, struct errmsg *err)
{
	if (!ps->have_peer) {
		int r = rendezvous_lookup(ps->svc->cfg.rendezvous,
		                          pairing_session_rendezvous_id(ps->ps), on_found, ps);
		if (r < 0)
			return errmsg_set(
			        err, r,
			        "cannot look for the other device (%s): pass its address with "
			        "--peer",
			        strerror(-r));
		ps->looking = true;
		return 0;
	}
	struct multiaddr ma;
	int r = multiaddr_parse(ps->peer_addr, &ma, err);
	if (r < 0)
		return r;
	r = dial(ps, &ma, 1, NULL);
	multiaddr_free(&ma);
	return r < 0 ? errmsg_set(err, r, "cannot dial %s", ps->peer_addr) : 0;
}

/* The session ended: its dials still in flight are orphaned (their
 * callbacks find no running session and let go). */
void pdial_stop(struct psession *ps)
{
	ps->dials = 0;
}

void pdial_orphan_all(struct pairing_service *svc)
{
	while (svc->dials) {
		struct pdial *d = svc->dials;
		svc->dials = d->next;
		d->svc = NULL;
		d->next = NULL;
	}
}
