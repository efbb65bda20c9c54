/* The rendezvous fan-out with fake backends: every backend hears every
 * advertisement and lookup, matches from any backend reach the joiner, a
 * backend added late catches up, a failing backend does not sink the
 * others, and withdraw/stop reach everyone and are forgotten. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "discovery/rendezvous.h"

struct fake {
	int advertised, withdrawn, looked_up, stopped;
	int fail; /* returned by advertise and lookup when non-zero */
	uint8_t last_id[RENDEZVOUS_ID_LEN];
	rendezvous_found_cb cb;
	void *ctx;
};

static int fake_advertise(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	struct fake *f = impl;
	if (f->fail)
		return f->fail;
	f->advertised++;
	memcpy(f->last_id, id, RENDEZVOUS_ID_LEN);
	return 0;
}

static void fake_withdraw(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	struct fake *f = impl;
	f->withdrawn++;
	memcpy(f->last_id, id, RENDEZVOUS_ID_LEN);
}

static int fake_lookup(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN], rendezvous_found_cb cb,
                       void *ctx)
{
	struct fake *f = impl;
	if (f->fail)
		return f->fail;
	f->looked_up++;
	memcpy(f->last_id, id, RENDEZVOUS_ID_LEN);
	f->cb = cb;
	f->ctx = ctx;
	return 0;
}

static void fake_lookup_stop(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	struct fake *f = impl;
	f->stopped++;
	f->cb = NULL;
}

static struct rendezvous_backend backend(const char *name, struct fake *f)
{
	return (struct rendezvous_backend){name,        fake_advertise,   fake_withdraw,
	                                   fake_lookup, fake_lookup_stop, f};
}

struct found {
	int calls;
	struct peerid last;
	size_t n_addrs;
};

static void on_found(const struct peerid *peer, const struct multiaddr *addrs, size_t n, void *ctx)
{
	struct found *fd = ctx;
	fd->calls++;
	fd->last = *peer;
	fd->n_addrs = n;
}

static const uint8_t id1[RENDEZVOUS_ID_LEN] = {1, 2, 3};
static const uint8_t id2[RENDEZVOUS_ID_LEN] = {9, 9, 9};

static void test_fan_out(void **state)
{
	struct rendezvous *r = rendezvous_new();
	struct fake fa = {0}, fb = {0};
	struct rendezvous_backend a = backend("mdns", &fa), b = backend("dht", &fb);
	assert_int_equal(rendezvous_add_backend(r, &a), 0);
	assert_int_equal(rendezvous_add_backend(r, &b), 0);
	assert_int_equal(rendezvous_add_backend(r, &a), -EEXIST);
	assert_int_equal(rendezvous_backend_count(r), 2);

	assert_int_equal(rendezvous_advertise(r, id1), 0);
	assert_int_equal(fa.advertised, 1);
	assert_int_equal(fb.advertised, 1);
	assert_memory_equal(fb.last_id, id1, RENDEZVOUS_ID_LEN);
	assert_int_equal(rendezvous_advertise(r, id1), -EEXIST);

	struct found got = {0};
	assert_int_equal(rendezvous_lookup(r, id2, on_found, &got), 0);
	assert_int_equal(fa.looked_up, 1);
	assert_int_equal(fb.looked_up, 1);
	/* A match from either backend reaches the joiner with its addresses. */
	struct peerid p = {.len = 3, .bytes = {0, 1, 7}};
	struct multiaddr addrs[2] = {{0}};
	fb.cb(&p, addrs, 2, fb.ctx);
	fa.cb(&p, addrs, 1, fa.ctx);
	assert_int_equal(got.calls, 2);
	assert_true(peerid_equal(&got.last, &p));
	assert_int_equal(got.n_addrs, 1);

	rendezvous_withdraw(r, id1);
	assert_int_equal(fa.withdrawn, 1);
	assert_int_equal(fb.withdrawn, 1);
	rendezvous_withdraw(r, id1); /* already gone: nobody hears it again */
	assert_int_equal(fa.withdrawn, 1);
	rendezvous_lookup_stop(r, id2);
	assert_int_equal(fa.stopped, 1);
	assert_int_equal(fb.stopped, 1);
	assert_null(fa.cb);

	rendezvous_remove_backend(r, &a);
	assert_int_equal(rendezvous_backend_count(r), 1);
	assert_int_equal(rendezvous_advertise(r, id2), 0);
	assert_int_equal(fa.advertised, 1); /* removed: not asked */
	assert_int_equal(fb.advertised, 2);
	rendezvous_remove_backend(r, &b);
	rendezvous_free(r);
}

