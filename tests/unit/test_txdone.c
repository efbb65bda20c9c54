/* The record of completed incoming transfers (daemon/transfer/txdone.h):
 * an id is found only with the peer that sent it; it survives a reopen of
 * the file (a restart); the oldest goes beyond the bound and stays gone
 * after a reopen; an id added again moves to the newest place; damaged
 * lines are skipped without losing the good ones; bad ids and peers are
 * refused; a missing file is an empty record. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transfer/txdone.h"

#define PEER_A "12D3KooWGzh2Xd3ZkR3e6bT7dDqG1tC2vYkMxWvT5Yd9uQvQpSx1"
#define PEER_B "12D3KooWRuvGg3otPgYkBQvbckrXndLcP8rgvRMtcow91D1P8okr"

struct fx {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sdnetd-txdone-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, TXDONE_FILE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct txdone *open_ok(const char *path, size_t max)
{
	struct txdone *d = NULL;
	struct errmsg e = {{0}};
	assert_int_equal(txdone_open(path, max, &d, &e), 0);
	assert_string_equal(e.text, "");
	return d;
}

static void id_of(unsigned n, char out[33])
{
	snprintf(out, 33, "%032x", n);
}

static void test_missing_file_is_empty(void **state)
{
	struct fx *f = *state;
	struct txdone *d = open_ok(f->path, 0);
	assert_int_equal(txdone_count(d), 0);
	assert_false(txdone_has(d, "00112233445566778899aabbccddeeff", PEER_A));
	txdone_free(d);
	/* It exists now, empty. */
	struct buf b = th_read_file(f->path);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_add_find_reopen(void **state)
{
	struct fx *f = *state;
	struct txdone *d = open_ok(f->path, 0);
	struct errmsg e = {{0}};
	assert_int_equal(txdone_add(d, "00112233445566778899aabbccddeeff", PEER_A, &e), 0);
	assert_true(txdone_has(d, "00112233445566778899aabbccddeeff", PEER_A));
	/* Another peer re-using the id is not the sender it came from. */
	assert_false(txdone_has(d, "00112233445566778899aabbccddeeff", PEER_B));
	assert_false(txdone_has(d, "00112233445566778899aabbccddeef0", PEER_A));
	txdone_free(d);
	struct buf b = th_read_file(f->path);
	const char want[] = "00112233445566778899aabbccddeeff " PEER_A "\n";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
	d = open_ok(f->path, 0);
	assert_int_equal(txdone_count(d), 1);
	assert_true(txdone_has(d, "00112233445566778899aabbccddeeff", PEER_A));
	txdone_free(d);
}

static void test_bounded_oldest_goes(void **state)
{
	struct fx *f = *state;
	struct txdone *d = open_ok(f->path, 4);
	char id[33];
	for (unsigned i = 0; i < 6; i++) {
		id_of(i, id);
		assert_int_equal(txdone_add(d, id, PEER_A, NULL), 0);
	}
	assert_int_equal(txdone_count(d), 4);
	id_of(1, id);
	assert_false(txdone_has(d, id, PEER_A));
	id_of(2, id);
	assert_true(txdone_has(d, id, PEER_A));
	/* 2 again: now the newest, so 3 goes next. */
	assert_int_equal(txdone_add(d, id, PEER_A, NULL), 0);
	assert_int_equal(txdone_count(d), 4);
	id_of(6, id);
	assert_int_equal(txdone_add(d, id, PEER_A, NULL), 0);
	txdone_free(d);
	d = open_ok(f->path, 4);
	assert_int_equal(txdone_count(d), 4);
	unsigned kept[] = {2, 4, 5, 6}, gone[] = {0, 1, 3};
	for (size_t i = 0; i < 4; i++) {
		id_of(kept[i], id);
		assert_true(txdone_has(d, id, PEER_A));
	}
	for (size_t i = 0; i < 3; i++) {
		id_of(gone[i], id);
		assert_false(txdone_has(d, id, PEER_A));
	}
	txdone_free(d);
	/* The default bound is 1024. */
	d = open_ok(f->path, 0);
	for (unsigned i = 100; i < 100 + TXDONE_MAX + 10; i++) {
		id_of(i, id);
		txdone_add(d, id, PEER_B, NULL);
	}
	assert_int_equal(txdone_count(d), TXDONE_MAX);
	id_of(109, id);
	assert_false(txdone_has(d, id, PEER_B));
	id_of(110, id);
	assert_true(txdone_has(d, id, PEER_B));
	txdone_free(d);
}

static void test_damaged_lines_skipped(void **state)
{
	struct fx *f = *state;
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("00112233445566778899aabbccddeeff " PEER_A "\n"
	      "garbage\n"
	      "00112233445566778899AABBCCDDEEFF " PEER_A "\n" /* upper case */
	      "00112233445566778899aabbccddee " PEER_A "\n"   /* short */
	      "ffeeddccbbaa99887766554433221100 \n"           /* no peer */
	      "ffeeddccbbaa99887766554433221100 a\x01z\n"     /* control character */
	      "\n"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " PEER_B "\n",
	      fp);
	fclose(fp);
	struct txdone *d = open_ok(f->path, 0);
	assert_int_equal(txdone_count(d), 2);
	assert_true(txdone_has(d, "00112233445566778899aabbccddeeff", PEER_A));
	assert_true(txdone_has(d, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", PEER_B));
	assert_false(txdone_has(d, "ffeeddccbbaa99887766554433221100", "a\x01z"));
	txdone_free(d);
}

static void test_bad_input_refused(void **state)
{
	struct fx *f = *state;
	struct txdone *d = open_ok(f->path, 0);
	struct errmsg e = {{0}};
	assert_int_equal(txdone_add(d, "0011", PEER_A, &e), -EINVAL);
	assert_non_null(strstr(e.text, "transfer id"));
	assert_int_equal(txdone_add(d, "00112233445566778899aabbccddeefg", PEER_A, NULL), -EINVAL);
	assert_int_equal(txdone_add(d, "00112233445566778899aabbccddeeff", "a b", NULL), -EINVAL);
	assert_int_equal(txdone_add(d, "00112233445566778899aabbccddeeff", "", NULL), -EINVAL);
	assert_int_equal(txdone_count(d), 0);
	struct buf b = th_read_file(f->path);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	txdone_free(d);
}

static void test_unwritable_reports(void **state)
{
	struct txdone *d = open_ok("/nonexistent-sdnetd-dir/" TXDONE_FILE, 0);
	struct errmsg e = {{0}};
	assert_true(txdone_add(d, "00112233445566778899aabbccddeeff", PEER_A, &e) < 0);
	assert_string_not_equal(e.text, "");
	/* Still remembered in memory for this process. */
	assert_true(txdone_has(d, "00112233445566778899aabbccddeeff", PEER_A));
	txdone_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_missing_file_is_empty, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_add_find_reopen, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bounded_oldest_goes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_damaged_lines_skipped, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_input_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unwritable_reports, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
