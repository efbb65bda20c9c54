/* Device pairing (/spacedrive/pairing/1.0.0): the key schedule and
 * transcript against vectors computed independently with Python's hmac and
 * hashlib (tests/unit/gen-pairing-vectors.py), DeviceInfo rules, the rate
 * limiter, and the state machine in memory with injected time: the happy path
 * with every message cut at every byte, wrong codes, three failed proofs,
 * expiry, code reuse, replays, a relay between two Noise sessions, an
 * attacker who knows only the rendezvous id (as joiner and as initiator),
 * DeviceInfo that names another peer, malformed and oversized input, the
 * exchange cap and timeouts, cancel and free in either order. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "lpmsg.h"
#include "pairing-limit.h"
#include "pairing.h"

#define T0 1000000 /* an arbitrary monotonic start time */

/* ---- fixtures ---- */

static struct peerid peer_of_seed(uint8_t v)
{
	uint8_t seed[ED25519_SEED_LEN];
	memset(seed, v, sizeof(seed));
	struct privkey k;
	assert_int_equal(privkey_from_seed(seed, &k), 0);
	struct buf pub = BUF_INIT;
	assert_int_equal(privkey_encode_public(&k, &pub), 0);
	struct peerid id;
	assert_int_equal(peerid_from_canonical_pubkey(pub.data, pub.len, &id), 0);
	buf_free(&pub);
	privkey_wipe(&k);
	return id;
}

static struct pairing_device_info device(uint8_t seed, const char *name)
{
	struct pairing_device_info d;
	memset(&d, 0, sizeof(d));
	snprintf(d.device_id, sizeof(d.device_id), "%08x-1234-4abc-8def-0123456789ab",
	         (unsigned)seed * 0x01010101u);
	snprintf(d.name, sizeof(d.name), "%s", name);
	snprintf(d.os, sizeof(d.os), "Linux");
	d.peer_id = peer_of_seed(seed);
	d.protocol_version = 1;
	return d;
}

static const uint8_t code_a[PAIRING_ENTROPY_LEN] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                    8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t code_b[PAIRING_ENTROPY_LEN] = {0xff, 1, 2,  3,  4,  5,  6,  7,
                                                    8,    9, 10, 11, 12, 13, 14, 15};

static struct pairing_session *new_session(bool initiator, const uint8_t *entropy,
                                           const struct pairing_device_info *d, uint64_t now,
                                           uint64_t life)
{
	struct pairing_params p = {
	        .entropy = entropy, .info = d, .now_ms = now, .lifetime_ms = life};
	struct pairing_session *s = NULL;
	struct errmsg err = {{0}};
	int r = initiator ? pairing_initiator_new(&p, &s, &err) : pairing_joiner_new(&p, &s, &err);
	if (r != 0)
		fail_msg("session: %d %s", r, err.text);
	return s;
}

static struct pairing_exchange *new_exchange(struct pairing_session *s, const struct peerid *remote,
                                             uint64_t now)
{
	struct pairing_exchange *x = NULL;
	assert_int_equal(pairing_exchange_new(s, remote, now, &x), 0);
	return x;
}

/* Take all of x's pending output. */
static struct buf take_output(struct pairing_exchange *x)
{
	const uint8_t *p;
	size_t len;
	struct buf b = BUF_INIT;
	pairing_exchange_pending_output(x, &p, &len);
	if (len)
		assert_int_equal(buf_append(&b, p, len), 0);
	pairing_exchange_output_consumed(x, len);
	return b;
}

/* Feed b to x in two pieces cut at `cut` (or whole if cut >= len). */
static int feed_cut(struct pairing_exchange *x, const struct buf *b, size_t cut, uint64_t now)
{
	if (cut == 0 || cut >= b->len)
		return pairing_exchange_feed(x, b->data, b->len, now);
	int r = pairing_exchange_feed(x, b->data, cut, now);
	if (r < 0)
		return r;
	return pairing_exchange_feed(x, b->data + cut, b->len - cut, now);
}

