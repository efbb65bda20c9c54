/* identify on every connection (daemon/net/identify-service.c) between
 * hosts in one process over loopback: both sides learn agent, protocols,
 * listen and observed addresses and a verified signed record; a push
 * updates what the peer knows; a lying public key, a record signed by
 * someone else and a malformed answer are refused; freeing the service with
 * work in flight leaks nothing. Also the signed record helpers. */
#include "nettest.h"

#include <errno.h>
#include <stdlib.h>

#include "envelope.h"
#include "identify.h"
#include "net/identify-record.h"
#include "net/identify-service.h"
#include "net/ping.h"

static struct host *ha, *hb;
static struct identify_service *sa, *sb;

struct seen {
	unsigned calls, pushes;
	struct conn *c;
};
static struct seen seen_a, seen_b;

static void on_identified(struct conn *c, const struct identify_result *r, void *ctx)
{
	struct seen *s = ctx;
	s->calls++;
	s->pushes += r->from_push;
	s->c = c;
	assert_ptr_equal(identify_get(c), r);
}

static int setup(void **state)
{
	nt_base = event_base_new();
	ha = nt_host_new("sdnetd/test-a");
	hb = nt_host_new("sdnetd/test-b");
	memset(&seen_a, 0, sizeof(seen_a));
	memset(&seen_b, 0, sizeof(seen_b));
	sa = sb = NULL;
	return 0;
}

static int teardown(void **state)
{
	identify_service_free(sa);
	host_free(ha);
	identify_service_free(sb);
	host_free(hb);
	event_base_free(nt_base);
	return 0;
}

static struct identify_service *service(struct host *h, const char *agent, struct seen *seen)
{
	struct identify_service *svc;
	assert_int_equal(ping_register(h), 0);
	assert_int_equal(identify_service_new(h, agent, &svc), 0);
	identify_service_set_callback(svc, on_identified, seen);
	return svc;
}

static bool has_protocol(const struct identify_result *r, const char *id)
{
	for (size_t i = 0; i < r->n_protocols; i++)
		if (strcmp(r->protocols[i], id) == 0)
			return true;
	return false;
}

static bool both_identified(void *arg)
{
	return seen_a.calls >= 1 && seen_b.calls >= 1;
}

/* What `from` learned about `about` over c. */
static void check_learned(struct conn *c, struct host *about, const char *agent)
{
	const struct identify_result *r = identify_get(c);
	assert_non_null(r);
	assert_string_equal(r->agent_version, agent);
	assert_string_equal(r->protocol_version, IDENTIFY_PROTOCOL_VERSION);
	assert_true(has_protocol(r, IDENTIFY_PROTOCOL_ID));
	assert_true(has_protocol(r, IDENTIFY_PUSH_PROTOCOL_ID));
	assert_true(has_protocol(r, PING_PROTOCOL_ID));
	assert_false(has_protocol(r, "/not/registered/1.0.0"));
	/* Its listen address exactly (port resolved, no /p2p). */
	const struct multiaddr *la;
	assert_int_equal(host_listen_addrs(about, &la), 1);
	assert_int_equal(r->n_listen_addrs, 1);
	assert_true(multiaddr_equal(&r->listen_addrs[0], &la[0]));
	/* How it sees us: our end of this connection. */
	struct conn_info ci;
	conn_get_info(c, &ci);
	char observed[MULTIADDR_TEXT_MAX];
	assert_true(r->observed_addr.len > 0);
	assert_true(multiaddr_to_string(&r->observed_addr, observed, sizeof(observed)) >= 0);
	assert_string_equal(observed, ci.local_addr);
	assert_true(r->has_record);
	assert_true(r->record_seq > 0);
	assert_int_equal(r->dropped, 0);
	assert_false(r->from_push);
}

static void test_both_sides_learn(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	sb = service(hb, "sdnetd/test-b", &seen_b);
	struct conn *c = nt_connect(ha, hb);
	assert_true(nt_run_until(both_identified, NULL));
	assert_ptr_equal(seen_a.c, c);
	check_learned(c, hb, "sdnetd/test-b");
	struct conn *cb = host_find_conn(hb, host_peer_id(ha));
	assert_ptr_equal(seen_b.c, cb);
	check_learned(cb, ha, "sdnetd/test-a");
	/* Each side asked once and answered once. */
	nt_run_for(50);
	assert_int_equal(seen_a.calls, 1);
	assert_int_equal(seen_b.calls, 1);
}

