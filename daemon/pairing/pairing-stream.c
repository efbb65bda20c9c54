/* Pairing streams: host streams carrying one exchange each.
 *
 * Inbound streams wait (unrouted, bounded in number and time) for their
 * first message, a Hello, whose rendezvous id names the initiator session
 * it is for; that way several codes can wait at once and a late joiner of
 * an ended code hears "code already used" or "expired". A Hello for no
 * code we know goes to the newest initiator session, which answers
 * "unknown code" under its rate limiter. Bytes are fed to the exchange as
 * they arrive; what to do with the result is decided in psvc_settle(). */
#include "pairing-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lpmsg.h"

static void noop(struct stream *s, void *ctx)
{
}

static void noop_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks detached_callbacks = {
        .on_data = noop,
        .on_writable = noop,
        .on_eof = noop,
        .on_closed = noop_closed,
};

void pstream_detach(struct pstream *st, bool reset)
{
	st->finished = true;
	st->awaiting_confirm = false;
	if (!st->s)
		return;
	struct stream *s = st->s;
	st->s = NULL;
	stream_set_callbacks(s, &detached_callbacks, NULL);
	if (reset)
		stream_reset(s);
	else
		stream_close_write(s);
}

void pstream_free(struct pstream *st)
{
	if (!st)
		return;
	pstream_detach(st, true);
	pairing_exchange_free(st->x);
	if (!st->sess)
		st->svc->n_unrouted--;
	free(st);
}

void pstream_pump(struct pstream *st)
{
	if (st->finished)
		return;
	const uint8_t *p;
	size_t len;
	pairing_exchange_pending_output(st->x, &p, &len);
	while (st->s && len) {
		long n = stream_write(st->s, p, len);
		if (n < 0) {
			pstream_detach(st, true);
			break;
		}
		if (n == 0)
			return; /* on_writable resumes */
		pairing_exchange_output_consumed(st->x, (size_t)n);
		pairing_exchange_pending_output(st->x, &p, &len);
	}
	enum pairing_state xs = pairing_exchange_state(st->x);
	/* A finished exchange with nothing left to say closes; a completed
	 * one is the service's to close (after storing). */
	if (pairing_state_is_final(xs) && xs != PAIRING_COMPLETED && len == 0)
		pstream_detach(st, false);
	else if (!st->s && xs != PAIRING_COMPLETED)
		st->finished = true;
}

/* ---- stream callbacks --------------------------------------------------- */

static void feed(struct pstream *st, struct stream *s)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len == 0)
		return;
	if (!pairing_state_is_final(pairing_exchange_state(st->x)))
		(void)pairing_exchange_feed(st->x, p, len, psvc_now());
	/* Anything after the end is ignored (the protocol is over). */
	stream_consume(s, len);
}

static void on_data(struct stream *s, void *ctx)
{
	struct pstream *st = ctx;
	if (st->sess)
		feed(st, s);
	psvc_settle(st->svc);
}

static void on_eof(struct stream *s, void *ctx)
{
	struct pstream *st = ctx;
	if (st->sess) {
		feed(st, s);
		if (!pairing_state_is_final(pairing_exchange_state(st->x)))
			(void)pairing_exchange_eof(st->x, psvc_now());
	}
	psvc_settle(st->svc);
}

static void on_writable(struct stream *s, void *ctx)
{
	psvc_settle(((struct pstream *)ctx)->svc);
}

static void on_closed(struct stream *s, int err, void *ctx)
{
	struct pstream *st = ctx;
	st->s = NULL;
	if (st->sess) {
		if (!pairing_state_is_final(pairing_exchange_state(st->x)))
			(void)pairing_exchange_eof(st->x, psvc_now());
		/* A completed exchange is settled by the service: an initiator
		 * still waiting for confirmation discards the pairing. */
		if (pairing_exchange_state(st->x) != PAIRING_COMPLETED)
			st->finished = true;
	} else {
		st->finished = true;
	}
	psvc_settle(st->svc);
}

static const struct stream_callbacks pstream_callbacks = {
        .on_data = on_data,
        .on_writable = on_writable,
        .on_eof = on_eof,
        .on_closed = on_closed,
};

/* ---- inbound: routing --------------------------------------------------- */

