/* The paired-device registry and its record: encode/decode round trips and
 * refusals, addresses bounded and most recent first, records stored in
 * devices/<device_id> and loaded again by a new registry (a restart), a
 * corrupt record skipped and left on disk, re-pairing replacing the old
 * record, and lookup by name, id, unique prefix and peer ID with
 * ambiguity reported. */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/devices.h"
#include "keys.h"
#include "securestore.h"

static const struct securestore_opts opts = {0};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/sdnetd-devices-XXXXXX");
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

static struct peerid fresh_peer(void)
{
	struct privkey k;
	assert_int_equal(privkey_generate(&k), 0);
	_cleanup_buf_ struct buf pub = BUF_INIT;
	assert_int_equal(privkey_encode_public(&k, &pub), 0);
	struct peerid p;
	assert_int_equal(peerid_from_pubkey_proto(pub.data, pub.len, &p), 0);
	privkey_wipe(&k);
	return p;
}

static struct device make_device(const char *id, const char *name)
{
	struct device d = {0};
	snprintf(d.info.device_id, sizeof(d.info.device_id), "%s", id);
	snprintf(d.info.name, sizeof(d.info.name), "%s", name);
	snprintf(d.info.os, sizeof(d.info.os), "linux");
	d.info.peer_id = fresh_peer();
	d.info.protocol_version = 1;
	d.trust = DEVICE_TRUSTED;
	d.paired_at = 1764000000;
	d.last_seen = 1764000100;
	device_add_addr(&d, "/ip4/127.0.0.1/tcp/4001");
	memset(d.keys.send_key, 0x11, sizeof(d.keys.send_key));
	memset(d.keys.receive_key, 0x22, sizeof(d.keys.receive_key));
	memset(d.keys.send_mac_key, 0x33, sizeof(d.keys.send_mac_key));
	memset(d.keys.receive_mac_key, 0x44, sizeof(d.keys.receive_mac_key));
	memset(d.pairing_id, 0x55, sizeof(d.pairing_id));
	return d;
}

#define ID_A "0a1b2c3d-0000-4000-8000-000000000001"
#define ID_B "0a1b9999-0000-4000-8000-000000000002"
#define ID_C "7f000000-0000-4000-8000-000000000003"

static void assert_same(const struct device *a, const struct device *b)
{
	assert_string_equal(a->info.device_id, b->info.device_id);
	assert_string_equal(a->info.name, b->info.name);
	assert_string_equal(a->info.os, b->info.os);
	assert_true(peerid_equal(&a->info.peer_id, &b->info.peer_id));
	assert_int_equal(a->info.protocol_version, b->info.protocol_version);
	assert_int_equal(a->trust, b->trust);
	assert_int_equal(a->paired_at, b->paired_at);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_int_equal(a->n_addrs, b->n_addrs);
	for (size_t i = 0; i < a->n_addrs; i++)
		assert_string_equal(a->addrs[i], b->addrs[i]);
	assert_memory_equal(&a->keys, &b->keys, sizeof(a->keys));
	assert_memory_equal(a->pairing_id, b->pairing_id, sizeof(a->pairing_id));
}

static void test_record_round_trip(void **state)
{
	struct device d = make_device(ID_A, "Büro-PC");
	d.trust = DEVICE_VERIFIED;
	device_add_addr(&d, "/ip6/::1/tcp/4002");
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	assert_int_equal(device_record_encode(&d, &b), 0);
	/* The documented shape: the keys are hex, the trust is a word. */
	assert_non_null(memmem(b.data, b.len, "\"trust\":\"verified\"", 18));
	assert_non_null(memmem(b.data, b.len, "\"send\":\"1111", 12));
	struct device got;
	struct errmsg e = {{0}};
	assert_int_equal(device_record_decode(b.data, b.len, &got, &e), 0);
	assert_same(&d, &got);
	assert_string_equal(got.addrs[0], "/ip6/::1/tcp/4002"); /* most recent first */
}

/* Replace the first occurrence of from with to in a record's text and
 * expect decoding to fail with want, err mentioning what. */