static bool a_got_push(void *arg)
{
	return seen_a.pushes >= 1;
}

static void on_new(struct stream *s, void *ctx)
{
	stream_reset(s);
}

static const struct protocol_handler new_handlers[] = {
        {"/test/new/1.0.0", on_new, 0},
        {0},
};

static void test_push_updates(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	sb = service(hb, "sdnetd/test-b", &seen_b);
	struct conn *c = nt_connect(ha, hb);
	assert_true(nt_run_until(both_identified, NULL));
	uint64_t seq = identify_get(c)->record_seq;
	assert_false(has_protocol(identify_get(c), "/test/new/1.0.0"));
	/* B gains a protocol and tells its peers. */
	assert_int_equal(protocols_register(host_protocols(hb), new_handlers, NULL), 0);
	identify_service_push_all(sb);
	assert_true(nt_run_until(a_got_push, NULL));
	const struct identify_result *r = identify_get(c);
	assert_true(r->from_push);
	assert_true(has_protocol(r, "/test/new/1.0.0"));
	assert_true(has_protocol(r, PING_PROTOCOL_ID));
	assert_string_equal(r->agent_version, "sdnetd/test-b");
	assert_true(r->has_record);
	assert_true(r->record_seq > seq); /* a fresh record */
	assert_int_equal(seen_a.calls, 2);
	assert_int_equal(seen_b.pushes, 0);
}

/* ---- a hand-made identify answer from B ---- */

static struct buf answer;
static bool answer_closed;

static void ans_closed(struct stream *s, int err, void *ctx)
{
	answer_closed = true;
}

static void ans_noop(struct stream *s, void *ctx)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	stream_consume(s, len);
}

static const struct stream_callbacks ans_cbs = {
        .on_data = ans_noop,
        .on_eof = ans_noop,
        .on_closed = ans_closed,
};

static void ans_on_stream(struct stream *s, void *ctx)
{
	stream_set_callbacks(s, &ans_cbs, NULL);
	assert_int_equal(stream_write(s, answer.data, answer.len), (long)answer.len);
	assert_int_equal(stream_close_write(s), 0);
}

static const struct protocol_handler ans_handlers[] = {
        {IDENTIFY_PROTOCOL_ID, ans_on_stream, 0},
        {0},
};

/* An Identify with key's public key and (when record_key) a record sealed
 * by record_key listing B's address. */
static void make_answer(const struct privkey *key, const struct privkey *record_key)
{
	struct identify_info info = {0};
	info.agent_version = strdup("liar/1");
	info.protocol_version = strdup(IDENTIFY_PROTOCOL_VERSION);
	assert_int_equal(privkey_encode_public(key, &info.public_key), 0);
	assert_int_equal(identify_info_add_protocol(&info, "/liar/1.0.0"), 0);
	const struct multiaddr *la;
	host_listen_addrs(hb, &la);
	assert_int_equal(identify_info_add_addr(&info, la[0].bytes, la[0].len), 0);
	if (record_key)
		assert_int_equal(identify_record_build(record_key, la, 1, &info.signed_record), 0);
	buf_free(&answer);
	assert_int_equal(identify_encode(&info, &answer, NULL), 0);
	identify_info_free(&info);
	answer_closed = false;
}

/* B finished its side and A let go of the stream (answered or refused). */
static bool answer_done(void *arg)
{
	struct conn *c = arg;
	struct conn_info ci;
	conn_get_info(c, &ci);
	return answer_closed && ci.streams == 0;
}

static void test_lying_public_key_refused(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	assert_int_equal(protocols_register(host_protocols(hb), ans_handlers, NULL), 0);
	struct privkey other;
	assert_int_equal(privkey_generate(&other), 0);
	make_answer(&other, &other); /* a consistent identity, just not B's */
	struct conn *c = nt_connect(ha, hb);
	/* A reads the answer and refuses it. */
	assert_true(nt_run_until(answer_done, c));
	assert_int_equal(seen_a.calls, 0);
	assert_null(identify_get(c));
	privkey_wipe(&other);
	buf_free(&answer);
}

static bool a_identified(void *arg)
{
	return seen_a.calls >= 1;
}

