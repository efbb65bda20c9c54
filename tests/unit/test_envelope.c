/* Signed envelopes and peer records: the checklist's byte-exact peer record
 * envelope (confirmed with js-libp2p), round trips, and every way an
 * envelope must be refused. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "keys.h"
#include "peerid.h"

#define SPEC_SEED "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
#define SPEC_PUB "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define SPEC_PEER_ID "0024" SPEC_PUB
#define SPEC_ADDR "047f000001060fa1" /* /ip4/127.0.0.1/tcp/4001 */
#define SPEC_RECORD                                                                                \
	"0a26" SPEC_PEER_ID "1080e2cfaa06"                                                         \
	"1a0a0a08" SPEC_ADDR
#define SPEC_SIG                                                                                   \
	"e030ea8298450ec8edb4c880101935ecd0ec4b3db92b31ee5b1cb2ef454b25169f633ca9ae6bd2df1eab"     \
	"2775b22d8e295d1368e776560716cddb7128d289f806"
#define SPEC_ENVELOPE                                                                              \
	"0a24" SPEC_PUB "12020301"                                                                 \
	"1a3a" SPEC_RECORD "2a40" SPEC_SIG
#define SPEC_SEQ 1700000000u

static struct privkey spec_key(void)
{
	struct buf seed = th_hex(SPEC_SEED);
	struct privkey k;
	assert_int_equal(privkey_from_seed(seed.data, &k), 0);
	buf_free(&seed);
	return k;
}

static struct peer_record spec_record(void)
{
	struct peer_record r = PEER_RECORD_INIT;
	struct buf id = th_hex(SPEC_PEER_ID), ma = th_hex(SPEC_ADDR);
	assert_int_equal(peerid_from_bytes(id.data, id.len, &r.id), 0);
	r.seq = SPEC_SEQ;
	assert_int_equal(peer_record_add_addr(&r, ma.data, ma.len), 0);
	buf_free(&id);
	buf_free(&ma);
	return r;
}

static void test_spec_record_encoding(void **state)
{
	struct peer_record r = spec_record();
	struct buf out = BUF_INIT;
	assert_int_equal(peer_record_encode(&r, &out), 0);
	th_assert_hex(out.data, out.len, SPEC_RECORD);
	buf_free(&out);
	peer_record_free(&r);
}

static void test_spec_envelope_sealed_byte_exact(void **state)
{
	/* Ed25519 is deterministic, so sealing the spec record with the spec
	 * key reproduces the checklist envelope exactly. */
	struct privkey k = spec_key();
	struct peer_record r = spec_record();
	struct buf out = BUF_INIT;
	assert_int_equal(peer_record_seal(&k, &r, &out), 0);
	assert_int_equal(out.len, 168);
	th_assert_hex(out.data, out.len, SPEC_ENVELOPE);
	buf_free(&out);
	peer_record_free(&r);
	privkey_wipe(&k);
}

static void test_spec_signed_bytes(void **state)
{
	/* The checklist's "bytes signed" verify under the spec key with the
	 * spec signature: the framing is varint(len) || part, three times. */
	struct buf tbs = th_hex("126c69627032702d706565722d7265636f7264"
	                        "020301"
	                        "3a" SPEC_RECORD);
	struct buf pub = th_hex(SPEC_PUB), sig = th_hex(SPEC_SIG);
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(pub.data, pub.len, &k), 0);
	assert_int_equal(pubkey_verify(k, tbs.data, tbs.len, sig.data, sig.len), 0);
	pubkey_free(k);
	buf_free(&tbs);
	buf_free(&pub);
	buf_free(&sig);
}

static void test_spec_envelope_opens(void **state)
{
	struct buf env = th_hex(SPEC_ENVELOPE);
	struct peer_record r;
	struct pubkey *key = NULL;
	struct errmsg err = {{0}};
	assert_int_equal(peer_record_open(env.data, env.len, &r, &key, &err), 0);
	assert_non_null(key);
	assert_int_equal(pubkey_type(key), KEY_TYPE_ED25519);
	struct buf enc = BUF_INIT;
	assert_int_equal(pubkey_encode(key, &enc), 0);
	th_assert_hex(enc.data, enc.len, SPEC_PUB);
	th_assert_hex(r.id.bytes, r.id.len, SPEC_PEER_ID);
	assert_true(r.seq == SPEC_SEQ);
	assert_int_equal(r.n_addrs, 1);
	th_assert_hex(r.addrs[0].data, r.addrs[0].len, SPEC_ADDR);

	/* The generic opener gives the payload and its type. */
	struct envelope e;
	assert_int_equal(envelope_open(env.data, env.len, PEER_RECORD_DOMAIN, NULL, 0, &e, &err),
	                 0);
	th_assert_hex(e.payload_type.data, e.payload_type.len, "0301");
	th_assert_hex(e.payload.data, e.payload.len, SPEC_RECORD);
	envelope_free(&e);
	buf_free(&enc);
	pubkey_free(key);
	peer_record_free(&r);
	buf_free(&env);
}

