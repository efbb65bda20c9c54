/* The node identity: made once, read back the same (peer ID, device ID,
 * name), never replaced when it cannot be read, and the store files are
 * byte-identical after a refused start (wrong password, corrupt record).
 * Also the record codec, the password file reader and device names. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/devname.h"
#include "core/identity.h"
#include "core/password.h"
#include "crypto.h"
#include "securestore.h"

/* Low for test speed; the daemon always uses the default. */
#define TEST_ITERATIONS 1000

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_identity.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct securestore *open_store(const char *pw, int want)
{
	struct securestore_opts o = {(const uint8_t *)pw, pw ? strlen(pw) : 0, TEST_ITERATIONS};
	struct securestore *s = NULL;
	struct errmsg e = {{0}};
	int r = securestore_open(dir, &o, &s, &e);
	if (r != want)
		fail_msg("securestore_open: %d (%s), wanted %d", r, e.text, want);
	return s;
}

/* Every file under dir, "path\0mode\0bytes" concatenated in a stable
 * order, to compare the whole store before and after. */
static void snapshot_dir(const char *d, struct buf *out)
{
	struct dirent **names;
	int n = scandir(d, &names, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", d, nm);
		struct stat st;
		if (strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0 && lstat(path, &st) == 0) {
			char head[600];
			int k = snprintf(head, sizeof(head), "%s|%o|", path, (unsigned)st.st_mode);
			assert_int_equal(buf_append(out, head, (size_t)k), 0);
			if (S_ISDIR(st.st_mode)) {
				snapshot_dir(path, out);
			} else {
				struct buf b = th_read_file(path);
				assert_int_equal(buf_append(out, b.data, b.len), 0);
				buf_free(&b);
			}
		}
		free(names[i]);
	}
	free(names);
}

static struct buf snapshot(void)
{
	struct buf b = BUF_INIT;
	snapshot_dir(dir, &b);
	return b;
}

static void assert_same(const struct buf *a, const struct buf *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->data, b->data, a->len);
}

