/* Secure storage: round trips in both key modes, wrong password and damaged
 * files fail with the documented errors and leave every file byte-identical,
 * exact modes, name validation, iteration raises, and crash safety under
 * SIGKILL at many points of a rewrite. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomicfile.h"
#include "securestore.h"
#include "storefile.h"

/* Low enough to keep the suite fast; one test uses the real default. */
#define TEST_ITERATIONS 1000

static const struct securestore_opts keyfile_opts = {0};
static const struct securestore_opts pw_opts = {(const uint8_t *)"correct horse", 13,
                                                TEST_ITERATIONS};
static const struct securestore_opts wrong_pw_opts = {(const uint8_t *)"battery staple", 14,
                                                      TEST_ITERATIONS};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/sdnetd-securestore-XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static char *join(const char *dir, const char *name)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static struct securestore *open_ok(const char *root, const struct securestore_opts *o)
{
	struct securestore *s = NULL;
	struct errmsg err = {{0}};
	int r = securestore_open(root, o, &s, &err);
	if (r != 0)
		fail_msg("securestore_open: %d %s", r, err.text);
	return s;
}

static void put_ok(struct securestore *s, const char *ns, const char *name, const void *d,
                   size_t len)
{
	struct errmsg err = {{0}};
	int r = securestore_put(s, ns, name, d, len, &err);
	if (r != 0)
		fail_msg("securestore_put: %d %s", r, err.text);
}

static void get_is(struct securestore *s, const char *ns, const char *name, const void *d,
                   size_t len)
{
	struct buf out = BUF_INIT;
	struct errmsg err = {{0}};
	int r = securestore_get(s, ns, name, &out, &err);
	if (r != 0)
		fail_msg("securestore_get %s/%s: %d %s", ns, name, r, err.text);
	assert_int_equal(out.len, len);
	if (len)
		assert_memory_equal(out.data, d, len);
	buf_wipe_free(&out);
}

static void write_raw(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* ---- Snapshots: every file's path, mode and bytes under a root ---- */

static struct buf *snap_buf;

static int snap_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char head[64];
	snprintf(head, sizeof(head), "\n%o %lld ", (unsigned)st->st_mode, (long long)st->st_size);
	assert_int_equal(buf_append_str(snap_buf, path), 0);
	assert_int_equal(buf_append_str(snap_buf, head), 0);
	if (S_ISREG(st->st_mode)) {
		struct buf b = th_read_file(path);
		assert_int_equal(buf_append(snap_buf, b.data, b.len), 0);
		buf_free(&b);
	}
	return 0;
}

static struct buf snapshot(const char *root)
{
	struct buf b = BUF_INIT;
	snap_buf = &b;
	assert_int_equal(nftw(root, snap_entry, 16, FTW_PHYS), 0);
	snap_buf = NULL;
	return b;
}

static void assert_same_snapshot(const struct buf *a, const char *root)
{
	struct buf b = snapshot(root);
	assert_int_equal(a->len, b.len);
	assert_memory_equal(a->data, b.data, a->len);
	buf_free(&b);
}

/* ---- Tests ---- */