static void test_wrong_domain_and_type(void **state)
{
	struct buf env = th_hex(SPEC_ENVELOPE);
	struct envelope e;
	struct errmsg err = {{0}};
	/* Another domain (including RFC 0003's legacy one) breaks the signature. */
	assert_int_equal(
	        envelope_open(env.data, env.len, "libp2p-routing-state", NULL, 0, &e, &err),
	        -EKEYREJECTED);
	assert_non_null(strstr(err.text, "libp2p-routing-state"));
	assert_null(e.key);
	assert_int_equal(envelope_open(env.data, env.len, "libp2p-relay-rsvp", NULL, 0, &e, NULL),
	                 -EKEYREJECTED);
	/* Right domain, other expected type. */
	assert_int_equal(envelope_open(env.data, env.len, PEER_RECORD_DOMAIN,
	                               (const uint8_t *)"\x03\x02", 2, &e, &err),
	                 -ENOMSG);
	/* The varint form 81 06 is not the raw 03 01. */
	assert_int_equal(envelope_open(env.data, env.len, PEER_RECORD_DOMAIN,
	                               (const uint8_t *)"\x81\x06", 2, &e, &err),
	                 -ENOMSG);
	assert_int_equal(envelope_open(env.data, env.len, PEER_RECORD_DOMAIN,
	                               (const uint8_t *)"\x03\x01\x00", 3, &e, &err),
	                 -ENOMSG);
	assert_null(e.key);
	assert_int_equal(e.payload.len, 0);
	buf_free(&env);
}

/* Offsets in the spec envelope: public key data 4..36, type 40..42,
 * payload 44..102, signature 104..168. */
static void test_tampering_rejected(void **state)
{
	struct buf env = th_hex(SPEC_ENVELOPE);
	struct peer_record r;
	/* A flipped bit in the payload type, payload (seq byte, address byte)
	 * or signature; a different public key. */
	size_t flips[] = {41, 80, 101, 104, 167, 10};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		env.data[flips[i]] ^= 0x01;
		int rc = peer_record_open(env.data, env.len, &r, NULL, NULL);
		/* 03 01 -> 03 00 breaks the signature before the type check. */
		assert_int_equal(rc, -EKEYREJECTED);
		assert_int_equal(r.n_addrs, 0);
		env.data[flips[i]] ^= 0x01;
	}
	assert_int_equal(peer_record_open(env.data, env.len, &r, NULL, NULL), 0);
	peer_record_free(&r);
	buf_free(&env);
}

static void test_truncated_and_oversized(void **state)
{
	struct buf env = th_hex(SPEC_ENVELOPE);
	struct envelope e;
	for (size_t n = 0; n < env.len; n++) {
		int rc = envelope_open(env.data, n, PEER_RECORD_DOMAIN, NULL, 0, &e, NULL);
		assert_true(rc == -EBADMSG || rc == -EKEYREJECTED);
		assert_null(e.key);
	}
	uint8_t *big = calloc(1, ENVELOPE_MAX_SIZE + 1);
	assert_non_null(big);
	struct errmsg err = {{0}};
	assert_int_equal(envelope_open(big, ENVELOPE_MAX_SIZE + 1, "d", NULL, 0, &e, &err),
	                 -EMSGSIZE);
	assert_non_null(strstr(err.text, "limit"));
	free(big);
	/* Garbage. */
	struct buf junk = th_hex("ffffffffffffffffffff");
	assert_int_equal(envelope_open(junk.data, junk.len, "d", NULL, 0, &e, NULL), -EBADMSG);
	buf_free(&junk);
	buf_free(&env);
}