static void check_uuid_v4(const char *u)
{
	assert_int_equal(strlen(u), 36);
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(u[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", u[i]));
	}
	assert_int_equal(u[14], '4');
	assert_non_null(strchr("89ab", u[19]));
}

static void test_create_and_reload(void **state)
{
	struct securestore *s = open_store("secret", 0);
	struct identity a, b;
	bool created = false;
	struct errmsg e;
	assert_int_equal(identity_load_or_create(s, "alice", &a, &created, &e), 0);
	assert_true(created);
	assert_true(strncmp(a.peer_id, "12D3KooW", 8) == 0);
	check_uuid_v4(a.device_id);
	assert_string_equal(a.device_name, "alice");
	securestore_close(s);

	s = open_store("secret", 0);
	assert_int_equal(identity_load_or_create(s, "ignored", &b, &created, &e), 0);
	assert_false(created);
	assert_string_equal(b.peer_id, a.peer_id);
	assert_string_equal(b.device_id, a.device_id);
	assert_string_equal(b.device_name, "alice");
	assert_memory_equal(b.key.seed, a.key.seed, sizeof(a.key.seed));
	assert_true(peerid_equal(&a.peer, &b.peer));

	/* A rename is kept across restarts. */
	assert_int_equal(identity_set_name(s, &b, "Alice's laptop \xe2\x9c\x93", &e), 0);
	securestore_close(s);
	s = open_store("secret", 0);
	assert_int_equal(identity_load_or_create(s, "x", &b, &created, &e), 0);
	assert_string_equal(b.device_name, "Alice's laptop \xe2\x9c\x93");
	assert_string_equal(b.peer_id, a.peer_id);
	/* A bad name is refused and changes nothing. */
	struct buf before = snapshot();
	assert_int_equal(identity_set_name(s, &b, "", &e), -EINVAL);
	assert_int_equal(identity_set_name(s, &b, "tab\there", &e), -EINVAL);
	assert_string_equal(b.device_name, "Alice's laptop \xe2\x9c\x93");
	struct buf after = snapshot();
	assert_same(&before, &after);
	buf_free(&before);
	buf_free(&after);
	securestore_close(s);
	identity_wipe(&a);
	identity_wipe(&b);
}

static void test_wrong_password_changes_nothing(void **state)
{
	struct securestore *s = open_store("right", 0);
	struct identity a;
	assert_int_equal(identity_load_or_create(s, "alice", &a, NULL, NULL), 0);
	securestore_close(s);
	struct buf before = snapshot();
	assert_null(open_store("wrong", -EACCES));
	assert_null(open_store("right\n", -EACCES));
	struct buf after = snapshot();
	assert_same(&before, &after);
	/* And the right one still works, with the same identity. */
	s = open_store("right", 0);
	struct identity b;
	assert_int_equal(identity_load_or_create(s, "x", &b, NULL, NULL), 0);
	assert_string_equal(b.peer_id, a.peer_id);
	securestore_close(s);
	buf_free(&before);
	buf_free(&after);
	identity_wipe(&a);
	identity_wipe(&b);
}

static void test_key_file_mode(void **state)
{
	struct securestore *s = open_store(NULL, 0);
	struct identity a, b;
	bool created;
	assert_int_equal(identity_load_or_create(s, "bob", &a, &created, NULL), 0);
	assert_true(created);
	securestore_close(s);
	s = open_store(NULL, 0);
	assert_int_equal(identity_load_or_create(s, "bob", &b, &created, NULL), 0);
	assert_false(created);
	assert_string_equal(a.peer_id, b.peer_id);
	securestore_close(s);
	identity_wipe(&a);
	identity_wipe(&b);
}

static void test_corrupt_record_not_replaced(void **state)
{
	struct securestore *s = open_store("pw", 0);
	struct identity a;
	assert_int_equal(identity_load_or_create(s, "alice", &a, NULL, NULL), 0);
	securestore_close(s);
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_RECORD);
	struct buf rec = th_read_file(path);
	rec.data[rec.len - 3] ^= 0x40;
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(rec.data, 1, rec.len, f), rec.len);
	fclose(f);
	buf_free(&rec);
	struct buf before = snapshot();
	s = open_store("pw", 0);
	struct identity b;
	struct errmsg e = {{0}};
	bool created = false;
	assert_int_equal(identity_load_or_create(s, "alice", &b, &created, &e), -EBADMSG);
	assert_false(created);
	assert_non_null(strstr(e.text, path));
	securestore_close(s);
	struct buf after = snapshot();
	assert_same(&before, &after);
	/* Truncated: the same. */
	assert_int_equal(truncate(path, 10), 0);
	buf_free(&before);
	before = snapshot();
	s = open_store("pw", 0);
	assert_int_equal(identity_load_or_create(s, "alice", &b, NULL, &e), -EBADMSG);
	securestore_close(s);
	buf_free(&after);
	after = snapshot();
	assert_same(&before, &after);
	buf_free(&before);
	buf_free(&after);
	identity_wipe(&a);
}

/* A record that decrypts but is not a usable identity is refused too. */
static void test_undecodable_record_not_replaced(void **state)
{
	struct securestore *s = open_store("pw", 0);
	static const char junk[] = "{\"version\":1}";
	assert_int_equal(securestore_put(s, "", IDENTITY_RECORD, junk, strlen(junk), NULL), 0);
	struct buf before = snapshot();
	struct identity b;
	struct errmsg e = {{0}};
	assert_int_equal(identity_load_or_create(s, "alice", &b, NULL, &e), -EBADMSG);
	assert_non_null(strstr(e.text, "device_id"));
	assert_non_null(strstr(e.text, "backup"));
	struct buf after = snapshot();
	assert_same(&before, &after);
	securestore_close(s);
	buf_free(&before);
	buf_free(&after);
}

static void test_codec(void **state)
{
	struct identity a, b;
	assert_int_equal(identity_generate("dev", &a), 0);
	struct buf rec = BUF_INIT;
	assert_int_equal(identity_encode(&a, &rec), 0);
	/* Compact JSON with sorted keys: the key is 68 bytes of protobuf. */
	assert_true(strncmp((char *)rec.data, "{\"device_id\":\"", 14) == 0);
	assert_non_null(memmem(rec.data, rec.len, "\"private_key\":\"08011240", 23));
	assert_int_equal(identity_decode(rec.data, rec.len, &b, NULL), 0);
	assert_string_equal(a.peer_id, b.peer_id);
	assert_string_equal(a.device_id, b.device_id);
	assert_string_equal(a.device_name, b.device_name);
	buf_wipe_free(&rec);
	/* Two identities never share a key or a device ID. */
	assert_int_equal(identity_generate("dev", &b), 0);
	assert_string_not_equal(a.peer_id, b.peer_id);
	assert_string_not_equal(a.device_id, b.device_id);
	assert_int_equal(identity_generate("", &b), -EINVAL);
	identity_wipe(&a);
	identity_wipe(&b);
}

