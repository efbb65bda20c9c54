/* Noise: the key schedule constants of checklist §7.1, the byte-exact libp2p
 * handshake of checklist §7.5 (@chainsafe/libp2p-noise 16.1.5 with fixed
 * keys), in-memory handshakes between our own initiator and responder with
 * every way of cutting the byte stream, frame splitting past 65519 bytes,
 * inlined muxer negotiation, and every failure: tampering, wrong peer, bad
 * signature, malformed payloads, short and truncated frames, nonce
 * exhaustion. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "noise-handshake.h"
#include "noise-payload.h"
#include "noise-symmetric.h"
#include "noise-transport.h"
#include "noise.h"

#define YAMUX "/yamux/1.0.0"
#define MPLEX "/mplex/6.7.0"

/* Checklist §2.4 / §7.5 keys. */
#define INIT_SEED "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
#define INIT_PEER "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define RESP_PEER "12D3KooWHFd1gyNYFqxt7ke9FY2VoVVWY2XSPhvL9vg2pB6wQGfa"

#define V_MSG1 "0020ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59"
#define V_MSG2                                                                                     \
	"00d8ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10bb719b14d19eaf5ca91c8" \
	"9748c5ce8668e6864f05ee2367682b3e0c2fd086f0b4f64162733f3fe548251c518fe8c03ccea02da3639e59" \
	"f36f3050dd3b123110a2e3875a3ef6a3e272aadf8ad6651bcc74d6268ab453e07a025677e5d579d483276cdc" \
	"442a43b68693e2ec0c3433819e559c92fb75a350ba79fa390e13945395aaee53cfbcd192686e0f4e44a69c9d" \
	"fc186bc437c9c841853e956092ddb10cc9f7246b6354d8dc0a914cd77ccae5dc67df0a06ed30b82741d8"
#define V_MSG3                                                                                     \
	"00b8539a5cf3ae8a0a9134b32bfa775a1522db3558a1351ed4101989b8b88aa6a6f0ab28848aae054982fd51" \
	"886319826c764d46bc2ab3b7c359826168d18cb22f46e9af3ae57bda0f722b1375e93de0549bb9a4e569affc" \
	"4d7cc559724b3a604272b38ae31b22df675a2565830159142d0e68b8c34dd05e07136edfdee69836e55fa620" \
	"19025882f76d92468849ddd15b23bbae179fc2043e18e3aa65506c26ac752ece86e7dcd8dac1fe56b2b24bd4" \
	"fa18ff130d613e6cb7d2"
#define V_HASH "54362e43d001c9e1ee9c32be80ea9042fe30110327fc6d0df5e20f2a5926a521"
#define V_HELLO "0015f5c8fdccae8939c5a6d0d9be2753d6cf345c85961d"
#define V_WORLD "0015ef940bdf5a86302dad53e2e4243977a108057c9693"
#define V_INIT_PAYLOAD                                                                             \
	"0a24080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e1240ba31f4f7" \
	"ea12a8bada15fba84f9e68b785772d5b70851f88e4d290577db75d6b58104af9d95761c18aebd1efb88d9141" \
	"db90e4204f5a25b6250db89ea308e805220e120c2f79616d75782f312e302e30"
#define V_RESP_PAYLOAD                                                                             \
	"0a24080112206e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf11240549ade1f" \
	"dd3a592b5425d9c747d809e5200eeb468ad5ad0944e39a9f01b88c0bb912b7c687376b6ad25baceaf69d5f8c" \
	"d75be016c04dfc34489307f7591dbc01220e120c2f79616d75782f312e302e30"

static const char *const yamux_only[] = {YAMUX};

static void fill(uint8_t *p, uint8_t v, size_t n)
{
	memset(p, v, n);
}

static struct privkey key_from_hex(const char *hex)
{
	struct buf seed = th_hex(hex);
	assert_int_equal(seed.len, ED25519_SEED_LEN);
	struct privkey k;
	assert_int_equal(privkey_from_seed(seed.data, &k), 0);
	buf_free(&seed);
	return k;
}

static struct privkey key_from_byte(uint8_t v)
{
	uint8_t seed[ED25519_SEED_LEN];
	fill(seed, v, sizeof(seed));
	struct privkey k;
	assert_int_equal(privkey_from_seed(seed, &k), 0);
	return k;
}

static struct peerid peer_of(const char *text)
{
	struct peerid id;
	assert_int_equal(peerid_parse(text, &id, NULL), 0);
	return id;
}

static void assert_peer(const struct peerid *id, const char *text)
{
	assert_non_null(id);
	char s[PEERID_TEXT_MAX];
	assert_true(peerid_to_string(id, s, sizeof(s)) > 0);
	assert_string_equal(s, text);
}

/* Take all pending output of n into out. */
static void drain(struct noise *n, struct buf *out)
{
	const uint8_t *p;
	size_t len;
	noise_pending_output(n, &p, &len);
	assert_int_equal(buf_append(out, p, len), 0);
	noise_output_consumed(n, len);
}

static void assert_output_hex(struct noise *n, const char *hex)
{
	const uint8_t *p;
	size_t len;
	noise_pending_output(n, &p, &len);
	th_assert_hex(p, len, hex);
	noise_output_consumed(n, len);
}

static void feed_all(struct noise *n, const struct buf *b)
{
	assert_int_equal(noise_feed(n, b->data, b->len), (long)b->len);
}

/* ---- the building blocks ---- */

