/* proto/devauth.c: frames, transcript, proofs and rotation keys. The
 * known answers come from tests/unit/gen-devauth-vectors.py (hashlib and
 * hmac, computed from the encodings in devauth.h, not from this code). */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "devauth.h"
#include "lpmsg.h"

static struct peerid peer_a, peer_b;
static uint8_t nonce_o[32], nonce_r[32];

static int setup(void **state)
{
	peer_a.len = peer_b.len = 38;
	for (int i = 0; i < 38; i++) {
		peer_a.bytes[i] = (uint8_t)i;
		peer_b.bytes[i] = (uint8_t)(0x40 + i);
	}
	memset(nonce_o, 0xa1, sizeof(nonce_o));
	memset(nonce_r, 0xb2, sizeof(nonce_r));
	return 0;
}

static struct devauth_transcript transcript(void)
{
	return (struct devauth_transcript){.opener = &peer_a,
	                                   .responder = &peer_b,
	                                   .nonce_o = nonce_o,
	                                   .nonce_r = nonce_r,
	                                   .epoch = 7};
}

/* ---- frames ---------------------------------------------------------------- */

static void test_hello_encoding(void **state)
{
	struct devauth_msg m = {.type = DEVAUTH_HELLO, .version = 1, .epoch = 7};
	memcpy(m.nonce, nonce_o, 32);
	_cleanup_buf_ struct buf b = BUF_INIT;
	assert_int_equal(devauth_encode(&m, &b), 0);
	th_assert_hex(b.data, b.len,
	              "2a01010000000000000007a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
	              "a1a1a1a1a1a1");
}

static void roundtrip(const struct devauth_msg *m)
{
	_cleanup_buf_ struct buf b = BUF_INIT;
	assert_int_equal(devauth_encode(m, &b), 0);
	const uint8_t *body;
	size_t len;
	long n = lpmsg_next(b.data, b.len, DEVAUTH_MAX_FRAME, &body, &len);
	assert_int_equal(n, (long)b.len);
	struct devauth_msg out;
	assert_int_equal(devauth_decode(body, len, &out, NULL), 0);
	assert_int_equal(out.type, m->type);
	assert_int_equal(out.epoch, m->epoch);
	assert_int_equal(out.session_epoch, m->session_epoch);
	assert_memory_equal(out.nonce, m->nonce, 32);
	assert_memory_equal(out.mac, m->mac, 32);
	assert_int_equal(out.code, m->code);
	assert_string_equal(out.reason, m->reason);
}

static void test_roundtrips(void **state)
{
	struct devauth_msg hp = {
	        .type = DEVAUTH_HELLO_PROOF, .version = 1, .epoch = 9, .session_epoch = 8};
	memset(hp.nonce, 3, 32);
	memset(hp.mac, 4, 32);
	roundtrip(&hp);
	struct devauth_msg p = {.type = DEVAUTH_PROOF};
	memset(p.mac, 5, 32);
	roundtrip(&p);
	struct devauth_msg r = {.type = DEVAUTH_RESULT, .code = DEVAUTH_BAD_PROOF};
	strcpy(r.reason, "the proof does not match");
	roundtrip(&r);
	struct devauth_msg ok = {.type = DEVAUTH_RESULT, .code = DEVAUTH_OK};
	roundtrip(&ok);
}

static void test_encode_refuses(void **state)
{
	_cleanup_buf_ struct buf b = BUF_INIT;
	struct devauth_msg m = {.type = DEVAUTH_RESULT, .code = DEVAUTH_OK};
	strcpy(m.reason, "bad\nline");
	assert_int_equal(devauth_encode(&m, &b), -EINVAL);
	m = (struct devauth_msg){.type = DEVAUTH_RESULT, .code = (enum devauth_code)99};
	assert_int_equal(devauth_encode(&m, &b), -EINVAL);
	m = (struct devauth_msg){.type = (enum devauth_type)9};
	assert_int_equal(devauth_encode(&m, &b), -EINVAL);
	assert_int_equal(b.len, 0);
}

static void expect_bad(const char *hex, int err)
{
	struct buf b = th_hex(hex);
	struct devauth_msg m;
	struct errmsg e = {{0}};
	assert_int_equal(devauth_decode(b.data, b.len, &m, &e), err);
	assert_true(e.text[0] != '\0');
	buf_free(&b);
}

