/* Crypto wrappers: known-answer vectors from FIPS 180, RFC 4231, RFC 5869,
 * RFC 7914, RFC 7748, RFC 8439 and McGrew-Viega GCM, plus failure paths. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"

static void test_sha256(void **state)
{
	uint8_t d[SHA256_LEN];
	assert_int_equal(crypto_sha256("abc", 3, d), 0);
	th_assert_hex(d, sizeof(d),
	              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(crypto_sha256(NULL, 0, d), 0);
	th_assert_hex(d, sizeof(d),
	              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* FIPS 180-2 two-block message. */
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_int_equal(crypto_sha256(m, strlen(m), d), 0);
	th_assert_hex(d, sizeof(d),
	              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_int_equal(crypto_sha256(NULL, 1, d), -EINVAL);
}

static void test_sha256_incremental(void **state)
{
	uint8_t msg[1000];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	uint8_t one[SHA256_LEN], inc[SHA256_LEN];
	assert_int_equal(crypto_sha256(msg, sizeof(msg), one), 0);

	struct sha256_ctx *c = sha256_new();
	assert_non_null(c);
	/* Uneven pieces, including an empty one. */
	size_t cuts[] = {0, 1, 1, 63, 64, 65, 500, 1000};
	for (size_t i = 1; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		assert_int_equal(sha256_update(c, msg + cuts[i - 1], cuts[i] - cuts[i - 1]), 0);
	assert_int_equal(sha256_final(c, inc), 0);
	assert_memory_equal(one, inc, SHA256_LEN);

	/* A finished context starts over: "abc" hashes to the FIPS value. */
	assert_int_equal(sha256_update(c, "ab", 2), 0);
	assert_int_equal(sha256_update(c, "c", 1), 0);
	assert_int_equal(sha256_final(c, inc), 0);
	th_assert_hex(inc, sizeof(inc),
	              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(sha256_update(c, NULL, 5), -EINVAL);
	sha256_free(c);
	sha256_free(NULL);
}

static void test_hmac_rfc4231(void **state)
{
	uint8_t key[20], mac[HMAC_SHA256_LEN];
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(crypto_hmac_sha256(key, sizeof(key), "Hi There", 8, mac), 0);
	th_assert_hex(mac, sizeof(mac),
	              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	const char *d = "what do ya want for nothing?";
	assert_int_equal(crypto_hmac_sha256("Jefe", 4, d, strlen(d), mac), 0);
	th_assert_hex(mac, sizeof(mac),
	              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_hmac_empty_key(void **state)
{
	/* HMAC zero-pads the key, so an empty key equals a 32-byte zero key
	 * (what HKDF uses for a missing salt). */
	uint8_t zero[32] = {0}, a[HMAC_SHA256_LEN], b[HMAC_SHA256_LEN];
	assert_int_equal(crypto_hmac_sha256(NULL, 0, "x", 1, a), 0);
	assert_int_equal(crypto_hmac_sha256(zero, sizeof(zero), "x", 1, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(crypto_hmac_sha256(NULL, 3, "x", 1, a), -EINVAL);
}

static void seq(uint8_t *p, uint8_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(from + i);
}

static void test_hkdf_rfc5869(void **state)
{
	uint8_t ikm[80], salt[80], info[80], okm[82];

	/* Test case 1. */
	memset(ikm, 0x0b, 22);
	seq(salt, 0x00, 13);
	seq(info, 0xf0, 10);
	assert_int_equal(crypto_hkdf_sha256(salt, 13, ikm, 22, info, 10, okm, 42), 0);
	th_assert_hex(okm, 42,
	              "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400720"
	              "8d5b887185865");

	/* Test case 2: long inputs, output spanning three blocks. */
	seq(ikm, 0x00, 80);
	seq(salt, 0x60, 80);
	seq(info, 0xb0, 80);
	assert_int_equal(crypto_hkdf_sha256(salt, 80, ikm, 80, info, 80, okm, 82), 0);
	th_assert_hex(okm, 82,
	              "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a"
	              "99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec"
	              "3e87c14c01d5c1f3434f1d87");

	/* Test case 3: no salt, no info. */
	memset(ikm, 0x0b, 22);
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, 22, NULL, 0, okm, 42), 0);
	th_assert_hex(okm, 42,
	              "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d2013"
	              "95faa4b61a96c8");
}

static void test_hkdf_limits(void **state)
{
	uint8_t ck[32] = {1}, out[64];
	/* Noise Split(): empty input key material must work. */
	assert_int_equal(crypto_hkdf_sha256(ck, sizeof(ck), NULL, 0, NULL, 0, out, 64), 0);
	/* A prefix of a longer output equals the shorter output. */
	uint8_t shorter[40];
	assert_int_equal(crypto_hkdf_sha256(ck, sizeof(ck), NULL, 0, NULL, 0, shorter, 40), 0);
	assert_memory_equal(out, shorter, 40);
	assert_int_equal(crypto_hkdf_sha256(ck, 32, NULL, 0, NULL, 0, out, 0), -EINVAL);
	static uint8_t big[HKDF_SHA256_MAX_OUT + 1];
	assert_int_equal(crypto_hkdf_sha256(ck, 32, NULL, 0, NULL, 0, big, sizeof(big)), -EINVAL);
	assert_int_equal(crypto_hkdf_sha256(ck, 32, NULL, 0, NULL, 0, big, HKDF_SHA256_MAX_OUT), 0);
	assert_memory_equal(big, out, 64);
}

static void test_pbkdf2_rfc7914(void **state)
{
	uint8_t dk[64];
	assert_int_equal(crypto_pbkdf2_sha256("passwd", 6, "salt", 4, 1, dk, sizeof(dk)), 0);
	th_assert_hex(dk, sizeof(dk),
	              "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9c"
	              "ccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	assert_int_equal(crypto_pbkdf2_sha256("passwd", 6, "salt", 4, 0, dk, sizeof(dk)), -EINVAL);
	assert_int_equal(crypto_pbkdf2_sha256("passwd", 6, "salt", 4, 1, dk, 0), -EINVAL);
}

static void x25519_is(const char *scalar, const char *u, const char *expect)
{
	struct buf k = th_hex(scalar), p = th_hex(u);
	uint8_t out[X25519_KEY_LEN];
	assert_int_equal(x25519_shared(k.data, p.data, out), 0);
	th_assert_hex(out, sizeof(out), expect);
	buf_free(&k);
	buf_free(&p);
}

static void test_x25519_rfc7748(void **state)
{
	/* Section 5.2: the scalars are clamped, the u-coordinates' top bit masked. */
	x25519_is("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	          "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	          "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	x25519_is("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
	          "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
	          "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

static void test_x25519_alice_bob(void **state)
{
	struct buf a = th_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	struct buf b = th_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	uint8_t apub[32], bpub[32], s1[32], s2[32];
	assert_int_equal(x25519_public(a.data, apub), 0);
	th_assert_hex(apub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	assert_int_equal(x25519_public(b.data, bpub), 0);
	th_assert_hex(bpub, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	assert_int_equal(x25519_shared(a.data, bpub, s1), 0);
	assert_int_equal(x25519_shared(b.data, apub, s2), 0);
	th_assert_hex(s1, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	assert_memory_equal(s1, s2, 32);
	buf_free(&a);
	buf_free(&b);
}

static void test_x25519_keygen(void **state)
{
	uint8_t p1[32], q1[32], p2[32], q2[32], s1[32], s2[32], check[32];
	assert_int_equal(x25519_keygen(p1, q1), 0);
	assert_int_equal(x25519_keygen(p2, q2), 0);
	assert_memory_not_equal(p1, p2, 32);
	assert_int_equal(x25519_public(p1, check), 0);
	assert_memory_equal(check, q1, 32);
	assert_int_equal(x25519_shared(p1, q2, s1), 0);
	assert_int_equal(x25519_shared(p2, q1, s2), 0);
	assert_memory_equal(s1, s2, 32);
}

static void test_x25519_low_order(void **state)
{
	uint8_t priv[32], pub[32], out[32];
	assert_int_equal(x25519_keygen(priv, pub), 0);
	memset(out, 0xaa, sizeof(out));
	/* u = 0 and u = 1 are low-order points: the shared secret is zero. */
	uint8_t zero[32] = {0}, one[32] = {1};
	assert_int_equal(x25519_shared(priv, zero, out), -EINVAL);
	assert_int_equal(x25519_shared(priv, one, out), -EINVAL);
	/* A point of order 8 (from the list in the X25519 literature). */
	struct buf p8 = th_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
	assert_int_equal(x25519_shared(priv, p8.data, out), -EINVAL);
	buf_free(&p8);
	/* The output buffer is untouched on failure. */
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xaa);
}

static const char *sunscreen = "Ladies and Gentlemen of the class of '99: If I could offer you "
                               "only one tip for the future, sunscreen would be it.";

static const char *rfc8439_ct =
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca967128"
        "2fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab3"
        "24e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
        "1ae10b594f09e26a7e902ecbd0600691";

static void test_chachapoly_rfc8439(void **state)
{
	uint8_t key[32];
	seq(key, 0x80, 32);
	struct buf nonce = th_hex("070000004041424344454647");
	struct buf ad = th_hex("50515253c0c1c2c3c4c5c6c7");
	size_t n = strlen(sunscreen);
	uint8_t ct[200], pt[200];
	assert_int_equal(chachapoly_seal(key, nonce.data, ad.data, ad.len, sunscreen, n, ct), 0);
	th_assert_hex(ct, n + AEAD_TAG_LEN, rfc8439_ct);
	assert_int_equal(chachapoly_open(key, nonce.data, ad.data, ad.len, ct, n + 16, pt), 0);
	assert_memory_equal(pt, sunscreen, n);

	/* In place: out == in both ways. */
	uint8_t io[200];
	memcpy(io, sunscreen, n);
	assert_int_equal(chachapoly_seal(key, nonce.data, ad.data, ad.len, io, n, io), 0);
	assert_memory_equal(io, ct, n + 16);
	assert_int_equal(chachapoly_open(key, nonce.data, ad.data, ad.len, io, n + 16, io), 0);
	assert_memory_equal(io, sunscreen, n);
	buf_free(&nonce);
	buf_free(&ad);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

typedef int (*open_fn)(const uint8_t *, const uint8_t *, const void *, size_t, const void *, size_t,
                       uint8_t *);

/* Tampering with the ciphertext, tag or AD fails with -EBADMSG and leaves no
 * plaintext behind. */
static void check_tamper(open_fn open, const uint8_t *key, const uint8_t *nonce, const uint8_t *ad,
                         size_t ad_len, const uint8_t *ct, size_t ct_len)
{
	uint8_t bad[200], out[200], adbad[64];
	assert_true(ct_len <= sizeof(bad) && ad_len <= sizeof(adbad));
	size_t pos[] = {0, ct_len / 2, ct_len - 1}; /* body, body, tag */
	for (size_t i = 0; i < 3; i++) {
		memcpy(bad, ct, ct_len);
		bad[pos[i]] ^= 0x01;
		memset(out, 0x55, sizeof(out));
		assert_int_equal(open(key, nonce, ad, ad_len, bad, ct_len, out), -EBADMSG);
		assert_true(all_zero(out, ct_len - AEAD_TAG_LEN));
	}
	if (ad_len) {
		memcpy(adbad, ad, ad_len);
		adbad[ad_len - 1] ^= 0x80;
		memset(out, 0x55, sizeof(out));
		assert_int_equal(open(key, nonce, adbad, ad_len, ct, ct_len, out), -EBADMSG);
		assert_true(all_zero(out, ct_len - AEAD_TAG_LEN));
		/* Dropping the AD entirely also fails. */
		assert_int_equal(open(key, nonce, NULL, 0, ct, ct_len, out), -EBADMSG);
	}
	uint8_t nonce2[12];
	memcpy(nonce2, nonce, 12);
	nonce2[0] ^= 1;
	assert_int_equal(open(key, nonce2, ad, ad_len, ct, ct_len, out), -EBADMSG);
	/* Too short to hold a tag. */
	assert_int_equal(open(key, nonce, ad, ad_len, ct, AEAD_TAG_LEN - 1, out), -EINVAL);
}

static void test_chachapoly_tamper(void **state)
{
	uint8_t key[32];
	seq(key, 0x80, 32);
	struct buf nonce = th_hex("070000004041424344454647");
	struct buf ad = th_hex("50515253c0c1c2c3c4c5c6c7");
	struct buf ct = th_hex(rfc8439_ct);
	check_tamper(chachapoly_open, key, nonce.data, ad.data, ad.len, ct.data, ct.len);
	/* Wrong key. */
	uint8_t out[200];
	key[0] ^= 1;
	assert_int_equal(chachapoly_open(key, nonce.data, ad.data, ad.len, ct.data, ct.len, out),
	                 -EBADMSG);
	buf_free(&nonce);
	buf_free(&ad);
	buf_free(&ct);
}

static void test_chachapoly_empty(void **state)
{
	/* An empty plaintext still carries a tag (Noise uses this). */
	uint8_t key[32] = {0}, nonce[12] = {0}, ct[16], pt[1];
	assert_int_equal(chachapoly_seal(key, nonce, NULL, 0, NULL, 0, ct), 0);
	assert_int_equal(chachapoly_open(key, nonce, NULL, 0, ct, 16, pt), 0);
	assert_int_equal(chachapoly_open(key, nonce, NULL, 0, ct, 16, NULL), 0);
	ct[3] ^= 1;
	assert_int_equal(chachapoly_open(key, nonce, NULL, 0, ct, 16, pt), -EBADMSG);
	assert_int_equal(chachapoly_seal(key, nonce, NULL, 5, "x", 1, ct), -EINVAL);
	assert_int_equal(chachapoly_seal(key, nonce, NULL, 0, NULL, 4, ct), -EINVAL);
}

/* ---- the reusable context ---- */

static void test_chachapoly_ctx_rfc8439(void **state)
{
	uint8_t key[32];
	seq(key, 0x80, 32);
	struct buf nonce = th_hex("070000004041424344454647");
	struct buf ad = th_hex("50515253c0c1c2c3c4c5c6c7");
	size_t n = strlen(sunscreen);
	struct chachapoly_ctx *c;
	assert_int_equal(chachapoly_ctx_new(key, &c), 0);
	uint8_t ct[200], pt[200];
	assert_int_equal(chachapoly_ctx_seal(c, nonce.data, ad.data, ad.len, sunscreen, n, ct), 0);
	th_assert_hex(ct, n + AEAD_TAG_LEN, rfc8439_ct);
	assert_int_equal(chachapoly_ctx_open(c, nonce.data, ad.data, ad.len, ct, n + 16, pt), 0);
	assert_memory_equal(pt, sunscreen, n);
	/* Again on the same context (each message starts afresh), in place. */
	uint8_t io[200];
	memcpy(io, sunscreen, n);
	assert_int_equal(chachapoly_ctx_seal(c, nonce.data, ad.data, ad.len, io, n, io), 0);
	th_assert_hex(io, n + AEAD_TAG_LEN, rfc8439_ct);
	assert_int_equal(chachapoly_ctx_open(c, nonce.data, ad.data, ad.len, io, n + 16, io), 0);
	assert_memory_equal(io, sunscreen, n);
	assert_null(chachapoly_ctx_free(c));
	buf_free(&nonce);
	buf_free(&ad);
}

static void nonce_le(uint64_t n, uint8_t out[12])
{
	memset(out, 0, 12);
	for (int i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(n >> (8 * i));
}

/* Many messages under one key, as Noise sends them: every seal equals the
 * one-shot function's, and one context opens them all, interleaved with
 * seals. */
static void test_chachapoly_ctx_many(void **state)
{
	uint8_t key[32], nonce[12], msg[1500], a[1500 + 16], b[1500 + 16], back[1500];
	seq(key, 7, 32);
	seq(msg, 1, sizeof(msg));
	struct chachapoly_ctx *tx, *rx;
	assert_int_equal(chachapoly_ctx_new(key, &tx), 0);
	assert_int_equal(chachapoly_ctx_new(key, &rx), 0);
	for (uint64_t i = 0; i < 64; i++) {
		size_t len = (size_t)(i * 97 % sizeof(msg));
		const char *ad = i % 3 ? "ad" : NULL;
		size_t ad_len = ad ? 2 : 0;
		nonce_le(i, nonce);
		assert_int_equal(chachapoly_ctx_seal(tx, nonce, ad, ad_len, msg, len, a), 0);
		assert_int_equal(chachapoly_seal(key, nonce, ad, ad_len, msg, len, b), 0);
		assert_memory_equal(a, b, len + AEAD_TAG_LEN);
		memset(back, 0, sizeof(back));
		assert_int_equal(chachapoly_ctx_open(rx, nonce, ad, ad_len, a, len + 16, back), 0);
		assert_memory_equal(back, msg, len);
		/* The wrong nonce fails, and the context still works after. */
		nonce_le(i + 1, nonce);
		assert_int_equal(chachapoly_ctx_open(rx, nonce, ad, ad_len, a, len + 16, back),
		                 -EBADMSG);
	}
	chachapoly_ctx_free(tx);
	chachapoly_ctx_free(rx);
}

/* check_tamper() drives a one-shot open function; this one opens with the
 * context under test (its key argument is ignored). */
static struct chachapoly_ctx *tamper_ctx;

static int ctx_open_fn(const uint8_t *key, const uint8_t *nonce, const void *ad, size_t ad_len,
                       const void *ct, size_t ct_len, uint8_t *out)
{
	return chachapoly_ctx_open(tamper_ctx, nonce, ad, ad_len, ct, ct_len, out);
}

static void test_chachapoly_ctx_tamper(void **state)
{
	uint8_t key[32];
	seq(key, 0x80, 32);
	struct buf nonce = th_hex("070000004041424344454647");
	struct buf ad = th_hex("50515253c0c1c2c3c4c5c6c7");
	struct buf ct = th_hex(rfc8439_ct);
	assert_int_equal(chachapoly_ctx_new(key, &tamper_ctx), 0);
	check_tamper(ctx_open_fn, key, nonce.data, ad.data, ad.len, ct.data, ct.len);
	/* After all those failures the genuine message still opens. */
	uint8_t out[200];
	assert_int_equal(
	        chachapoly_ctx_open(tamper_ctx, nonce.data, ad.data, ad.len, ct.data, ct.len, out),
	        0);
	assert_memory_equal(out, sunscreen, strlen(sunscreen));
	tamper_ctx = chachapoly_ctx_free(tamper_ctx);
	/* Another key. */
	key[0] ^= 1;
	assert_int_equal(chachapoly_ctx_new(key, &tamper_ctx), 0);
	assert_int_equal(
	        chachapoly_ctx_open(tamper_ctx, nonce.data, ad.data, ad.len, ct.data, ct.len, out),
	        -EBADMSG);
	tamper_ctx = chachapoly_ctx_free(tamper_ctx);
	buf_free(&nonce);
	buf_free(&ad);
	buf_free(&ct);
}

static void test_chachapoly_ctx_args(void **state)
{
	uint8_t key[32] = {0}, nonce[12] = {0}, ct[16], pt[1];
	struct chachapoly_ctx *c = NULL;
	assert_int_equal(chachapoly_ctx_new(NULL, &c), -EINVAL);
	assert_int_equal(chachapoly_ctx_new(key, NULL), -EINVAL);
	assert_null(chachapoly_ctx_free(NULL));
	assert_int_equal(chachapoly_ctx_seal(NULL, nonce, NULL, 0, "x", 1, ct), -EINVAL);
	assert_int_equal(chachapoly_ctx_open(NULL, nonce, NULL, 0, ct, 16, pt), -EINVAL);
	assert_int_equal(chachapoly_ctx_new(key, &c), 0);
	/* An empty plaintext still carries a tag, equal to the one-shot's. */
	uint8_t ref[16];
	assert_int_equal(chachapoly_ctx_seal(c, nonce, NULL, 0, NULL, 0, ct), 0);
	assert_int_equal(chachapoly_seal(key, nonce, NULL, 0, NULL, 0, ref), 0);
	assert_memory_equal(ct, ref, 16);
	assert_int_equal(chachapoly_ctx_open(c, nonce, NULL, 0, ct, 16, NULL), 0);
	assert_int_equal(chachapoly_ctx_seal(c, nonce, NULL, 5, "x", 1, ct), -EINVAL);
	assert_int_equal(chachapoly_ctx_seal(c, nonce, NULL, 0, NULL, 4, ct), -EINVAL);
	assert_int_equal(chachapoly_ctx_open(c, nonce, NULL, 0, ct, 15, pt), -EINVAL);
	assert_int_equal(chachapoly_ctx_open(c, nonce, NULL, 0, ct, 17, NULL), -EINVAL);
	chachapoly_ctx_free(c);
}

static const char *gcm16_ct =
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08"
        "b1056828838c5f61e6393ba7a0abcc9f662"
        "76fc6ece0f4e1768cddf8853bb2d551b";

static void test_aesgcm_vectors(void **state)
{
	/* McGrew-Viega test case 16 (AES-256, 60-byte plaintext, 20-byte AD). */
	struct buf key = th_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
	struct buf iv = th_hex("cafebabefacedbaddecaf888");
	struct buf pt = th_hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	                       "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
	struct buf ad = th_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
	uint8_t ct[200], back[200];
	assert_int_equal(aesgcm_seal(key.data, iv.data, ad.data, ad.len, pt.data, pt.len, ct), 0);
	th_assert_hex(ct, pt.len + 16, gcm16_ct);
	assert_int_equal(aesgcm_open(key.data, iv.data, ad.data, ad.len, ct, pt.len + 16, back), 0);
	assert_memory_equal(back, pt.data, pt.len);
	check_tamper(aesgcm_open, key.data, iv.data, ad.data, ad.len, ct, pt.len + 16);

	/* Test case 13: zero key, zero IV, empty plaintext, tag only. */
	uint8_t zk[32] = {0}, zn[12] = {0};
	assert_int_equal(aesgcm_seal(zk, zn, NULL, 0, NULL, 0, ct), 0);
	th_assert_hex(ct, 16, "530f8afbc74536b9a963b4f1c4cb738b");
	buf_free(&key);
	buf_free(&iv);
	buf_free(&pt);
	buf_free(&ad);
}

static void test_equal_and_random(void **state)
{
	assert_true(crypto_equal("abc", "abc", 3));
	assert_false(crypto_equal("abc", "abd", 3));
	assert_true(crypto_equal(NULL, NULL, 0));
	uint8_t a[32] = {0}, b[32] = {0};
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_false(all_zero(a, 32));
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(crypto_random(NULL, 4), -EINVAL);
	crypto_wipe(a, sizeof(a));
	assert_true(all_zero(a, 32));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sha256),
	        cmocka_unit_test(test_sha256_incremental),
	        cmocka_unit_test(test_hmac_rfc4231),
	        cmocka_unit_test(test_hmac_empty_key),
	        cmocka_unit_test(test_hkdf_rfc5869),
	        cmocka_unit_test(test_hkdf_limits),
	        cmocka_unit_test(test_pbkdf2_rfc7914),
	        cmocka_unit_test(test_x25519_rfc7748),
	        cmocka_unit_test(test_x25519_alice_bob),
	        cmocka_unit_test(test_x25519_keygen),
	        cmocka_unit_test(test_x25519_low_order),
	        cmocka_unit_test(test_chachapoly_rfc8439),
	        cmocka_unit_test(test_chachapoly_tamper),
	        cmocka_unit_test(test_chachapoly_empty),
	        cmocka_unit_test(test_chachapoly_ctx_rfc8439),
	        cmocka_unit_test(test_chachapoly_ctx_many),
	        cmocka_unit_test(test_chachapoly_ctx_tamper),
	        cmocka_unit_test(test_chachapoly_ctx_args),
	        cmocka_unit_test(test_aesgcm_vectors),
	        cmocka_unit_test(test_equal_and_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