static void test_initial_hash(void **state)
{
	struct noise_symmetric s;
	noise_sym_init(&s, "", 0);
	th_assert_hex(s.h, sizeof(s.h),
	              "f3d15e6108ed9556171207baa58f97d29a13c6be40595166066e2e0958dc002d");
	/* ck is the unhashed protocol name. */
	assert_memory_equal(s.ck, NOISE_PROTOCOL_NAME, NOISE_HASH_LEN);
	noise_sym_wipe(&s);
}

static void test_payload_vector(void **state)
{
	struct privkey id = key_from_hex(INIT_SEED);
	struct buf spub =
	        th_hex("a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209");
	struct buf out = BUF_INIT;
	assert_int_equal(noise_payload_encode(&id, spub.data, yamux_only, 1, &out), 0);
	th_assert_hex(out.data, out.len, V_INIT_PAYLOAD);

	struct noise_payload_result res;
	assert_int_equal(
	        noise_payload_verify(out.data, out.len, spub.data, yamux_only, 1, true, &res, NULL),
	        0);
	assert_peer(&res.peer, INIT_PEER);
	assert_true(res.has_muxers);
	assert_int_equal(res.muxer, 0);
	th_assert_hex(res.identity_key, res.identity_key_len,
	              "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
	free(res.identity_key);

	/* The same payload does not vouch for another static key. */
	spub.data[0] ^= 1;
	struct errmsg err = {{0}};
	assert_int_equal(
	        noise_payload_verify(out.data, out.len, spub.data, yamux_only, 1, true, &res, &err),
	        -EKEYREJECTED);
	assert_non_null(strstr(err.text, INIT_PEER));
	buf_free(&out);
	buf_free(&spub);
	privkey_wipe(&id);
}

static void test_responder_payload_vector(void **state)
{
	struct buf pl = th_hex(V_RESP_PAYLOAD);
	struct buf spub =
	        th_hex("5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22");
	struct noise_payload_result res;
	assert_int_equal(
	        noise_payload_verify(pl.data, pl.len, spub.data, yamux_only, 1, false, &res, NULL),
	        0);
	assert_peer(&res.peer, RESP_PEER);
	free(res.identity_key);
	/* And we produce it byte for byte from seed 05x32. */
	struct privkey id = key_from_byte(5);
	struct buf out = BUF_INIT;
	assert_int_equal(noise_payload_encode(&id, spub.data, yamux_only, 1, &out), 0);
	th_assert_hex(out.data, out.len, V_RESP_PAYLOAD);
	buf_free(&out);
	buf_free(&pl);
	buf_free(&spub);
	privkey_wipe(&id);
}

static bool all_zero_key(const struct noise_cipher *c)
{
	for (size_t i = 0; i < sizeof(c->k); i++)
		if (c->k[i])
			return false;
	return !c->has_key && !c->aead;
}

static void test_cipher_nonce_exhaustion(void **state)
{
	uint8_t k[NOISE_KEY_LEN] = {1}, ct[NOISE_TAG_LEN + 1], pt[1] = {'x'};
	struct noise_cipher c;
	noise_cipher_init(&c, k);
	c.n = NOISE_NONCE_MAX - 1;
	assert_int_equal(noise_cipher_encrypt(&c, NULL, 0, pt, 1, ct), 0);
	assert_int_equal(c.n, NOISE_NONCE_MAX);
	assert_int_equal(noise_cipher_encrypt(&c, NULL, 0, pt, 1, ct), -EOVERFLOW);

	struct noise_cipher d;
	noise_cipher_init(&d, k);
	d.n = NOISE_NONCE_MAX - 1;
	uint8_t back[1];
	ct[0] ^= 1;
	assert_int_equal(noise_cipher_decrypt(&d, NULL, 0, ct, sizeof(ct), back), -EBADMSG);
	assert_int_equal(d.n, NOISE_NONCE_MAX - 1); /* failure does not advance */
	ct[0] ^= 1;
	assert_int_equal(noise_cipher_decrypt(&d, NULL, 0, ct, sizeof(ct), back), 0);
	assert_int_equal(back[0], 'x');
	assert_int_equal(d.n, NOISE_NONCE_MAX);
	assert_int_equal(noise_cipher_decrypt(&d, NULL, 0, ct, sizeof(ct), back), -EOVERFLOW);
	noise_cipher_wipe(&c);
	noise_cipher_wipe(&d);
	assert_null(c.aead);
	assert_true(all_zero_key(&d));
}

static void test_transport_nonce_exhaustion(void **state)
{
	uint8_t k1[NOISE_KEY_LEN] = {1}, k2[NOISE_KEY_LEN] = {2};
	struct noise_cipher a, b;
	noise_cipher_init(&a, k1);
	noise_cipher_init(&b, k2);
	a.n = NOISE_NONCE_MAX - 1;
	struct noise_transport t;
	noise_transport_init(&t, &a, &b);
	struct buf out = BUF_INIT;
	assert_int_equal(noise_transport_encrypt(&t, (const uint8_t *)"ab", 2, &out), 0);
	assert_int_equal(out.len, 2 + 2 + NOISE_TAG_LEN);
	assert_int_equal(noise_transport_encrypt(&t, (const uint8_t *)"ab", 2, &out), -EOVERFLOW);
	assert_int_equal(out.len, 2 + 2 + NOISE_TAG_LEN); /* untouched on error */
	noise_transport_wipe(&t);
	buf_free(&out);
}

/* ---- the §7.5 vector ---- */

struct vec_keys {
	struct privkey id;
	uint8_t s[32], e[32];
};

static struct noise *vector_side(enum noise_role role, struct vec_keys *k,
                                 const struct peerid *expect)
{
	bool init = role == NOISE_INITIATOR;
	k->id = init ? key_from_hex(INIT_SEED) : key_from_byte(5);
	fill(k->s, init ? 1 : 3, 32);
	fill(k->e, init ? 2 : 4, 32);
	struct noise_config cfg = {
	        .role = role,
	        .identity = &k->id,
	        .expected_peer = expect,
	        .muxers = yamux_only,
	        .n_muxers = 1,
	        .static_key = k->s,
	        .test_ephemeral_key = k->e,
	};
	struct noise *n;
	assert_int_equal(noise_new(&cfg, &n), 0);
	privkey_wipe(&k->id); /* copied */
	return n;
}

static void test_vector_handshake(void **state)
{
	struct vec_keys ki, kr;
	struct peerid want_resp = peer_of(RESP_PEER);
	struct noise *i = vector_side(NOISE_INITIATOR, &ki, &want_resp);
	struct noise *r = vector_side(NOISE_RESPONDER, &kr, NULL);
	struct buf m1 = th_hex(V_MSG1), m2 = th_hex(V_MSG2), m3 = th_hex(V_MSG3);

	assert_output_hex(i, V_MSG1);
	feed_all(r, &m1);
	assert_output_hex(r, V_MSG2);
	feed_all(i, &m2);
	assert_int_equal(noise_state(i), NOISE_DONE);
	assert_output_hex(i, V_MSG3);
	feed_all(r, &m3);
	assert_int_equal(noise_state(r), NOISE_DONE);

	th_assert_hex(noise_handshake_hash(i), 32, V_HASH);
	th_assert_hex(noise_handshake_hash(r), 32, V_HASH);
	assert_peer(noise_remote_peer(i), RESP_PEER);
	assert_peer(noise_remote_peer(r), INIT_PEER);
	assert_string_equal(noise_muxer(i), YAMUX);
	assert_string_equal(noise_muxer(r), YAMUX);
	const uint8_t *key;
	size_t key_len;
	assert_int_equal(noise_remote_identity_key(r, &key, &key_len), 0);
	th_assert_hex(key, key_len,
	              "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");

	struct buf w = BUF_INIT, p = BUF_INIT;
	assert_int_equal(noise_encrypt(i, (const uint8_t *)"hello", 5, &w), 0);
	th_assert_hex(w.data, w.len, V_HELLO);
	assert_int_equal(noise_decrypt(r, w.data, w.len, &p), 0);
	assert_int_equal(p.len, 5);
	assert_memory_equal(p.data, "hello", 5);
	buf_reset(&w);
	buf_reset(&p);
	assert_int_equal(noise_encrypt(r, (const uint8_t *)"world", 5, &w), 0);
	th_assert_hex(w.data, w.len, V_WORLD);
	assert_int_equal(noise_decrypt(i, w.data, w.len, &p), 0);
	assert_memory_equal(p.data, "world", 5);

	buf_free(&w);
	buf_free(&p);
	buf_free(&m1);
	buf_free(&m2);
	buf_free(&m3);
	noise_free(i);
	noise_free(r);
}

/* The initiator's message 3 and its first frame arrive in one read. */
static void test_vector_pipelined(void **state)
{
	struct vec_keys kr;
	struct noise *r = vector_side(NOISE_RESPONDER, &kr, NULL);
	struct buf m1 = th_hex(V_MSG1), in = th_hex(V_MSG3 V_HELLO);
	feed_all(r, &m1);
	struct buf m3 = th_hex(V_MSG3);
	assert_int_equal(noise_feed(r, in.data, in.len), (long)m3.len);
	assert_int_equal(noise_state(r), NOISE_DONE);
	assert_int_equal(noise_feed(r, in.data, 1), -EALREADY);
	struct buf p = BUF_INIT;
	assert_int_equal(noise_decrypt(r, in.data + m3.len, in.len - m3.len, &p), 0);
	assert_int_equal(p.len, 5);
	assert_memory_equal(p.data, "hello", 5);
	buf_free(&p);
	buf_free(&m1);
	buf_free(&m3);
	buf_free(&in);
	noise_free(r);
}

/* The responder, fed the handshake one byte at a time, ends the same. */
static void test_vector_bytewise(void **state)
{
	struct vec_keys kr;
	struct noise *r = vector_side(NOISE_RESPONDER, &kr, NULL);
	struct buf m1 = th_hex(V_MSG1), m3 = th_hex(V_MSG3);
	for (size_t k = 0; k < m1.len; k++) {
		assert_int_equal(noise_feed(r, m1.data + k, 1), 1);
		const uint8_t *p;
		size_t len;
		noise_pending_output(r, &p, &len);
		assert_int_equal(len, k + 1 < m1.len ? 0 : 218);
		assert_int_equal(noise_input_pending(r), k + 1 < m1.len ? k + 1 : 0);
	}
	assert_output_hex(r, V_MSG2);
	for (size_t k = 0; k < m3.len; k++)
		assert_int_equal(noise_feed(r, m3.data + k, 1), 1);
	assert_int_equal(noise_state(r), NOISE_DONE);
	th_assert_hex(noise_handshake_hash(r), 32, V_HASH);
	buf_free(&m1);
	buf_free(&m3);
	noise_free(r);
}

/* ---- our own initiator and responder ---- */

struct side {
	struct privkey id;
	struct noise *n;
};

struct opts {
	const char *const *imux;
	size_t n_imux;
	const char *const *rmux;
	size_t n_rmux;
	const struct peerid *i_expect;
	const struct peerid *r_expect;
};

static void side_new(struct side *x, enum noise_role role, uint8_t seed, const char *const *mux,
                     size_t n_mux, const struct peerid *expect)
{
	x->id = key_from_byte(seed);
	struct noise_config cfg = {
	        .role = role,
	        .identity = &x->id,
	        .expected_peer = expect,
	        .muxers = mux,
	        .n_muxers = n_mux,
	};
	assert_int_equal(noise_new(&cfg, &x->n), 0);
}

static void side_free(struct side *x)
{
	noise_free(x->n);
	privkey_wipe(&x->id);
}

static struct peerid peer_of_seed(uint8_t seed)
{
	struct privkey k = key_from_byte(seed);
	struct buf pb = BUF_INIT;
	assert_int_equal(privkey_encode_public(&k, &pb), 0);
	struct peerid id;
	assert_int_equal(peerid_from_pubkey_proto(pb.data, pb.len, &id), 0);
	buf_free(&pb);
	privkey_wipe(&k);
	return id;
}

/* Move pending output of from into to; returns to's feed result. */
static long pass(struct side *from, struct side *to)
{
	struct buf b = BUF_INIT;
	drain(from->n, &b);
	long r = noise_feed(to->n, b.data, b.len);
	if (r >= 0)
		assert_int_equal(r, (long)b.len);
	buf_free(&b);
	return r;
}

/* Run the three messages; returns the first feed error or 0. */
static long handshake(struct side *i, struct side *r, const struct opts *o)
{
	side_new(i, NOISE_INITIATOR, 0x11, o->imux, o->n_imux, o->i_expect);
	side_new(r, NOISE_RESPONDER, 0x22, o->rmux, o->n_rmux, o->r_expect);
	long e;
	if ((e = pass(i, r)) < 0 || (e = pass(r, i)) < 0 || (e = pass(i, r)) < 0)
		return e;
	assert_int_equal(noise_state(i->n), NOISE_DONE);
	assert_int_equal(noise_state(r->n), NOISE_DONE);
	return 0;
}

static const struct opts yamux_both = {yamux_only, 1, yamux_only, 1, NULL, NULL};

static void test_pair_handshake(void **state)
{
	struct side i, r;
	struct peerid pi = peer_of_seed(0x11), pr = peer_of_seed(0x22);
	struct opts o = yamux_both;
	o.i_expect = &pr;
	o.r_expect = &pi;
	assert_int_equal(handshake(&i, &r, &o), 0);
	assert_true(peerid_equal(noise_remote_peer(i.n), &pr));
	assert_true(peerid_equal(noise_remote_peer(r.n), &pi));
	assert_memory_equal(noise_handshake_hash(i.n), noise_handshake_hash(r.n), 32);
	assert_string_equal(noise_error(i.n), "");
	side_free(&i);
	side_free(&r);
}

static uint8_t *pattern(size_t len, uint8_t salt)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t k = 0; k < len; k++)
		p[k] = (uint8_t)(k * 131 + salt + (k >> 8));
	return p;
}

