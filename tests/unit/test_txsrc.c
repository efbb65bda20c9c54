/* What a send offers and how it is read (daemon/transfer/txsrc.h): a tree
 * is walked depth first, directories before their contents, names sorted;
 * modes and nanosecond mtimes are kept; symlinks and FIFOs inside the tree
 * are skipped and counted while a symlink named by the user is followed;
 * relative or missing paths are refused naming them; the offer carries the
 * empty file's hash; reading a file in chunks from 0 yields its SHA-256 at
 * the last chunk (and none when reading starts elsewhere); a file that
 * shrank is reported; hashing ahead agrees with a one-shot hash; the test
 * override of offered names reaches the offer. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "transfer/txsrc.h"
#include "xfer.h"

static void zero_rand(uint8_t *out, size_t len, void *ctx)
{
	memset(out, 0, len);
}

static const struct xfer_config xcfg = {.rand = zero_rand};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	char *dir = strdup("/tmp/sdnetd-txsrc-XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	struct timespec ts[2] = {{1600000000, 111}, {1600000000, 222}};
	utimensat(AT_FDCWD, p, ts, 0);
}

static void make_tree(const char *root)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/top", root);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/top/sub", root);
	mkdir(p, 0700);
	put(root, "top/b.txt", "bee", 0640);
	put(root, "top/a.txt", "", 0600);
	put(root, "top/sub/c.bin", "sea", 0755);
	snprintf(p, sizeof(p), "%s/top/link", root);
	symlink("/etc/passwd", p);
	snprintf(p, sizeof(p), "%s/top/fifo", root);
	mkfifo(p, 0600);
}

static struct txsrc *scan_one(const char *path)
{
	struct txsrc *s = NULL;
	struct errmsg e = {{0}};
	const char *paths[] = {path};
	if (txsrc_scan(paths, 1, &s, &e) < 0)
		fail_msg("scan: %s", e.text);
	return s;
}

static void test_scan_tree(void **state)
{
	const char *root = *state;
	make_tree(root);
	char p[512];
	snprintf(p, sizeof(p), "%s/top/", root); /* a trailing slash changes nothing */
	struct txsrc *s = scan_one(p);
	static const char *const rel[] = {"top", "top/a.txt", "top/b.txt", "top/sub",
	                                  "top/sub/c.bin"};
	assert_int_equal(s->n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(s->files[i].rel, rel[i]);
	assert_int_equal(s->skipped, 2);
	assert_true(s->files[0].dir);
	assert_int_equal(s->files[0].mode, 0750);
	assert_int_equal(s->files[2].mode, 0640);
	assert_int_equal(s->files[2].size, 3);
	assert_int_equal(s->files[2].mtime_sec, 1600000000);
	assert_int_equal(s->files[2].mtime_nsec, 222);
	assert_int_equal(s->files[4].mode, 0755);
	assert_int_equal(txsrc_total_bytes(s), 6);
	/* Into the state machine: the empty file's hash is in the offer. */
	uint8_t id[XFER_ID_LEN] = {0};
	struct xfer *x = NULL;
	assert_int_equal(xfer_new(&x, XFER_SENDER, id, &xcfg), 0);
	assert_int_equal(txsrc_add_to(s, x, NULL, NULL), 0);
	assert_int_equal(xfer_file_count(x), 5);
	uint8_t empty[32];
	crypto_sha256("", 0, empty);
	assert_true(xfer_file(x, 1)->has_offer_sha);
	assert_memory_equal(xfer_file(x, 1)->offer_sha, empty, 32);
	assert_false(xfer_file(x, 2)->has_offer_sha);
	xfer_free(x);
	txsrc_free(s);
}