static void test_late_backend_catches_up(void **state)
{
	struct rendezvous *r = rendezvous_new();
	/* No backend: accepted (only `--peer` can work; the caller says so). */
	assert_int_equal(rendezvous_backend_count(r), 0);
	assert_int_equal(rendezvous_advertise(r, id1), 0);
	struct found got = {0};
	assert_int_equal(rendezvous_lookup(r, id2, on_found, &got), 0);

	struct fake f = {0};
	struct rendezvous_backend b = backend("mdns", &f);
	assert_int_equal(rendezvous_add_backend(r, &b), 0);
	assert_int_equal(f.advertised, 1);
	assert_int_equal(f.looked_up, 1);
	assert_memory_equal(f.last_id, id2, RENDEZVOUS_ID_LEN);
	struct peerid p = {.len = 1, .bytes = {5}};
	f.cb(&p, NULL, 0, f.ctx);
	assert_int_equal(got.calls, 1);
	rendezvous_lookup_stop(r, id2);
	rendezvous_withdraw(r, id1);
	assert_int_equal(f.stopped, 1);
	assert_int_equal(f.withdrawn, 1);
	rendezvous_remove_backend(r, &b);
	rendezvous_free(r);
}

static void test_failing_backend(void **state)
{
	struct rendezvous *r = rendezvous_new();
	struct fake bad = {.fail = -ENETDOWN}, good = {0};
	struct rendezvous_backend b1 = backend("broken", &bad), b2 = backend("ok", &good);
	assert_int_equal(rendezvous_add_backend(r, &b1), 0);
	/* Every backend failed: the error comes back and nothing is kept. */
	assert_int_equal(rendezvous_advertise(r, id1), -ENETDOWN);
	struct found got = {0};
	assert_int_equal(rendezvous_lookup(r, id1, on_found, &got), -ENETDOWN);
	assert_int_equal(rendezvous_add_backend(r, &b2), 0);
	assert_int_equal(good.advertised, 0); /* the failed ones were not remembered */
	assert_int_equal(good.looked_up, 0);
	/* One backend that takes it is enough. */
	assert_int_equal(rendezvous_advertise(r, id1), 0);
	assert_int_equal(rendezvous_lookup(r, id1, on_found, &got), 0);
	assert_int_equal(good.advertised, 1);
	assert_int_equal(good.looked_up, 1);
	rendezvous_remove_backend(r, &b1);
	rendezvous_remove_backend(r, &b2);
	rendezvous_free(r);
}

static void test_bad_args(void **state)
{
	struct rendezvous *r = rendezvous_new();
	assert_int_equal(rendezvous_add_backend(r, NULL), -EINVAL);
	assert_int_equal(rendezvous_lookup(r, id1, NULL, NULL), -EINVAL);
	assert_int_equal(rendezvous_advertise(NULL, id1), -EINVAL);
	rendezvous_withdraw(r, id1);    /* not advertised: no-op */
	rendezvous_lookup_stop(r, id1); /* not looked up: no-op */
	/* The id cap holds. */
	uint8_t id[RENDEZVOUS_ID_LEN] = {0};
	int r_adv = 0;
	for (int i = 0; i < 100 && r_adv == 0; i++) {
		id[0] = (uint8_t)i;
		r_adv = rendezvous_advertise(r, id);
	}
	assert_int_equal(r_adv, -ENOSPC);
	rendezvous_free(r);
	rendezvous_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fan_out),
	        cmocka_unit_test(test_late_backend_catches_up),
	        cmocka_unit_test(test_failing_backend),
	        cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