static void decode_fails(const char *text, int want, const char *msg)
{
	struct identity id;
	struct errmsg e = {{0}};
	assert_int_equal(identity_decode((const uint8_t *)text, strlen(text), &id, &e), want);
	if (!strstr(e.text, msg))
		fail_msg("'%s' does not contain '%s'", e.text, msg);
}

static void test_decode_errors(void **state)
{
	struct identity a;
	assert_int_equal(identity_generate("dev", &a), 0);
	struct buf pk = BUF_INIT;
	assert_int_equal(privkey_encode(&a.key, &pk), 0);
	char hex[200];
	for (size_t i = 0; i < pk.len; i++)
		snprintf(hex + 2 * i, 3, "%02x", pk.data[i]);
	buf_wipe_free(&pk);
	char t[1024];
#define REC(ver, key, id, name)                                                                    \
	(snprintf(t, sizeof(t),                                                                    \
	          "{\"version\":%s,\"private_key\":%s,\"device_id\":%s,\"device_name\":%s}", ver,  \
	          key, id, name),                                                                  \
	 t)
	char qhex[210];
	snprintf(qhex, sizeof(qhex), "\"%s\"", hex);
	const char *uuid = "\"0f8fad5b-d9cb-469f-a165-70867728950e\"";
	struct identity b;
	REC("1", qhex, uuid, "\"n\"");
	assert_int_equal(identity_decode((uint8_t *)t, strlen(t), &b, NULL), 0);
	assert_string_equal(b.peer_id, a.peer_id);
	assert_string_equal(b.device_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
	decode_fails("", -EBADMSG, "not JSON");
	decode_fails("[1]", -EBADMSG, "not a JSON object");
	decode_fails(REC("2", qhex, uuid, "\"n\""), -EPROTONOSUPPORT, "version 2");
	decode_fails(REC("\"1\"", qhex, uuid, "\"n\""), -EBADMSG, "\"version\"");
	decode_fails(REC("1", "\"zz\"", uuid, "\"n\""), -EBADMSG, "\"private_key\"");
	decode_fails(REC("1", "\"0801\"", uuid, "\"n\""), -EBADMSG, "\"private_key\"");
	decode_fails(REC("1", "7", uuid, "\"n\""), -EBADMSG, "\"private_key\"");
	decode_fails(REC("1", qhex, "\"0F8FAD5B-D9CB-469F-A165-70867728950E\"", "\"n\""), -EBADMSG,
	             "\"device_id\"");
	decode_fails(REC("1", qhex, "\"0f8fad5b-d9cb-469f-a165-70867728950\"", "\"n\""), -EBADMSG,
	             "\"device_id\"");
	decode_fails(REC("1", qhex, uuid, "\"\""), -EBADMSG, "\"device_name\"");
	decode_fails(REC("1", qhex, uuid, "\"a\\u0000b\""), -EBADMSG, "not JSON");
	decode_fails(REC("1", qhex, uuid, "\"a\\nb\""), -EBADMSG, "\"device_name\"");
	decode_fails("{\"version\":1,\"version\":1}", -EBADMSG, "not JSON");
	char big[IDENTITY_RECORD_MAX + 2];
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	decode_fails(big, -EBADMSG, "larger than");
#undef REC
	identity_wipe(&a);
	identity_wipe(&b);
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void password_is(const char *content, size_t len, const char *want)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/pw", dir);
	write_text(path, content, len);
	struct buf b = BUF_INIT;
	struct errmsg e = {{0}};
	int r = password_read(path, &b, &e);
	if (!want) {
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(e.text, path));
		return;
	}
	assert_int_equal(r, 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_wipe_free(&b);
}

static void test_password_file(void **state)
{
	password_is("hunter2\n", 8, "hunter2");
	password_is("hunter2", 7, "hunter2");
	password_is("hunter2\r\n", 9, "hunter2");
	password_is(" spaces kept \n", 14, " spaces kept ");
	password_is("\n", 1, NULL);
	password_is("", 0, NULL);
	password_is("a\nb\n", 4, NULL);
	password_is("a\0b\n", 4, NULL);
	/* Only one newline is stripped: "pw\n\n" has an empty second line. */
	password_is("pw\n\n", 4, NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/missing", dir);
	struct buf b = BUF_INIT;
	struct errmsg e;
	assert_int_equal(password_read(path, &b, &e), -ENOENT);
	assert_non_null(strstr(e.text, path));
	/* Too big to be a password. */
	snprintf(path, sizeof(path), "%s/pw", dir);
	char *big = malloc(PASSWORD_FILE_MAX + 10);
	memset(big, 'x', PASSWORD_FILE_MAX + 10);
	write_text(path, big, PASSWORD_FILE_MAX + 10);
	free(big);
	assert_int_equal(password_read(path, &b, &e), -EFBIG);
}

static void test_password_locate(void **state)
{
	struct paths_env env = {.home = "/home/u"};
	char *p;
	assert_int_equal(password_locate(NULL, &env, &p), 0);
	assert_null(p);
	assert_int_equal(password_locate("/given", &env, &p), 0);
	assert_string_equal(p, "/given");
	free(p);
	/* The credential counts only when systemd put it there. */
	env.credentials_directory = dir;
	assert_int_equal(password_locate(NULL, &env, &p), 0);
	assert_null(p);
	char cred[128];
	snprintf(cred, sizeof(cred), "%s/%s", dir, PASSWORD_CREDENTIAL);
	write_text(cred, "pw\n", 3);
	assert_int_equal(password_locate(NULL, &env, &p), 0);
	assert_string_equal(p, cred);
	free(p);
	/* --password-file wins over the credential. */
	assert_int_equal(password_locate("/given", &env, &p), 0);
	assert_string_equal(p, "/given");
	free(p);
}

static void test_device_names(void **state)
{
	static const char *ok[] = {"a",
	                           "Alice's laptop",
	                           "caf\xc3\xa9",
	                           "\xe6\x97\xa5\xe6\x9c\xac",
	                           "\xf0\x9f\x92\xbb pc",
	                           "#1 \"quoted\""};
	static const char *bad[] = {
	        "",                 /* empty */
	        "a\tb",             /* C0 control */
	        "a\x7f",            /* DEL */
	        "\xc2\x80",         /* C1 control U+0080 */
	        "\xc0\x80",         /* overlong NUL */
	        "\xe0\x80\xaf",     /* overlong '/' */
	        "\xed\xa0\x80",     /* surrogate */
	        "\xf4\x90\x80\x80", /* above U+10FFFF */
	        "\xc3",             /* truncated */
	        "\xff",             /* never valid */
	        "a\x80",            /* lone continuation */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(devname_check(ok[i], NULL), 0);
	struct errmsg e;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (devname_check(bad[i], &e) != -EINVAL)
			fail_msg("bad name %zu accepted", i);
	char n[DEVNAME_MAX + 2];
	memset(n, 'x', DEVNAME_MAX);
	n[DEVNAME_MAX] = '\0';
	assert_int_equal(devname_check(n, &e), 0);
	n[DEVNAME_MAX] = 'x';
	n[DEVNAME_MAX + 1] = '\0';
	assert_int_equal(devname_check(n, &e), -EINVAL);
	assert_non_null(strstr(e.text, "65 bytes"));
	char d[DEVNAME_MAX + 1];
	devname_default("alice", d);
	assert_string_equal(d, "alice");
	devname_default("default", d);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	if (devname_check(host, NULL) == 0)
		assert_string_equal(d, host);
	else
		assert_string_equal(d, "sdnetd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_create_and_reload, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_password_changes_nothing, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_key_file_mode, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt_record_not_replaced, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_undecodable_record_not_replaced, setup,
	                                        teardown),
	        cmocka_unit_test(test_codec),
	        cmocka_unit_test(test_decode_errors),
	        cmocka_unit_test_setup_teardown(test_password_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_password_locate, setup, teardown),
	        cmocka_unit_test(test_device_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