static void expect_refused(const char *from, const char *to, int want, const char *what)
{
	struct device d = make_device(ID_A, "alice");
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	assert_int_equal(device_record_encode(&d, &b), 0);
	assert_int_equal(buf_append_u8(&b, 0), 0);
	char *text = (char *)b.data;
	char *p = strstr(text, from);
	assert_non_null(p);
	char out[8192];
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
	struct device got;
	struct errmsg e = {{0}};
	int r = device_record_decode((const uint8_t *)out, strlen(out), &got, &e);
	if (r != want || !strstr(e.text, what))
		fail_msg("%s -> %s: got %d '%s', want %d '%s'", from, to, r, e.text, want, what);
}

static void test_record_refusals(void **state)
{
	expect_refused("\"version\":1", "\"version\":2", -EPROTONOSUPPORT, "upgrade sdnetd");
	expect_refused("\"version\":1", "\"version\":\"1\"", -EBADMSG, "\"version\"");
	expect_refused("\"trust\":\"trusted\"", "\"trust\":\"best\"", -EBADMSG, "trust");
	expect_refused("\"name\":\"alice\"", "\"name\":\"al\\u0000ice\"", -EBADMSG, "JSON");
	expect_refused("\"name\":\"alice\"", "\"name\":\"al\\u001bice\"", -EBADMSG, "device_name");
	expect_refused("\"name\":\"alice\"", "\"name\":\"\"", -EBADMSG, "device_name");
	expect_refused(ID_A, "0A1B2C3D-0000-4000-8000-000000000001", -EBADMSG, "device");
	expect_refused("\"peer_id\":\"12D3", "\"peer_id\":\"x2D3", -EBADMSG, "peer_id");
	expect_refused("\"send\":\"11", "\"send\":\"1", -EBADMSG, "\"send\"");
	expect_refused("\"pairing_id\":\"55", "\"pairing_id\":\"zz", -EBADMSG, "pairing_id");
	expect_refused("/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/tcpx/4001", -EBADMSG,
	               "address 1");
	expect_refused("\"paired_at\":", "\"paired_at\":-", -EBADMSG, "paired_at");
	expect_refused("\"os\":", "\"os\":1,\"os\":", -EBADMSG, "not a JSON object");

	struct device got;
	assert_int_equal(device_record_decode((const uint8_t *)"[]", 2, &got, NULL), -EBADMSG);
	static uint8_t big[DEVICE_RECORD_MAX + 1];
	assert_int_equal(device_record_decode(big, sizeof(big), &got, NULL), -EMSGSIZE);
	/* Encoding refuses what decoding would. */
	struct device bad = make_device(ID_A, "");
	_cleanup_buf_ struct buf b = BUF_INIT;
	assert_int_equal(device_record_encode(&bad, &b), -EINVAL);
}

static void test_addresses_bounded(void **state)
{
	struct device d = make_device(ID_A, "a");
	char a[64];
	for (int i = 0; i < DEVICE_MAX_ADDRS + 5; i++) {
		snprintf(a, sizeof(a), "/ip4/10.0.0.%d/tcp/1", i);
		device_add_addr(&d, a);
	}
	assert_int_equal(d.n_addrs, DEVICE_MAX_ADDRS);
	assert_string_equal(d.addrs[0], a); /* newest first */
	/* A known address moves to the front without growing the list. */
	device_add_addr(&d, "/ip4/10.0.0.10/tcp/1");
	assert_int_equal(d.n_addrs, DEVICE_MAX_ADDRS);
	assert_string_equal(d.addrs[0], "/ip4/10.0.0.10/tcp/1");
	assert_string_equal(d.addrs[1], a);
	char longer[DEVICE_ADDR_MAX + 10];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	device_add_addr(&d, longer);
	assert_string_equal(d.addrs[0], "/ip4/10.0.0.10/tcp/1");
}

static struct securestore *open_store(const char *dir)
{
	struct securestore *s;
	struct errmsg e = {{0}};
	if (securestore_open(dir, &opts, &s, &e) < 0)
		fail_msg("securestore_open: %s", e.text);
	return s;
}