static void test_foreign_record_dropped(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	assert_int_equal(protocols_register(host_protocols(hb), ans_handlers, NULL), 0);
	struct privkey other;
	assert_int_equal(privkey_generate(&other), 0);
	make_answer(host_key(hb), &other); /* B's key, someone else's record */
	struct conn *c = nt_connect(ha, hb);
	assert_true(nt_run_until(a_identified, NULL));
	const struct identify_result *r = identify_get(c);
	assert_non_null(r);
	assert_string_equal(r->agent_version, "liar/1");
	assert_true(has_protocol(r, "/liar/1.0.0"));
	assert_false(r->has_record);
	assert_int_equal(r->dropped, 1);
	privkey_wipe(&other);
	buf_free(&answer);
}

static void test_own_record_accepted(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	assert_int_equal(protocols_register(host_protocols(hb), ans_handlers, NULL), 0);
	make_answer(host_key(hb), host_key(hb));
	struct conn *c = nt_connect(ha, hb);
	assert_true(nt_run_until(a_identified, NULL));
	assert_true(identify_get(c)->has_record);
	assert_int_equal(identify_get(c)->dropped, 0);
	buf_free(&answer);
}

static void test_malformed_refused(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	assert_int_equal(protocols_register(host_protocols(hb), ans_handlers, NULL), 0);
	buf_free(&answer);
	/* A whole message of 3 bytes that are not a protobuf field. */
	assert_int_equal(buf_append(&answer, "\x03\xff\xff\xff", 4), 0);
	answer_closed = false;
	struct conn *c = nt_connect(ha, hb);
	assert_true(nt_run_until(answer_done, c));
	assert_int_equal(seen_a.calls, 0);
	assert_null(identify_get(c));
	buf_free(&answer);
}

static void test_free_with_work_in_flight(void **state)
{
	sa = service(ha, "sdnetd/test-a", &seen_a);
	sb = service(hb, "sdnetd/test-b", &seen_b);
	struct nt_dial r = {0};
	struct multiaddr ma = nt_addr_of(hb);
	assert_int_equal(host_dial(ha, &ma, 0, nt_dial_cb, &r), 0);
	multiaddr_free(&ma);
	assert_true(nt_run_until(nt_flag, &r.done));
	/* The connection is up and A's query is being opened: stop A's
	 * service, then its host, with everything in flight (ASan checks). */
	identify_service_free(sa);
	sa = NULL;
	host_free(ha);
	ha = NULL;
	nt_run_for(50);
	assert_int_equal(seen_a.calls, 0);
}

/* ---- the signed record ---- */

static void test_record_round_trip(void **state)
{
	const struct multiaddr *la;
	host_listen_addrs(ha, &la);
	struct buf env = BUF_INIT, env2 = BUF_INIT;
	assert_int_equal(identify_record_build(host_key(ha), la, 1, &env), 0);
	assert_int_equal(identify_record_build(host_key(ha), la, 1, &env2), 0);
	uint64_t seq1, seq2;
	assert_int_equal(identify_record_verify(env.data, env.len, host_peer_id(ha), &seq1), 0);
	assert_int_equal(identify_record_verify(env2.data, env2.len, host_peer_id(ha), &seq2), 0);
	/* Strictly increasing even within one millisecond. */
	assert_true(seq2 > seq1);
	/* Someone else's record is not A's. */
	uint64_t unchanged = 7;
	assert_int_equal(identify_record_verify(env.data, env.len, host_peer_id(hb), &unchanged),
	                 -EKEYREJECTED);
	assert_int_equal(unchanged, 7);
	/* A flipped byte breaks the signature. */
	env.data[env.len / 2] ^= 1;
	assert_true(identify_record_verify(env.data, env.len, host_peer_id(ha), &unchanged) < 0);
	/* What the record says. */
	struct peer_record rec = PEER_RECORD_INIT;
	assert_int_equal(peer_record_open(env2.data, env2.len, &rec, NULL, NULL), 0);
	assert_true(peerid_equal(&rec.id, host_peer_id(ha)));
	assert_int_equal(rec.seq, seq2);
	assert_int_equal(rec.n_addrs, 1);
	assert_int_equal(rec.addrs[0].len, la[0].len);
	assert_memory_equal(rec.addrs[0].data, la[0].bytes, la[0].len);
	peer_record_free(&rec);
	buf_free(&env);
	buf_free(&env2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_both_sides_learn, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_push_updates, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lying_public_key_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_foreign_record_dropped, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_own_record_accepted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_free_with_work_in_flight, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_record_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