/* One message, its frames cut in two at every byte boundary. */
static void test_transport_every_split(void **state)
{
	struct side i, r;
	assert_int_equal(handshake(&i, &r, &yamux_both), 0);
	uint8_t *msg = pattern(300, 7);
	for (size_t cut = 0; cut <= 300 + 2 + NOISE_TAG_LEN; cut++) {
		struct buf w = BUF_INIT, p = BUF_INIT;
		assert_int_equal(noise_encrypt(i.n, msg, 300, &w), 0);
		assert_int_equal(w.len, 300 + 2 + NOISE_TAG_LEN);
		assert_int_equal(noise_decrypt(r.n, w.data, cut, &p), 0);
		assert_int_equal(p.len, cut == w.len ? 300 : 0);
		assert_int_equal(noise_input_pending(r.n), cut == w.len ? 0 : cut);
		assert_int_equal(noise_decrypt(r.n, w.data + cut, w.len - cut, &p), 0);
		assert_int_equal(p.len, 300);
		assert_memory_equal(p.data, msg, 300);
		buf_free(&w);
		buf_free(&p);
	}
	free(msg);
	side_free(&i);
	side_free(&r);
}

/* Several frames in one chunk, then the same bytes one at a time. */
static void test_transport_many_frames(void **state)
{
	struct side i, r;
	assert_int_equal(handshake(&i, &r, &yamux_both), 0);
	struct buf w = BUF_INIT, p = BUF_INIT;
	const char *words[] = {"a", "", "frames", "in one chunk"};
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(
		        noise_encrypt(r.n, (const uint8_t *)words[k], strlen(words[k]), &w), 0);
	/* The empty write sent nothing. */
	assert_int_equal(w.len, 3 * (2 + NOISE_TAG_LEN) + 1 + 6 + 12);
	assert_int_equal(noise_decrypt(i.n, w.data, w.len, &p), 0);
	assert_int_equal(p.len, 19);
	assert_memory_equal(p.data, "aframesin one chunk", 19);

	buf_reset(&w);
	buf_reset(&p);
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(
		        noise_encrypt(r.n, (const uint8_t *)words[k], strlen(words[k]), &w), 0);
	for (size_t k = 0; k < w.len; k++)
		assert_int_equal(noise_decrypt(i.n, w.data + k, 1, &p), 0);
	assert_int_equal(p.len, 19);
	assert_memory_equal(p.data, "aframesin one chunk", 19);
	buf_free(&w);
	buf_free(&p);
	side_free(&i);
	side_free(&r);
}

