/* Received files on disk (daemon/transfer/txsink.h), against a real offer
 * taken by the receiving state machine (proto/xfer.h): final names avoid
 * what exists in the receive directory and each other ("photos (1)",
 * "a (1).txt", two names that sanitise alike, the staging directory's own
 * name); offered directories are made at once and get their mode and mtime
 * at the end; bytes land in the .part and hash to the file's SHA-256; a
 * resumed .part is cut back to the resume offset and must be hashed from
 * disk; a verified file takes its mode and mtime and is renamed into place
 * without replacing a file that appeared meanwhile; a symlink planted in
 * the receive directory is never followed; removing the transfer leaves
 * nothing behind. */
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
#include "lpmsg.h"
#include "transfer/txsink.h"
#include "xfer.h"

static const uint8_t ID[XFER_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
#define IDHEX "0102030405060708090a0b0c0d0e0f10"

struct offered {
	const char *path;
	bool dir;
	uint64_t size;
	uint32_t mode;
};

static void counter_rand(uint8_t *out, size_t len, void *ctx)
{
	static uint8_t n;
	for (size_t i = 0; i < len; i++)
		out[i] = n++;
}

static const struct xfer_config xcfg = {.rand = counter_rand};

/* A receiver in state OFFERED holding these files, as a sender offered them. */
static struct xfer *offer(const struct offered *o, size_t n)
{
	struct xfer *s, *r;
	assert_int_equal(xfer_new(&s, XFER_SENDER, ID, &xcfg), 0);
	for (size_t i = 0; i < n; i++) {
		struct xfer_part parts[8];
		size_t np = 0;
		for (const char *p = o[i].path; *p && np < 8;) {
			size_t len = strcspn(p, "/");
			parts[np++] = (struct xfer_part){(const uint8_t *)p, len};
			p += len + (p[len] == '/');
		}
		struct xfer_file_info info = {.size = o[i].size,
		                              .is_dir = o[i].dir,
		                              .mode = o[i].mode,
		                              .mtime_sec = 1500000000 + (int64_t)i,
		                              .mtime_nsec = 123456789};
		assert_int_equal(xfer_add_file(s, parts, np, &info), 0);
	}
	struct buf out = BUF_INIT, reply = BUF_INIT;
	assert_int_equal(xfer_offer(s, 0, &out), 0);
	assert_int_equal(xfer_new(&r, XFER_RECEIVER, ID, &xcfg), 0);
	int ev = -1;
	for (size_t off = 0; off < out.len;) {
		const uint8_t *frame;
		size_t flen;
		long k = lpmsg_next(out.data + off, out.len - off, DEVMSG_MAX_SIZE, &frame, &flen);
		assert_true(k > 0);
		devmsg_pb *m = NULL;
		assert_int_equal(devmsg_decode(frame, flen, &m, NULL, NULL), 0);
		ev = xfer_handle(r, m, 0, &reply, NULL);
		devmsg_free(m);
		off += (size_t)k;
	}
	assert_int_equal(ev, XFER_EV_OFFER);
	buf_free(&out);
	buf_free(&reply);
	xfer_free(s);
	return r;
}

static void accept_all(struct xfer *x)
{
	struct buf out = BUF_INIT;
	assert_int_equal(xfer_accept(x, 0, &out), 0);
	buf_free(&out);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

struct dirs {
	char root[64];
	char dest[96];
	char outside[96];
};

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));
	snprintf(d->root, sizeof(d->root), "/tmp/sdnetd-txsink-XXXXXX");
	if (!mkdtemp(d->root))
		return -1;
	snprintf(d->dest, sizeof(d->dest), "%s/recv", d->root);
	snprintf(d->outside, sizeof(d->outside), "%s/outside", d->root);
	mkdir(d->dest, 0700);
	mkdir(d->outside, 0700);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	nftw(d->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
	return 0;
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct txsink *open_sink(const char *dest)
{
	struct txsink *s = NULL;
	struct errmsg e = {{0}};
	if (txsink_open(dest, IDHEX, &s, &e) < 0)
		fail_msg("txsink_open: %s", e.text);
	return s;
}

static void test_plan_avoids_collisions(void **state)
{
	struct dirs *d = *state;
	char p[256];
	snprintf(p, sizeof(p), "%s/photos", d->dest);
	mkdir(p, 0700);
	put_file(d->dest, "a.txt", "mine");
	static const struct offered o[] = {
	        {"photos", true, 0, 0755},
	        {"photos/x.jpg", false, 3, 0644},
	        {"a.txt", false, 2, 0644},
	        {"b.txt", false, 1, 0644},
	        {"a:b", false, 1, 0644},
	        {"a_b", false, 1, 0644},
	        {".sdnetd-partial/0.part", false, 1, 0644},
	};
	struct xfer *x = offer(o, 7);
	struct txsink *s = open_sink(d->dest);
	assert_int_equal(txsink_plan(s, x, NULL, NULL), 0);
	static const char *const want[] = {
	        "photos (1)", "photos (1)/x.jpg",          "a (1).txt", "b.txt", "a_b",
	        "a_b (1)",    ".sdnetd-partial (1)/0.part"};
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(s->f[i].final, want[i]);
	txsink_free(s);
	xfer_free(x);
}

static void read_back(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_write_verify_place(void **state)
{
	struct dirs *d = *state;
	static const struct offered o[] = {{"d", true, 0, 0750}, {"d/f", false, 10, 0640}};
	struct xfer *x = offer(o, 2);
	struct txsink *s = open_sink(d->dest);
	assert_int_equal(txsink_plan(s, x, NULL, NULL), 0);
	accept_all(x);
	assert_int_equal(txsink_begin(s, x, NULL), 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/d", d->dest);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(txsink_write(s, 1, 0, (const uint8_t *)"hello", 5, NULL), 0);
	assert_int_equal(txsink_write(s, 1, 5, (const uint8_t *)"world", 5, NULL), 0);
	assert_int_equal(txsink_part_size(s, 1), 10);
	uint8_t sha[32], want[32];
	assert_int_equal(txsink_digest(s, 1, 10, sha), 0);
	crypto_sha256("helloworld", 10, want);
	assert_memory_equal(sha, want, 32);
	assert_int_equal(txsink_place(s, 1, xfer_file(x, 1), NULL), 0);
	txsink_finish_dirs(s, x);
	snprintf(p, sizeof(p), "%s/d/f", d->dest);
	char text[32];
	read_back(p, text, sizeof(text));
	assert_string_equal(text, "helloworld");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_mtim.tv_sec, 1500000001);
	assert_int_equal(st.st_mtim.tv_nsec, 123456789);
	assert_true(txsink_final_matches(s, 1, xfer_file(x, 1)));
	assert_int_equal(txsink_part_size(s, 1), 0); /* moved, not copied */
	snprintf(p, sizeof(p), "%s/d", d->dest);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtim.tv_sec, 1500000000);
	/* Done: nothing of the staging is left. */
	txsink_remove(s);
	snprintf(p, sizeof(p), "%s/%s", d->dest, TXSINK_STAGE_DIR);
	assert_int_equal(access(p, F_OK), -1);
	txsink_free(s);
	xfer_free(x);
}

static void test_resume_cuts_back(void **state)
{
	struct dirs *d = *state;
	static const struct offered o[] = {{"big", false, 100, 0644}};
	struct xfer *x = offer(o, 1);
	struct txsink *s = open_sink(d->dest);
	assert_int_equal(txsink_plan(s, x, NULL, NULL), 0);
	accept_all(x);
	assert_int_equal(txsink_begin(s, x, NULL), 0);
	uint8_t junk[70];
	memset(junk, 'j', sizeof(junk));
	assert_int_equal(txsink_write(s, 0, 0, junk, sizeof(junk), NULL), 0);
	txsink_free(s);
	xfer_free(x);
	/* A new attempt that resumes at 40 (the durable offset). */
	x = offer(o, 1);
	s = open_sink(d->dest);
	assert_int_equal(txsink_part_size(s, 0), 70);
	assert_int_equal(txsink_plan(s, x, NULL, NULL), 0);
	assert_int_equal(xfer_set_resume(x, 0, 40, false), 0);
	accept_all(x);
	assert_int_equal(xfer_file(x, 0)->start, 40);
	assert_int_equal(txsink_begin(s, x, NULL), 0);
	assert_int_equal(txsink_part_size(s, 0), 40);
	assert_int_equal(txsink_write(s, 0, 40, junk, 60, NULL), 0);
	uint8_t sha[32];
	assert_int_equal(txsink_digest(s, 0, 100, sha), -EAGAIN);
	char *part = NULL;
	assert_int_equal(txsink_part_path(s, 0, &part), 0);
	assert_non_null(strstr(part, "/" TXSINK_STAGE_DIR "/" IDHEX "/0.part"));
	free(part);
	txsink_remove(s);
	txsink_free(s);
	xfer_free(x);
}

static void test_never_replaces(void **state)
{
	struct dirs *d = *state;
	static const struct offered o[] = {{"f.txt", false, 3, 0644}};
	struct xfer *x = offer(o, 1);
	struct txsink *s = open_sink(d->dest);
	assert_int_equal(txsink_plan(s, x, NULL, NULL), 0);
	assert_string_equal(s->f[0].final, "f.txt");
	accept_all(x);
	assert_int_equal(txsink_begin(s, x, NULL), 0);
	assert_int_equal(txsink_write(s, 0, 0, (const uint8_t *)"new", 3, NULL), 0);
	put_file(d->dest, "f.txt", "user's"); /* appeared meanwhile */
	assert_int_equal(txsink_place(s, 0, xfer_file(x, 0), NULL), 0);
	assert_string_equal(s->f[0].final, "f (1).txt");
	char p[256], text[32];
	snprintf(p, sizeof(p), "%s/f.txt", d->dest);
	read_back(p, text, sizeof(text));
	assert_string_equal(text, "user's");
	snprintf(p, sizeof(p), "%s/f (1).txt", d->dest);
	read_back(p, text, sizeof(text));
	assert_string_equal(text, "new");
	txsink_remove(s);
	txsink_free(s);
	xfer_free(x);
}

static void test_symlink_not_followed(void **state)
{
	struct dirs *d = *state;
	static const struct offered o[] = {{"sub", true, 0, 0755}, {"sub/x", false, 2, 0644}};
	struct xfer *x = offer(o, 2);
	struct txsink *s = open_sink(d->dest);
	assert_int_equal(txsink_plan(s, x, NULL, NULL), 0);
	accept_all(x);
	assert_int_equal(txsink_begin(s, x, NULL), 0);
	assert_int_equal(txsink_write(s, 1, 0, (const uint8_t *)"hi", 2, NULL), 0);
	/* Someone swaps the directory for a link to elsewhere. */
	char p[256];
	snprintf(p, sizeof(p), "%s/sub", d->dest);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(symlink(d->outside, p), 0);
	struct errmsg e = {{0}};
	int r = txsink_place(s, 1, xfer_file(x, 1), &e);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	assert_non_null(strstr(e.text, "sub/x"));
	snprintf(p, sizeof(p), "%s/x", d->outside);
	assert_int_equal(access(p, F_OK), -1);
	txsink_remove(s);
	txsink_free(s);
	xfer_free(x);
}

static void test_record_read_back(void **state)
{
	struct dirs *d = *state;
	struct txsink *s = open_sink(d->dest);
	struct txrec r = {0};
	assert_int_equal(txsink_load_record(s, &r, NULL), -ENOENT);
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", s->stage, TXSINK_RECORD);
	static const char rec[] =
	        "{\"version\":1,\"transfer_id\":\"" IDHEX "\",\"peer_id\":\"p\",\"device_id\":\"\","
	        "\"spacedrop\":false,\"dest\":\"/x\",\"created_ms\":1,\"total_bytes\":1,\"files\":"
	        "[{\"path\":\"a\",\"final\":\"a\",\"size\":1,\"mtime_sec\":1,\"mtime_nsec\":0,"
	        "\"mode\":420,\"dir\":false,\"durable\":1,\"verified\":true}]}";
	FILE *f = fopen(p, "w");
	fputs(rec, f);
	fclose(f);
	assert_int_equal(txsink_load_record(s, &r, NULL), 0);
	assert_true(r.files[0].verified);
	txrec_clear(&r);
	txsink_remove(s);
	assert_int_equal(access(p, F_OK), -1);
	txsink_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_plan_avoids_collisions, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_write_verify_place, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_resume_cuts_back, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_never_replaces, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_symlink_not_followed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_record_read_back, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