static void round_trip(const char *root, const struct securestore_opts *o)
{
	struct securestore *s = open_ok(root, o);
	put_ok(s, "devices", "peer-1", "hello", 5);
	put_ok(s, "", "identity", "secret key", 10);
	put_ok(s, "history", "empty", "", 0);
	get_is(s, "devices", "peer-1", "hello", 5);
	get_is(s, "", "identity", "secret key", 10);
	get_is(s, "history", "empty", "", 0);
	/* Overwrite with a different size. */
	put_ok(s, "devices", "peer-1", "hello again", 11);
	get_is(s, "devices", "peer-1", "hello again", 11);
	securestore_close(s);

	/* The key (file or password) persists across opens. */
	s = open_ok(root, o);
	get_is(s, "devices", "peer-1", "hello again", 11);
	get_is(s, "", "identity", "secret key", 10);
	struct errmsg err = {{0}};
	assert_int_equal(securestore_delete(s, "devices", "peer-1", &err), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(securestore_get(s, "devices", "peer-1", &out, &err), -ENOENT);
	assert_non_null(strstr(err.text, "devices/peer-1"));
	assert_int_equal(securestore_delete(s, "devices", "peer-1", &err), -ENOENT);
	assert_int_equal(out.len, 0);
	securestore_close(s);
}

static void test_keyfile_round_trip(void **state)
{
	round_trip(*state, &keyfile_opts);
	round_trip(*state, NULL); /* NULL opts is key-file mode too */
	/* Record headers say "no KDF". */
	char *p = join(*state, "identity");
	struct buf b = th_read_file(p);
	assert_memory_equal(b.data, "SDSS\x01\x00\x00\x00\x00\x00\x00\x00", 12);
	buf_free(&b);
	free(p);
}

static void test_password_round_trip(void **state)
{
	round_trip(*state, &pw_opts);
	char *p = join(*state, "identity");
	struct buf b = th_read_file(p);
	/* PBKDF2, 16-byte salt, iterations big-endian. */
	assert_memory_equal(b.data, "SDSS\x01\x01\x10\x00", 8);
	assert_int_equal((b.data[8] << 24 | b.data[9] << 16 | b.data[10] << 8 | b.data[11]),
	                 TEST_ITERATIONS);
	assert_int_equal(b.len, 12 + 16 + 12 + 10 + 16);
	buf_free(&b);
	free(p);
}

static void test_get_appends(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	put_ok(s, "devices", "a", "world", 5);
	struct buf out = BUF_INIT;
	assert_int_equal(buf_append(&out, "hello ", 6), 0);
	assert_int_equal(securestore_get(s, "devices", "a", &out, NULL), 0);
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.data, "hello world", 11);
	assert_int_equal(securestore_get(s, "devices", "missing", &out, NULL), -ENOENT);
	assert_int_equal(out.len, 11);
	buf_free(&out);
	securestore_close(s);
}

