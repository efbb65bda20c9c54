/* The transfer service's worker thread (daemon/transfer/txworker.h): jobs
 * run on another thread, their done() callbacks come back on the loop in
 * submission order, done() may submit more work, the busy count follows,
 * and freeing the worker lets queued jobs finish and runs their done()
 * before returning. */
#include "testutil.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "transfer/txworker.h"

struct job {
	int n;
	pthread_t ran_on;
	bool ran;
};

struct log {
	int order[16];
	int n;
	struct txworker *w;
	struct job extra;
};

static void run(void *arg)
{
	struct job *j = arg;
	j->ran_on = pthread_self();
	j->ran = true;
}

static void done(void *arg, void *ctx)
{
	struct job *j = arg;
	struct log *l = ctx;
	assert_true(j->ran); /* done() comes after run() */
	assert_true(pthread_equal(pthread_self(), j->ran_on) == 0);
	l->order[l->n++] = j->n;
	if (j->n == 2) {
		l->extra.n = 99; /* a done() that queues more work */
		assert_int_equal(txworker_submit(l->w, run, done, &l->extra, l), 0);
	}
}

static void test_jobs_in_order(void **state)
{
	struct event_base *base = event_base_new();
	struct log l = {0};
	assert_int_equal(txworker_new(base, &l.w), 0);
	struct job jobs[5];
	for (int i = 0; i < 5; i++) {
		jobs[i] = (struct job){.n = i};
		assert_int_equal(txworker_submit(l.w, run, done, &jobs[i], &l), 0);
	}
	assert_true(txworker_busy(l.w) >= 1);
	/* Each wake-up of the loop drains what finished; 6 jobs in all. */
	for (int turns = 0; l.n < 6 && turns < 100; turns++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(l.n, 6);
	static const int want[] = {0, 1, 2, 3, 4, 99};
	assert_memory_equal(l.order, want, sizeof(want));
	assert_int_equal(txworker_busy(l.w), 0);
	txworker_free(l.w);
	event_base_free(base);
}

static void test_free_drains(void **state)
{
	struct event_base *base = event_base_new();
	struct log l = {0};
	assert_int_equal(txworker_new(base, &l.w), 0);
	struct job jobs[3];
	for (int i = 0; i < 3; i++) {
		jobs[i] = (struct job){.n = 10 + i};
		assert_int_equal(txworker_submit(l.w, run, done, &jobs[i], &l), 0);
	}
	txworker_free(l.w); /* no loop turn: free finishes them */
	assert_int_equal(l.n, 3);
	assert_int_equal(l.order[2], 12);
	txworker_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_jobs_in_order),
	        cmocka_unit_test(test_free_drains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
