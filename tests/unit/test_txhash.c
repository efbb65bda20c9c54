/* SHA-256 on the transfer helper thread (daemon/transfer/txhash.h): FIPS
 * 180-2 vectors fed in pieces small (inline) and large (queued for the
 * helper), hashes interleaved in one queue keeping their own byte order,
 * more than the queue holds in one update (the caller waits for room),
 * freeing a hash with bytes still queued, and no helper without a hold or
 * for a small file. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "transfer/txhash.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* FIPS 180-2 appendix B.3: one million 'a'. */
#define MILLION_A_SHA "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

static void feed(struct txhash *h, const uint8_t *p, size_t len, size_t step)
{
	for (size_t off = 0; off < len; off += step)
		assert_int_equal(txhash_update(h, p + off, len - off < step ? len - off : step), 0);
}

static void test_vectors_inline_and_queued(void **state)
{
	assert_int_equal(txhash_hold(), 0);
	uint8_t out[32];
	struct txhash *h = txhash_new(UINT64_MAX);
	assert_non_null(h);
	assert_int_equal(txhash_update(h, "abc", 3), 0);
	assert_int_equal(txhash_final(h, out), 0);
	th_assert_hex(out, 32, ABC_SHA);
	txhash_free(h);

	uint8_t *a = malloc(1000000);
	assert_non_null(a);
	memset(a, 'a', 1000000);
	/* Large pieces go to the helper, then small ones must queue behind
	 * them (never hashed early), then large again. */
	size_t steps[] = {1000000, 300000, 77777, 5};
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		h = txhash_new(UINT64_MAX);
		feed(h, a, 600000, steps[k]);
		feed(h, a + 600000, 1000, 7);
		feed(h, a + 601000, 399000, steps[k]);
		assert_int_equal(txhash_final(h, out), 0);
		th_assert_hex(out, 32, MILLION_A_SHA);
		txhash_free(h);
	}
	free(a);
	assert_int_equal(txhash_queued_bytes(), 0);
	txhash_release();
}

static void test_interleaved_hashes(void **state)
{
	assert_int_equal(txhash_hold(), 0);
	size_t len = 3 * TXHASH_BLOCK + 12345;
	uint8_t *p1 = pattern(len, 1), *p2 = pattern(len, 2);
	uint8_t want1[32], want2[32], got1[32], got2[32];
	assert_int_equal(crypto_sha256(p1, len, want1), 0);
	assert_int_equal(crypto_sha256(p2, len, want2), 0);
	struct txhash *h1 = txhash_new(UINT64_MAX), *h2 = txhash_new(UINT64_MAX);
	size_t step = 100000;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		assert_int_equal(txhash_update(h1, p1 + off, n), 0);
		assert_int_equal(txhash_update(h2, p2 + off, n), 0);
	}
	assert_int_equal(txhash_final(h2, got2), 0);
	assert_int_equal(txhash_final(h1, got1), 0);
	assert_memory_equal(got1, want1, 32);
	assert_memory_equal(got2, want2, 32);
	txhash_free(h1);
	txhash_free(h2);
	free(p1);
	free(p2);
	txhash_release();
}

static void test_more_than_the_queue(void **state)
{
	assert_int_equal(txhash_hold(), 0);
	size_t len = TXHASH_MAX_QUEUED * 2 + 1;
	uint8_t *p = pattern(len, 3);
	uint8_t want[32], got[32];
	assert_int_equal(crypto_sha256(p, len, want), 0);
	struct txhash *h = txhash_new(UINT64_MAX);
	assert_int_equal(txhash_update(h, p, len), 0);
	assert_true(txhash_queued_bytes() <= TXHASH_MAX_QUEUED);
	assert_int_equal(txhash_final(h, got), 0);
	assert_memory_equal(got, want, 32);
	txhash_free(h);
	free(p);
	txhash_release();
}

static void test_free_with_bytes_queued(void **state)
{
	assert_int_equal(txhash_hold(), 0);
	size_t len = 4 * TXHASH_BLOCK;
	uint8_t *p = pattern(len, 4);
	struct txhash *h = txhash_new(UINT64_MAX), *other = txhash_new(UINT64_MAX);
	assert_int_equal(txhash_update(h, p, len), 0);
	assert_int_equal(txhash_update(other, p, len), 0);
	txhash_free(h); /* its blocks leave the queue; other's stay */
	uint8_t want[32], got[32];
	assert_int_equal(crypto_sha256(p, len, want), 0);
	assert_int_equal(txhash_final(other, got), 0);
	assert_memory_equal(got, want, 32);
	txhash_free(other);
	assert_int_equal(txhash_queued_bytes(), 0);
	assert_null(txhash_free(NULL));
	free(p);
	txhash_release();
}

static void test_no_helper_without_hold(void **state)
{
	size_t len = 2 * TXHASH_BLOCK;
	uint8_t *p = pattern(len, 5);
	struct txhash *h = txhash_new(UINT64_MAX);
	assert_int_equal(txhash_update(h, p, len), 0);
	/* Hashed on the spot: nothing was ever queued. */
	assert_int_equal(txhash_queued_bytes(), 0);
	uint8_t want[32], got[32];
	assert_int_equal(crypto_sha256(p, len, want), 0);
	assert_int_equal(txhash_final(h, got), 0);
	assert_memory_equal(got, want, 32);
	txhash_free(h);
	free(p);
}

static void test_small_file_stays_inline(void **state)
{
	assert_int_equal(txhash_hold(), 0);
	size_t len = TXHASH_ASYNC_MIN - 1;
	uint8_t *p = pattern(len, 6);
	struct txhash *h = txhash_new(len);
	assert_int_equal(txhash_update(h, p, len), 0);
	/* Under TXHASH_ASYNC_MIN in all: never handed to the helper. */
	assert_int_equal(txhash_queued_bytes(), 0);
	uint8_t want[32], got[32];
	assert_int_equal(crypto_sha256(p, len, want), 0);
	assert_int_equal(txhash_final(h, got), 0);
	assert_memory_equal(got, want, 32);
	txhash_free(h);
	free(p);
	txhash_release();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors_inline_and_queued),
	        cmocka_unit_test(test_interleaved_hashes),
	        cmocka_unit_test(test_more_than_the_queue),
	        cmocka_unit_test(test_free_with_bytes_queued),
	        cmocka_unit_test(test_no_helper_without_hold),
	        cmocka_unit_test(test_small_file_stays_inline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