/* Writes past 65519 bytes become several maximal frames. */
static void test_transport_large(void **state)
{
	struct side i, r;
	assert_int_equal(handshake(&i, &r, &yamux_both), 0);
	const size_t sizes[] = {NOISE_MAX_PLAINTEXT, NOISE_MAX_PLAINTEXT + 1, 200000};
	for (size_t s = 0; s < 3; s++) {
		size_t len = sizes[s];
		uint8_t *msg = pattern(len, (uint8_t)s);
		struct buf w = BUF_INIT, p = BUF_INIT;
		assert_int_equal(noise_encrypt(i.n, msg, len, &w), 0);
		size_t frames = (len + NOISE_MAX_PLAINTEXT - 1) / NOISE_MAX_PLAINTEXT;
		assert_int_equal(w.len, len + frames * (2 + NOISE_TAG_LEN));
		/* Every frame but the last is exactly the 65535-byte maximum. */
		size_t off = 0;
		for (size_t f = 0; f < frames; f++) {
			size_t flen = (size_t)w.data[off] << 8 | w.data[off + 1];
			assert_int_equal(flen, f + 1 < frames ? NOISE_MAX_FRAME
			                                      : len - f * NOISE_MAX_PLAINTEXT +
			                                                NOISE_TAG_LEN);
			off += 2 + flen;
		}
		assert_int_equal(off, w.len);
		/* Deliver in odd-sized chunks that straddle frame boundaries. */
		for (size_t o = 0; o < w.len; o += 9973) {
			size_t n = w.len - o < 9973 ? w.len - o : 9973;
			assert_int_equal(noise_decrypt(r.n, w.data + o, n, &p), 0);
		}
		assert_int_equal(p.len, len);
		assert_memory_equal(p.data, msg, len);
		free(msg);
		buf_free(&w);
		buf_free(&p);
	}
	side_free(&i);
	side_free(&r);
}