static void test_decode_refuses(void **state)
{
	expect_bad("", -EBADMSG);           /* empty */
	expect_bad("09", -EBADMSG);         /* unknown type */
	expect_bad("0101000000", -EBADMSG); /* hello cut in the epoch */
	expect_bad("03"
	           "0505",
	           -EBADMSG);                 /* proof too short */
	expect_bad("0408", -EBADMSG);         /* result without length */
	expect_bad("040800", -EBADMSG);       /* unknown result code */
	expect_bad("04000341410a", -EBADMSG); /* control character in the reason */
	expect_bad("040005414141", -EBADMSG); /* reason shorter than announced */
	expect_bad("0400014141", -EBADMSG);   /* a byte after the frame */
	expect_bad("0100000000000000000000000000000000000000000000000000000000000000000000"
	           "0000",
	           -EBADMSG); /* version 0 */
	uint8_t big[DEVAUTH_MAX_FRAME + 1] = {4};
	struct devauth_msg m;
	assert_int_equal(devauth_decode(big, sizeof(big), &m, NULL), -EMSGSIZE);
}

/* ---- transcript and proofs ---------------------------------------------------------- */

static void test_transcript_kat(void **state)
{
	struct devauth_transcript t = transcript();
	uint8_t th[32], mac[32], key[32];
	memset(key, 0x11, sizeof(key));
	assert_int_equal(devauth_hash(&t, th), 0);
	th_assert_hex(th, 32, "688fbf5b07fc180dcd7b6029b4eb107f456f183c27ab849f609b2c78c6fe9f76");
	assert_int_equal(devauth_proof(key, DEVAUTH_OPENER, th, mac), 0);
	th_assert_hex(mac, 32, "581c54b6b2f6bda7d4d1669d6c3f10b4f7175bcc345d1a5cf4c1040ac28e4b68");
	assert_int_equal(devauth_proof(key, DEVAUTH_RESPONDER, th, mac), 0);
	th_assert_hex(mac, 32, "ed66036ac132c70b3c12d88af9de38ff4900aeb17e50999dcf4b8009501331a9");
	assert_int_equal(devauth_verify(key, DEVAUTH_RESPONDER, th, mac), 0);
}

/* A proof is bound to the role, both peer IDs, both nonces, the epoch and
 * the key: change any one and it no longer verifies. */
static void test_proof_binding(void **state)
{
	uint8_t key[32], other_key[32], th[32], mac[32], th2[32];
	memset(key, 0x11, 32);
	memset(other_key, 0x12, 32);
	struct devauth_transcript t = transcript();
	devauth_hash(&t, th);
	devauth_proof(key, DEVAUTH_OPENER, th, mac);
	assert_int_equal(devauth_verify(key, DEVAUTH_OPENER, th, mac), 0);
	assert_int_equal(devauth_verify(key, DEVAUTH_RESPONDER, th, mac), -EACCES);
	assert_int_equal(devauth_verify(other_key, DEVAUTH_OPENER, th, mac), -EACCES);
	struct devauth_transcript v[5] = {t, t, t, t, t};
	v[0].opener = &peer_b, v[0].responder = &peer_a; /* roles swapped */
	uint8_t n2[32];
	memset(n2, 0xa2, 32);
	v[1].nonce_o = n2;
	v[2].nonce_r = n2;
	v[3].epoch = 6;
	struct peerid third = peer_b;
	third.bytes[37] ^= 1;
	v[4].responder = &third; /* another peer (a relay in the middle) */
	for (int i = 0; i < 5; i++) {
		devauth_hash(&v[i], th2);
		assert_int_equal(devauth_verify(key, DEVAUTH_OPENER, th2, mac), -EACCES);
	}
	struct devauth_transcript bad = t;
	bad.nonce_r = NULL;
	assert_int_equal(devauth_hash(&bad, th2), -EINVAL);
}

static void test_session_epoch(void **state)
{
	uint64_t e = 99;
	assert_int_equal(devauth_session_epoch(3, false, 3, &e), 0);
	assert_int_equal(e, 3);
	assert_int_equal(devauth_session_epoch(3, false, 4, &e),
	                 0); /* the peer uses its previous */
	assert_int_equal(e, 3);
	assert_int_equal(devauth_session_epoch(4, true, 3, &e), 0); /* we use our previous */
	assert_int_equal(e, 3);
	e = 99;
	assert_int_equal(devauth_session_epoch(4, false, 3, &e), -ESTALE);
	assert_int_equal(devauth_session_epoch(5, true, 3, &e), -ESTALE);
	assert_int_equal(e, 99);
}

/* ---- rotation --------------------------------------------------------------------- */

static void fill_keys(struct pairing_session_keys *k, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(k->send_key, a, 32);
	memset(k->receive_key, b, 32);
	memset(k->send_mac_key, c, 32);
	memset(k->receive_mac_key, d, 32);
}