static mode_t mode_of(const char *root, const char *rel)
{
	char *p = join(root, rel);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

static void check_modes(const char *root, const struct securestore_opts *o, mode_t mask)
{
	mode_t old = umask(mask);
	char *sub = join(root, "data/dir");
	struct securestore *s = open_ok(sub, o);
	put_ok(s, "devices", "d", "x", 1);
	put_ok(s, "", "identity", "x", 1);
	securestore_close(s);
	umask(old);
	assert_int_equal(mode_of(root, "data"), 0700);
	assert_int_equal(mode_of(root, "data/dir"), 0700);
	assert_int_equal(mode_of(root, "data/dir/devices"), 0700);
	assert_int_equal(mode_of(root, "data/dir/connections"), 0700);
	assert_int_equal(mode_of(root, "data/dir/history"), 0700);
	assert_int_equal(mode_of(root, "data/dir/devices/d"), 0600);
	assert_int_equal(mode_of(root, "data/dir/identity"), 0600);
	assert_int_equal(
	        mode_of(root, o && o->password ? "data/dir/storage.kdf" : "data/dir/storage.key"),
	        0600);
	char *data = join(root, "data");
	nftw(data, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(data);
	free(sub);
}

static void test_modes_ignore_umask(void **state)
{
	check_modes(*state, &keyfile_opts, 0);
	check_modes(*state, &keyfile_opts, 022);
	check_modes(*state, &keyfile_opts, 0777);
	check_modes(*state, &pw_opts, 0);
	check_modes(*state, &pw_opts, 077);
}

static void test_keyfile_loose_mode_refused(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	put_ok(s, "devices", "a", "x", 1);
	securestore_close(s);
	char *key = join(*state, "storage.key");
	const mode_t loose[] = {0644, 0640, 0604, 0660, 0606};
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		assert_int_equal(chmod(key, loose[i]), 0);
		struct buf before = snapshot(*state);
		struct errmsg err = {{0}};
		assert_int_equal(securestore_open(*state, &keyfile_opts, &s, &err), -EPERM);
		assert_non_null(strstr(err.text, key));
		assert_non_null(strstr(err.text, "chmod 600"));
		assert_same_snapshot(&before, *state);
		buf_free(&before);
	}
	/* 0400 is tighter than 0600 and fine. */
	assert_int_equal(chmod(key, 0400), 0);
	s = open_ok(*state, &keyfile_opts);
	get_is(s, "devices", "a", "x", 1);
	securestore_close(s);
	assert_int_equal(chmod(key, 0600), 0);
	if (geteuid() == 0) {
		/* Only root can give the file away to test the owner check. */
		assert_int_equal(chown(key, 12345, 12345), 0);
		struct errmsg err = {{0}};
		assert_int_equal(securestore_open(*state, &keyfile_opts, &s, &err), -EPERM);
		assert_non_null(strstr(err.text, "owned by uid 12345"));
		assert_int_equal(chown(key, 0, 0), 0);
	}
	/* A symlink in its place is refused, not followed. */
	char *moved = join(*state, "key.real");
	assert_int_equal(rename(key, moved), 0);
	assert_int_equal(symlink(moved, key), 0);
	assert_true(securestore_open(*state, &keyfile_opts, &s, NULL) < 0);
	free(moved);
	free(key);
}

static void test_keyfile_damaged(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	securestore_close(s);
	char *key = join(*state, "storage.key");
	struct buf orig = th_read_file(key);
	assert_int_equal(orig.len, 32);
	const size_t lens[] = {0, 1, 31, 33, 100};
	uint8_t junk[100] = {0};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		write_raw(key, junk, lens[i]);
		struct buf before = snapshot(*state);
		struct errmsg err = {{0}};
		assert_int_equal(securestore_open(*state, &keyfile_opts, &s, &err), -EBADMSG);
		assert_non_null(strstr(err.text, key));
		assert_same_snapshot(&before, *state);
		buf_free(&before);
	}
	buf_free(&orig);
	free(key);
}

static void test_wrong_password(void **state)
{
	struct securestore *s = open_ok(*state, &pw_opts);
	put_ok(s, "devices", "a", "payload", 7);
	put_ok(s, "", "identity", "id", 2);
	securestore_close(s);

	struct buf before = snapshot(*state);
	struct errmsg err = {{0}};
	s = (struct securestore *)1;
	assert_int_equal(securestore_open(*state, &wrong_pw_opts, &s, &err), -EACCES);
	assert_ptr_equal(s, (struct securestore *)1); /* ret untouched on failure */
	assert_non_null(strstr(err.text, "different password"));
	assert_non_null(strstr(err.text, "--password-file"));
	assert_same_snapshot(&before, *state);

	/* Wrong mode is refused up front too. */
	assert_int_equal(securestore_open(*state, &keyfile_opts, &s, &err), -EACCES);
	assert_non_null(strstr(err.text, "password protected"));
	assert_same_snapshot(&before, *state);
	buf_free(&before);

	/* The right password still works. */
	s = open_ok(*state, &pw_opts);
	get_is(s, "devices", "a", "payload", 7);
	securestore_close(s);
}

static void test_keyfile_store_with_password(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	put_ok(s, "devices", "a", "x", 1);
	securestore_close(s);
	struct buf before = snapshot(*state);
	struct errmsg err = {{0}};
	assert_int_equal(securestore_open(*state, &pw_opts, &s, &err), -EACCES);
	assert_non_null(strstr(err.text, "key file"));
	assert_same_snapshot(&before, *state);
	buf_free(&before);
}

/* Every proper prefix of a record file is refused with -EBADMSG naming the
 * file, and the file is left exactly as it was. */