static int feed_bytewise(struct pairing_exchange *x, const struct buf *b, uint64_t now)
{
	for (size_t i = 0; i < b->len; i++) {
		int r = pairing_exchange_feed(x, b->data + i, 1, now);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Move everything from one exchange to the other; returns the feed result. */
static int pass(struct pairing_exchange *from, struct pairing_exchange *to, uint64_t now)
{
	struct buf b = take_output(from);
	int r = pairing_exchange_feed(to, b.data, b.len, now);
	buf_free(&b);
	return r;
}

/* Decode the single message in b. */
static struct pairing_msg decode_one(const struct buf *b)
{
	const uint8_t *m;
	size_t len;
	long n = lpmsg_next(b->data, b->len, PAIRING_MAX_MESSAGE, &m, &len);
	assert_true(n > 0);
	assert_int_equal((size_t)n, b->len);
	struct pairing_msg msg;
	assert_int_equal(pairing_msg_decode(m, len, &msg, NULL), 0);
	return msg;
}

/* Assert x's output is exactly Result{code} (and consume it). */
static void assert_result_sent(struct pairing_exchange *x, uint32_t code)
{
	struct buf b = take_output(x);
	struct pairing_msg m = decode_one(&b);
	assert_int_equal(m.type, PAIRING_MSG_RESULT);
	assert_int_equal(m.code, code);
	buf_free(&b);
}

static void assert_no_output(struct pairing_exchange *x)
{
	const uint8_t *p;
	size_t len;
	pairing_exchange_pending_output(x, &p, &len);
	assert_int_equal(len, 0);
}

static void assert_error_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("error \"%s\" lacks \"%s\"", text, needle);
}

static struct buf msg_bytes(const struct pairing_msg *m)
{
	struct buf b = BUF_INIT;
	assert_int_equal(pairing_msg_append(m, &b), 0);
	return b;
}

/* ---- key schedule and transcript ---- */

#define V_RID "9b00d2040e702d304a0b51ad5caf515e110008ab761c00d56cc08a1bede5ae70"
#define V_AUTH "85b23c32ec94d0889b08422e672729e4adb75884d005c1275d25a3e4d38781fe"
#define V_REC "a36fb732f0bd389983d6e263e170318da9065ea1af913bfd5206b5877c06dc11"
#define V_TH "f15c0f37323dd92ed3956d4c8ae4360f05702414c93e44fced07e7ba655f47cc"
#define V_MACI "fcdcc86512cee61e421cf98b9fa390f9e765d6e044d297af570b8157c85233a8"
#define V_MACJ "6ad5ad65be76fe0620d35ba553b39b56b0c94b461927a2c8d065f88079335dc3"
#define V_I2J_ENC "1e76221061a8c74a0f30804bd9da72a167b038070a23f742b55bdf3ca2240b40"
#define V_J2I_ENC "7bad26608edce8e6154923a396c09d25e1f8011fc12a2a7acb14391b292fa038"
#define V_I2J_MAC "bbe66fd00379584378bd3889b31a41eea4bce1f622a5f38b38bbf3bd520c10cc"
#define V_J2I_MAC "3c64667ad690054420642277fe0c00f1e8c932e258533e12a6f0d1050d857ee2"
#define V_PEER_I "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define V_PEER_J "12D3KooWHFd1gyNYFqxt7ke9FY2VoVVWY2XSPhvL9vg2pB6wQGfa"

static void test_key_schedule_vector(void **state)
{
	struct pairing_keys k;
	assert_int_equal(pairing_keys_derive(code_a, &k), 0);
	th_assert_hex(k.rendezvous_id, sizeof(k.rendezvous_id), V_RID);
	th_assert_hex(k.auth_key, sizeof(k.auth_key), V_AUTH);
	th_assert_hex(k.record_key, sizeof(k.record_key), V_REC);
	/* Another code shares nothing with it. */
	struct pairing_keys k2;
	assert_int_equal(pairing_keys_derive(code_b, &k2), 0);
	assert_memory_not_equal(k.rendezvous_id, k2.rendezvous_id, 32);
	assert_memory_not_equal(k.auth_key, k2.auth_key, 32);
	pairing_keys_wipe(&k);
	pairing_keys_wipe(&k2);
	uint8_t zero[sizeof(k)] = {0};
	assert_memory_equal(&k, zero, sizeof(k));
}

static void test_code_words(void **state)
{
	char words[BIP39_MNEMONIC_MAX];
	uint8_t e[PAIRING_ENTROPY_LEN], back[PAIRING_ENTROPY_LEN];
	assert_int_equal(pairing_code_generate(e), 0);
	assert_int_equal(pairing_code_to_words(e, words), 0);
	int n = 1;
	for (const char *p = words; *p; p++)
		n += *p == ' ';
	assert_int_equal(n, PAIRING_CODE_WORDS);
	assert_int_equal(pairing_code_from_words(words, back, NULL), 0);
	assert_memory_equal(e, back, sizeof(e));
	/* All-zero entropy is the BIP39 test vector "abandon x11 about". */
	memset(e, 0, sizeof(e));
	assert_int_equal(pairing_code_to_words(e, words), 0);
	assert_string_equal(words, "abandon abandon abandon abandon abandon abandon abandon "
	                           "abandon abandon abandon abandon about");
	struct errmsg err = {{0}};
	assert_int_equal(pairing_code_from_words("  ABANDON abandon abandon abandon abandon "
	                                         "abandon abandon abandon abandon abandon\tabandon "
	                                         "about ",
	                                         back, &err),
	                 0);
	assert_memory_equal(e, back, sizeof(e));
	assert_int_equal(pairing_code_from_words("abandon abandn abandon abandon abandon abandon "
	                                         "abandon abandon abandon abandon abandon about",
	                                         back, &err),
	                 -ENOENT);
	assert_error_has(err.text, "word 2 'abandn'");
	assert_error_has(err.text, "'abandon'");
	assert_int_equal(pairing_code_from_words("abandon abandon abandon abandon abandon abandon "
	                                         "abandon abandon abandon abandon abandon abandon",
	                                         back, &err),
	                 -EBADMSG);
	/* A valid 24-word phrase is not a pairing code. */
	assert_int_equal(pairing_code_from_words(
	                         "abandon abandon abandon abandon abandon abandon abandon abandon "
	                         "abandon abandon abandon abandon abandon abandon abandon abandon "
	                         "abandon abandon abandon abandon abandon abandon abandon art",
	                         back, &err),
	                 -EINVAL);
	assert_error_has(err.text, "12 words");
	assert_int_equal(pairing_code_from_words(NULL, back, &err), -EINVAL);
}

static struct peerid parse_peer(const char *text)
{
	struct peerid id;
	assert_int_equal(peerid_parse(text, &id, NULL), 0);
	return id;
}

struct tvec {
	struct peerid pi, pj;
	uint8_t rid[32], ni[32], nj[32], ei[32], ej[32];
	struct pairing_transcript t;
};

static void tvec_init(struct tvec *v)
{
	v->pi = parse_peer(V_PEER_I);
	v->pj = parse_peer(V_PEER_J);
	struct buf rid = th_hex(V_RID);
	memcpy(v->rid, rid.data, 32);
	buf_free(&rid);
	memset(v->ni, 0x11, 32);
	memset(v->nj, 0x22, 32);
	memset(v->ei, 0x33, 32);
	memset(v->ej, 0x44, 32);
	v->t = (struct pairing_transcript){
	        .version = 1,
	        .initiator_peer = &v->pi,
	        .joiner_peer = &v->pj,
	        .rendezvous_id = v->rid,
	        .nonce_i = v->ni,
	        .nonce_j = v->nj,
	        .eph_i = v->ei,
	        .eph_j = v->ej,
	        .info_i = (const uint8_t *)"info-i",
	        .info_i_len = 6,
	        .info_j = (const uint8_t *)"info-j-longer",
	        .info_j_len = 13,
	};
}

static void test_transcript_vector(void **state)
{
	struct tvec v;
	tvec_init(&v);
	uint8_t th[32], mi[32], mj[32];
	assert_int_equal(pairing_transcript_hash(&v.t, th), 0);
	th_assert_hex(th, 32, V_TH);
	struct buf auth = th_hex(V_AUTH);
	assert_int_equal(pairing_proof(auth.data, PAIRING_ROLE_INITIATOR, th, mi), 0);
	assert_int_equal(pairing_proof(auth.data, PAIRING_ROLE_JOINER, th, mj), 0);
	th_assert_hex(mi, 32, V_MACI);
	th_assert_hex(mj, 32, V_MACJ);
	uint8_t shared[32];
	memset(shared, 0x55, sizeof(shared));
	struct pairing_session_keys ki, kj;
	assert_int_equal(
	        pairing_session_keys_derive(shared, auth.data, th, PAIRING_ROLE_INITIATOR, &ki), 0);
	assert_int_equal(
	        pairing_session_keys_derive(shared, auth.data, th, PAIRING_ROLE_JOINER, &kj), 0);
	th_assert_hex(ki.send_key, 32, V_I2J_ENC);
	th_assert_hex(ki.receive_key, 32, V_J2I_ENC);
	th_assert_hex(ki.send_mac_key, 32, V_I2J_MAC);
	th_assert_hex(ki.receive_mac_key, 32, V_J2I_MAC);
	th_assert_hex(kj.send_key, 32, V_J2I_ENC);
	th_assert_hex(kj.receive_key, 32, V_I2J_ENC);
	th_assert_hex(kj.send_mac_key, 32, V_J2I_MAC);
	th_assert_hex(kj.receive_mac_key, 32, V_I2J_MAC);
	buf_free(&auth);
}

/* Every field is bound: changing any one of them (or swapping the roles)
 * changes the hash. */
static void test_transcript_binds_every_field(void **state)
{
	struct tvec v;
	tvec_init(&v);
	uint8_t base[32], th[32];
	assert_int_equal(pairing_transcript_hash(&v.t, base), 0);
	struct peerid other = peer_of_seed(9);
	uint8_t bump[32];
	memset(bump, 0x77, sizeof(bump));
	for (int field = 0; field < 12; field++) {
		struct pairing_transcript t = v.t;
		switch (field) {
		case 0:
			t.version = 2;
			break;
		case 1:
			t.initiator_peer = &other;
			break;
		case 2:
			t.joiner_peer = &other;
			break;
		case 3:
			t.initiator_peer = &v.pj, t.joiner_peer = &v.pi;
			break;
		case 4:
			t.rendezvous_id = bump;
			break;
		case 5:
			t.nonce_i = bump;
			break;
		case 6:
			t.nonce_j = bump;
			break;
		case 7:
			t.eph_i = bump;
			break;
		case 8:
			t.eph_j = bump;
			break;
		case 9:
			t.info_i_len = 5;
			break;
		case 10:
			t.info_j = (const uint8_t *)"info-j-longeR";
			break;
		/* Moving a byte from one DeviceInfo to the other. */
		case 11:
			t.info_i = (const uint8_t *)"info-ii", t.info_i_len = 7,
			t.info_j = (const uint8_t *)"nfo-j-longer", t.info_j_len = 12;
			break;
		}
		assert_int_equal(pairing_transcript_hash(&t, th), 0);
		if (memcmp(th, base, 32) == 0)
			fail_msg("field %d is not bound by the transcript", field);
	}
}

/* ---- DeviceInfo ---- */

static int decode_modified(void (*edit)(struct pairing_device_info *), struct errmsg *err)
{
	struct pairing_device_info d = device(1, "alice");
	edit(&d);
	/* The checker shares its field rules with the decoder of peers'
	 * records (check_uuid, check_text); the decoder is exercised below. */
	return pairing_device_info_check(&d, err);
}

static void bad_uuid(struct pairing_device_info *d)
{
	d->device_id[8] = 'x';
}
static void upper_uuid(struct pairing_device_info *d)
{
	d->device_id[0] = 'A';
}
static void empty_name(struct pairing_device_info *d)
{
	d->name[0] = '\0';
}
static void control_name(struct pairing_device_info *d)
{
	strcpy(d->name, "evil\x1b[2Jname");
}
static void bad_utf8(struct pairing_device_info *d)
{
	strcpy(d->name, "caf\xc3");
}
static void overlong_utf8(struct pairing_device_info *d)
{
	strcpy(d->name, "\xc0\xaf");
}
static void surrogate_utf8(struct pairing_device_info *d)
{
	strcpy(d->os, "\xed\xa0\x80");
}
static void c1_control(struct pairing_device_info *d)
{
	strcpy(d->os, "a\xc2\x9b"
	              "b");
}
static void zero_version(struct pairing_device_info *d)
{
	d->protocol_version = 0;
}
static void no_peer(struct pairing_device_info *d)
{
	d->peer_id.len = 0;
}
static void long_name(struct pairing_device_info *d)
{
	memset(d->name, 'a', PAIRING_NAME_MAX + 1);
}

static void test_device_info_rules(void **state)
{
	struct errmsg err = {{0}};
	struct {
		void (*edit)(struct pairing_device_info *);
		const char *needle;
	} cases[] = {
	        {bad_uuid, "device_id"},
	        {upper_uuid, "device_id"},
	        {empty_name, "empty"},
	        {control_name, "control character at byte 5"},
	        {bad_utf8, "invalid UTF-8"},
	        {overlong_utf8, "invalid UTF-8"},
	        {surrogate_utf8, "os"},
	        {c1_control, "at byte 2"},
	        {zero_version, "protocol_version"},
	        {no_peer, "peer_id"},
	        {long_name, "device_name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_not_equal(decode_modified(cases[i].edit, &err), 0);
		assert_error_has(err.text, cases[i].needle);
	}
	/* Multibyte names are fine; the record round-trips exactly. */
	struct pairing_device_info d = device(1, "Zoë’s MacBook 🚀");
	struct buf enc = BUF_INIT;
	assert_int_equal(pairing_device_info_encode(&d, &enc), 0);
	struct pairing_device_info back;
	assert_int_equal(pairing_device_info_decode(enc.data, enc.len, &back, &err), 0);
	assert_string_equal(back.name, d.name);
	assert_string_equal(back.device_id, d.device_id);
	assert_string_equal(back.os, "Linux");
	assert_true(peerid_equal(&back.peer_id, &d.peer_id));
	assert_int_equal(back.protocol_version, 1);
	/* A NUL inside a text field (bytes on the wire) is refused, not cut. */
	size_t at = 0;
	for (; at + 5 <= enc.len; at++)
		if (memcmp(enc.data + at, "Zo", 2) == 0)
			break;
	enc.data[at + 1] = 0;
	assert_int_equal(pairing_device_info_decode(enc.data, enc.len, &back, &err), -EBADMSG);
	assert_error_has(err.text, "device_name");
	/* Missing fields, garbage, oversize. */
	assert_int_equal(pairing_device_info_decode((const uint8_t *)"", 0, &back, &err), -EBADMSG);
	assert_error_has(err.text, "lacks device_id");
	assert_int_equal(pairing_device_info_decode((const uint8_t *)"\xff\xff", 2, &back, &err),
	                 -EBADMSG);
	uint8_t big[PAIRING_DEVICE_INFO_MAX + 1] = {0};
	assert_int_equal(pairing_device_info_decode(big, sizeof(big), &back, &err), -EBADMSG);
	buf_free(&enc);
}

/* ---- rate limiter ---- */

static void test_rate_limit_buckets(void **state)
{
	struct pairing_limit l;
	pairing_limit_init(&l);
	struct peerid a = peer_of_seed(1), b = peer_of_seed(2);
	/* Per peer: a burst of 3, then one per interval. */
	for (int i = 0; i < PAIRING_LIMIT_PEER_BURST; i++)
		assert_int_equal(pairing_limit_take(&l, &a, T0), 0);
	assert_int_equal(pairing_limit_take(&l, &a, T0), -EAGAIN);
	assert_int_equal(pairing_limit_take(&l, &a, T0 + PAIRING_LIMIT_PEER_INTERVAL_MS - 1),
	                 -EAGAIN);
	/* Refusals took nothing: exactly one token back after one interval. */
	assert_int_equal(pairing_limit_take(&l, &a, T0 + PAIRING_LIMIT_PEER_INTERVAL_MS), 0);
	assert_int_equal(pairing_limit_take(&l, &a, T0 + PAIRING_LIMIT_PEER_INTERVAL_MS), -EAGAIN);
	/* Another peer has its own bucket. */
	assert_int_equal(pairing_limit_take(&l, &b, T0 + PAIRING_LIMIT_PEER_INTERVAL_MS), 0);
	/* A clock that steps back refuses rather than overflows. */
	assert_int_equal(pairing_limit_take(&l, &a, 0), -EAGAIN);

	/* Globally: 10 at once across many peers, then one per second. */
	pairing_limit_init(&l);
	for (int i = 0; i < PAIRING_LIMIT_GLOBAL_BURST; i++) {
		struct peerid p = peer_of_seed((uint8_t)(10 + i));
		assert_int_equal(pairing_limit_take(&l, &p, T0), 0);
	}
	struct peerid fresh = peer_of_seed(99);
	assert_int_equal(pairing_limit_take(&l, &fresh, T0), -EAGAIN);
	assert_int_equal(pairing_limit_take(&l, &fresh, T0 + PAIRING_LIMIT_GLOBAL_INTERVAL_MS), 0);

	/* The table holds PAIRING_LIMIT_PEERS; more peers reuse the slots of
	 * recovered ones and never overflow. */
	pairing_limit_init(&l);
	uint64_t now = T0;
	for (int i = 0; i < PAIRING_LIMIT_PEERS + 20; i++) {
		struct peerid p = peer_of_seed((uint8_t)(100 + i));
		now += PAIRING_LIMIT_GLOBAL_INTERVAL_MS;
		assert_int_equal(pairing_limit_take(&l, &p, now), 0);
		assert_true(l.n <= PAIRING_LIMIT_PEERS);
	}
}

/* ---- the state machine ---- */

struct pair {
	struct pairing_device_info di, dj;
	struct pairing_session *si, *sj;
	struct pairing_exchange *xi, *xj;
};

static void pair_setup(struct pair *p, const uint8_t *ci, const uint8_t *cj, uint64_t now)
{
	p->di = device(1, "alice");
	p->dj = device(2, "bob");
	p->si = new_session(true, ci, &p->di, now, 0);
	p->sj = new_session(false, cj, &p->dj, now, 0);
	p->xj = new_exchange(p->sj, &p->di.peer_id, now);
	p->xi = new_exchange(p->si, &p->dj.peer_id, now);
}

static void pair_free(struct pair *p)
{
	pairing_exchange_free(p->xi);
	pairing_exchange_free(p->xj);
	pairing_session_free(p->si);
	pairing_session_free(p->sj);
}

static void assert_keys_mirror(const struct pairing_result *ri, const struct pairing_result *rj)
{
	const struct pairing_session_keys *a = &ri->keys, *b = &rj->keys;
	assert_memory_equal(a->send_key, b->receive_key, 32);
	assert_memory_equal(a->receive_key, b->send_key, 32);
	assert_memory_equal(a->send_mac_key, b->receive_mac_key, 32);
	assert_memory_equal(a->receive_mac_key, b->send_mac_key, 32);
	const uint8_t *k[4] = {a->send_key, a->receive_key, a->send_mac_key, a->receive_mac_key};
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			assert_memory_not_equal(k[i], k[j], 32);
	assert_memory_equal(ri->pairing_id, rj->pairing_id, 32);
}

/* One whole pairing; mode 0: every message cut at `cut`; mode 1: byte by
 * byte. Returns the longest message seen. */
static size_t run_pairing(int mode, size_t cut)
{
	struct pair p;
	pair_setup(&p, code_a, code_a, T0);
	assert_int_equal(pairing_session_state(p.si), PAIRING_CONNECTED);
	assert_int_equal(pairing_session_state(p.sj), PAIRING_CONNECTED);
	struct pairing_exchange *order[4] = {p.xj, p.xi, p.xj, p.xi};
	size_t longest = 0;
	for (int step = 0; step < 4; step++) {
		struct pairing_exchange *from = order[step];
		struct pairing_exchange *to = from == p.xi ? p.xj : p.xi;
		struct buf b = take_output(from);
		assert_true(b.len > 0);
		longest = b.len > longest ? b.len : longest;
		int r = mode ? feed_bytewise(to, &b, T0 + 10) : feed_cut(to, &b, cut, T0 + 10);
		if (r != 0)
			fail_msg("step %d cut %zu: %d %s", step, cut, r,
			         pairing_exchange_error(to));
		buf_free(&b);
		if (step == 1) {
			assert_int_equal(pairing_exchange_state(p.xj), PAIRING_AUTHENTICATING);
			assert_int_equal(pairing_session_state(p.si), PAIRING_AUTHENTICATING);
		}
	}
	assert_no_output(p.xj);
	assert_no_output(p.xi);
	assert_int_equal(pairing_exchange_state(p.xi), PAIRING_COMPLETED);
	assert_int_equal(pairing_exchange_state(p.xj), PAIRING_COMPLETED);
	assert_int_equal(pairing_session_state(p.si), PAIRING_COMPLETED);
	assert_int_equal(pairing_session_state(p.sj), PAIRING_COMPLETED);
	const struct pairing_result *ri = pairing_session_result(p.si);
	const struct pairing_result *rj = pairing_session_result(p.sj);
	assert_non_null(ri);
	assert_non_null(rj);
	assert_memory_equal(ri, pairing_exchange_result(p.xi), sizeof(*ri));
	assert_string_equal(ri->peer.name, "bob");
	assert_string_equal(rj->peer.name, "alice");
	assert_true(peerid_equal(&ri->peer.peer_id, &p.dj.peer_id));
	assert_true(peerid_equal(&rj->peer.peer_id, &p.di.peer_id));
	assert_keys_mirror(ri, rj);
	/* Code material is gone on both sides; the public id stays. */
	char words[BIP39_MNEMONIC_MAX];
	uint8_t rk[32];
	assert_int_equal(pairing_session_words(p.si, words), -ESTALE);
	assert_int_equal(pairing_session_words(p.sj, words), -ESTALE);
	assert_int_equal(pairing_session_record_key(p.si, rk), -ESTALE);
	th_assert_hex(pairing_session_rendezvous_id(p.si), 32, V_RID);
	assert_string_equal(pairing_session_error(p.si), "");
	assert_int_equal(pairing_exchange_feed(p.xi, (const uint8_t *)"x", 1, T0), -EALREADY);
	pair_free(&p);
	return longest;
}

static void test_happy_path_every_cut(void **state)
{
	size_t longest = run_pairing(1, 0);
	assert_true(longest > 100);
	for (size_t cut = 1; cut <= longest; cut++)
		run_pairing(0, cut);
}

static void test_session_keys_fresh_per_pairing(void **state)
{
	/* Same code, same devices, two pairings: fresh nonces and ephemeral
	 * keys give unrelated session keys. */
	struct pairing_result r[2];
	for (int i = 0; i < 2; i++) {
		struct pair p;
		pair_setup(&p, code_a, code_a, T0);
		assert_int_equal(pass(p.xj, p.xi, T0), 0);
		assert_int_equal(pass(p.xi, p.xj, T0), 0);
		assert_int_equal(pass(p.xj, p.xi, T0), 0);
		assert_int_equal(pass(p.xi, p.xj, T0), 0);
		r[i] = *pairing_session_result(p.si);
		pair_free(&p);
	}
	assert_memory_not_equal(r[0].keys.send_key, r[1].keys.send_key, 32);
	assert_memory_not_equal(r[0].pairing_id, r[1].pairing_id, 32);
}

static void test_initiator_from_words(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_params p = {.info = &di, .now_ms = T0};
	struct pairing_session *si = NULL, *sj = NULL;
	assert_int_equal(pairing_initiator_new(&p, &si, NULL), 0); /* fresh code */
	char words[BIP39_MNEMONIC_MAX];
	assert_int_equal(pairing_session_words(si, words), 0);
	assert_int_equal(pairing_session_expires_at(si), T0 + PAIRING_DEFAULT_LIFETIME_MS);
	struct pairing_params q = {.words = words, .info = &dj, .now_ms = T0};
	assert_int_equal(pairing_joiner_new(&q, &sj, NULL), 0);
	assert_memory_equal(pairing_session_rendezvous_id(si), pairing_session_rendezvous_id(sj),
	                    32);
	uint8_t rk1[32], rk2[32];
	assert_int_equal(pairing_session_record_key(si, rk1), 0);
	assert_int_equal(pairing_session_record_key(sj, rk2), 0);
	assert_memory_equal(rk1, rk2, 32);
	pairing_session_free(sj);
	/* A mistyped word is reported with its position and a suggestion. */
	struct errmsg err = {{0}};
	char *typo = strdup(words);
	char *second = strchr(typo, ' ') + 1;
	second[0] = second[0] == 'q' ? 'z' : 'q';
	second[1] = 'q';
	q.words = typo;
	int r = pairing_joiner_new(&q, &sj, &err);
	assert_true(r == -ENOENT || r == -EBADMSG);
	if (r == -ENOENT)
		assert_error_has(err.text, "word 2");
	free(typo);
	/* A joiner needs a code; our DeviceInfo must be valid. */
	q.words = NULL;
	assert_int_equal(pairing_joiner_new(&q, &sj, &err), -EINVAL);
	struct pairing_device_info bad = device(3, "");
	p.info = &bad;
	assert_int_equal(pairing_initiator_new(&p, &sj, &err), -EINVAL);
	assert_error_has(err.text, "our device information");
	pairing_session_free(si);
}

static void test_wrong_code(void **state)
{
	struct pair p;
	pair_setup(&p, code_a, code_b, T0);
	assert_int_equal(pass(p.xj, p.xi, T0), -ENOKEY);
	assert_int_equal(pairing_exchange_state(p.xi), PAIRING_FAILED);
	assert_error_has(pairing_exchange_error(p.xi), "different code");
	assert_int_equal(pass(p.xi, p.xj, T0), -ENOKEY);
	assert_int_equal(pairing_exchange_state(p.xj), PAIRING_FAILED);
	assert_error_has(pairing_exchange_error(p.xj), "check the words");
	/* Counted on both sides; neither session is over. */
	assert_int_equal(pairing_session_stats(p.si)->unknown_code, 1);
	assert_int_equal(pairing_session_stats(p.si)->failed, 1);
	assert_int_equal(pairing_session_stats(p.sj)->failed, 1);
	assert_int_equal(pairing_session_state(p.si), PAIRING_WAITING_FOR_CONNECTION);
	assert_int_equal(pairing_session_state(p.sj), PAIRING_WAITING_FOR_CONNECTION);
	assert_int_equal(pairing_session_errno(p.sj), -ENOKEY);
	assert_null(pairing_session_result(p.si));
	pair_free(&p);
}

/* An attacker who learned the rendezvous id (from mDNS) but not the code:
 * a well-formed Hello under its own peer ID, then a Proof it has to guess. */
struct attacker {
	struct pairing_device_info d;
	uint8_t info[PAIRING_DEVICE_INFO_MAX];
	size_t info_len;
};

static void attacker_init(struct attacker *a, uint8_t seed)
{
	a->d = device(seed, "mallory");
	struct buf b = BUF_INIT;
	assert_int_equal(pairing_device_info_encode(&a->d, &b), 0);
	memcpy(a->info, b.data, b.len);
	a->info_len = b.len;
	buf_free(&b);
}

static struct buf attacker_hello(const struct attacker *a, const uint8_t *rid)
{
	struct pairing_msg m = {.type = PAIRING_MSG_HELLO, .version = PAIRING_VERSION};
	memcpy(m.rendezvous_id, rid, 32);
	memset(m.nonce, 0xaa, 32);
	uint8_t priv[32];
	assert_int_equal(x25519_keygen(priv, m.eph), 0);
	memcpy(m.info, a->info, a->info_len);
	m.info_len = a->info_len;
	return msg_bytes(&m);
}

/* Try one pairing as the attacker; the Proof is an HMAC under `guess`
 * (the rendezvous id itself, here) over a made-up transcript. */
static int attacker_try(struct pairing_session *si, struct attacker *a, uint64_t now,
                        struct pairing_exchange **ret_x)
{
	const uint8_t *rid = pairing_session_rendezvous_id(si);
	struct pairing_exchange *x = new_exchange(si, &a->d.peer_id, now);
	struct buf hello = attacker_hello(a, rid);
	int r = pairing_exchange_feed(x, hello.data, hello.len, now);
	buf_free(&hello);
	if (r == 0) {
		struct buf ch = take_output(x);
		struct pairing_msg c = decode_one(&ch);
		assert_int_equal(c.type, PAIRING_MSG_CHALLENGE);
		buf_free(&ch);
		struct pairing_msg proof = {.type = PAIRING_MSG_PROOF};
		assert_int_equal(crypto_hmac_sha256(rid, 32, c.mac, 32, proof.mac), 0);
		struct buf pb = msg_bytes(&proof);
		r = pairing_exchange_feed(x, pb.data, pb.len, now);
		buf_free(&pb);
	}
	*ret_x = x;
	return r;
}

/* The initiator's own MAC sent back as the Proof: the role labels differ, so
 * reflection does not work (nor does the rendezvous id as a key). */
static void test_reflected_mac_refused(void **state)
{
	struct pairing_device_info di = device(1, "alice");
	struct pairing_session *si = new_session(true, code_a, &di, T0, 0);
	struct attacker a;
	attacker_init(&a, 45);
	struct pairing_exchange *x = new_exchange(si, &a.d.peer_id, T0);
	struct buf hello = attacker_hello(&a, pairing_session_rendezvous_id(si));
	assert_int_equal(pairing_exchange_feed(x, hello.data, hello.len, T0), 0);
	struct buf ch = take_output(x);
	struct pairing_msg c = decode_one(&ch);
	struct pairing_msg proof = {.type = PAIRING_MSG_PROOF};
	memcpy(proof.mac, c.mac, PAIRING_MAC_LEN);
	struct buf pb = msg_bytes(&proof);
	assert_int_equal(pairing_exchange_feed(x, pb.data, pb.len, T0), -EACCES);
	assert_null(pairing_session_result(si));
	buf_free(&pb);
	buf_free(&ch);
	buf_free(&hello);
	pairing_exchange_free(x);
	pairing_session_free(si);
}

static void test_three_failed_proofs_cancel(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_session *si = new_session(true, code_a, &di, T0, 0);
	for (int i = 0; i < PAIRING_MAX_FAILURES; i++) {
		struct attacker a;
		attacker_init(&a, (uint8_t)(40 + i));
		struct pairing_exchange *x;
		assert_int_equal(attacker_try(si, &a, T0 + (uint64_t)i, &x), -EACCES);
		assert_error_has(pairing_exchange_error(x), "wrong proof");
		assert_result_sent(x, PAIRING_STATUS_BAD_PROOF);
		assert_int_equal(pairing_session_stats(si)->failed_proofs, (unsigned)i + 1);
		assert_int_equal(pairing_session_state(si), i + 1 < PAIRING_MAX_FAILURES
		                                                    ? PAIRING_WAITING_FOR_CONNECTION
		                                                    : PAIRING_CANCELLED);
		pairing_exchange_free(x);
	}
	assert_error_has(pairing_session_error(si), "3 failed proofs");
	char words[BIP39_MNEMONIC_MAX];
	assert_int_equal(pairing_session_words(si, words), -ESTALE);
	/* The real joiner now hears "cancelled". */
	struct pairing_session *sj = new_session(false, code_a, &dj, T0, 0);
	struct pairing_exchange *xj = new_exchange(sj, &di.peer_id, T0);
	struct pairing_exchange *xi = new_exchange(si, &dj.peer_id, T0);
	assert_int_equal(pass(xj, xi, T0), -ECANCELED);
	assert_int_equal(pass(xi, xj, T0), -ECANCELED);
	assert_int_equal(pairing_exchange_state(xj), PAIRING_CANCELLED);
	pairing_exchange_free(xi);
	pairing_exchange_free(xj);
	pairing_session_free(sj);
	pairing_session_free(si);
}

/* A fake initiator that knows the rendezvous id (it can answer a Hello) but
 * not the code: the joiner refuses its Challenge and sends no proof. */
static int fake_initiator_answer(struct pairing_exchange *xj, const struct attacker *a,
                                 uint64_t now)
{
	struct buf hello = take_output(xj);
	struct pairing_msg h = decode_one(&hello);
	assert_int_equal(h.type, PAIRING_MSG_HELLO);
	buf_free(&hello);
	struct pairing_msg c = {.type = PAIRING_MSG_CHALLENGE};
	memset(c.nonce, 0xbb, 32);
	uint8_t priv[32];
	assert_int_equal(x25519_keygen(priv, c.eph), 0);
	memcpy(c.info, a->info, a->info_len);
	c.info_len = a->info_len;
	assert_int_equal(crypto_hmac_sha256(h.rendezvous_id, 32, h.nonce, 32, c.mac), 0);
	struct buf cb = msg_bytes(&c);
	int r = pairing_exchange_feed(xj, cb.data, cb.len, now);
	buf_free(&cb);
	return r;
}

static void test_rendezvous_only_impostor_initiator(void **state)
{
	struct pairing_device_info dj = device(2, "bob");
	struct pairing_session *sj = new_session(false, code_a, &dj, T0, 0);
	for (int i = 0; i < PAIRING_MAX_FAILURES; i++) {
		struct attacker a;
		attacker_init(&a, (uint8_t)(50 + i));
		struct pairing_exchange *xj = new_exchange(sj, &a.d.peer_id, T0);
		assert_int_equal(fake_initiator_answer(xj, &a, T0), -EACCES);
		assert_error_has(pairing_exchange_error(xj), "did not prove");
		/* The joiner never proves anything to an impostor. */
		assert_no_output(xj);
		pairing_exchange_free(xj);
	}
	assert_int_equal(pairing_session_stats(sj)->failed_proofs, PAIRING_MAX_FAILURES);
	assert_int_equal(pairing_session_state(sj), PAIRING_FAILED);
	assert_error_has(pairing_session_error(sj), "failed 3 times");
	struct pairing_exchange *x = NULL;
	struct peerid other = peer_of_seed(60);
	assert_int_equal(pairing_exchange_new(sj, &other, T0, &x), -ESTALE);
	pairing_session_free(sj);
}

static void test_expiry(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_session *si = new_session(true, code_a, &di, T0, 60000);
	struct pairing_session *sj = new_session(false, code_a, &dj, T0, 0);
	assert_int_equal(pairing_session_next_timeout(si), T0 + 60000);
	/* Hello/Challenge just before the end... */
	struct pairing_exchange *xj = new_exchange(sj, &di.peer_id, T0 + 59000);
	struct pairing_exchange *xi = new_exchange(si, &dj.peer_id, T0 + 59000);
	assert_int_equal(pairing_session_next_timeout(si), T0 + 60000);
	assert_int_equal(pass(xj, xi, T0 + 59000), 0);
	assert_int_equal(pass(xi, xj, T0 + 59000), 0);
	/* ...and the Proof arrives at the deadline: refused as expired. */
	pairing_session_tick(si, T0 + 59999);
	assert_int_equal(pairing_session_state(si), PAIRING_AUTHENTICATING);
	assert_int_equal(pass(xj, xi, T0 + 60000), -ETIME);
	assert_int_equal(pairing_exchange_state(xi), PAIRING_EXPIRED);
	assert_int_equal(pairing_session_state(si), PAIRING_EXPIRED);
	assert_result_sent(xi, PAIRING_STATUS_EXPIRED);
	char words[BIP39_MNEMONIC_MAX];
	assert_int_equal(pairing_session_words(si, words), -ESTALE);
	pairing_exchange_free(xi);
	pairing_exchange_free(xj);
	/* A later joiner hears "expired". */
	xj = new_exchange(sj, &di.peer_id, T0 + 70000);
	xi = new_exchange(si, &dj.peer_id, T0 + 70000);
	assert_int_equal(pass(xj, xi, T0 + 70000), -ETIME);
	assert_int_equal(pass(xi, xj, T0 + 70000), -ETIME);
	assert_error_has(pairing_exchange_error(xj), "expired");
	assert_int_equal(pairing_session_stats(si)->refused_late, 1);
	pairing_exchange_free(xi);
	pairing_exchange_free(xj);
	/* Expiry by the timer alone, for the joiner too; then no new stream. */
	assert_int_equal(pairing_session_next_timeout(si), UINT64_MAX);
	pairing_session_tick(sj, T0 + PAIRING_DEFAULT_LIFETIME_MS);
	assert_int_equal(pairing_session_state(sj), PAIRING_EXPIRED);
	struct pairing_exchange *x = NULL;
	assert_int_equal(
	        pairing_exchange_new(sj, &di.peer_id, T0 + PAIRING_DEFAULT_LIFETIME_MS, &x),
	        -ESTALE);
	pairing_session_free(si);
	pairing_session_free(sj);
}

static void complete_pair(struct pair *p, uint64_t now)
{
	assert_int_equal(pass(p->xj, p->xi, now), 0);
	assert_int_equal(pass(p->xi, p->xj, now), 0);
	assert_int_equal(pass(p->xj, p->xi, now), 0);
	assert_int_equal(pass(p->xi, p->xj, now), 0);
	assert_int_equal(pairing_session_state(p->si), PAIRING_COMPLETED);
}

static void test_code_reuse_refused(void **state)
{
	struct pair p;
	pair_setup(&p, code_a, code_a, T0);
	complete_pair(&p, T0);
	/* A second joiner, with the right code, after success. */
	struct pairing_device_info dk = device(3, "carol");
	struct pairing_session *sk = new_session(false, code_a, &dk, T0, 0);
	struct pairing_exchange *xk = new_exchange(sk, &p.di.peer_id, T0 + 1);
	struct pairing_exchange *xi2 = new_exchange(p.si, &dk.peer_id, T0 + 1);
	assert_int_equal(pairing_session_state(p.si), PAIRING_COMPLETED);
	assert_int_equal(pass(xk, xi2, T0 + 1), -EALREADY);
	assert_int_equal(pass(xi2, xk, T0 + 1), -EALREADY);
	assert_error_has(pairing_exchange_error(xk), "code already used");
	/* The first pairing's result is untouched. */
	assert_string_equal(pairing_session_result(p.si)->peer.name, "bob");
	pairing_exchange_free(xi2);
	pairing_exchange_free(xk);
	pairing_session_free(sk);
	pair_free(&p);
}

static void test_concurrent_joiners_one_wins(void **state)
{
	struct pair p;
	pair_setup(&p, code_a, code_a, T0);
	struct pairing_device_info dk = device(3, "carol");
	struct pairing_session *sk = new_session(false, code_a, &dk, T0, 0);
	struct pairing_exchange *xk = new_exchange(sk, &p.di.peer_id, T0);
	struct pairing_exchange *xi2 = new_exchange(p.si, &dk.peer_id, T0);
	assert_int_equal(pass(xk, xi2, T0), 0);
	assert_int_equal(pass(xi2, xk, T0), 0);
	complete_pair(&p, T0);
	/* The other exchange was ended with "code already used". */
	assert_int_equal(pairing_exchange_state(xi2), PAIRING_FAILED);
	assert_int_equal(pairing_exchange_errno(xi2), -EALREADY);
	assert_int_equal(pass(xi2, xk, T0), -EALREADY);
	assert_null(pairing_session_result(sk));
	pairing_exchange_free(xi2);
	pairing_exchange_free(xk);
	pairing_session_free(sk);
	pair_free(&p);
}

static void test_replay_fails(void **state)
{
	struct pair p;
	pair_setup(&p, code_a, code_a, T0);
	struct buf hello = take_output(p.xj);
	assert_int_equal(pairing_exchange_feed(p.xi, hello.data, hello.len, T0), 0);
	struct buf challenge = take_output(p.xi);
	assert_int_equal(pairing_exchange_feed(p.xj, challenge.data, challenge.len, T0), 0);
	struct buf proof = take_output(p.xj);
	assert_int_equal(pairing_exchange_feed(p.xi, proof.data, proof.len, T0), 0);
	assert_int_equal(pass(p.xi, p.xj, T0), 0);

	/* The same code in a new session (say, regenerated from the words):
	 * the old Hello earns a fresh Challenge, the old Proof fails, even on
	 * a stream from the same peer. */
	struct pairing_session *si2 = new_session(true, code_a, &p.di, T0, 0);
	struct pairing_exchange *x = new_exchange(si2, &p.dj.peer_id, T0);
	assert_int_equal(pairing_exchange_feed(x, hello.data, hello.len, T0), 0);
	struct buf ch2 = take_output(x);
	assert_memory_not_equal(ch2.data, challenge.data,
	                        ch2.len < challenge.len ? ch2.len : challenge.len);
	assert_int_equal(pairing_exchange_feed(x, proof.data, proof.len, T0), -EACCES);
	assert_result_sent(x, PAIRING_STATUS_BAD_PROOF);
	pairing_exchange_free(x);
	buf_free(&ch2);

	/* The old Challenge replayed to a new joiner exchange fails: its
	 * nonce and ephemeral key are not in that transcript. */
	struct pairing_session *sj2 = new_session(false, code_a, &p.dj, T0, 0);
	x = new_exchange(sj2, &p.di.peer_id, T0);
	struct buf discard = take_output(x);
	buf_free(&discard);
	assert_int_equal(pairing_exchange_feed(x, challenge.data, challenge.len, T0), -EACCES);
	assert_no_output(x);
	pairing_exchange_free(x);

	/* And on the original, completed session: "code already used". */
	x = new_exchange(p.si, &p.dj.peer_id, T0);
	assert_int_equal(pairing_exchange_feed(x, hello.data, hello.len, T0), -EALREADY);
	pairing_exchange_free(x);

	pairing_session_free(sj2);
	pairing_session_free(si2);
	buf_free(&hello);
	buf_free(&challenge);
	buf_free(&proof);
	pair_free(&p);
}

/* Rewrite the DeviceInfo inside a Hello or Challenge. */
static struct buf with_info(const struct buf *msg, const struct pairing_device_info *d)
{
	struct pairing_msg m = decode_one(msg);
	struct buf enc = BUF_INIT;
	assert_int_equal(pairing_device_info_encode(d, &enc), 0);
	memcpy(m.info, enc.data, enc.len);
	m.info_len = enc.len;
	buf_free(&enc);
	return msg_bytes(&m);
}

/* J dials M thinking it is the initiator; M dials I. Two Noise sessions:
 * J sees peer M, I sees peer M. Whatever M forwards or rewrites, nobody
 * pairs. */
static void test_relay_between_noise_sessions_fails(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_device_info dm = device(7, "mallory");
	uint64_t now = T0;
	for (int variant = 0; variant < 3; variant++) {
		struct pairing_session *si = new_session(true, code_a, &di, now, 0);
		struct pairing_session *sj = new_session(false, code_a, &dj, now, 0);
		struct pairing_exchange *xj = new_exchange(sj, &dm.peer_id, now);
		struct pairing_exchange *xi = new_exchange(si, &dm.peer_id, now);
		struct buf hello = take_output(xj);
		if (variant == 0) {
			/* Verbatim: I sees bob's record on mallory's stream. */
			assert_int_equal(pairing_exchange_feed(xi, hello.data, hello.len, now),
			                 -EPERM);
			assert_error_has(pairing_exchange_error(xi), "names peer");
			assert_result_sent(xi, PAIRING_STATUS_BAD_DEVICE_INFO);
		} else {
			/* M claims the Hello as its own; I answers M... */
			struct buf h2 = with_info(&hello, &dm);
			assert_int_equal(pairing_exchange_feed(xi, h2.data, h2.len, now), 0);
			buf_free(&h2);
			struct buf ch = take_output(xi);
			struct buf fwd = variant == 1 ? ch : with_info(&ch, &dm);
			/* ...but J sees alice's record on mallory's stream (1), or
			 * a record for mallory that the MAC does not cover (2). */
			int want = variant == 1 ? -EPERM : -EACCES;
			assert_int_equal(pairing_exchange_feed(xj, fwd.data, fwd.len, now), want);
			assert_no_output(xj);
			if (variant == 2)
				buf_free(&fwd);
			buf_free(&ch);
		}
		buf_free(&hello);
		assert_null(pairing_session_result(si));
		assert_null(pairing_session_result(sj));
		pairing_exchange_free(xi);
		pairing_exchange_free(xj);
		pairing_session_free(si);
		pairing_session_free(sj);
	}
}

/* Noise says the stream is from peer X, DeviceInfo says Y: refused on both
 * sides. */
static void test_device_info_peer_mismatch(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct peerid other = peer_of_seed(8);
	/* At the initiator. */
	struct pairing_session *si = new_session(true, code_a, &di, T0, 0);
	struct pairing_session *sj = new_session(false, code_a, &dj, T0, 0);
	struct pairing_exchange *xj = new_exchange(sj, &di.peer_id, T0);
	struct pairing_exchange *xi = new_exchange(si, &other, T0);
	assert_int_equal(pass(xj, xi, T0), -EPERM);
	assert_int_equal(pass(xi, xj, T0), -EPERM);
	assert_error_has(pairing_exchange_error(xj), "device information refused");
	pairing_exchange_free(xi);
	pairing_exchange_free(xj);
	/* At the joiner. */
	xj = new_exchange(sj, &other, T0);
	xi = new_exchange(si, &dj.peer_id, T0);
	assert_int_equal(pass(xj, xi, T0), 0);
	assert_int_equal(pass(xi, xj, T0), -EPERM);
	assert_no_output(xj);
	pairing_exchange_free(xi);
	pairing_exchange_free(xj);
	/* Our own peer ID as the remote is a caller bug. */
	struct pairing_exchange *x = NULL;
	assert_int_equal(pairing_exchange_new(si, &di.peer_id, T0, &x), -EINVAL);
	pairing_session_free(si);
	pairing_session_free(sj);
}

/* Feed raw bytes to a fresh exchange of the given role; return the result,
 * the error text in `why` and, for the initiator, the Result code sent. */
static int feed_fresh(bool initiator, const void *data, size_t len, char *why, uint32_t *ret_code)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_session *s = new_session(initiator, code_a, initiator ? &di : &dj, T0, 0);
	struct pairing_exchange *x = new_exchange(s, initiator ? &dj.peer_id : &di.peer_id, T0);
	struct buf discard = take_output(x);
	buf_free(&discard);
	int r = pairing_exchange_feed(x, data, len, T0);
	snprintf(why, ERRMSG_MAX, "%s", pairing_exchange_error(x));
	*ret_code = UINT32_MAX;
	struct buf out = take_output(x);
	if (out.len) {
		struct pairing_msg m = decode_one(&out);
		*ret_code = m.code;
	}
	buf_free(&out);
	pairing_exchange_free(x);
	pairing_session_free(s);
	return r;
}

static void test_malformed_input(void **state)
{
	char why[ERRMSG_MAX];
	uint32_t code;
	/* Not a protobuf. */
	assert_int_equal(feed_fresh(true, "\x03\xff\xff\xff", 4, why, &code), -EPROTO);
	assert_error_has(why, "not a valid protobuf");
	assert_int_equal(code, PAIRING_STATUS_PROTOCOL_ERROR);
	/* A length over the cap, refused on the prefix alone. */
	assert_int_equal(feed_fresh(true, "\x81\x08", 2, why, &code), -EMSGSIZE);
	assert_error_has(why, "over 1024 bytes");
	/* A non-minimal length prefix. */
	assert_int_equal(feed_fresh(false, "\x83\x00", 2, why, &code), -EPROTO);
	assert_error_has(why, "length prefix");
	/* An empty message: no message set. */
	assert_int_equal(feed_fresh(true, "\x00", 1, why, &code), -EPROTO);
	assert_error_has(why, "no known message");

	/* Out of order: a Proof or Result first, a Hello to the joiner. */
	struct pairing_msg proof = {.type = PAIRING_MSG_PROOF};
	struct buf b = msg_bytes(&proof);
	assert_int_equal(feed_fresh(true, b.data, b.len, why, &code), -EPROTO);
	assert_error_has(why, "expected Hello from the joiner, got Proof");
	buf_free(&b);
	struct pairing_msg ok = {.type = PAIRING_MSG_RESULT, .code = 0};
	b = msg_bytes(&ok);
	assert_int_equal(feed_fresh(true, b.data, b.len, why, &code), -EPROTO);
	/* A joiner told "ok" before any proof does not believe it. */
	assert_int_equal(feed_fresh(false, b.data, b.len, why, &code), -EPROTO);
	assert_error_has(why, "before proving");
	assert_int_equal(code, UINT32_MAX); /* joiners send no Result */
	buf_free(&b);
	struct attacker a;
	attacker_init(&a, 2);
	struct buf hello = attacker_hello(&a, (const uint8_t *)V_RID);
	assert_int_equal(feed_fresh(false, hello.data, hello.len, why, &code), -EPROTO);
	assert_error_has(why, "expected Challenge from the initiator, got Hello");

	/* Bytes after the message, before our reply. */
	assert_int_equal(buf_append(&hello, "\x00", 1), 0);
	assert_int_equal(feed_fresh(true, hello.data, hello.len, why, &code), -EPROTO);
	assert_error_has(why, "1 bytes after its message");
	buf_free(&hello);

	/* Hello of another version; field of the wrong size; missing field. */
	struct pairing_msg h = {.type = PAIRING_MSG_HELLO, .version = 2, .info_len = 1};
	b = msg_bytes(&h);
	assert_int_equal(feed_fresh(true, b.data, b.len, why, &code), -EPROTONOSUPPORT);
	assert_int_equal(code, PAIRING_STATUS_UNSUPPORTED_VERSION);
	assert_error_has(why, "version 2");
	buf_free(&b);
	/* Hand-built Hellos: version 1, a 32-byte rendezvous id, a 31-byte
	 * nonce; then one without the rendezvous id. */
	uint8_t raw[2 + 2 + 71] = {0x47, 0x0a, 0x45, 0x28, 0x01, 0x0a, 0x20};
	raw[7 + 32] = 0x12;
	raw[7 + 33] = 0x1f;
	assert_int_equal(feed_fresh(true, raw, 1 + 0x47, why, &code), -EPROTO);
	assert_error_has(why, "Hello nonce has 31 bytes, expected 32");
	uint8_t no_rid[] = {0x04, 0x0a, 0x02, 0x28, 0x01};
	assert_int_equal(feed_fresh(true, no_rid, sizeof(no_rid), why, &code), -EPROTO);
	assert_error_has(why, "Hello lacks rendezvous_id");
	uint8_t no_code[] = {0x02, 0x22, 0x00};
	assert_int_equal(feed_fresh(false, no_code, sizeof(no_code), why, &code), -EPROTO);
	assert_error_has(why, "Result lacks code");

	/* A Hello with a malformed DeviceInfo (right code). */
	struct attacker bad;
	attacker_init(&bad, 2);
	bad.info_len = 5; /* cut inside device_id */
	struct pairing_keys k;
	assert_int_equal(pairing_keys_derive(code_a, &k), 0);
	hello = attacker_hello(&bad, k.rendezvous_id);
	assert_int_equal(feed_fresh(true, hello.data, hello.len, why, &code), -EPERM);
	assert_int_equal(code, PAIRING_STATUS_BAD_DEVICE_INFO);
	assert_error_has(why, "the joiner's DeviceInfo");
	buf_free(&hello);

	/* A low-order ephemeral key (all zeros). */
	struct pairing_msg lo = {.type = PAIRING_MSG_HELLO, .version = 1};
	attacker_init(&a, 2);
	memcpy(lo.rendezvous_id, k.rendezvous_id, 32);
	memcpy(lo.info, a.info, a.info_len);
	lo.info_len = a.info_len;
	b = msg_bytes(&lo);
	assert_int_equal(feed_fresh(true, b.data, b.len, why, &code), -EPROTO);
	assert_error_has(why, "low-order");
	buf_free(&b);
	pairing_keys_wipe(&k);

	/* Refusals a joiner maps to errno values; unknown codes too. */
	struct pairing_msg res = {.type = PAIRING_MSG_RESULT, .code = PAIRING_STATUS_RATE_LIMITED};
	b = msg_bytes(&res);
	assert_int_equal(feed_fresh(false, b.data, b.len, why, &code), -EAGAIN);
	buf_free(&b);
	res.code = 1000;
	b = msg_bytes(&res);
	assert_int_equal(feed_fresh(false, b.data, b.len, why, &code), -ECONNREFUSED);
	assert_error_has(why, "unknown reason");
	buf_free(&b);
}

static void test_oversized_stream(void **state)
{
	/* A megabyte in one feed: refused without buffering it. */
	size_t big = 1 << 20;
	uint8_t *junk = calloc(1, big);
	assert_non_null(junk);
	junk[0] = 0x10; /* a 16-byte frame, then far too much */
	char why[ERRMSG_MAX];
	uint32_t code;
	assert_int_equal(feed_fresh(true, junk, big, why, &code), -EPROTO);
	free(junk);
}

static void test_eof_and_feed_after_end(void **state)
{
	struct pair p;
	pair_setup(&p, code_a, code_a, T0);
	struct buf hello = take_output(p.xj);
	assert_int_equal(pairing_exchange_feed(p.xi, hello.data, 10, T0), 0);
	assert_int_equal(pairing_exchange_eof(p.xi, T0), -EPROTO);
	assert_error_has(pairing_exchange_error(p.xi),
	                 "before sending its Hello (a message was cut");
	assert_int_equal(pairing_exchange_feed(p.xi, hello.data, hello.len, T0), -EALREADY);
	assert_int_equal(pairing_exchange_eof(p.xi, T0), 0);
	/* Joiner side: the initiator hung up without answering. */
	assert_int_equal(pairing_exchange_eof(p.xj, T0), -EPROTO);
	assert_error_has(pairing_exchange_error(p.xj), "before sending its Challenge");
	assert_int_equal(pairing_session_stats(p.sj)->failed, 1);
	buf_free(&hello);
	pair_free(&p);
}

/* One pairing attempt by a joiner with a wrong code; returns what the
 * initiator's exchange and the joiner's exchange report. */
static void wrong_code_try(struct pairing_session *si, const struct pairing_device_info *di,
                           const struct pairing_device_info *dj, uint64_t now, int want)
{
	struct pairing_session *sj = new_session(false, code_b, dj, now, 0);
	struct pairing_exchange *xj = new_exchange(sj, &di->peer_id, now);
	struct pairing_exchange *xi = new_exchange(si, &dj->peer_id, now);
	assert_int_equal(pass(xj, xi, now), want);
	assert_int_equal(pass(xi, xj, now), want);
	pairing_exchange_free(xi);
	pairing_exchange_free(xj);
	pairing_session_free(sj);
}

static void test_rate_limited_hellos(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_session *si = new_session(true, code_a, &di, T0, 0);
	/* A guesser (wrong code) from one peer: 3 tries, then refused. */
	for (int i = 0; i <= PAIRING_LIMIT_PEER_BURST; i++)
		wrong_code_try(si, &di, &dj, T0, i < PAIRING_LIMIT_PEER_BURST ? -ENOKEY : -EAGAIN);
	assert_int_equal(pairing_session_stats(si)->rate_limited, 1);
	assert_int_equal(pairing_session_stats(si)->unknown_code, PAIRING_LIMIT_PEER_BURST);
	/* Guessing never cancels the session: only failed proofs do. */
	assert_int_equal(pairing_session_state(si), PAIRING_WAITING_FOR_CONNECTION);
	/* Time passes: one more try is allowed. */
	uint64_t later = T0 + PAIRING_LIMIT_PEER_INTERVAL_MS;
	wrong_code_try(si, &di, &dj, later, -ENOKEY);
	wrong_code_try(si, &di, &dj, later, -EAGAIN);
	/* The real joiner, from another peer, still pairs. */
	struct pairing_device_info dk = device(3, "carol");
	struct pairing_session *sk = new_session(false, code_a, &dk, T0, 0);
	struct pair p = {.di = di, .dj = dk, .si = si, .sj = sk};
	p.xj = new_exchange(sk, &di.peer_id, later);
	p.xi = new_exchange(si, &dk.peer_id, later);
	complete_pair(&p, later);
	pair_free(&p);
}

static void test_exchange_cap_and_timeouts(void **state)
{
	struct pairing_device_info di = device(1, "alice"), dj = device(2, "bob");
	struct pairing_session *si = new_session(true, code_a, &di, T0, 0);
	struct pairing_exchange *idle[PAIRING_MAX_EXCHANGES];
	for (int i = 0; i < PAIRING_MAX_EXCHANGES; i++) {
		struct peerid p = peer_of_seed((uint8_t)(20 + i));
		idle[i] = new_exchange(si, &p, T0 + (uint64_t)i);
	}
	assert_int_equal(pairing_session_next_timeout(si), T0 + PAIRING_EXCHANGE_TIMEOUT_MS);
	/* One more idle stream replaces the oldest idle one. */
	struct pairing_exchange *x = new_exchange(si, &dj.peer_id, T0 + 100);
	assert_int_equal(pairing_exchange_state(idle[0]), PAIRING_FAILED);
	assert_int_equal(pairing_exchange_errno(idle[0]), -EBUSY);
	assert_int_equal(pairing_exchange_state(idle[1]), PAIRING_CONNECTED);
	/* Streams that stall time out (and do not count as failed proofs). */
	pairing_session_tick(si, T0 + 1 + PAIRING_EXCHANGE_TIMEOUT_MS);
	assert_int_equal(pairing_exchange_state(idle[1]), PAIRING_FAILED);
	assert_int_equal(pairing_exchange_errno(idle[1]), -ETIMEDOUT);
	assert_int_equal(pairing_exchange_state(idle[2]), PAIRING_CONNECTED);
	assert_int_equal(pairing_session_stats(si)->failed_proofs, 0);
	assert_int_equal(pairing_session_state(si), PAIRING_CONNECTED);
	for (int i = 0; i < PAIRING_MAX_EXCHANGES; i++)
		pairing_exchange_free(idle[i]);
	pairing_exchange_free(x);
	assert_int_equal(pairing_session_state(si), PAIRING_WAITING_FOR_CONNECTION);

	/* A joiner has no one to evict: -EBUSY. */
	struct pairing_session *sj = new_session(false, code_a, &dj, T0, 0);
	struct pairing_exchange *js[PAIRING_MAX_EXCHANGES];
	for (int i = 0; i < PAIRING_MAX_EXCHANGES; i++) {
		struct peerid p = peer_of_seed((uint8_t)(20 + i));
		js[i] = new_exchange(sj, &p, T0);
	}
	struct pairing_exchange *extra = NULL;
	assert_int_equal(pairing_exchange_new(sj, &di.peer_id, T0, &extra), -EBUSY);
	/* Three stalled initiators end the joiner session. */
	pairing_session_tick(sj, T0 + PAIRING_EXCHANGE_TIMEOUT_MS);
	assert_int_equal(pairing_session_state(sj), PAIRING_FAILED);
	assert_int_equal(pairing_session_errno(sj), -ETIMEDOUT);
	for (int i = 0; i < PAIRING_MAX_EXCHANGES; i++) {
		assert_true(pairing_state_is_final(pairing_exchange_state(js[i])));
		pairing_exchange_free(js[i]);
	}
	pairing_session_free(sj);
	pairing_session_free(si);
}

static void test_cancel_and_free_order(void **state)
{
	struct pair p;
	pair_setup(&p, code_a, code_a, T0);
	assert_int_equal(pass(p.xj, p.xi, T0), 0);
	assert_int_equal(pairing_session_cancel(p.si), 0);
	assert_int_equal(pairing_session_cancel(p.si), -EALREADY);
	assert_int_equal(pairing_exchange_state(p.xi), PAIRING_CANCELLED);
	/* The unsent Challenge gave way to the Result. */
	struct buf out = take_output(p.xi);
	struct pairing_msg m = decode_one(&out);
	assert_int_equal(m.type, PAIRING_MSG_RESULT);
	assert_int_equal(m.code, PAIRING_STATUS_CANCELLED);
	assert_int_equal(pairing_exchange_feed(p.xj, out.data, out.len, T0), -ECANCELED);
	assert_int_equal(pairing_exchange_state(p.xj), PAIRING_CANCELLED);
	buf_free(&out);
	/* Free the session before its exchange: the exchange ends cleanly. */
	struct pairing_exchange *x2 = new_exchange(p.sj, &p.di.peer_id, T0);
	assert_null(pairing_session_free(p.sj));
	p.sj = NULL;
	assert_int_equal(pairing_exchange_state(x2), PAIRING_CANCELLED);
	assert_error_has(pairing_exchange_error(x2), "session ended");
	assert_int_equal(pairing_exchange_feed(x2, (const uint8_t *)"\x00", 1, T0), -EALREADY);
	pairing_session_tick(NULL, T0);
	pairing_exchange_free(x2);
	pair_free(&p);
	assert_null(pairing_exchange_free(NULL));
	assert_null(pairing_session_free(NULL));
}

static void test_state_names(void **state)
{
	assert_string_equal(pairing_state_name(PAIRING_WAITING_FOR_CONNECTION),
	                    "WaitingForConnection");
	assert_string_equal(pairing_state_name(PAIRING_EXPIRED), "Expired");
	assert_false(pairing_state_is_final(PAIRING_AUTHENTICATING));
	assert_true(pairing_state_is_final(PAIRING_CANCELLED));
	assert_int_equal(pairing_status_errno(PAIRING_STATUS_CODE_USED), -EALREADY);
	assert_int_equal(pairing_status_errno(PAIRING_STATUS_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_schedule_vector),
	        cmocka_unit_test(test_code_words),
	        cmocka_unit_test(test_transcript_vector),
	        cmocka_unit_test(test_transcript_binds_every_field),
	        cmocka_unit_test(test_device_info_rules),
	        cmocka_unit_test(test_rate_limit_buckets),
	        cmocka_unit_test(test_happy_path_every_cut),
	        cmocka_unit_test(test_session_keys_fresh_per_pairing),
	        cmocka_unit_test(test_initiator_from_words),
	        cmocka_unit_test(test_wrong_code),
	        cmocka_unit_test(test_reflected_mac_refused),
	        cmocka_unit_test(test_three_failed_proofs_cancel),
	        cmocka_unit_test(test_rendezvous_only_impostor_initiator),
	        cmocka_unit_test(test_expiry),
	        cmocka_unit_test(test_code_reuse_refused),
	        cmocka_unit_test(test_concurrent_joiners_one_wins),
	        cmocka_unit_test(test_replay_fails),
	        cmocka_unit_test(test_relay_between_noise_sessions_fails),
	        cmocka_unit_test(test_device_info_peer_mismatch),
	        cmocka_unit_test(test_malformed_input),
	        cmocka_unit_test(test_oversized_stream),
	        cmocka_unit_test(test_eof_and_feed_after_end),
	        cmocka_unit_test(test_rate_limited_hellos),
	        cmocka_unit_test(test_exchange_cap_and_timeouts),
	        cmocka_unit_test(test_cancel_and_free_order),
	        cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
