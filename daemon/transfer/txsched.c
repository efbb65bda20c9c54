/* Fair sharing among sending transfers: every data stream that can take
 * bytes waits in one ready list; each turn of the loop gives each transfer
 * in it at most TX_QUANTUM bytes, round robin, up to TX_TURN_BUDGET in all,
 * then yields to the loop (sockets, timers, other work) and continues on
 * the next turn. A transfer whose stream is full leaves the list until its
 * on_writable; one whose quantum ran out goes to the back. So two
 * transfers to one device share its connection in equal parts, and one
 * fast transfer never starves the loop. */
#include "transfers-internal.h"

void txsched_ready(struct tx *t)
{
	struct transfers *svc = t->svc;
	if (t->sched_on || !t->data || tx_state_final(t->state) || svc->freeing)
		return;
	TAILQ_INSERT_TAIL(&svc->ready, t, sched_link);
	t->sched_on = true;
	event_active(svc->sched_ev, 0, 0);
}

void txsched_remove(struct tx *t)
{
	if (!t->sched_on)
		return;
	TAILQ_REMOVE(&t->svc->ready, t, sched_link);
	t->sched_on = false;
}

void txsched_run(evutil_socket_t fd, short what, void *ctx)
{
	struct transfers *svc = ctx;
	size_t spent = 0;
	struct tx *t;
	while (spent < TX_TURN_BUDGET && (t = TAILQ_FIRST(&svc->ready))) {
		txsched_remove(t);
		bool more = false;
		spent += txsend_pump(t, TX_QUANTUM, &more);
		if (more)
			txsched_ready(t);
		/* A transfer that wrote nothing (blocked, paced) costs a little
		 * so a list of idle ones cannot spin here. */
		spent += 4096;
	}
	if (!TAILQ_EMPTY(&svc->ready))
		event_active(svc->sched_ev, 0, 0);
}