static struct devices *open_devices(struct securestore *s, size_t *skipped)
{
	struct devices *d;
	struct errmsg e = {{0}};
	if (devices_open(s, &d, skipped, &e) < 0)
		fail_msg("devices_open: %s", e.text);
	return d;
}

static void test_store_and_reload(void **state)
{
	struct securestore *s = open_store(*state);
	struct devices *reg = open_devices(s, NULL);
	assert_int_equal(devices_count(reg), 0);
	struct device a = make_device(ID_A, "alice"), b = make_device(ID_B, "bob");
	b.paired_at = a.paired_at + 5;
	struct errmsg e = {{0}};
	assert_int_equal(devices_put(reg, &b, &e), 0);
	assert_int_equal(devices_put(reg, &a, &e), 0);
	assert_int_equal(devices_count(reg), 2);
	devices_free(reg);

	/* One file per device, named by its id, encrypted. */
	char **names = NULL;
	assert_int_equal(securestore_list(s, "devices", &names, &e), 0);
	assert_string_equal(names[0], ID_A);
	assert_string_equal(names[1], ID_B);
	assert_null(names[2]);
	securestore_names_free(names);
	char path[512];
	snprintf(path, sizeof(path), "%s/devices/%s", (char *)*state, ID_A);
	struct buf raw = th_read_file(path);
	assert_null(memmem(raw.data, raw.len, "alice", 5));
	buf_free(&raw);
	securestore_close(s);

	/* A restart: a new store and registry load both, oldest pairing first. */
	s = open_store(*state);
	size_t skipped = 9;
	reg = open_devices(s, &skipped);
	assert_int_equal(skipped, 0);
	assert_int_equal(devices_count(reg), 2);
	assert_same(devices_at(reg, 0), &a);
	assert_same(devices_at(reg, 1), &b);
	assert_same(devices_find_peer(reg, &b.info.peer_id), &b);

	/* Forget one: its file goes. */
	assert_int_equal(devices_remove(reg, ID_A, &e), 0);
	assert_int_equal(devices_remove(reg, ID_A, &e), -ENOENT);
	assert_null(devices_find_id(reg, ID_A));
	struct buf got = BUF_INIT;
	assert_int_equal(securestore_get(s, "devices", ID_A, &got, NULL), -ENOENT);
	buf_free(&got);
	devices_free(reg);
	securestore_close(s);
}

static void test_corrupt_record_skipped(void **state)
{
	struct securestore *s = open_store(*state);
	struct devices *reg = open_devices(s, NULL);
	struct device a = make_device(ID_A, "alice");
	assert_int_equal(devices_put(reg, &a, NULL), 0);
	devices_free(reg);
	/* A record that decrypts but does not decode, and one under another
	 * device's name. */
	assert_int_equal(securestore_put(s, "devices", ID_C, "{}", 2, NULL), 0);
	struct device b = make_device(ID_B, "bob");
	_cleanup_secret_buf_ struct buf rec = BUF_INIT;
	assert_int_equal(device_record_encode(&b, &rec), 0);
	assert_int_equal(securestore_put(s, "devices", "0a1b0000-0000-4000-8000-00000000000f",
	                                 rec.data, rec.len, NULL),
	                 0);
	size_t skipped = 0;
	reg = open_devices(s, &skipped);
	assert_int_equal(skipped, 2);
	assert_int_equal(devices_count(reg), 1);
	/* Left on disk for the user to look at. */
	struct buf got = BUF_INIT;
	assert_int_equal(securestore_get(s, "devices", ID_C, &got, NULL), 0);
	buf_wipe_free(&got);
	devices_free(reg);
	securestore_close(s);
}