static void truncations(const char *root, const struct securestore_opts *o)
{
	struct securestore *s = open_ok(root, o);
	put_ok(s, "devices", "t", "some payload bytes", 18);
	char *path = join(root, "devices/t");
	struct buf full = th_read_file(path);
	for (size_t len = 0; len < full.len; len++) {
		write_raw(path, full.data, len);
		struct buf out = BUF_INIT;
		struct errmsg err = {{0}};
		assert_int_equal(securestore_get(s, "devices", "t", &out, &err), -EBADMSG);
		assert_non_null(strstr(err.text, path));
		assert_int_equal(out.len, 0);
		buf_free(&out);
		struct buf now = th_read_file(path);
		assert_int_equal(now.len, len);
		assert_memory_equal(now.data, full.data, len);
		buf_free(&now);
	}
	write_raw(path, full.data, full.len);
	get_is(s, "devices", "t", "some payload bytes", 18);
	buf_free(&full);
	free(path);
	securestore_close(s);
}

static void test_truncated_records(void **state)
{
	truncations(*state, &keyfile_opts);
	char *pw_root = join(*state, "pw");
	truncations(pw_root, &pw_opts);
	free(pw_root);
}

/* Flip every bit (outside the iteration count's high bytes in password
 * mode, which would only make the test slow): always -EBADMSG. */
