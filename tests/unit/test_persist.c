/* daemon/persist pure parts: the backoff formula, the bounded history and
 * its record, the connection record (key epochs, counters, addresses that
 * worked) and how it is loaded against the device's current pairing. */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist/persist-internal.h"
#include "securestore.h"

/* ---- backoff --------------------------------------------------------------- */

static void test_backoff_doubles_from_base(void **state)
{
	/* rnd 0 is the low end of the jitter: exactly 0.8 x nominal. */
	assert_int_equal(persist_backoff_ms(0, 1000, 300000, 0), 0);
	assert_int_equal(persist_backoff_ms(1, 1000, 300000, 0), 800);
	assert_int_equal(persist_backoff_ms(2, 1000, 300000, 0), 1600);
	assert_int_equal(persist_backoff_ms(3, 1000, 300000, 0), 3200);
	assert_int_equal(persist_backoff_ms(9, 1000, 300000, 0), 204800);
	/* rnd 399 is the high end: 1.199 x nominal. */
	assert_int_equal(persist_backoff_ms(1, 1000, 300000, 399), 1199);
	assert_int_equal(persist_backoff_ms(4, 1000, 300000, 200), 8000);
}

static void test_backoff_capped(void **state)
{
	/* Nominal 256 s x 1.199 = 306.9 s: over the cap, so the cap. */
	assert_int_equal(persist_backoff_ms(9, 1000, 300000, 399), 300000);
	for (unsigned f = 10; f < 2000; f += 97) {
		uint64_t lo = persist_backoff_ms(f, 1000, 300000, 0);
		uint64_t hi = persist_backoff_ms(f, 1000, 300000, UINT32_MAX);
		assert_int_equal(lo, 240000); /* 0.8 x cap: still jittered */
		assert_true(hi <= 300000 && hi >= lo);
	}
	/* A base over the cap is the cap. */
	assert_true(persist_backoff_ms(1, 600000, 300000, 0) <= 300000);
}

static void test_backoff_jitter_spread(void **state)
{
	uint64_t min = UINT64_MAX, max = 0;
	for (uint32_t r = 0; r < 4000; r += 7) {
		uint64_t v = persist_backoff_ms(3, 1000, 300000, r * 1000003u);
		min = v < min ? v : min;
		max = v > max ? v : max;
	}
	assert_true(min >= 3200 && min < 3300);
	assert_true(max > 4700 && max < 4800);
}

/* ---- history ----------------------------------------------------------------- */

static void test_history_ring_keeps_newest(void **state)
{
	struct phist *h = calloc(1, sizeof(*h));
	char why[32];
	for (int i = 0; i < 200; i++) {
		snprintf(why, sizeof(why), "event %d", i);
		phist_add(h, 1000 + i, PHIST_FAILED, "/ip4/127.0.0.1/tcp/1", why);
	}
	assert_int_equal(h->n, PERSIST_HISTORY_MAX);
	assert_string_equal(phist_at(h, 0)->reason, "event 136");
	assert_int_equal(phist_at(h, 0)->t, 1136);
	assert_string_equal(phist_at(h, PERSIST_HISTORY_MAX - 1)->reason, "event 199");
	assert_null(phist_at(h, PERSIST_HISTORY_MAX));
	free(h);
}

static void test_history_cuts_long_text(void **state)
{
	struct phist *h = calloc(1, sizeof(*h));
	char big[1000];
	/* "é" is two bytes: the cut must not split one. */
	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 2] = '\0';
	phist_add(h, 1, PHIST_AUTH_FAILED, big, big);
	const struct phist_entry *e = phist_at(h, 0);
	assert_true(strlen(e->reason) < PERSIST_REASON_MAX);
	assert_int_equal(strlen(e->reason) % 2, 0);
	assert_true(strlen(e->addr) < DEVICE_ADDR_MAX);
	assert_int_equal(strlen(e->addr) % 2, 0);
	free(h);
}