void pstream_on_inbound(struct stream *s, void *ctx)
{
	struct pairing_service *svc = ctx;
	if (svc->freeing || svc->n_unrouted >= PAIRING_SVC_MAX_UNROUTED) {
		stream_reset(s);
		return;
	}
	struct pstream *st = calloc(1, sizeof(*st));
	if (!st) {
		stream_reset(s);
		return;
	}
	st->svc = svc;
	st->s = s;
	st->created_ms = psvc_now();
	st->deadline_ms = st->created_ms + PAIRING_SVC_ROUTE_TIMEOUT_MS;
	st->next = svc->unrouted;
	svc->unrouted = st;
	svc->n_unrouted++;
	stream_set_callbacks(s, &pstream_callbacks, st);
	psvc_settle(svc);
}

/* The initiator session a first message is for: the one whose code it
 * names, else the newest running one, else the newest at all. */
static struct psession *route(struct pairing_service *svc, const uint8_t *msg, size_t len)
{
	struct pairing_msg *m = calloc(1, sizeof(*m));
	bool hello =
	        m && pairing_msg_decode(msg, len, m, NULL) == 0 && m->type == PAIRING_MSG_HELLO;
	struct psession *running = NULL, *any = NULL, *match = NULL;
	for (struct psession *ps = svc->sessions; ps; ps = ps->next) {
		if (ps->role != PAIRING_ROLE_INITIATOR)
			continue;
		if (hello && !match &&
		    memcmp(pairing_session_rendezvous_id(ps->ps), m->rendezvous_id,
		           PAIRING_RENDEZVOUS_LEN) == 0)
			match = ps;
		if (!running && !ps->final)
			running = ps;
		if (!any)
			any = ps;
	}
	free(m);
	return match ? match : running ? running : any;
}

/* 1: routed or dropped (st is no longer unrouted); 0: keep waiting. */
static int try_route(struct pairing_service *svc, struct pstream *st, uint64_t now)
{
	if (!st->s || st->finished)
		return 1;
	const uint8_t *p, *msg;
	size_t len, msg_len;
	stream_peek(st->s, &p, &len);
	long n = lpmsg_next(p, len, PAIRING_MAX_MESSAGE, &msg, &msg_len);
	if (n == 0 && !stream_peer_closed(st->s) && now < st->deadline_ms)
		return 0;
	struct psession *ps = n > 0 ? route(svc, msg, msg_len) : NULL;
	if (!ps) {
		/* No code is waiting here, or the stream broke the framing or
		 * timed out before a message. */
		pstream_detach(st, true);
		return 1;
	}
	int r = pairing_exchange_new(ps->ps, stream_peer(st->s), now, &st->x);
	if (r < 0) {
		log_debug("pairing: inbound stream refused: %s", strerror(-r));
		pstream_detach(st, true);
		return 1;
	}
	st->sess = ps;
	st->deadline_ms = 0;
	st->next = ps->streams;
	ps->streams = st;
	svc->n_unrouted--;
	feed(st, st->s);
	if (stream_peer_closed(st->s) && !pairing_state_is_final(pairing_exchange_state(st->x)))
		(void)pairing_exchange_eof(st->x, now);
	return 1;
}

void pstream_route_pending(struct pairing_service *svc)
{
	uint64_t now = psvc_now();
	struct pstream **pp = &svc->unrouted;
	while (*pp) {
		struct pstream *st = *pp;
		if (!try_route(svc, st, now)) {
			pp = &st->next;
			continue;
		}
		*pp = st->next;
		if (!st->sess)
			pstream_free(st);
	}
}

/* ---- outbound ----------------------------------------------------------- */

int pstream_attach_outbound(struct psession *ps, struct stream *s)
{
	struct pstream *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	int r = pairing_exchange_new(ps->ps, stream_peer(s), psvc_now(), &st->x);
	if (r < 0) {
		free(st);
		return r;
	}
	st->svc = ps->svc;
	st->sess = ps;
	st->s = s;
	st->created_ms = psvc_now();
	st->next = ps->streams;
	ps->streams = st;
	stream_set_callbacks(s, &pstream_callbacks, st);
	psvc_settle(ps->svc);
	return 0;
}