static void bit_flips(const char *root, const struct securestore_opts *o)
{
	struct securestore *s = open_ok(root, o);
	put_ok(s, "devices", "f", "flip me", 7);
	char *path = join(root, "devices/f");
	struct buf full = th_read_file(path);
	for (size_t i = 0; i < full.len * 8; i++) {
		if (o->password && (i / 8 == 8 || i / 8 == 9))
			continue;
		full.data[i / 8] ^= (uint8_t)(1 << (i % 8));
		write_raw(path, full.data, full.len);
		struct buf out = BUF_INIT;
		struct errmsg err = {{0}};
		int r = securestore_get(s, "devices", "f", &out, &err);
		if (r != -EBADMSG)
			fail_msg("bit %zu: got %d (%s)", i, r, err.text);
		assert_non_null(strstr(err.text, path));
		assert_int_equal(out.len, 0);
		buf_free(&out);
		struct buf now = th_read_file(path);
		assert_memory_equal(now.data, full.data, full.len);
		buf_free(&now);
		full.data[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	write_raw(path, full.data, full.len);
	get_is(s, "devices", "f", "flip me", 7);
	buf_free(&full);
	free(path);
	securestore_close(s);
}

static void test_flipped_bits(void **state)
{
	bit_flips(*state, &keyfile_opts);
	char *pw_root = join(*state, "pw");
	bit_flips(pw_root, &pw_opts);
	free(pw_root);
}

static void test_damaged_kdf_file(void **state)
{
	struct securestore *s = open_ok(*state, &pw_opts);
	put_ok(s, "devices", "a", "x", 1);
	securestore_close(s);
	char *path = join(*state, "storage.kdf");
	struct buf full = th_read_file(path);
	for (size_t len = 0; len < full.len; len++) {
		write_raw(path, full.data, len);
		struct buf before = snapshot(*state);
		struct errmsg err = {{0}};
		assert_int_equal(securestore_open(*state, &pw_opts, &s, &err), -EBADMSG);
		assert_non_null(strstr(err.text, path));
		assert_same_snapshot(&before, *state);
		buf_free(&before);
	}
	/* Wrong magic. */
	full.data[0] = 'X';
	write_raw(path, full.data, full.len);
	struct errmsg err = {{0}};
	assert_int_equal(securestore_open(*state, &pw_opts, &s, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "bad magic"));
	/* A flipped ciphertext bit cannot be told from a wrong password, but
	 * it is still refused and nothing is touched. */
	full.data[0] = 'S';
	full.data[full.len - 1] ^= 1;
	write_raw(path, full.data, full.len);
	struct buf before = snapshot(*state);
	assert_int_equal(securestore_open(*state, &pw_opts, &s, &err), -EACCES);
	assert_same_snapshot(&before, *state);
	buf_free(&before);
	full.data[full.len - 1] ^= 1;
	write_raw(path, full.data, full.len);
	s = open_ok(*state, &pw_opts);
	get_is(s, "devices", "a", "x", 1);
	securestore_close(s);
	buf_free(&full);
	free(path);
}

static void test_record_moved_to_other_name(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	put_ok(s, "devices", "alice", "trusted", 7);
	put_ok(s, "devices", "mallory", "blocked", 7);
	char *a = join(*state, "devices/alice"), *m = join(*state, "devices/mallory");
	char *c = join(*state, "connections/alice");
	struct buf alice = th_read_file(a);
	/* Copying alice's record over mallory's must not make mallory trusted. */
	write_raw(m, alice.data, alice.len);
	struct buf out = BUF_INIT;
	assert_int_equal(securestore_get(s, "devices", "mallory", &out, NULL), -EBADMSG);
	write_raw(c, alice.data, alice.len);
	assert_int_equal(securestore_get(s, "connections", "alice", &out, NULL), -EBADMSG);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_free(&alice);
	free(a);
	free(m);
	free(c);
	securestore_close(s);
}

static void test_names(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	char long_ok[SECURESTORE_NAME_MAX + 1], too_long[SECURESTORE_NAME_MAX + 2];
	memset(long_ok, 'n', SECURESTORE_NAME_MAX);
	long_ok[SECURESTORE_NAME_MAX] = '\0';
	memset(too_long, 'n', SECURESTORE_NAME_MAX + 1);
	too_long[SECURESTORE_NAME_MAX + 1] = '\0';
	const char *bad[] = {"",        ".",   "..",   "../x",         "a/b",   "/abs",
	                     ".hidden", "a b", "a\\b", "na\xc3\xafve", too_long};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct errmsg err = {{0}};
		assert_int_equal(securestore_put(s, "devices", bad[i], "x", 1, &err), -EINVAL);
		assert_non_null(strstr(err.text, "invalid record name"));
		struct buf out = BUF_INIT;
		assert_int_equal(securestore_get(s, "devices", bad[i], &out, NULL), -EINVAL);
		assert_int_equal(securestore_delete(s, "devices", bad[i], NULL), -EINVAL);
	}
	/* The root may not shadow the store's own files and directories. */
	const char *reserved[] = {"storage.key", "storage.kdf", "devices", "connections",
	                          "history"};
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		assert_int_equal(securestore_put(s, "", reserved[i], "x", 1, NULL), -EINVAL);
		assert_int_equal(securestore_delete(s, "", reserved[i], NULL), -EINVAL);
	}
	put_ok(s, "devices", "storage.key", "ok in a namespace", 17);
	const char *bad_ns[] = {"nope", "devices/x", "..", "/", "devices/"};
	for (size_t i = 0; i < sizeof(bad_ns) / sizeof(bad_ns[0]); i++) {
		struct errmsg err = {{0}};
		assert_int_equal(securestore_put(s, bad_ns[i], "a", "x", 1, &err), -EINVAL);
		assert_non_null(strstr(err.text, "namespace"));
		char **names = NULL;
		assert_int_equal(securestore_list(s, bad_ns[i], &names, NULL), -EINVAL);
		assert_null(names);
	}
	assert_int_equal(securestore_put(s, NULL, "a", "x", 1, NULL), -EINVAL);
	assert_int_equal(securestore_put(s, "devices", NULL, "x", 1, NULL), -EINVAL);
	put_ok(s, "devices", long_ok, "x", 1);
	put_ok(s, "devices", "Peer_1.2-x", "x", 1);
	get_is(s, "devices", long_ok, "x", 1);
	securestore_close(s);
}