static void test_rekey_kat_and_agreement(void **state)
{
	uint8_t eph_p[32], eph_r[32], shared[32], th[32];
	memset(eph_p, 0xc3, 32);
	memset(eph_r, 0xd4, 32);
	memset(shared, 0xe5, 32);
	struct devauth_rekey t = {.proposer = &peer_a,
	                          .accepter = &peer_b,
	                          .epoch = 8,
	                          .eph_p = eph_p,
	                          .eph_r = eph_r};
	assert_int_equal(devauth_rekey_hash(&t, th), 0);
	th_assert_hex(th, 32, "5cd3f595a493ac3529e0d2b2a2ba3eb2aee63775695437444fa9a79e62070d84");
	struct devauth_rekey tp = t;
	tp.eph_r = NULL;
	uint8_t thp[32];
	devauth_rekey_hash(&tp, thp);
	th_assert_hex(thp, 32, "6c1b9d2c4ee6cd03bbb795bcd1dc1fc4449166a71af5a1bc90b031d9ec8bab83");

	struct pairing_session_keys p_old, a_old, p_new, a_new;
	fill_keys(&p_old, 0x21, 0x22, 0x23, 0x24);
	fill_keys(&a_old, 0x22, 0x21, 0x24, 0x23); /* the same keys, the other view */
	assert_int_equal(devauth_rekey_derive(shared, &p_old, DEVAUTH_PROPOSER, th, &p_new), 0);
	assert_int_equal(devauth_rekey_derive(shared, &a_old, DEVAUTH_ACCEPTER, th, &a_new), 0);
	th_assert_hex(p_new.send_key, 32,
	              "89af544f2cdf700ec7d5269fff396bc1bdfd20f88e5a52d580913c6c82dad002");
	th_assert_hex(p_new.receive_key, 32,
	              "c03ed29bfdd93952fbd7fdba6813a6785dea660ff71af02afb704c18ce6afe18");
	th_assert_hex(p_new.send_mac_key, 32,
	              "2a44fa40d7bfac424d3ce0c32a941fb0f30052da079bd3ed9245f0a842bb26b6");
	th_assert_hex(p_new.receive_mac_key, 32,
	              "cf4403b835777a0f822aaac242be173eda8bd57fac04e056912cca34187d53fa");
	assert_memory_equal(p_new.send_key, a_new.receive_key, 32);
	assert_memory_equal(p_new.receive_key, a_new.send_key, 32);
	assert_memory_equal(p_new.send_mac_key, a_new.receive_mac_key, 32);
	assert_memory_equal(p_new.receive_mac_key, a_new.send_mac_key, 32);
	/* The old keys feed in: a fresh exchange alone gives other keys. */
	struct pairing_session_keys forged_old, forged;
	fill_keys(&forged_old, 0, 0, 0, 0);
	devauth_rekey_derive(shared, &forged_old, DEVAUTH_PROPOSER, th, &forged);
	assert_memory_not_equal(forged.send_mac_key, p_new.send_mac_key, 32);
}

static void test_rekey_proofs(void **state)
{
	uint8_t key[32], th[32], mac[32];
	memset(key, 7, 32);
	memset(th, 8, 32);
	assert_int_equal(devauth_rekey_proof(key, DEVAUTH_REKEY_ACCEPT, th, mac), 0);
	assert_int_equal(devauth_rekey_verify(key, DEVAUTH_REKEY_ACCEPT, th, mac, 32), 0);
	assert_int_equal(devauth_rekey_verify(key, DEVAUTH_REKEY_COMMIT, th, mac, 32), -EACCES);
	assert_int_equal(devauth_rekey_verify(key, DEVAUTH_REKEY_ACCEPT, th, mac, 31), -EACCES);
	assert_int_equal(devauth_rekey_verify(key, DEVAUTH_REKEY_ACCEPT, th, NULL, 32), -EACCES);
	th[0] ^= 1;
	assert_int_equal(devauth_rekey_verify(key, DEVAUTH_REKEY_ACCEPT, th, mac, 32), -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hello_encoding),
	        cmocka_unit_test(test_roundtrips),
	        cmocka_unit_test(test_encode_refuses),
	        cmocka_unit_test(test_decode_refuses),
	        cmocka_unit_test(test_transcript_kat),
	        cmocka_unit_test(test_proof_binding),
	        cmocka_unit_test(test_session_epoch),
	        cmocka_unit_test(test_rekey_kat_and_agreement),
	        cmocka_unit_test(test_rekey_proofs),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
