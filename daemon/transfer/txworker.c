/* The transfer service's worker thread (see txworker.h): a mutex-guarded
 * queue in, a queue of finished jobs out, and an eventfd that wakes the
 * loop to run their done() callbacks. */
#include "txworker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job {
	struct job *next;
	txworker_run_fn run;
	txworker_done_fn done;
	void *job;
	void *ctx;
};

struct txworker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *in_head, *in_tail;
	struct job *out_head, *out_tail;
	unsigned busy; /* queued + running + finished but not yet done() */
	bool stop;
	int efd;
	struct event *ev;
};

static void push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct job *pop(struct job **head, struct job **tail)
{
	struct job *j = *head;
	if (j) {
		*head = j->next;
		if (!*head)
			*tail = NULL;
	}
	return j;
}

static void *thread_main(void *arg)
{
	struct txworker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct job *j = pop(&w->in_head, &w->in_tail);
		if (!j) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		j->run(j->job);
		pthread_mutex_lock(&w->mu);
		push(&w->out_head, &w->out_tail, j);
		uint64_t one = 1;
		/* The counter saturates long before it could overflow. */
		(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Run done() of every finished job, outside the lock (done may submit). */
static void drain(struct txworker *w)
{
	for (;;) {
		pthread_mutex_lock(&w->mu);
		struct job *j = pop(&w->out_head, &w->out_tail);
		pthread_mutex_unlock(&w->mu);
		if (!j)
			return;
		w->busy--;
		j->done(j->job, j->ctx);
		free(j);
	}
}

static void on_wake(evutil_socket_t fd, short what, void *ctx)
{
	struct txworker *w = ctx;
	uint64_t v;
	(void)!read(w->efd, &v, sizeof(v));
	drain(w);
}

int txworker_new(struct event_base *base, struct txworker **ret)
{
	struct txworker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_wake, w);
	int r = w->ev && event_add(w->ev, NULL) == 0 ? 0 : -ENOMEM;
	if (r == 0)
		r = -pthread_create(&w->thread, NULL, thread_main, w);
	if (r < 0) {
		if (w->ev)
			event_free(w->ev);
		close(w->efd);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void txworker_free(struct txworker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	drain(w);
	event_free(w->ev);
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

int txworker_submit(struct txworker *w, txworker_run_fn run, txworker_done_fn done, void *job,
                    void *ctx)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){.run = run, .done = done, .job = job, .ctx = ctx};
	pthread_mutex_lock(&w->mu);
	push(&w->in_head, &w->in_tail, j);
	w->busy++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

unsigned txworker_busy(const struct txworker *w)
{
	return w->busy;
}