static void assert_names(struct securestore *s, const char *ns, const char *const *want)
{
	char **names = NULL;
	struct errmsg err = {{0}};
	assert_int_equal(securestore_list(s, ns, &names, &err), 0);
	size_t i = 0;
	for (; want[i]; i++) {
		assert_non_null(names[i]);
		assert_string_equal(names[i], want[i]);
	}
	assert_null(names[i]);
	securestore_names_free(names);
}

static void test_list(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	const char *none[] = {NULL};
	assert_names(s, "devices", none);
	put_ok(s, "devices", "zeta", "x", 1);
	put_ok(s, "devices", "alpha", "x", 1);
	put_ok(s, "devices", "Mid", "x", 1);
	put_ok(s, "", "identity", "x", 1);
	/* Things that are not records: a leftover temp file, a dot file, a
	 * directory, a symlink. */
	char *tmp = join(*state, "devices/.alpha.tmp-Ab12Cd");
	char *dot = join(*state, "devices/.hidden");
	char *sub = join(*state, "devices/subdir");
	char *lnk = join(*state, "devices/link");
	write_raw(tmp, "partial", 7);
	write_raw(dot, "x", 1);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink("alpha", lnk), 0);
	const char *want[] = {"Mid", "alpha", "zeta", NULL};
	assert_names(s, "devices", want);
	const char *root_want[] = {"identity", NULL};
	assert_names(s, "", root_want);
	assert_names(s, "history", none);
	assert_int_equal(securestore_delete(s, "devices", "alpha", NULL), 0);
	const char *after[] = {"Mid", "zeta", NULL};
	assert_names(s, "devices", after);
	free(tmp);
	free(dot);
	free(sub);
	free(lnk);
	securestore_close(s);
}

static uint32_t header_iterations(const char *root, const char *rel)
{
	char *p = join(root, rel);
	struct buf b = th_read_file(p);
	assert_true(b.len >= 12);
	uint32_t it = (uint32_t)b.data[8] << 24 | (uint32_t)b.data[9] << 16 |
	              (uint32_t)b.data[10] << 8 | b.data[11];
	buf_free(&b);
	free(p);
	return it;
}

static void test_raise_iterations(void **state)
{
	struct securestore_opts o = pw_opts;
	struct securestore *s = open_ok(*state, &o);
	put_ok(s, "devices", "old", "written at 1000", 15);
	securestore_close(s);
	assert_int_equal(header_iterations(*state, "storage.kdf"), 1000);

	o.iterations = 3000;
	s = open_ok(*state, &o);
	assert_int_equal(header_iterations(*state, "storage.kdf"), 3000);
	/* The old record keeps its own parameters and still opens. */
	get_is(s, "devices", "old", "written at 1000", 15);
	assert_int_equal(header_iterations(*state, "devices/old"), 1000);
	put_ok(s, "devices", "new", "written at 3000", 15);
	assert_int_equal(header_iterations(*state, "devices/new"), 3000);
	/* Rewriting moves a record to the current parameters. */
	put_ok(s, "devices", "old", "rewritten", 9);
	assert_int_equal(header_iterations(*state, "devices/old"), 3000);
	securestore_close(s);

	/* Asking for fewer never lowers them. */
	o.iterations = 1000;
	s = open_ok(*state, &o);
	assert_int_equal(header_iterations(*state, "storage.kdf"), 3000);
	get_is(s, "devices", "new", "written at 3000", 15);
	securestore_close(s);

	/* Still a wrong password after the raise. */
	struct securestore_opts w = wrong_pw_opts;
	w.iterations = 3000;
	assert_int_equal(securestore_open(*state, &w, &s, NULL), -EACCES);
}

