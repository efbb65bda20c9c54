/* Fair sharing among sending transfers (start-time fair queuing by bytes).
 *
 * Every data stream that can take bytes waits in one ready list, ordered
 * by a virtual byte clock: a transfer's vbytes grow by what it writes, and
 * one that joins (its data stream just opened) starts no lower than the
 * clock of the transfer served last, so an old transfer keeps no credit
 * for the time it was alone. Coming back from a full stream forgives
 * nothing: that transfer is behind and should catch up. Each turn serves the lowest
 * first, at most TX_QUANTUM bytes, up to TX_TURN_BUDGET per loop turn,
 * then yields to the loop. Streams that share a connection are usually
 * limited by its output buffer, and whoever refills it first wins it: this
 * order makes that the one that got the fewest bytes.
 *
 * That is not enough on its own: yamux grows a stream's window only while
 * the stream keeps up, so the stream that started first gets the larger
 * window and the other stays window-bound. So a transfer more than
 * TX_FAIR_LEAD bytes ahead of another one still writing on the same
 * connection waits for it; one that wrote nothing for TX_FAIR_STALL_MS (its
 * receiver is slow, paused) holds nobody back. Transfers to different
 * devices never wait for each other. */
#include "transfers-internal.h"

#include "net/stream.h"

static void insert(struct transfers *svc, struct tx *t)
{
	struct tx *it;
	TAILQ_FOREACH(it, &svc->ready, sched_link)
	{
		if (it->vbytes > t->vbytes) {
			TAILQ_INSERT_BEFORE(it, t, sched_link);
			return;
		}
	}
	TAILQ_INSERT_TAIL(&svc->ready, t, sched_link);
}

void txsched_ready(struct tx *t)
{
	struct transfers *svc = t->svc;
	if (t->sched_on || !t->data || tx_state_final(t->state) || svc->freeing)
		return;
	insert(svc, t);
	t->sched_on = true;
	event_active(svc->sched_ev, 0, 0);
}

void txsched_join(struct tx *t)
{
	if (t->vbytes < t->svc->vnow)
		t->vbytes = t->svc->vnow;
	txsched_ready(t);
}

void txsched_remove(struct tx *t)
{
	if (!t->sched_on)
		return;
	TAILQ_REMOVE(&t->svc->ready, t, sched_link);
	t->sched_on = false;
}

/* The lowest clock among the other transfers writing on t's connection
 * (those that wrote lately: one stalled for another reason holds nobody
 * back). */
static uint64_t floor_of(struct transfers *svc, struct tx *t, uint64_t now)
{
	uint64_t f = t->vbytes;
	struct conn *c = stream_conn(t->data->s);
	struct tx *o;
	TAILQ_FOREACH(o, &svc->txs, link)
	{
		if (o == t || !o->sender || o->state != TX_TRANSFERRING || !o->data ||
		    !o->data->s || o->data_done || stream_conn(o->data->s) != c ||
		    now - o->last_write_ms > TX_FAIR_STALL_MS)
			continue;
		if (o->vbytes < f)
			f = o->vbytes;
	}
	return f;
}

/* The first ready transfer not too far ahead of the others on its link. */
static struct tx *next(struct transfers *svc, uint64_t now)
{
	struct tx *t;
	TAILQ_FOREACH(t, &svc->ready, sched_link)
	{
		if (!t->data || !t->data->s || t->vbytes <= floor_of(svc, t, now) + TX_FAIR_LEAD)
			return t;
	}
	return NULL;
}

static void recheck(evutil_socket_t fd, short what, void *ctx)
{
	struct transfers *svc = ctx;
	if (!TAILQ_EMPTY(&svc->ready))
		event_active(svc->sched_ev, 0, 0);
}

void txsched_run(evutil_socket_t fd, short what, void *ctx)
{
	struct transfers *svc = ctx;
	size_t spent = 0;
	uint64_t now = tx_now_ms();
	struct tx *t;
	while (spent < TX_TURN_BUDGET && (t = next(svc, now))) {
		txsched_remove(t);
		svc->vnow = t->vbytes;
		bool more = false;
		size_t n = txsend_pump(t, TX_QUANTUM, &more);
		t->vbytes += n;
		if (n)
			t->last_write_ms = now;
		if (more)
			txsched_ready(t);
		/* A transfer that wrote nothing (blocked, paced) costs a little
		 * so a list of idle ones cannot spin here. */
		spent += n + 4096;
	}
	if (TAILQ_EMPTY(&svc->ready))
		return;
	if (t) {
		event_active(svc->sched_ev, 0, 0); /* budget spent: continue next turn */
	} else {
		/* Everyone ready is ahead: the laggard's on_writable, or this
		 * timer once it counts as stalled, brings us back. */
		if (!svc->recheck_ev)
			svc->recheck_ev = evtimer_new(svc->cfg.base, recheck, svc);
		struct timeval tv = {0, TX_FAIR_STALL_MS * 1000};
		if (svc->recheck_ev)
			evtimer_add(svc->recheck_ev, &tv);
	}
}
