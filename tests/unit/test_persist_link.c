/* The persist service over real hosts on loopback, in one process: two
 * sides whose registries hold each other (as a pairing leaves them)
 * connect and authenticate by themselves; mismatched pairing keys fail with
 * bad_proof and the connection is closed; a revoked device is refused and
 * never dialed; a session the peer's dead keepalive ends reconnects. */
#include "nettest.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "lpmsg.h"
#include "persist/persist-internal.h"
#include "securestore.h"

struct side {
	const char *name, *uuid;
	char dir[64];
	struct securestore *store;
	struct devices *devices;
	struct host *host;
	struct persist *p;
	struct persist_observer obs;
	int ups, downs;
	int last_down_err;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void on_up(struct persist *p, const char *id, struct conn *c, void *ctx)
{
	struct side *s = ctx;
	assert_ptr_equal(persist_conn(p, id), c);
	assert_string_equal(persist_device_of(p, c), id);
	s->ups++;
}

static void on_down(struct persist *p, const char *id, int err, void *ctx)
{
	struct side *s = ctx;
	s->downs++;
	s->last_down_err = err;
}

static void side_up(struct side *s, const char *name, const char *uuid)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->uuid = uuid;
	snprintf(s->dir, sizeof(s->dir), "/tmp/sdnetd-plink-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	struct securestore_opts o = {0};
	assert_int_equal(securestore_open(s->dir, &o, &s->store, NULL), 0);
	assert_int_equal(devices_open(s->store, &s->devices, NULL, NULL), 0);
	s->host = nt_host_new(name);
}

static void side_start(struct side *s, uint32_t keepalive_ms)
{
	struct persist_config c = {.base = nt_base,
	                           .host = s->host,
	                           .devices = s->devices,
	                           .store = s->store,
	                           .retry_interval_ms = 100,
	                           .auto_reconnect = true,
	                           .keepalive_ms = keepalive_ms};
	struct errmsg e = {{0}};
	if (persist_new(&c, &s->p, &e) < 0)
		fail_msg("persist_new: %s", e.text);
	s->obs = (struct persist_observer){on_up, on_down, s};
	assert_int_equal(persist_add_observer(s->p, &s->obs), 0);
}

static void side_down(struct side *s)
{
	persist_free(s->p);
	host_free(s->host);
	devices_free(s->devices);
	securestore_close(s->store);
	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* What a pairing leaves on `on` about `other`: keys seen from `on`'s side
 * (its send key is the other's receive key). mac_salt != 0 spoils the MAC
 * keys, as if the records came from different pairings. Without the
 * address `on` cannot dial `other`. */
static void add_device_at(struct side *on, struct side *other, bool on_is_a, uint8_t mac_salt,
                          enum device_trust trust, bool with_addr)
{
	struct device d = {0};
	snprintf(d.info.device_id, sizeof(d.info.device_id), "%s", other->uuid);
	snprintf(d.info.name, sizeof(d.info.name), "%s", other->name);
	snprintf(d.info.os, sizeof(d.info.os), "linux");
	d.info.peer_id = *host_peer_id(other->host);
	d.info.protocol_version = 1;
	d.trust = trust;
	d.paired_at = 1764000000;
	struct multiaddr ma = nt_addr_of(other->host);
	char text[MULTIADDR_TEXT_MAX];
	assert_true(multiaddr_to_string(&ma, text, sizeof(text)) > 0);
	multiaddr_free(&ma);
	if (with_addr)
		device_add_addr(&d, text);
	uint8_t a2b = 0x11, b2a = 0x22, a2b_mac = 0x33, b2a_mac = 0x44;
	memset(d.keys.send_key, on_is_a ? a2b : b2a, 32);
	memset(d.keys.receive_key, on_is_a ? b2a : a2b, 32);
	memset(d.keys.send_mac_key, (on_is_a ? a2b_mac : b2a_mac) ^ mac_salt, 32);
	memset(d.keys.receive_mac_key, (on_is_a ? b2a_mac : a2b_mac) ^ mac_salt, 32);
	memset(d.pairing_id, 0x55, sizeof(d.pairing_id));
	assert_int_equal(devices_put(on->devices, &d, NULL), 0);
	device_wipe(&d);
}

static void add_device(struct side *on, struct side *other, bool on_is_a, uint8_t mac_salt,
                       enum device_trust trust)
{
	add_device_at(on, other, on_is_a, mac_salt, trust, true);
}

#define UUID_A "0a1b2c3d-0000-4000-8000-00000000000a"
#define UUID_B "0a1b2c3d-0000-4000-8000-00000000000b"

struct pair {
	struct side *a, *b;
};

static bool both_up(void *arg)
{
	struct pair *x = arg;
	return persist_state(x->a->p, UUID_B) == PERSIST_CONNECTED &&
	       persist_state(x->b->p, UUID_A) == PERSIST_CONNECTED;
}

static void test_paired_sides_connect(void **state)
{
	struct side a, b;
	side_up(&a, "alice", UUID_A);
	side_up(&b, "bob", UUID_B);
	add_device(&a, &b, true, 0, DEVICE_TRUSTED);
	add_device(&b, &a, false, 0, DEVICE_TRUSTED);
	side_start(&a, 30000);
	side_start(&b, 30000);
	struct pair x = {&a, &b};
	assert_true(nt_run_until(both_up, &x));
	assert_int_equal(a.ups, 1);
	assert_int_equal(b.ups, 1);
	/* One connection, the same one both sides use. */
	struct conn *ca = persist_conn(a.p, UUID_B), *cb = persist_conn(b.p, UUID_A);
	struct conn_info ia, ib;
	conn_get_info(ca, &ia);
	conn_get_info(cb, &ib);
	assert_string_equal(ia.local_addr, ib.remote_addr);
	assert_int_not_equal(ia.direction, ib.direction);
	json_t *m = persist_metrics_json(a.p, UUID_B);
	assert_string_equal(json_string_value(json_object_get(m, "state")), "connected");
	json_decref(m);
	side_down(&a);
	assert_int_equal(b.downs, 0); /* b hears it from the loop */
	side_down(&b);
}

struct fail_wait {
	struct side *s;
	const char *id;
};

static bool auth_failed(void *arg)
{
	struct fail_wait *w = arg;
	struct plink *l = persist_link(w->s->p, w->id);
	for (size_t i = 0; l && i < l->hist.n; i++)
		if (phist_at(&l->hist, i)->kind == PHIST_AUTH_FAILED)
			return true;
	return false;
}

static bool said_bad_proof(void *arg)
{
	struct fail_wait *w = arg;
	struct plink *l = persist_link(w->s->p, w->id);
	for (size_t i = 0; l && i < l->hist.n; i++)
		if (phist_at(&l->hist, i)->kind == PHIST_AUTH_FAILED &&
		    strstr(phist_at(&l->hist, i)->reason, "bad_proof"))
			return true;
	return false;
}

/* Same peer IDs, keys from different pairings: the proofs fail, each side
 * records bad_proof (its own check, or the other's Result) and closes. */
static void test_wrong_keys_fail_and_close(void **state)
{
	struct side a, b;
	side_up(&a, "alice", UUID_A);
	side_up(&b, "bob", UUID_B);
	add_device(&a, &b, true, 0, DEVICE_TRUSTED);
	add_device(&b, &a, false, 0x5a, DEVICE_TRUSTED);
	side_start(&a, 30000);
	side_start(&b, 30000);
	struct fail_wait wa = {&a, UUID_B}, wb = {&b, UUID_A};
	assert_true(nt_run_until(said_bad_proof, &wa));
	assert_true(nt_run_until(said_bad_proof, &wb));
	assert_int_equal(a.ups + b.ups, 0);
	assert_null(persist_conn(a.p, UUID_B));
	side_down(&a);
	side_down(&b);
}

static bool refused(void *arg)
{
	struct side *s = arg;
	struct plink *l = persist_link(s->p, UUID_B);
	for (size_t i = 0; l && i < l->hist.n; i++)
		if (phist_at(&l->hist, i)->kind == PHIST_REFUSED)
			return true;
	return false;
}

/* a revoked b: a never dials, and b's connections are refused. */
static void test_revoked_refused_never_dialed(void **state)
{
	struct side a, b;
	side_up(&a, "alice", UUID_A);
	side_up(&b, "bob", UUID_B);
	add_device(&a, &b, true, 0, DEVICE_REVOKED);
	add_device(&b, &a, false, 0, DEVICE_TRUSTED);
	side_start(&a, 30000);
	assert_int_equal(persist_state(a.p, UUID_B), PERSIST_DISABLED);
	struct host_stats st;
	host_get_stats(a.host, &st);
	assert_int_equal(st.dials, 0);
	side_start(&b, 30000);
	assert_true(nt_run_until(refused, &a));
	nt_run_for(300);
	assert_int_equal(a.ups + b.ups, 0);
	assert_int_equal(persist_state(a.p, UUID_B), PERSIST_DISABLED);
	host_get_stats(a.host, &st);
	assert_int_equal(st.dials, 0);
	side_down(&a);
	side_down(&b);
}

static bool a_down(void *arg)
{
	return ((struct side *)arg)->downs > 0;
}

static bool got_frame(void *arg)
{
	struct nt_stream *x = arg;
	const uint8_t *m;
	size_t n;
	return x->closed || lpmsg_next(x->got.data, x->got.len, 1024, &m, &n) > 0;
}

/* Read the next auth frame the test's stream received. */
static void next_frame(struct nt_stream *x, struct devauth_msg *ret)
{
	assert_true(nt_run_until(got_frame, x));
	const uint8_t *m;
	size_t n;
	long k = lpmsg_next(x->got.data, x->got.len, 1024, &m, &n);
	assert_true(k > 0);
	assert_int_equal(devauth_decode(m, n, ret, NULL), 0);
	buf_consume(&x->got, (size_t)k);
}

/* The test plays bob by hand on a plain host: Hello, check alice's proof,
 * send ours (or a forged one). */
static void handshake(struct side *a, struct host *h, struct nt_stream *x, bool forge)
{
	struct conn *c = nt_connect(h, a->host);
	nt_stream_open(h, c, DEVAUTH_PROTOCOL_ID, x);
	if (!x->opened)
		fail_msg("open: %d", x->open_err);
	struct devauth_msg hello = {.type = DEVAUTH_HELLO, .version = 1, .epoch = 0};
	memset(hello.nonce, 0x77, 32);
	_cleanup_buf_ struct buf out = BUF_INIT;
	assert_int_equal(devauth_encode(&hello, &out), 0);
	assert_int_equal(stream_write(x->s, out.data, out.len), (long)out.len);
	struct devauth_msg hp;
	next_frame(x, &hp);
	assert_int_equal(hp.type, DEVAUTH_HELLO_PROOF);
	assert_int_equal(hp.session_epoch, 0);
	struct devauth_transcript t = {.opener = host_peer_id(h),
	                               .responder = host_peer_id(a->host),
	                               .nonce_o = hello.nonce,
	                               .nonce_r = hp.nonce,
	                               .epoch = 0};
	uint8_t th[32], a2b_mac[32], b2a_mac[32];
	memset(a2b_mac, 0x33, 32);
	memset(b2a_mac, forge ? 0x45 : 0x44, 32);
	devauth_hash(&t, th);
	assert_int_equal(devauth_verify(a2b_mac, DEVAUTH_RESPONDER, th, hp.mac), 0);
	struct devauth_msg proof = {.type = DEVAUTH_PROOF};
	devauth_proof(b2a_mac, DEVAUTH_OPENER, th, proof.mac);
	buf_reset(&out);
	assert_int_equal(devauth_encode(&proof, &out), 0);
	assert_int_equal(stream_write(x->s, out.data, out.len), (long)out.len);
}

/* A peer that authenticates and then falls silent (its process hangs):
 * after 3.5 keepalive intervals alice drops it. */
static void test_dead_peer_detected(void **state)
{
	struct side a, b;
	side_up(&a, "alice", UUID_A);
	side_up(&b, "bob", UUID_B); /* only its host and identity: no persist */
	add_device_at(&a, &b, true, 0, DEVICE_TRUSTED, false);
	side_start(&a, 200);
	struct nt_stream x;
	handshake(&a, b.host, &x, false);
	struct devauth_msg res;
	next_frame(&x, &res);
	assert_int_equal(res.type, DEVAUTH_RESULT);
	assert_int_equal(res.code, DEVAUTH_OK);
	assert_int_equal(a.ups, 1);
	uint64_t t0 = persist_now_ms();
	assert_true(nt_run_until(a_down, &a));
	assert_int_equal(a.last_down_err, -ETIMEDOUT);
	assert_true(persist_now_ms() - t0 >= 3 * 200);
	buf_free(&x.got);
	side_down(&a);
	side_down(&b);
}

/* The identity key alone (here: the right peer ID, a guessed MAC key):
 * alice answers bad_proof and closes the connection. */
static void test_forged_proof_refused(void **state)
{
	struct side a, b;
	side_up(&a, "alice", UUID_A);
	side_up(&b, "bob", UUID_B);
	add_device_at(&a, &b, true, 0, DEVICE_TRUSTED, false);
	side_start(&a, 30000);
	struct nt_stream x;
	handshake(&a, b.host, &x, true);
	struct devauth_msg res;
	next_frame(&x, &res);
	assert_int_equal(res.type, DEVAUTH_RESULT);
	assert_int_equal(res.code, DEVAUTH_BAD_PROOF);
	assert_true(nt_run_until(nt_stream_ended, &x));
	struct fail_wait w = {&a, UUID_B};
	assert_true(nt_run_until(auth_failed, &w));
	assert_int_equal(a.ups, 0);
	buf_free(&x.got);
	side_down(&a);
	side_down(&b);
}

int main(void)
{
	nt_base = event_base_new();
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_paired_sides_connect),
	        cmocka_unit_test(test_wrong_keys_fail_and_close),
	        cmocka_unit_test(test_revoked_refused_never_dialed),
	        cmocka_unit_test(test_dead_peer_detected),
	        cmocka_unit_test(test_forged_proof_refused),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	event_base_free(nt_base);
	return r;
}