/* Handshake messages split at every byte boundary. */
static void test_handshake_every_split(void **state)
{
	for (int which = 0; which < 3; which++) {
		struct side i, r;
		side_new(&i, NOISE_INITIATOR, 0x11, yamux_only, 1, NULL);
		side_new(&r, NOISE_RESPONDER, 0x22, yamux_only, 1, NULL);
		struct side *from[3] = {&i, &r, &i}, *to[3] = {&r, &i, &r};
		for (int m = 0; m < 3; m++) {
			struct buf b = BUF_INIT;
			drain(from[m]->n, &b);
			if (m != which) {
				assert_int_equal(noise_feed(to[m]->n, b.data, b.len), (long)b.len);
			} else {
				for (size_t k = 0; k < b.len; k++)
					assert_int_equal(noise_feed(to[m]->n, b.data + k, 1), 1);
			}
			buf_free(&b);
		}
		assert_int_equal(noise_state(i.n), NOISE_DONE);
		assert_int_equal(noise_state(r.n), NOISE_DONE);
		side_free(&i);
		side_free(&r);
	}
}

/* ---- failures ---- */

static void test_tampered_transport(void **state)
{
	struct side i, r;
	assert_int_equal(handshake(&i, &r, &yamux_both), 0);
	struct buf w = BUF_INIT, p = BUF_INIT;
	assert_int_equal(buf_append(&p, "kept", 4), 0);
	assert_int_equal(noise_encrypt(i.n, (const uint8_t *)"first", 5, &w), 0);
	assert_int_equal(noise_encrypt(i.n, (const uint8_t *)"second", 6, &w), 0);
	w.data[w.len - 3] ^= 0x40;
	/* The good first frame's plaintext is not delivered with the error. */
	assert_int_equal(noise_decrypt(r.n, w.data, w.len, &p), -EBADMSG);
	assert_int_equal(p.len, 4);
	assert_int_equal(noise_state(r.n), NOISE_FAILED);
	assert_non_null(strstr(noise_error(r.n), "authentication"));
	assert_int_equal(noise_decrypt(r.n, w.data, 1, &p), -EBADMSG);
	assert_int_equal(noise_encrypt(r.n, w.data, 1, &p), -EBADMSG);
	buf_free(&w);
	buf_free(&p);
	side_free(&i);
	side_free(&r);
}

static void test_replayed_frame(void **state)
{
	struct side i, r;
	assert_int_equal(handshake(&i, &r, &yamux_both), 0);
	struct buf w = BUF_INIT, p = BUF_INIT;
	assert_int_equal(noise_encrypt(i.n, (const uint8_t *)"once", 4, &w), 0);
	assert_int_equal(noise_decrypt(r.n, w.data, w.len, &p), 0);
	assert_int_equal(noise_decrypt(r.n, w.data, w.len, &p), -EBADMSG);
	buf_free(&w);
	buf_free(&p);
	side_free(&i);
	side_free(&r);
}

static void test_tampered_handshake(void **state)
{
	for (int m = 1; m < 3; m++) {
		struct side i, r;
		side_new(&i, NOISE_INITIATOR, 0x11, yamux_only, 1, NULL);
		side_new(&r, NOISE_RESPONDER, 0x22, yamux_only, 1, NULL);
		assert_true(pass(&i, &r) >= 0);
		struct side *from = m == 1 ? &r : &i, *to = m == 1 ? &i : &r;
		if (m == 2)
			assert_true(pass(&r, &i) >= 0);
		struct buf b = BUF_INIT;
		drain(from->n, &b);
		b.data[b.len - 1] ^= 1;
		assert_int_equal(noise_feed(to->n, b.data, b.len), -EBADMSG);
		assert_int_equal(noise_state(to->n), NOISE_FAILED);
		assert_null(noise_remote_peer(to->n));
		assert_non_null(strstr(noise_error(to->n), m == 1 ? "message 2" : "message 3"));
		buf_free(&b);
		side_free(&i);
		side_free(&r);
	}
}