static void test_user_symlink_followed(void **state)
{
	const char *root = *state;
	put(root, "real.txt", "data", 0644);
	char link[512], target[512];
	snprintf(target, sizeof(target), "%s/real.txt", root);
	snprintf(link, sizeof(link), "%s/alias.txt", root);
	assert_int_equal(symlink(target, link), 0);
	struct txsrc *s = scan_one(link);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->files[0].rel, "alias.txt");
	assert_int_equal(s->files[0].size, 4);
	uint8_t sha[32];
	bool hashed = false;
	struct buf out = BUF_INIT;
	assert_int_equal(txsrc_read(s, 0, 0, 4, &out, sha, &hashed, NULL), 0);
	assert_true(hashed);
	buf_free(&out);
	txsrc_free(s);
}

static void test_refusals(void **state)
{
	const char *root = *state;
	struct txsrc *s = NULL;
	struct errmsg e = {{0}};
	const char *rel[] = {"relative/path"};
	assert_int_equal(txsrc_scan(rel, 1, &s, &e), -EINVAL);
	assert_non_null(strstr(e.text, "relative/path is not an absolute path"));
	char missing[512];
	snprintf(missing, sizeof(missing), "%s/nope", root);
	const char *miss[] = {missing};
	assert_int_equal(txsrc_scan(miss, 1, &s, &e), -ENOENT);
	assert_non_null(strstr(e.text, missing));
	assert_int_equal(txsrc_scan(miss, 0, &s, &e), -EINVAL);
	assert_null(s);
}

static void test_read_and_hash(void **state)
{
	const char *root = *state;
	char text[3000];
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		text[i] = (char)('a' + i % 26);
	text[sizeof(text) - 1] = '\0';
	put(root, "f", text, 0644);
	char p[512];
	snprintf(p, sizeof(p), "%s/f", root);
	struct txsrc *s = scan_one(p);
	struct buf out = BUF_INIT;
	uint8_t sha[32], want[32];
	bool hashed = true;
	assert_int_equal(txsrc_read(s, 0, 0, 1000, &out, sha, &hashed, NULL), 0);
	assert_false(hashed);
	assert_int_equal(txsrc_read(s, 0, 1000, 1999, &out, sha, &hashed, NULL), 0);
	assert_true(hashed);
	crypto_sha256(text, 2999, want);
	assert_memory_equal(sha, want, 32);
	assert_memory_equal(out.data, text, 2999);
	/* Reading from the middle (a resume) gives no hash; hashing ahead does. */
	buf_reset(&out);
	assert_int_equal(txsrc_read(s, 0, 2000, 999, &out, sha, &hashed, NULL), 0);
	assert_false(hashed);
	memset(sha, 0, 32);
	assert_int_equal(txsrc_hash_file(p, false, 2999, sha, NULL), 0);
	assert_memory_equal(sha, want, 32);
	/* The file shrinks under us. */
	txsrc_reset(s);
	assert_int_equal(truncate(p, 100), 0);
	struct errmsg e = {{0}};
	buf_reset(&out);
	assert_int_equal(txsrc_read(s, 0, 0, 1000, &out, sha, &hashed, &e), -ESTALE);
	assert_non_null(strstr(e.text, "shrank"));
	assert_int_equal(out.len, 0);
	assert_int_equal(txsrc_hash_file(p, false, 2999, sha, &e), -ESTALE);
	buf_free(&out);
	txsrc_free(s);
}

static void test_name_override(void **state)
{
	const char *root = *state;
	put(root, "plain", "x", 0644);
	char p[512];
	snprintf(p, sizeof(p), "%s/plain", root);
	struct txsrc *s = scan_one(p);
	json_t *names = json_loads("[[\"..\", \"etc\", \"passwd\"]]", 0, NULL);
	uint8_t id[XFER_ID_LEN] = {0};
	struct xfer *x = NULL;
	assert_int_equal(xfer_new(&x, XFER_SENDER, id, &xcfg), 0);
	assert_int_equal(txsrc_add_to(s, x, names, NULL), 0);
	const struct xfer_file *f = xfer_file(x, 0);
	assert_int_equal(f->n_parts, 3);
	assert_memory_equal(f->parts, "..etcpasswd", 11);
	json_decref(names);
	xfer_free(x);
	txsrc_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_scan_tree, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_user_symlink_followed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_and_hash, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_name_override, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