static void test_repair_replaces(void **state)
{
	struct securestore *s = open_store(*state);
	struct devices *reg = open_devices(s, NULL);
	struct device a = make_device(ID_A, "alice");
	assert_int_equal(devices_put(reg, &a, NULL), 0);
	/* Same device id again (paired anew): replaced, not duplicated. */
	a.keys.send_key[0] = 0x99;
	assert_int_equal(devices_put(reg, &a, NULL), 0);
	assert_int_equal(devices_count(reg), 1);
	assert_int_equal(devices_at(reg, 0)->keys.send_key[0], 0x99);
	/* Same peer under a new device id (the device was reset): the old
	 * record goes, on disk too. */
	struct device a2 = make_device(ID_C, "alice");
	a2.info.peer_id = a.info.peer_id;
	assert_int_equal(devices_put(reg, &a2, NULL), 0);
	assert_int_equal(devices_count(reg), 1);
	assert_string_equal(devices_at(reg, 0)->info.device_id, ID_C);
	struct buf got = BUF_INIT;
	assert_int_equal(securestore_get(s, "devices", ID_A, &got, NULL), -ENOENT);
	buf_free(&got);
	devices_free(reg);
	securestore_close(s);
}

static void lookup_is(struct devices *reg, const char *q, const char *want_id)
{
	const struct device *d = NULL;
	struct errmsg e = {{0}};
	int r = devices_lookup(reg, q, &d, &e);
	if (r < 0)
		fail_msg("lookup '%s': %d %s", q, r, e.text);
	assert_string_equal(d->info.device_id, want_id);
}

static void lookup_fails(struct devices *reg, const char *q, int want, const char *text)
{
	const struct device *d = NULL;
	struct errmsg e = {{0}};
	assert_int_equal(devices_lookup(reg, q, &d, &e), want);
	if (!strstr(e.text, text))
		fail_msg("lookup '%s': '%s' lacks '%s'", q, e.text, text);
}

static void test_lookup(void **state)
{
	struct securestore *s = open_store(*state);
	struct devices *reg = open_devices(s, NULL);
	struct device a = make_device(ID_A, "alice"), b = make_device(ID_B, "bob");
	struct device c = make_device(ID_C, "0a1b"); /* a name that is also a prefix */
	assert_int_equal(devices_put(reg, &a, NULL), 0);
	assert_int_equal(devices_put(reg, &b, NULL), 0);
	lookup_is(reg, "alice", ID_A);
	lookup_is(reg, ID_B, ID_B);
	lookup_is(reg, "0a1b2", ID_A); /* unique prefix */
	lookup_is(reg, "0a1b9", ID_B);
	char peer[PEERID_TEXT_MAX];
	assert_int_equal(peerid_to_string(&b.info.peer_id, peer, sizeof(peer)) > 0, 1);
	lookup_is(reg, peer, ID_B);
	/* Ambiguous prefix: both named, with their ids. */
	lookup_fails(reg, "0a1b", -ENOTUNIQ, "'alice' (" ID_A "), 'bob' (" ID_B ")");
	lookup_fails(reg, "0a1", -ENOENT, "at least 4"); /* too short to be a prefix */
	lookup_fails(reg, "carol", -ENOENT, "network devices");
	/* An exact name wins over id prefixes. */
	assert_int_equal(devices_put(reg, &c, NULL), 0);
	lookup_is(reg, "0a1b", ID_C);
	/* Two devices with one name: ambiguous, resolved by id. */
	struct device a2 = make_device("0a1b2c3e-0000-4000-8000-000000000009", "alice");
	assert_int_equal(devices_put(reg, &a2, NULL), 0);
	lookup_fails(reg, "alice", -ENOTUNIQ, "device id");
	lookup_is(reg, "0a1b2c3e", a2.info.device_id);
	devices_free(reg);
	securestore_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_record_round_trip),
	        cmocka_unit_test(test_record_refusals),
	        cmocka_unit_test(test_addresses_bounded),
	        cmocka_unit_test_setup_teardown(test_store_and_reload, setup_dir, teardown_dir),
	        cmocka_unit_test_setup_teardown(test_corrupt_record_skipped, setup_dir,
	                                        teardown_dir),
	        cmocka_unit_test_setup_teardown(test_repair_replaces, setup_dir, teardown_dir),
	        cmocka_unit_test_setup_teardown(test_lookup, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