static void test_wrong_peer(void **state)
{
	struct peerid other = peer_of_seed(0x33), pr = peer_of_seed(0x22);
	char want[PEERID_TEXT_MAX], got[PEERID_TEXT_MAX];
	peerid_to_string(&other, want, sizeof(want));
	peerid_to_string(&pr, got, sizeof(got));

	struct side i, r;
	struct opts o = yamux_both;
	o.i_expect = &other;
	assert_int_equal(handshake(&i, &r, &o), -EPERM);
	assert_int_equal(noise_state(i.n), NOISE_FAILED);
	assert_non_null(strstr(noise_error(i.n), want));
	assert_non_null(strstr(noise_error(i.n), got));
	/* Nothing was sent after the failure: no message 3. */
	const uint8_t *p;
	size_t len;
	noise_pending_output(i.n, &p, &len);
	assert_int_equal(len, 0);
	side_free(&i);
	side_free(&r);

	/* A responder told whom to expect checks message 3 the same way. */
	o = yamux_both;
	o.r_expect = &other;
	assert_int_equal(handshake(&i, &r, &o), -EPERM);
	assert_int_equal(noise_state(r.n), NOISE_FAILED);
	side_free(&i);
	side_free(&r);
}

/* A peer that plays the Noise part right but sends a payload of its own
 * making: a raw struct noise_hs stands in for it. */
struct rogue {
	struct noise_hs hs;
	struct side victim;
};

static void frame_into(struct buf *out, const struct buf *msg)
{
	assert_int_equal(buf_append_u16be(out, (uint16_t)msg->len), 0);
	assert_int_equal(buf_append(out, msg->data, msg->len), 0);
}

/* Run a rogue responder against our initiator; returns the feed result of
 * message 2 carrying payload. */
static long rogue_responder(struct rogue *x, const struct buf *payload)
{
	side_new(&x->victim, NOISE_INITIATOR, 0x11, yamux_only, 1, NULL);
	uint8_t s[32];
	fill(s, 9, 32);
	assert_int_equal(noise_hs_init(&x->hs, false, s, NULL), 0);
	struct buf m1 = BUF_INIT, pl = BUF_INIT, m2 = BUF_INIT, wire = BUF_INIT;
	drain(x->victim.n, &m1);
	assert_int_equal(noise_hs_read(&x->hs, m1.data + 2, m1.len - 2, &pl), 0);
	assert_int_equal(noise_hs_write(&x->hs, payload->data, payload->len, &m2), 0);
	frame_into(&wire, &m2);
	long r = noise_feed(x->victim.n, wire.data, wire.len);
	buf_free(&m1);
	buf_free(&pl);
	buf_free(&m2);
	buf_free(&wire);
	return r;
}

static void rogue_free(struct rogue *x)
{
	noise_hs_wipe(&x->hs);
	side_free(&x->victim);
}

/* A signature by a valid key, but over a static key other than the one in
 * the handshake. */
static void test_bad_signature(void **state)
{
	struct privkey id = key_from_byte(0x44);
	uint8_t wrong_static[32];
	fill(wrong_static, 0x5a, 32);
	struct buf pl = BUF_INIT;
	assert_int_equal(noise_payload_encode(&id, wrong_static, yamux_only, 1, &pl), 0);
	struct rogue x;
	assert_int_equal(rogue_responder(&x, &pl), -EKEYREJECTED);
	assert_int_equal(noise_state(x.victim.n), NOISE_FAILED);
	assert_non_null(strstr(noise_error(x.victim.n), "signature"));
	rogue_free(&x);

	/* The right static key, then one signature bit flipped. */
	uint8_t s[32], spub[32];
	fill(s, 9, 32);
	assert_int_equal(x25519_public(s, spub), 0);
	buf_reset(&pl);
	assert_int_equal(noise_payload_encode(&id, spub, yamux_only, 1, &pl), 0);
	struct rogue ok;
	assert_int_equal(rogue_responder(&ok, &pl), (long)(2 + 32 + 48 + pl.len + 16));
	assert_int_equal(noise_state(ok.victim.n), NOISE_DONE);
	rogue_free(&ok);
	pl.data[2 + 36 + 2 + 10] ^= 0x08; /* inside identity_sig */
	assert_int_equal(rogue_responder(&x, &pl), -EKEYREJECTED);
	rogue_free(&x);
	buf_free(&pl);
	privkey_wipe(&id);
}

static void expect_rogue_error(const char *payload_hex, int err, const char *text)
{
	struct buf pl = payload_hex[0] ? th_hex(payload_hex) : BUF_INIT;
	struct rogue x;
	assert_int_equal(rogue_responder(&x, &pl), err);
	assert_non_null(strstr(noise_error(x.victim.n), text));
	rogue_free(&x);
	buf_free(&pl);
}