static void test_missing_fields(void **state)
{
	struct envelope e;
	/* No public key. */
	struct buf b = th_hex("12020301"
	                      "1a00"
	                      "2a40" SPEC_SIG);
	assert_int_equal(envelope_open(b.data, b.len, PEER_RECORD_DOMAIN, NULL, 0, &e, NULL),
	                 -EBADMSG);
	buf_free(&b);
	/* No signature. */
	b = th_hex("0a24" SPEC_PUB "12020301"
	           "1a3a" SPEC_RECORD);
	assert_int_equal(envelope_open(b.data, b.len, PEER_RECORD_DOMAIN, NULL, 0, &e, NULL),
	                 -EBADMSG);
	buf_free(&b);
	/* A public key of an unknown type. */
	b = th_hex("0a240809"
	           "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
	           "12020301"
	           "2a40" SPEC_SIG);
	assert_int_equal(envelope_open(b.data, b.len, PEER_RECORD_DOMAIN, NULL, 0, &e, NULL),
	                 -EPROTONOSUPPORT);
	buf_free(&b);
	/* Signature in field 4 (the RFC's draft number) is not a signature. */
	b = th_hex("0a24" SPEC_PUB "12020301"
	           "1a3a" SPEC_RECORD "2240" SPEC_SIG);
	assert_int_equal(envelope_open(b.data, b.len, PEER_RECORD_DOMAIN, NULL, 0, &e, NULL),
	                 -EBADMSG);
	buf_free(&b);
}

static void test_generic_roundtrip(void **state)
{
	struct privkey k;
	assert_int_equal(privkey_generate(&k), 0);
	const uint8_t type[] = {0x03, 0x02};
	const char *payload = "voucher bytes";
	struct buf out = BUF_INIT;
	assert_int_equal(envelope_seal(&k, "libp2p-relay-rsvp", type, 2, (const uint8_t *)payload,
	                               strlen(payload), &out),
	                 0);
	struct envelope e;
	assert_int_equal(envelope_open(out.data, out.len, "libp2p-relay-rsvp", type, 2, &e, NULL),
	                 0);
	assert_int_equal(e.payload.len, strlen(payload));
	assert_memory_equal(e.payload.data, payload, strlen(payload));
	struct buf enc = BUF_INIT, mine = BUF_INIT;
	assert_int_equal(pubkey_encode(e.key, &enc), 0);
	assert_int_equal(privkey_encode_public(&k, &mine), 0);
	assert_int_equal(enc.len, mine.len);
	assert_memory_equal(enc.data, mine.data, enc.len);
	envelope_free(&e);
	envelope_free(&e); /* idempotent */

	/* An empty payload is still signed and verified. */
	buf_reset(&out);
	assert_int_equal(envelope_seal(&k, "x", type, 1, NULL, 0, &out), 0);
	assert_int_equal(envelope_open(out.data, out.len, "x", type, 1, &e, NULL), 0);
	assert_int_equal(e.payload.len, 0);
	envelope_free(&e);
	assert_int_equal(envelope_open(out.data, out.len, "y", type, 1, &e, NULL), -EKEYREJECTED);

	/* Arguments and caps. */
	assert_int_equal(envelope_seal(&k, "", type, 2, NULL, 0, &out), -EINVAL);
	assert_int_equal(envelope_seal(&k, "d", type, 0, NULL, 0, &out), -EINVAL);
	uint8_t *big = calloc(1, ENVELOPE_MAX_SIZE);
	assert_non_null(big);
	/* The payload fits the cap but the envelope around it does not. */
	assert_int_equal(envelope_seal(&k, "d", type, 2, big, ENVELOPE_MAX_SIZE, &out), -EMSGSIZE);
	assert_int_equal(envelope_seal(&k, "d", type, 2, big, ENVELOPE_MAX_SIZE + 1, &out),
	                 -EMSGSIZE);
	free(big);
	buf_free(&out);
	buf_free(&enc);
	buf_free(&mine);
	privkey_wipe(&k);
}

static struct peerid id_of(const struct privkey *k)
{
	struct buf pub = BUF_INIT;
	assert_int_equal(privkey_encode_public(k, &pub), 0);
	struct peerid id;
	assert_int_equal(peerid_from_pubkey_proto(pub.data, pub.len, &id), 0);
	buf_free(&pub);
	return id;
}

static void test_record_roundtrip_many_addrs(void **state)
{
	struct privkey k;
	assert_int_equal(privkey_generate(&k), 0);
	struct peer_record r = PEER_RECORD_INIT;
	r.id = id_of(&k);
	r.seq = UINT64_MAX;
	for (uint8_t i = 0; i < 20; i++) {
		uint8_t ma[8] = {0x04, 10, 0, 0, i, 0x06, 0x0f, 0xa1};
		assert_int_equal(peer_record_add_addr(&r, ma, sizeof(ma)), 0);
	}
	struct buf out = BUF_INIT;
	assert_int_equal(peer_record_seal(&k, &r, &out), 0);
	struct peer_record back;
	assert_int_equal(peer_record_open(out.data, out.len, &back, NULL, NULL), 0);
	assert_true(peerid_equal(&back.id, &r.id));
	assert_true(back.seq == UINT64_MAX);
	assert_int_equal(back.n_addrs, 20);
	for (size_t i = 0; i < 20; i++) {
		assert_int_equal(back.addrs[i].len, 8);
		assert_int_equal(back.addrs[i].data[4], i);
	}
	peer_record_free(&back);
	peer_record_free(&r);
	/* A record with no addresses and seq 0 is valid too. */
	r = PEER_RECORD_INIT;
	r.id = id_of(&k);
	buf_reset(&out);
	assert_int_equal(peer_record_seal(&k, &r, &out), 0);
	assert_int_equal(peer_record_open(out.data, out.len, &back, NULL, NULL), 0);
	assert_int_equal(back.n_addrs, 0);
	assert_true(back.seq == 0);
	peer_record_free(&back);
	buf_free(&out);
	privkey_wipe(&k);
}

