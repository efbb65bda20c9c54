/* The pairing service over two real hosts in one process (real TCP on
 * loopback, Noise, Yamux): pairing with a peer address and through a
 * rendezvous backend (a fake that hands the joiner the initiator's
 * address), mirrored session keys stored on both sides, a wrong code
 * refused without ending the initiator's session, and a joiner that goes
 * away after Result{ok} but before confirming: nothing is stored on either
 * side. Waits are event-driven (nettest.h); nothing sleeps. */
#include "nettest.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/devices.h"
#include "discovery/rendezvous.h"
#include "pairing/pairing-service.h"
#include "securestore.h"

#define OTHER_CODE                                                                                 \
	"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "         \
	"abandon about"

struct side {
	const char *name, *uuid;
	char dir[64];
	struct host *host;
	struct securestore *store;
	struct devices *devices;
	struct rendezvous *rv;
	struct pairing_service *svc;
	json_t *events; /* [{kind, data}] */
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void self_info(void *ctx, struct pairing_device_info *ret)
{
	struct side *s = ctx;
	*ret = (struct pairing_device_info){.peer_id = *host_peer_id(s->host),
	                                    .protocol_version = PAIRING_VERSION};
	strcpy(ret->device_id, s->uuid);
	strcpy(ret->name, s->name);
	strcpy(ret->os, "linux");
}

static void on_event(void *ctx, const char *kind, json_t *data)
{
	struct side *s = ctx;
	json_array_append_new(s->events, json_pack("{s:s, s:O}", "kind", kind, "data", data));
}

static void side_up(struct side *s, const char *name, const char *uuid, uint32_t hold_ms)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->uuid = uuid;
	snprintf(s->dir, sizeof(s->dir), "/tmp/sdnetd-psvc-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	struct securestore_opts o = {0};
	struct errmsg e = {{0}};
	assert_int_equal(securestore_open(s->dir, &o, &s->store, &e), 0);
	assert_int_equal(devices_open(s->store, &s->devices, NULL, &e), 0);
	s->rv = rendezvous_new();
	s->host = nt_host_new(name);
	s->events = json_array();
	struct pairing_service_config c = {.base = nt_base,
	                                   .host = s->host,
	                                   .devices = s->devices,
	                                   .rendezvous = s->rv,
	                                   .self = self_info,
	                                   .emit = on_event,
	                                   .ctx = s,
	                                   .test_hold_ms = hold_ms};
	if (pairing_service_new(&c, &s->svc, &e) < 0)
		fail_msg("pairing_service_new: %s", e.text);
}

/* Like a killed process: the service and host go (streams reset). */
static void side_stop(struct side *s)
{
	pairing_service_free(s->svc);
	s->svc = NULL;
	host_free(s->host);
	s->host = NULL;
}

static void side_down(struct side *s)
{
	if (s->svc)
		side_stop(s);
	devices_free(s->devices);
	rendezvous_free(s->rv);
	securestore_close(s->store);
	json_decref(s->events);
	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

struct join_result {
	bool done;
	int err;
	char msg[512];
	char device_name[PAIRING_NAME_MAX + 1];
};

static void join_cb(void *ctx, const char *session_id, int err, const char *msg,
                    const struct device *dev)
{
	struct join_result *j = ctx;
	j->done = true;
	j->err = err;
	snprintf(j->msg, sizeof(j->msg), "%s", msg ? msg : "");
	if (dev)
		snprintf(j->device_name, sizeof(j->device_name), "%s", dev->info.name);
}

static void join(struct side *b, const char *words, const char *peer, struct join_result *j)
{
	char id[PAIRING_SESSION_ID_LEN + 1];
	struct errmsg e = {{0}};
	memset(j, 0, sizeof(*j));
	if (pairing_service_join(b->svc, words, peer, join_cb, j, id, &e) < 0)
		fail_msg("join: %s", e.text);
}

static char *addr_text(struct host *h)
{
	struct multiaddr ma = nt_addr_of(h);
	static char text[MULTIADDR_TEXT_MAX];
	assert_true(multiaddr_to_string(&ma, text, sizeof(text)) > 0);
	multiaddr_free(&ma);
	return text;
}

/* The n-th event (from 0) of kind, or NULL. */
static json_t *event(struct side *s, const char *kind, size_t n)
{
	size_t i;
	json_t *ev;
	json_array_foreach(s->events, i, ev)
	{
		if (strcmp(json_string_value(json_object_get(ev, "kind")), kind) == 0 && n-- == 0)
			return json_object_get(ev, "data");
	}
	return NULL;
}

static void assert_paired(struct side *a, struct side *b)
{
	assert_int_equal(devices_count(a->devices), 1);
	assert_int_equal(devices_count(b->devices), 1);
	const struct device *da = devices_at(a->devices, 0), *db = devices_at(b->devices, 0);
	assert_string_equal(da->info.name, b->name);
	assert_string_equal(db->info.name, a->name);
	assert_true(peerid_equal(&da->info.peer_id, host_peer_id(b->host)));
	assert_true(peerid_equal(&db->info.peer_id, host_peer_id(a->host)));
	assert_int_equal(da->trust, DEVICE_TRUSTED);
	/* One side's send keys are the other's receive keys, and differ. */
	assert_memory_equal(da->keys.send_key, db->keys.receive_key, PAIRING_SESSION_KEY_LEN);
	assert_memory_equal(da->keys.receive_key, db->keys.send_key, PAIRING_SESSION_KEY_LEN);
	assert_memory_equal(da->keys.send_mac_key, db->keys.receive_mac_key,
	                    PAIRING_SESSION_KEY_LEN);
	assert_memory_not_equal(da->keys.send_key, da->keys.receive_key, PAIRING_SESSION_KEY_LEN);
	assert_memory_equal(da->pairing_id, db->pairing_id, PAIRING_HASH_LEN);
}

static bool both_completed(void *arg)
{
	struct side *s = arg;
	return event(&s[0], "pairing.completed", 0) && event(&s[1], "pairing.completed", 0);
}

static void test_pair_with_peer(void **state)
{
	struct side s[2];
	side_up(&s[0], "alice", "0a1b2c3d-0000-4000-8000-000000000001", 0);
	side_up(&s[1], "bob", "0a1b2c3d-0000-4000-8000-000000000002", 0);
	struct pairing_generated g;
	struct errmsg e = {{0}};
	assert_int_equal(pairing_service_generate(s[0].svc, 60, &g, &e), 0);
	assert_false(g.advertised); /* no backend: --peer only */
	struct join_result j;
	join(&s[1], g.words, addr_text(s[0].host), &j);
	assert_true(nt_run_until(nt_flag, &j.done));
	assert_int_equal(j.err, 0);
	assert_string_equal(j.device_name, "alice");
	assert_true(nt_run_until(both_completed, s));
	assert_paired(&s[0], &s[1]);
	/* Both reported completed; the code is in no event. */
	json_t *c = event(&s[0], "pairing.completed", 0);
	assert_string_equal(json_string_value(json_object_get(c, "role")), "initiator");
	for (int k = 0; k < 2; k++) {
		char *dump = json_dumps(s[k].events, 0);
		assert_null(strstr(dump, g.words));
		free(dump);
	}
	/* The code is used up. */
	join(&s[1], g.words, addr_text(s[0].host), &j);
	assert_true(nt_run_until(nt_flag, &j.done));
	assert_int_equal(j.err, -EALREADY);
	side_down(&s[0]);
	side_down(&s[1]);
}

/* ---- rendezvous --------------------------------------------------------- */

struct fake_rv {
	uint8_t advertised[RENDEZVOUS_ID_LEN], looked_up[RENDEZVOUS_ID_LEN];
	rendezvous_found_cb cb;
	void *ctx;
};

static int fake_advertise(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	memcpy(((struct fake_rv *)impl)->advertised, id, RENDEZVOUS_ID_LEN);
	return 0;
}

static void fake_withdraw(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
}

static int fake_lookup(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN], rendezvous_found_cb cb,
                       void *ctx)
{
	struct fake_rv *f = impl;
	memcpy(f->looked_up, id, RENDEZVOUS_ID_LEN);
	f->cb = cb;
	f->ctx = ctx;
	return 0;
}

static void fake_lookup_stop(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	((struct fake_rv *)impl)->cb = NULL;
}

static void test_pair_via_rendezvous(void **state)
{
	struct side s[2];
	side_up(&s[0], "alice", "0a1b2c3d-0000-4000-8000-000000000001", 0);
	side_up(&s[1], "bob", "0a1b2c3d-0000-4000-8000-000000000002", 0);
	struct fake_rv fa, fb;
	memset(&fa, 0, sizeof(fa));
	memset(&fb, 0, sizeof(fb));
	struct rendezvous_backend ba = {"fake",      fake_advertise,   fake_withdraw,
	                                fake_lookup, fake_lookup_stop, &fa};
	struct rendezvous_backend bb = ba;
	bb.impl = &fb;
	assert_int_equal(rendezvous_add_backend(s[0].rv, &ba), 0);
	assert_int_equal(rendezvous_add_backend(s[1].rv, &bb), 0);
	struct pairing_generated g;
	struct errmsg e = {{0}};
	assert_int_equal(pairing_service_generate(s[0].svc, 60, &g, &e), 0);
	assert_true(g.advertised);
	struct join_result j;
	join(&s[1], g.words, NULL, &j);
	/* The joiner looks for exactly what the initiator published. */
	assert_memory_equal(fa.advertised, fb.looked_up, RENDEZVOUS_ID_LEN);
	assert_non_null(fb.cb);
	/* Discovery finds two candidates: ourselves (ignored) and alice. */
	struct multiaddr ma = nt_addr_of(s[0].host);
	multiaddr_strip_p2p(&ma);
	fb.cb(host_peer_id(s[1].host), &ma, 1, fb.ctx);
	fb.cb(host_peer_id(s[0].host), &ma, 1, fb.ctx);
	fb.cb(host_peer_id(s[0].host), &ma, 1, fb.ctx); /* again: dialed once */
	multiaddr_free(&ma);
	assert_true(nt_run_until(nt_flag, &j.done));
	assert_int_equal(j.err, 0);
	assert_true(nt_run_until(both_completed, s));
	assert_paired(&s[0], &s[1]);
	assert_null(fb.cb); /* lookup stopped once paired */
	rendezvous_remove_backend(s[0].rv, &ba);
	rendezvous_remove_backend(s[1].rv, &bb);
	side_down(&s[0]);
	side_down(&s[1]);
}

/* ---- failures ----------------------------------------------------------- */

static void test_wrong_code(void **state)
{
	struct side s[2];
	side_up(&s[0], "alice", "0a1b2c3d-0000-4000-8000-000000000001", 0);
	side_up(&s[1], "bob", "0a1b2c3d-0000-4000-8000-000000000002", 0);
	struct pairing_generated g;
	struct errmsg e = {{0}};
	assert_int_equal(pairing_service_generate(s[0].svc, 60, &g, &e), 0);
	struct join_result j;
	join(&s[1], OTHER_CODE, addr_text(s[0].host), &j);
	assert_true(nt_run_until(nt_flag, &j.done));
	assert_int_equal(j.err, -ENOKEY);
	assert_non_null(strstr(j.msg, "the code did not match"));
	/* The initiator keeps waiting for the right joiner. */
	json_t *st = pairing_service_status_json(s[0].svc);
	json_t *s0 = json_array_get(st, 0);
	assert_string_equal(json_string_value(json_object_get(s0, "state")),
	                    "waiting_for_connection");
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(s0, "stats"), "unknown_code")),
	        1);
	json_decref(st);
	assert_int_equal(devices_count(s[0].devices), 0);
	assert_int_equal(devices_count(s[1].devices), 0);
	/* Bad words are refused at once with the BIP39 hint. */
	char id[PAIRING_SESSION_ID_LEN + 1];
	assert_int_equal(pairing_service_join(s[1].svc,
	                                      "abandon abandon abandn abandon abandon abandon "
	                                      "abandon abandon abandon abandon abandon about",
	                                      addr_text(s[0].host), join_cb, &j, id, &e),
	                 -ENOENT);
	assert_string_equal(e.text, "word 3 'abandn' is not a BIP39 word; did you mean 'abandon'?");
	/* No --peer and no discovery backend: refused with what to do. */
	assert_int_equal(pairing_service_join(s[1].svc, g.words, NULL, join_cb, &j, id, &e),
	                 -ENOTSUP);
	assert_non_null(strstr(e.text, "--peer"));
	side_down(&s[0]);
	side_down(&s[1]);
}