static void test_malformed_payloads(void **state)
{
	/* Empty payload: no identity at all. */
	expect_rogue_error("", -EPROTO, "no identity key");
	/* Truncated protobuf. */
	expect_rogue_error("0a2408011220", -EPROTO, "not a valid protobuf");
	/* A key of unknown type 9. */
	expect_rogue_error("0a0508091201001240" /* sig */
	                   "0000000000000000000000000000000000000000000000000000000000000000"
	                   "0000000000000000000000000000000000000000000000000000000000000000",
	                   -EPROTONOSUPPORT, "unsupported");
	/* An Ed25519 key of 3 bytes. */
	expect_rogue_error("0a0708011203010203", -EPROTO, "malformed");
	/* A valid key and no signature. */
	expect_rogue_error(
	        "0a24080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
	        -EPROTO, "no identity signature");
}

static void test_short_handshake_messages(void **state)
{
	/* Message 1 of 31 bytes. */
	struct side r;
	side_new(&r, NOISE_RESPONDER, 0x22, NULL, 0, NULL);
	uint8_t m[33] = {0x00, 0x1f};
	assert_int_equal(noise_feed(r.n, m, 33), -EPROTO);
	assert_non_null(strstr(noise_error(r.n), "message 1"));
	assert_int_equal(noise_feed(r.n, m, 1), -EPROTO);
	side_free(&r);

	/* Zero-length message 1. */
	side_new(&r, NOISE_RESPONDER, 0x22, NULL, 0, NULL);
	const uint8_t empty[2] = {0, 0};
	assert_int_equal(noise_feed(r.n, empty, 2), -EPROTO);
	side_free(&r);

	/* Message 2 too short for e, s and a tag. */
	struct side i;
	side_new(&i, NOISE_INITIATOR, 0x11, NULL, 0, NULL);
	uint8_t m2[2 + 95] = {0x00, 95};
	assert_int_equal(noise_feed(i.n, m2, sizeof(m2)), -EPROTO);
	assert_non_null(strstr(noise_error(i.n), "message 2"));
	side_free(&i);

	/* A low-order ephemeral key (all zeros) in message 1. */
	side_new(&r, NOISE_RESPONDER, 0x22, NULL, 0, NULL);
	uint8_t zero[2 + 32] = {0x00, 0x20};
	assert_int_equal(noise_feed(r.n, zero, sizeof(zero)), -EPROTO);
	assert_non_null(strstr(noise_error(r.n), "low-order"));
	side_free(&r);
}

/* Frames shorter than the tag, and the stream ending mid-frame. */
static void test_bad_frames(void **state)
{
	const uint8_t lens[][2] = {{0x00, 0x00}, {0x00, 0x05}, {0x00, 0x0f}};
	for (size_t k = 0; k < 3; k++) {
		struct side i, r;
		assert_int_equal(handshake(&i, &r, &yamux_both), 0);
		struct buf p = BUF_INIT;
		uint8_t frame[2 + 15] = {lens[k][0], lens[k][1]};
		assert_int_equal(noise_decrypt(r.n, frame, sizeof(frame), &p), -EPROTO);
		assert_non_null(strstr(noise_error(r.n), "shorter than the tag"));
		assert_int_equal(p.len, 0);
		buf_free(&p);
		side_free(&i);
		side_free(&r);
	}

	/* A maximal frame announced, a truncated body: waits, then garbage
	 * fails authentication once complete. */
	struct side i, r;
	assert_int_equal(handshake(&i, &r, &yamux_both), 0);
	struct buf p = BUF_INIT;
	uint8_t *big = calloc(1, 2 + NOISE_MAX_FRAME);
	assert_non_null(big);
	big[0] = 0xff;
	big[1] = 0xff;
	assert_int_equal(noise_decrypt(r.n, big, 1000, &p), 0);
	assert_int_equal(noise_input_pending(r.n), 1000);
	assert_int_equal(noise_decrypt(r.n, big + 1000, 2 + NOISE_MAX_FRAME - 1000, &p), -EBADMSG);
	assert_int_equal(p.len, 0);
	buf_free(&p);
	free(big);
	side_free(&i);
	side_free(&r);
}

static void test_misuse(void **state)
{
	struct side i;
	side_new(&i, NOISE_INITIATOR, 0x11, NULL, 0, NULL);
	struct buf out = BUF_INIT;
	assert_int_equal(noise_encrypt(i.n, (const uint8_t *)"x", 1, &out), -ENOTCONN);
	assert_int_equal(noise_decrypt(i.n, (const uint8_t *)"x", 1, &out), -ENOTCONN);
	assert_int_equal(noise_state(i.n), NOISE_HANDSHAKING);
	assert_null(noise_remote_peer(i.n));
	assert_null(noise_muxer(i.n));
	assert_null(noise_handshake_hash(i.n));
	side_free(&i);

	struct privkey id = key_from_byte(1);
	struct noise *n = NULL;
	struct noise_config cfg = {.role = NOISE_RESPONDER};
	assert_int_equal(noise_new(&cfg, &n), -EINVAL);
	cfg.identity = &id;
	const char *bad[] = {""};
	cfg.muxers = bad;
	cfg.n_muxers = 1;
	assert_int_equal(noise_new(&cfg, &n), -EINVAL);
	const char *many[NOISE_MAX_MUXERS + 1];
	for (size_t k = 0; k <= NOISE_MAX_MUXERS; k++)
		many[k] = YAMUX;
	cfg.muxers = many;
	cfg.n_muxers = NOISE_MAX_MUXERS + 1;
	assert_int_equal(noise_new(&cfg, &n), -EINVAL);
	cfg.n_muxers = 0;
	assert_int_equal(noise_new(&cfg, &n), 0);
	/* A responder says nothing first. */
	const uint8_t *p;
	size_t len;
	noise_pending_output(n, &p, &len);
	assert_int_equal(len, 0);
	noise_free(n);
	assert_null(noise_free(NULL));
	privkey_wipe(&id);
}