static void test_record_of_another_peer(void **state)
{
	/* A validly signed record naming someone else's peer ID is refused:
	 * otherwise any node could advertise addresses for any other. */
	struct privkey k = spec_key(), other;
	assert_int_equal(privkey_generate(&other), 0);
	struct peer_record r = spec_record();
	struct buf payload = BUF_INIT, out = BUF_INIT;
	assert_int_equal(peer_record_encode(&r, &payload), 0);
	assert_int_equal(envelope_seal(&other, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE,
	                               PEER_RECORD_PAYLOAD_TYPE_LEN, payload.data, payload.len,
	                               &out),
	                 0);
	struct peer_record back;
	struct errmsg err = {{0}};
	assert_int_equal(peer_record_open(out.data, out.len, &back, NULL, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.text, "peer_id"));
	assert_int_equal(back.n_addrs, 0);
	/* And we refuse to seal one. */
	assert_int_equal(peer_record_seal(&other, &r, &out), -EINVAL);
	peer_record_free(&r);
	buf_free(&payload);
	buf_free(&out);
	privkey_wipe(&k);
	privkey_wipe(&other);
}

static void test_record_decode_errors(void **state)
{
	struct peer_record r;
	struct errmsg err = {{0}};
	/* peer_id that is not a multihash. */
	struct buf b = th_hex("0a03ff0102"
	                      "1001");
	assert_int_equal(peer_record_decode(b.data, b.len, &r, &err), -EBADMSG);
	buf_free(&b);
	/* No peer_id at all. */
	b = th_hex("1001");
	assert_int_equal(peer_record_decode(b.data, b.len, &r, &err), -EBADMSG);
	buf_free(&b);
	/* An empty address. */
	b = th_hex("0a26" SPEC_PEER_ID "1a00");
	assert_int_equal(peer_record_decode(b.data, b.len, &r, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "address 0"));
	buf_free(&b);
	/* Truncated. */
	b = th_hex(SPEC_RECORD);
	for (size_t n = 1; n < b.len; n++) {
		int rc = peer_record_decode(b.data, n, &r, NULL);
		if (rc == 0)
			peer_record_free(&r);
		else
			assert_int_equal(rc, -EBADMSG);
	}
	buf_free(&b);
	/* More addresses than the cap. */
	b = th_hex("0a26" SPEC_PEER_ID);
	for (int i = 0; i <= PEER_RECORD_MAX_ADDRS; i++)
		assert_int_equal(buf_append(&b, "\x1a\x03\x0a\x01\x04", 5), 0);
	assert_int_equal(peer_record_decode(b.data, b.len, &r, &err), -EMSGSIZE);
	assert_int_equal(r.n_addrs, 0);
	buf_free(&b);
	/* And add_addr enforces the same cap. */
	struct peer_record many = spec_record();
	while (many.n_addrs < PEER_RECORD_MAX_ADDRS)
		assert_int_equal(peer_record_add_addr(&many, (const uint8_t *)"\x04", 1), 0);
	assert_int_equal(peer_record_add_addr(&many, (const uint8_t *)"\x04", 1), -EMSGSIZE);
	assert_int_equal(peer_record_add_addr(&many, (const uint8_t *)"", 0), -EINVAL);
	peer_record_free(&many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_record_encoding),
	        cmocka_unit_test(test_spec_envelope_sealed_byte_exact),
	        cmocka_unit_test(test_spec_signed_bytes),
	        cmocka_unit_test(test_spec_envelope_opens),
	        cmocka_unit_test(test_wrong_domain_and_type),
	        cmocka_unit_test(test_tampering_rejected),
	        cmocka_unit_test(test_truncated_and_oversized),
	        cmocka_unit_test(test_missing_fields),
	        cmocka_unit_test(test_generic_roundtrip),
	        cmocka_unit_test(test_record_roundtrip_many_addrs),
	        cmocka_unit_test(test_record_of_another_peer),
	        cmocka_unit_test(test_record_decode_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