static void test_real_iterations(void **state)
{
	/* The daemon's setting: opts.iterations = 0 means 600000. */
	struct securestore_opts o = {(const uint8_t *)"a real password", 15, 0};
	struct securestore *s = open_ok(*state, &o);
	put_ok(s, "", "identity", "key material", 12);
	securestore_close(s);
	assert_int_equal(header_iterations(*state, "storage.kdf"), SECURESTORE_PBKDF2_ITERATIONS);
	assert_int_equal(header_iterations(*state, "identity"), SECURESTORE_PBKDF2_ITERATIONS);
	assert_int_equal(SECURESTORE_PBKDF2_ITERATIONS, 600000);
	s = open_ok(*state, &o);
	get_is(s, "", "identity", "key material", 12);
	securestore_close(s);
}

static void test_bad_opts(void **state)
{
	struct securestore *s = NULL;
	struct errmsg err = {{0}};
	struct securestore_opts empty = {(const uint8_t *)"", 0, TEST_ITERATIONS};
	assert_int_equal(securestore_open(*state, &empty, &s, &err), -EINVAL);
	assert_non_null(strstr(err.text, "empty"));
	struct securestore_opts huge = {(const uint8_t *)"pw", 2, STOREFILE_MAX_ITERATIONS + 1};
	assert_int_equal(securestore_open(*state, &huge, &s, &err), -EINVAL);
	assert_int_equal(securestore_open("", &keyfile_opts, &s, &err), -EINVAL);
	/* A file where the root should be. */
	char *file = join(*state, "file");
	write_raw(file, "x", 1);
	assert_int_equal(securestore_open(file, &keyfile_opts, &s, &err), -ENOTDIR);
	assert_non_null(strstr(err.text, file));
	free(file);
	securestore_close(NULL);
}

/* Processes that open a fresh store at the same moment must agree on one
 * key: each writes a record, and one store then reads them all. */
static void concurrent_create(const char *root, const struct securestore_opts *o)
{
	enum { N = 4 };
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char c, name[16];
			close(go[1]);
			/* Start together: the parent closes the pipe. */
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			struct securestore *s = NULL;
			snprintf(name, sizeof(name), "child-%d", i);
			if (securestore_open(root, o, &s, NULL) < 0 ||
			    securestore_put(s, "devices", name, name, strlen(name), NULL) < 0)
				_exit(1);
			securestore_close(s);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct securestore *s = open_ok(root, o);
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "child-%d", i);
		get_is(s, "devices", name, name, strlen(name));
	}
	securestore_close(s);
}

static void test_concurrent_create(void **state)
{
	concurrent_create(*state, &keyfile_opts);
	char *pw_root = join(*state, "pw");
	concurrent_create(pw_root, &pw_opts);
	free(pw_root);
}

/* ---- Crash safety ---- */

#define CRASH_ROUNDS 50
#define SMALL_LEN 300
#define LARGE_LEN 50000

static uint8_t small_rec[SMALL_LEN], large_rec[LARGE_LEN];

/* The child rewrites the record forever, alternating contents, and writes
 * one byte to the pipe after each completed write. */
static void crash_child(struct securestore *s, int fd)
{
	for (unsigned k = 0;; k++) {
		const uint8_t *d = k % 2 ? large_rec : small_rec;
		size_t len = k % 2 ? LARGE_LEN : SMALL_LEN;
		if (securestore_put(s, "devices", "rec", d, len, NULL) < 0)
			_exit(1);
		if (write(fd, "w", 1) != 1)
			_exit(1);
	}
}

static int count_temp_files(const char *root, const char *ns)
{
	char *dir = join(root, ns);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += atomicfile_is_temp_name(e->d_name);
	closedir(d);
	free(dir);
	return n;
}