/* ---- inlined muxer negotiation ---- */

static void check_muxers(const char *const *imux, size_t ni, const char *const *rmux, size_t nr,
                         long want_err, const char *want)
{
	struct side i, r;
	struct opts o = {imux, ni, rmux, nr, NULL, NULL};
	assert_int_equal(handshake(&i, &r, &o), want_err);
	if (want_err == 0) {
		if (want) {
			assert_string_equal(noise_muxer(i.n), want);
			assert_string_equal(noise_muxer(r.n), want);
		} else {
			assert_null(noise_muxer(i.n));
			assert_null(noise_muxer(r.n));
		}
	}
	side_free(&i);
	side_free(&r);
}

static void test_muxer_negotiation(void **state)
{
	static const char *const y_m[] = {YAMUX, MPLEX}, *const m_y[] = {MPLEX, YAMUX},
	                         *const m[] = {MPLEX};
	check_muxers(yamux_only, 1, yamux_only, 1, 0, YAMUX);
	/* The spec's example: the initiator's preference wins. */
	check_muxers(y_m, 2, m_y, 2, 0, YAMUX);
	check_muxers(m_y, 2, y_m, 2, 0, MPLEX);
	check_muxers(y_m, 2, m, 1, 0, MPLEX);
	/* Either list missing: fall back to multistream-select. */
	check_muxers(NULL, 0, yamux_only, 1, 0, NULL);
	check_muxers(yamux_only, 1, NULL, 0, 0, NULL);
	/* Both lists, nothing in common: the initiator fails at message 2. */
	check_muxers(m, 1, yamux_only, 1, -ENOPROTOOPT, NULL);
}

/* Without our own list the payload carries no extensions at all. */
static void test_no_muxers_no_extension(void **state)
{
	struct privkey id = key_from_hex(INIT_SEED);
	struct buf spub =
	        th_hex("a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209");
	struct buf out = BUF_INIT;
	assert_int_equal(noise_payload_encode(&id, spub.data, NULL, 0, &out), 0);
	/* The vector payload less its 16-byte extensions field. */
	struct buf full = th_hex(V_INIT_PAYLOAD);
	assert_int_equal(out.len, full.len - 16);
	assert_memory_equal(out.data, full.data, out.len);
	buf_free(&full);
	buf_free(&out);
	buf_free(&spub);
	privkey_wipe(&id);
}

/* A rogue initiator offering only mplex in message 3 to our responder. */
static void test_responder_muxer_mismatch(void **state)
{
	static const char *const m[] = {MPLEX};
	struct side r;
	side_new(&r, NOISE_RESPONDER, 0x22, yamux_only, 1, NULL);
	struct privkey id = key_from_byte(0x11);
	uint8_t s[32], spub[32];
	fill(s, 7, 32);
	assert_int_equal(x25519_public(s, spub), 0);
	struct noise_hs hs;
	assert_int_equal(noise_hs_init(&hs, true, s, NULL), 0);
	struct buf m1 = BUF_INIT, m2 = BUF_INIT, pl = BUF_INIT, m3 = BUF_INIT, wire = BUF_INIT;
	assert_int_equal(noise_hs_write(&hs, NULL, 0, &m1), 0);
	frame_into(&wire, &m1);
	feed_all(r.n, &wire);
	drain(r.n, &m2);
	assert_int_equal(noise_hs_read(&hs, m2.data + 2, m2.len - 2, &pl), 0);
	buf_reset(&pl);
	assert_int_equal(noise_payload_encode(&id, spub, m, 1, &pl), 0);
	assert_int_equal(noise_hs_write(&hs, pl.data, pl.len, &m3), 0);
	buf_reset(&wire);
	frame_into(&wire, &m3);
	assert_int_equal(noise_feed(r.n, wire.data, wire.len), -ENOPROTOOPT);
	assert_non_null(strstr(noise_error(r.n), "no stream muxer"));
	noise_hs_wipe(&hs);
	buf_free(&m1);
	buf_free(&m2);
	buf_free(&m3);
	buf_free(&pl);
	buf_free(&wire);
	privkey_wipe(&id);
	side_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_initial_hash),
	        cmocka_unit_test(test_payload_vector),
	        cmocka_unit_test(test_responder_payload_vector),
	        cmocka_unit_test(test_cipher_nonce_exhaustion),
	        cmocka_unit_test(test_transport_nonce_exhaustion),
	        cmocka_unit_test(test_vector_handshake),
	        cmocka_unit_test(test_vector_pipelined),
	        cmocka_unit_test(test_vector_bytewise),
	        cmocka_unit_test(test_pair_handshake),
	        cmocka_unit_test(test_transport_every_split),
	        cmocka_unit_test(test_transport_many_frames),
	        cmocka_unit_test(test_transport_large),
	        cmocka_unit_test(test_handshake_every_split),
	        cmocka_unit_test(test_tampered_transport),
	        cmocka_unit_test(test_replayed_frame),
	        cmocka_unit_test(test_tampered_handshake),
	        cmocka_unit_test(test_wrong_peer),
	        cmocka_unit_test(test_bad_signature),
	        cmocka_unit_test(test_malformed_payloads),
	        cmocka_unit_test(test_short_handshake_messages),
	        cmocka_unit_test(test_bad_frames),
	        cmocka_unit_test(test_misuse),
	        cmocka_unit_test(test_muxer_negotiation),
	        cmocka_unit_test(test_no_muxers_no_extension),
	        cmocka_unit_test(test_responder_muxer_mismatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