static void test_history_record_roundtrip(void **state)
{
	struct phist *h = calloc(1, sizeof(*h)), *out = calloc(1, sizeof(*out));
	phist_add(h, 5, PHIST_ATTEMPT, "/ip4/10.0.0.1/tcp/4001", "");
	phist_add(h, 6, PHIST_CONNECTED, "/ip4/10.0.0.1/tcp/4001", "auto-reconnected");
	phist_add(h, 7, PHIST_ROTATED, "", "keys rotated to epoch 1");
	_cleanup_buf_ struct buf b = BUF_INIT;
	assert_int_equal(phist_encode(h, &b), 0);
	assert_int_equal(phist_decode(b.data, b.len, out, NULL), 0);
	assert_int_equal(out->n, 3);
	assert_int_equal(phist_at(out, 1)->kind, PHIST_CONNECTED);
	assert_string_equal(phist_at(out, 1)->reason, "auto-reconnected");
	assert_int_equal(phist_at(out, 2)->t, 7);
	free(h);
	free(out);
}

static void test_history_record_refused(void **state)
{
	struct phist *out = calloc(1, sizeof(*out));
	static const char *bad[] = {
	        "",
	        "[]",
	        "{\"version\":1}",
	        "{\"version\":2,\"events\":[]}",
	        "{\"version\":1,\"events\":[{\"t\":1,\"kind\":\"nope\",\"addr\":\"\",\"reason\":"
	        "\"\"}]}",
	        "{\"version\":1,\"events\":[{\"t\":\"x\",\"kind\":\"failed\",\"addr\":\"\","
	        "\"reason\":\"\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(phist_decode((const uint8_t *)bad[i], strlen(bad[i]), out, NULL) < 0);
	/* Over the cap on entries: the newest are kept. */
	_cleanup_buf_ struct buf b = BUF_INIT;
	buf_append_str(&b, "{\"version\":1,\"events\":[");
	for (int i = 0; i < 100; i++) {
		char e[128];
		snprintf(e, sizeof(e),
		         "%s{\"t\":%d,\"kind\":\"attempt\",\"addr\":\"\",\"reason\":\"\"}",
		         i ? "," : "", i);
		buf_append_str(&b, e);
	}
	buf_append_str(&b, "]}");
	assert_int_equal(phist_decode(b.data, b.len, out, NULL), 0);
	assert_int_equal(out->n, PERSIST_HISTORY_MAX);
	assert_int_equal(phist_at(out, 0)->t, 100 - PERSIST_HISTORY_MAX);
	free(out);
}

/* ---- connection record ---------------------------------------------------------- */

static void fill(struct pairing_session_keys *k, uint8_t v)
{
	memset(k, v, sizeof(*k));
	k->receive_key[0] ^= 1; /* the four keys differ */
	k->send_mac_key[0] ^= 2;
	k->receive_mac_key[0] ^= 3;
}

static void test_record_roundtrip(void **state)
{
	struct precord *r = calloc(1, sizeof(*r)), *out = calloc(1, sizeof(*out));
	memset(r->pairing_id, 0x55, sizeof(r->pairing_id));
	r->keys.epoch = 4;
	fill(&r->keys.cur, 0x40);
	r->keys.has_prev = true;
	r->keys.prev_epoch = 3;
	fill(&r->keys.prev, 0x30);
	r->keys.rotated_at = 1764000000;
	r->n = (struct pcounters){.attempts = 9,
	                          .successes = 5,
	                          .failures = 4,
	                          .reconnects = 3,
	                          .last_success = 11,
	                          .last_failure = 12};
	precord_add_worked(r, "/ip4/127.0.0.1/tcp/4001");
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	assert_int_equal(precord_encode(r, &b), 0);
	assert_int_equal(precord_decode(b.data, b.len, out, NULL), 0);
	assert_memory_equal(out, r, offsetof(struct precord, worked));
	assert_string_equal(out->worked[0], "/ip4/127.0.0.1/tcp/4001");
	assert_ptr_equal(precord_keys(out, 4), &out->keys.cur);
	assert_ptr_equal(precord_keys(out, 3), &out->keys.prev);
	assert_null(precord_keys(out, 2));
	assert_null(precord_keys(out, 5));
	/* Without a previous epoch, only the current one. */
	r->keys.has_prev = false;
	buf_reset(&b);
	assert_int_equal(precord_encode(r, &b), 0);
	assert_int_equal(precord_decode(b.data, b.len, out, NULL), 0);
	assert_false(out->keys.has_prev);
	assert_null(precord_keys(out, 3));
	free(r);
	free(out);
}

static void test_record_refused(void **state)
{
	struct precord *r = calloc(1, sizeof(*r)), *out = calloc(1, sizeof(*out));
	r->keys.epoch = 4;
	r->keys.has_prev = true;
	r->keys.prev_epoch = 2; /* not epoch - 1 */
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	assert_int_equal(precord_encode(r, &b), 0);
	struct errmsg e = {{0}};
	assert_int_equal(precord_decode(b.data, b.len, out, &e), -EBADMSG);
	assert_non_null(strstr(e.text, "previous"));
	static const char *bad[] = {"{}", "{\"version\":9}", "nope", "{\"version\":1}"};
	assert_int_equal(precord_decode((const uint8_t *)bad[1], strlen(bad[1]), out, NULL),
	                 -EPROTONOSUPPORT);
	for (size_t i = 0; i < 4; i++)
		assert_true(precord_decode((const uint8_t *)bad[i], strlen(bad[i]), out, NULL) < 0);
	free(r);
	free(out);
}

static void test_worked_bounded_newest_first(void **state)
{
	struct precord *r = calloc(1, sizeof(*r));
	char a[64];
	for (int i = 0; i < 20; i++) {
		snprintf(a, sizeof(a), "/ip4/10.0.0.%d/tcp/4001", i);
		precord_add_worked(r, a);
	}
	assert_int_equal(r->n_worked, PERSIST_WORKED_MAX);
	assert_string_equal(r->worked[0], "/ip4/10.0.0.19/tcp/4001");
	precord_add_worked(r, "/ip4/10.0.0.15/tcp/4001"); /* known: moves to the front */
	assert_int_equal(r->n_worked, PERSIST_WORKED_MAX);
	assert_string_equal(r->worked[0], "/ip4/10.0.0.15/tcp/4001");
	assert_string_equal(r->worked[1], "/ip4/10.0.0.19/tcp/4001");
	free(r);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* A stored record belongs to one pairing: after the device paired again
 * (new pairing id, new keys) it is ignored and epoch 0 starts from the new
 * pairing's keys. */
static void test_record_follows_pairing(void **state)
{
	char dir[] = "/tmp/sdnetd-persist-XXXXXX";
	assert_non_null(mkdtemp(dir));
	static const struct securestore_opts opts = {0};
	struct securestore *st = NULL;
	assert_int_equal(securestore_open(dir, &opts, &st, NULL), 0);
	struct device *d = calloc(1, sizeof(*d));
	snprintf(d->info.device_id, sizeof(d->info.device_id),
	         "0a1b2c3d-0000-4000-8000-000000000001");
	snprintf(d->info.name, sizeof(d->info.name), "bob");
	memset(d->pairing_id, 0x55, sizeof(d->pairing_id));
	fill(&d->keys, 0x10);
	d->paired_at = 1764000000;
	struct precord *r = calloc(1, sizeof(*r));
	precord_load(st, d, r); /* nothing stored: epoch 0, the pairing's keys */
	assert_int_equal(r->keys.epoch, 0);
	assert_memory_equal(&r->keys.cur, &d->keys, sizeof(d->keys));
	assert_int_equal(r->keys.rotated_at, 1764000000);
	r->keys.epoch = 3;
	fill(&r->keys.cur, 0x33);
	assert_int_equal(precord_save(st, d->info.device_id, r, NULL), 0);
	memset(r, 0, sizeof(*r));
	precord_load(st, d, r);
	assert_int_equal(r->keys.epoch, 3);
	memset(d->pairing_id, 0x66, sizeof(d->pairing_id)); /* paired again */
	fill(&d->keys, 0x20);
	precord_load(st, d, r);
	assert_int_equal(r->keys.epoch, 0);
	assert_memory_equal(&r->keys.cur, &d->keys, sizeof(d->keys));
	free(r);
	free(d);
	securestore_close(st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backoff_doubles_from_base),
	        cmocka_unit_test(test_backoff_capped),
	        cmocka_unit_test(test_backoff_jitter_spread),
	        cmocka_unit_test(test_history_ring_keeps_newest),
	        cmocka_unit_test(test_history_cuts_long_text),
	        cmocka_unit_test(test_history_record_roundtrip),
	        cmocka_unit_test(test_history_record_refused),
	        cmocka_unit_test(test_record_roundtrip),
	        cmocka_unit_test(test_record_refused),
	        cmocka_unit_test(test_worked_bounded_newest_first),
	        cmocka_unit_test(test_record_follows_pairing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