static void test_crash_during_rewrite(void **state)
{
	memset(small_rec, 's', sizeof(small_rec));
	for (size_t i = 0; i < sizeof(large_rec); i++)
		large_rec[i] = (uint8_t)(i * 31 + 7);
	struct securestore *s = open_ok(*state, &keyfile_opts);
	put_ok(s, "devices", "rec", small_rec, SMALL_LEN);
	int seen_small = 0, seen_large = 0;
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(s, p[1]);
		}
		close(p[1]);
		/* Let 1..4 writes complete, then a varying amount of the next
		 * one, so the kill lands at many points of a write. */
		int writes = round % 4 + 1;
		for (int w = 0; w < writes; w++) {
			char c;
			assert_int_equal(read(p[0], &c, 1), 1);
		}
		for (volatile unsigned spin = 0; spin < (unsigned)(round * 7919) % 200000; spin++)
			;
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		close(p[0]);

		/* A fresh store sees exactly the old or the new contents. */
		struct securestore *check = open_ok(*state, &keyfile_opts);
		struct buf out = BUF_INIT;
		struct errmsg err = {{0}};
		int r = securestore_get(check, "devices", "rec", &out, &err);
		if (r != 0)
			fail_msg("round %d: %d %s", round, r, err.text);
		if (out.len == SMALL_LEN && memcmp(out.data, small_rec, SMALL_LEN) == 0)
			seen_small++;
		else if (out.len == LARGE_LEN && memcmp(out.data, large_rec, LARGE_LEN) == 0)
			seen_large++;
		else
			fail_msg("round %d: torn record of %zu bytes", round, out.len);
		buf_free(&out);
		/* Leftover temp files are never listed as records. */
		const char *want[] = {"rec", NULL};
		assert_names(check, "devices", want);
		securestore_close(check);
	}
	securestore_close(s);
	/* Kills landed inside writes (each leaves its temp file behind), not
	 * only between them: otherwise this test would prove nothing. */
	assert_true(count_temp_files(*state, "devices") > 0);
	assert_int_equal(seen_small + seen_large, CRASH_ROUNDS);
	assert_true(seen_small > 0 && seen_large > 0);
}

/* Batched removal: unlink leaves the others, refuses what delete
 * refuses, and one sync of the namespace (or of a bad one: refused). */
static void test_unlink_then_sync(void **state)
{
	struct securestore *s = open_ok(*state, &keyfile_opts);
	put_ok(s, "queue", "a", "1", 1);
	put_ok(s, "queue", "b", "2", 1);
	put_ok(s, "queue", "c", "3", 1);
	struct errmsg err = {{0}};
	assert_int_equal(securestore_unlink(s, "queue", "a", &err), 0);
	assert_int_equal(securestore_unlink(s, "queue", "c", &err), 0);
	assert_int_equal(securestore_unlink(s, "queue", "c", &err), -ENOENT);
	assert_non_null(strstr(err.text, "queue/c"));
	assert_int_equal(securestore_unlink(s, "queue", "../b", NULL), -EINVAL);
	assert_int_equal(securestore_sync(s, "queue", &err), 0);
	assert_int_equal(securestore_sync(s, "", &err), 0);
	assert_int_equal(securestore_sync(s, "nosuchspace", &err), -EINVAL);
	char **names = NULL;
	assert_int_equal(securestore_list(s, "queue", &names, &err), 0);
	assert_string_equal(names[0], "b");
	assert_null(names[1]);
	securestore_names_free(names);
	get_is(s, "queue", "b", "2", 1);
	securestore_close(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
	const struct CMUnitTest tests[] = {
	        T(test_keyfile_round_trip),
	        T(test_password_round_trip),
	        T(test_get_appends),
	        T(test_modes_ignore_umask),
	        T(test_keyfile_loose_mode_refused),
	        T(test_keyfile_damaged),
	        T(test_wrong_password),
	        T(test_keyfile_store_with_password),
	        T(test_truncated_records),
	        T(test_flipped_bits),
	        T(test_damaged_kdf_file),
	        T(test_record_moved_to_other_name),
	        T(test_names),
	        T(test_list),
	        T(test_raise_iterations),
	        T(test_real_iterations),
	        T(test_bad_opts),
	        T(test_concurrent_create),
	        T(test_crash_during_rewrite),
	        T(test_unlink_then_sync),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