static bool joiner_holding(void *arg)
{
	struct side *b = arg;
	for (size_t n = 0;; n++) {
		json_t *d = event(b, "pairing.state", n);
		if (!d)
			return false;
		if (strcmp(json_string_value(json_object_get(d, "reason")),
		           "proofs verified; saving the device") == 0)
			return true;
	}
}

static bool initiator_ended(void *arg)
{
	struct side *a = arg;
	for (size_t n = 0;; n++) {
		json_t *d = event(a, "pairing.state", n);
		if (!d)
			return false;
		if (strcmp(json_string_value(json_object_get(d, "state")), "failed") == 0)
			return true;
	}
}

static void test_joiner_gone_before_confirming(void **state)
{
	struct side s[2];
	side_up(&s[0], "alice", "0a1b2c3d-0000-4000-8000-000000000001", 0);
	side_up(&s[1], "bob", "0a1b2c3d-0000-4000-8000-000000000002", 20000);
	struct pairing_generated g;
	struct errmsg e = {{0}};
	assert_int_equal(pairing_service_generate(s[0].svc, 60, &g, &e), 0);
	struct join_result j;
	join(&s[1], g.words, addr_text(s[0].host), &j);
	assert_true(nt_run_until(joiner_holding, &s[1]));
	/* Both passed the proofs; the joiner goes away before storing. */
	side_stop(&s[1]);
	assert_true(j.done);
	assert_int_equal(j.err, -ECANCELED);
	assert_true(nt_run_until(initiator_ended, &s[0]));
	json_t *st = pairing_service_status_json(s[0].svc);
	const char *reason = json_string_value(json_object_get(json_array_get(st, 0), "reason"));
	assert_non_null(strstr(reason, "nothing was saved"));
	json_decref(st);
	assert_int_equal(devices_count(s[0].devices), 0);
	assert_int_equal(devices_count(s[1].devices), 0);
	char **names = NULL;
	assert_int_equal(securestore_list(s[0].store, "devices", &names, &e), 0);
	assert_null(names[0]);
	securestore_names_free(names);
	assert_null(event(&s[0], "pairing.completed", 0));
	side_down(&s[0]);
	side_down(&s[1]);
}

static int setup(void **state)
{
	nt_base = event_base_new();
	return nt_base ? 0 : -1;
}

static int teardown(void **state)
{
	event_base_free(nt_base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pair_with_peer),
	        cmocka_unit_test(test_pair_via_rendezvous),
	        cmocka_unit_test(test_wrong_code),
	        cmocka_unit_test(test_joiner_gone_before_confirming),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
