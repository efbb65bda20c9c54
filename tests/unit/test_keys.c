/* libp2p keys: peer-ids.md vectors, RFC 8032 signatures, the identity keys
 * and signatures inside the tls.md certificate vectors, and verification of
 * secp256k1 / ECDSA / RSA signatures made here with OpenSSL. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "keys.h"

/* peer-ids.md test vectors. */
#define ED_PUB "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define ED_PRIV                                                                                    \
	"080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a"    \
	"144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define K1_PUB "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"
#define K1_PRIV "0802122053dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb"
#define EC_SPKI                                                                                    \
	"3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83ab"     \
	"ab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec0"     \
	"34e9f77c409e62"
#define EC_PUB "0803125b" EC_SPKI
#define EC_PRIV                                                                                    \
	"08031279307702010104203e5b1fe9712e6c314942a750bd67485de3c1efe85b1bfb520ae8f9ae3dfa4a"     \
	"4ca00a06082a8648ce3d030107a14403420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a"     \
	"4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62"
static const char *rsa_pub =
        "080012a60430820222300d06092a864886f70d01010105000382020f003082020a0282020100e1beab071d08"
        "200bde24eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f12e1af4b32d9efd2c090f66b0f29986db"
        "b645dae9880089704a94e5066d594162ae6ee8892e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85"
        "c6620a2bc3f82f9b0c309bc0ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033c"
        "f8d0f0c606f4579326c930eb4e854395ad941256542c793902185153c474bed109d6ff5141ebf9cd256cf588"
        "93a37f83729f97e7cb435ec679d2e33901d27bb35aa0d7e20561da08885ef0abbf8e2fb48d6a5487047a9ecb"
        "1ad41fa7ed84f6e3e8ecd5d98b3982d2a901b4454991766da295ab78822add5612a2df83bcee814cf50973e8"
        "0d7ef38111b1bd87da2ae92438a2c8cbcc70b31ee319939a3b9c761dbc13b5c086d6b64bf7ae7dacc1462237"
        "5d92a8ff9af7eb962162bbddebf90acb32adb5e4e4029f1c96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d"
        "5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175e70c0a083e96bfaefb04a9580b4753c173"
        "8a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21bdf0c6cfe951c18f1ee4078c79c13d63"
        "edb6e14feaeffabc90ad317e4875fe648101b0864097e998f0ca3025ef9638cd2b0caecd3770ab54a1d9c6ca"
        "959b0f5dcbc90caeefc4135baca6fd475224269bbe1b0203010001";

static struct pubkey *decode_hex(const char *hex, int expect)
{
	struct buf b = th_hex(hex);
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(b.data, b.len, &k), expect);
	buf_free(&b);
	if (expect == 0)
		assert_non_null(k);
	else
		assert_null(k);
	return k;
}

/* Decoding then encoding gives back the same bytes (the vectors are
 * canonical). */
static struct pubkey *roundtrip(const char *hex, enum key_type t)
{
	struct pubkey *k = decode_hex(hex, 0);
	assert_int_equal(pubkey_type(k), t);
	struct buf out = BUF_INIT;
	assert_int_equal(pubkey_encode(k, &out), 0);
	th_assert_hex(out.data, out.len, hex);
	buf_free(&out);
	return k;
}

static void test_spec_public_keys(void **state)
{
	pubkey_free(roundtrip(ED_PUB, KEY_TYPE_ED25519));
	pubkey_free(roundtrip(K1_PUB, KEY_TYPE_SECP256K1));
	pubkey_free(roundtrip(EC_PUB, KEY_TYPE_ECDSA));
	pubkey_free(roundtrip(rsa_pub, KEY_TYPE_RSA));
}

static void assert_sha256(const char *hex, const char *digest)
{
	struct pubkey *k = decode_hex(hex, 0);
	struct buf out = BUF_INIT;
	assert_int_equal(pubkey_encode(k, &out), 0);
	uint8_t d[SHA256_LEN];
	assert_int_equal(crypto_sha256(out.data, out.len, d), 0);
	th_assert_hex(d, sizeof(d), digest);
	buf_free(&out);
	pubkey_free(k);
}

static void test_ecdsa_peer_id_digests(void **state)
{
	/* The sha2-256 digests inside QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk
	 * (checklist 2.4) and QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE
	 * (tls.md vector 2): the canonical encodings hash to them. */
	assert_sha256(EC_PUB, "68362c312e155f4f7290b67f5cd094a22a0a4fbf20efd8c287934419350d36f7");
	assert_sha256("0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909"
	              "414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66"
	              "e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f2",
	              "ff6411214402e7c0b3dd3b1095b53b4eb2202f7fd3e84df88268a531b0a61a1d");
}

static void test_spec_ed25519_private(void **state)
{
	struct buf b = th_hex(ED_PRIV);
	struct privkey k;
	assert_int_equal(privkey_decode(b.data, b.len, &k), 0);
	/* The seed derives the published public key. */
	struct buf pub = BUF_INIT, priv = BUF_INIT;
	assert_int_equal(privkey_encode_public(&k, &pub), 0);
	th_assert_hex(pub.data, pub.len, ED_PUB);
	assert_int_equal(pub.len, 36);
	assert_int_equal(privkey_encode(&k, &priv), 0);
	th_assert_hex(priv.data, priv.len, ED_PRIV);

	struct privkey k2;
	assert_int_equal(privkey_from_seed(b.data + 4, &k2), 0);
	assert_memory_equal(&k, &k2, sizeof(k));
	privkey_wipe(&k);
	privkey_wipe(&k2);
	uint8_t zero[sizeof(k)] = {0};
	assert_memory_equal(&k, zero, sizeof(k));
	buf_free(&b);
	buf_free(&pub);
	buf_wipe_free(&priv);
}

static void test_legacy_private_form(void **state)
{
	/* seed || pub || pub (96 bytes) is accepted when the copies match. */
	struct buf b = th_hex("08011260"
	                      "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
	                      "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
	                      "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
	struct privkey k;
	assert_int_equal(privkey_decode(b.data, b.len, &k), 0);
	struct buf priv = BUF_INIT;
	assert_int_equal(privkey_encode(&k, &priv), 0);
	th_assert_hex(priv.data, priv.len, ED_PRIV);
	/* Copies that differ are rejected. */
	b.data[b.len - 1] ^= 1;
	assert_int_equal(privkey_decode(b.data, b.len, &k), -EBADMSG);
	/* A public half that does not belong to the seed is rejected. */
	struct buf bad = th_hex(ED_PRIV);
	bad.data[bad.len - 1] ^= 1;
	assert_int_equal(privkey_decode(bad.data, bad.len, &k), -EBADMSG);
	buf_free(&b);
	buf_free(&bad);
	buf_wipe_free(&priv);
	privkey_wipe(&k);
}

static void test_private_other_types(void **state)
{
	struct privkey k;
	/* We hold only Ed25519 identities. */
	struct buf b = th_hex(K1_PRIV);
	assert_int_equal(privkey_decode(b.data, b.len, &k), -EPROTONOSUPPORT);
	buf_free(&b);
	b = th_hex(EC_PRIV);
	assert_int_equal(privkey_decode(b.data, b.len, &k), -EPROTONOSUPPORT);
	buf_free(&b);
	b = th_hex("0800120430020100");
	assert_int_equal(privkey_decode(b.data, b.len, &k), -EPROTONOSUPPORT);
	buf_free(&b);
	b = th_hex("080712020000");
	assert_int_equal(privkey_decode(b.data, b.len, &k), -EPROTONOSUPPORT);
	buf_free(&b);
	/* Wrong Data sizes and truncation. */
	b = th_hex("0801122000112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	assert_int_equal(privkey_decode(b.data, b.len, &k), -EBADMSG);
	buf_free(&b);
	b = th_hex(ED_PRIV);
	assert_int_equal(privkey_decode(b.data, b.len - 1, &k), -EBADMSG);
	assert_int_equal(privkey_decode(b.data, 0, &k), -EBADMSG);
	buf_free(&b);
}

struct rfc8032 {
	const char *seed, *pub, *msg, *sig;
};

static void test_rfc8032(void **state)
{
	static const struct rfc8032 v[] = {
	        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
	         "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
	         "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	};
	for (size_t i = 0; i < 2; i++) {
		struct buf seed = th_hex(v[i].seed), msg = th_hex(v[i].msg);
		struct privkey k;
		assert_int_equal(privkey_from_seed(seed.data, &k), 0);
		th_assert_hex(k.pub, 32, v[i].pub);
		uint8_t sig[ED25519_SIG_LEN];
		assert_int_equal(privkey_sign(&k, msg.data, msg.len, sig), 0);
		th_assert_hex(sig, sizeof(sig), v[i].sig);
		struct pubkey *pk = pubkey_from_ed25519(k.pub);
		assert_non_null(pk);
		assert_int_equal(pubkey_verify(pk, msg.data, msg.len, sig, sizeof(sig)), 0);
		sig[10] ^= 0x20;
		assert_int_equal(pubkey_verify(pk, msg.data, msg.len, sig, sizeof(sig)),
		                 -EKEYREJECTED);
		pubkey_free(pk);
		privkey_wipe(&k);
		buf_free(&seed);
		buf_free(&msg);
	}
}

static void test_ed25519_roundtrip(void **state)
{
	struct privkey k;
	assert_int_equal(privkey_generate(&k), 0);
	struct buf pub = BUF_INIT;
	assert_int_equal(privkey_encode_public(&k, &pub), 0);
	assert_int_equal(pub.len, 36);
	assert_memory_equal(pub.data, "\x08\x01\x12\x20", 4);
	assert_memory_equal(pub.data + 4, k.pub, 32);
	struct pubkey *pk = NULL;
	assert_int_equal(pubkey_decode(pub.data, pub.len, &pk), 0);
	assert_int_equal(pubkey_type(pk), KEY_TYPE_ED25519);

	const char *msg = "libp2p-tls-handshake:hello";
	uint8_t sig[ED25519_SIG_LEN];
	assert_int_equal(privkey_sign(&k, msg, strlen(msg), sig), 0);
	assert_int_equal(pubkey_verify(pk, msg, strlen(msg), sig, sizeof(sig)), 0);
	/* Another message, a truncated or extended signature, another key. */
	assert_int_equal(pubkey_verify(pk, msg, strlen(msg) - 1, sig, sizeof(sig)), -EKEYREJECTED);
	assert_int_equal(pubkey_verify(pk, msg, strlen(msg), sig, 63), -EKEYREJECTED);
	uint8_t longer[65] = {0};
	memcpy(longer, sig, 64);
	assert_int_equal(pubkey_verify(pk, msg, strlen(msg), longer, 65), -EKEYREJECTED);
	assert_int_equal(pubkey_verify(pk, msg, strlen(msg), sig, 0), -EKEYREJECTED);
	struct privkey other;
	assert_int_equal(privkey_generate(&other), 0);
	struct pubkey *opk = pubkey_from_ed25519(other.pub);
	assert_int_equal(pubkey_verify(opk, msg, strlen(msg), sig, sizeof(sig)), -EKEYREJECTED);

	/* Private key encoding survives a round trip. */
	struct buf priv = BUF_INIT;
	assert_int_equal(privkey_encode(&k, &priv), 0);
	assert_int_equal(priv.len, 68);
	struct privkey back;
	assert_int_equal(privkey_decode(priv.data, priv.len, &back), 0);
	assert_memory_equal(&back, &k, sizeof(k));

	pubkey_free(pk);
	pubkey_free(opk);
	buf_free(&pub);
	buf_wipe_free(&priv);
	privkey_wipe(&k);
	privkey_wipe(&other);
	privkey_wipe(&back);
}

/* tls.md certificate vectors: the identity key in the libp2p extension signed
 * "libp2p-tls-handshake:" || SPKI of the (shared) P-256 certificate key. */
#define TLS_CERT_SPKI                                                                              \
	"3059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba1"     \
	"32721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e"     \
	"55bd37e381569e"

struct tls_vec {
	const char *pub, *sig;
	enum key_type type;
	int expect;
};

static void test_tls_certificate_keys(void **state)
{
	static const struct tls_vec v[] = {
	        /* 1: Ed25519 identity. */
	        {"08011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b9",
	         "d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e428"
	         "49cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909",
	         KEY_TYPE_ED25519, 0},
	        /* 2: ECDSA identity. */
	        {"0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd"
	         "3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a"
	         "3acf3dd72a801980d205e8a1ad29f2",
	         "30450220064ea8124774caf8f50e57f436aa62350ce652418c019df5d98a3ac666c9386a022100aa"
	         "59d704a931b5f72fb9222cb6cc51f954d04a4e2e5450f8805fe8918f71eaae",
	         KEY_TYPE_ECDSA, 0},
	        /* 3: secp256k1 identity. */
	        {"080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382",
	         "30440220145e15a991961f0d08cd15425bb95ec93f6ffa03c5a385eedc34ecf464c7a8ab022026b3"
	         "109b8a3f40ef833169777eb2aa337cfb6282f188de0666d1bcec2a4690dd",
	         KEY_TYPE_SECP256K1, 0},
	        /* 4: invalid certificate: the signature does not match the key. */
	        {"0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd"
	         "3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a"
	         "3acf3dd72a801980d205e8a1ad29f2",
	         "3045022100bb6e03577b7cc7a3cd1558df0da2b117dfdcc0399bc2504ebe7de6f65cade72802206d"
	         "e96e2a5be9b6202adba24ee0362e490641ac45c240db71fe955f2c5cf8df6e",
	         KEY_TYPE_ECDSA, -EKEYREJECTED},
	};
	struct buf msg = BUF_INIT;
	assert_int_equal(buf_append_str(&msg, "libp2p-tls-handshake:"), 0);
	struct buf spki = th_hex(TLS_CERT_SPKI);
	assert_int_equal(buf_append(&msg, spki.data, spki.len), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct pubkey *k = roundtrip(v[i].pub, v[i].type);
		struct buf sig = th_hex(v[i].sig);
		assert_int_equal(pubkey_verify(k, msg.data, msg.len, sig.data, sig.len),
		                 v[i].expect);
		if (v[i].expect == 0) {
			/* One flipped bit of the signed text breaks it. */
			msg.data[0] ^= 1;
			assert_int_equal(pubkey_verify(k, msg.data, msg.len, sig.data, sig.len),
			                 -EKEYREJECTED);
			msg.data[0] ^= 1;
		}
		buf_free(&sig);
		pubkey_free(k);
	}
	buf_free(&msg);
	buf_free(&spki);
}

/* --- keys made here with OpenSSL ---------------------------------------- */

static struct buf der_sign(EVP_PKEY *pk, const void *msg, size_t len)
{
	struct buf sig = BUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pk, NULL), 1);
	size_t n = 0;
	assert_int_equal(EVP_DigestSign(md, NULL, &n, msg, len), 1);
	uint8_t *p = buf_extend(&sig, n);
	assert_non_null(p);
	assert_int_equal(EVP_DigestSign(md, p, &n, msg, len), 1);
	sig.len = n;
	EVP_MD_CTX_free(md);
	return sig;
}

static struct buf proto_of(enum key_type t, const uint8_t *data, size_t len)
{
	/* Hand-built PublicKey: 08 <type> 12 <varint len> <data>. */
	struct buf b = BUF_INIT;
	assert_int_equal(buf_append_u8(&b, 0x08), 0);
	assert_int_equal(buf_append_u8(&b, (uint8_t)t), 0);
	assert_int_equal(buf_append_u8(&b, 0x12), 0);
	if (len >= 128) {
		assert_int_equal(buf_append_u8(&b, (uint8_t)(0x80 | (len & 0x7f))), 0);
		assert_int_equal(buf_append_u8(&b, (uint8_t)(len >> 7)), 0);
	} else {
		assert_int_equal(buf_append_u8(&b, (uint8_t)len), 0);
	}
	assert_int_equal(buf_append(&b, data, len), 0);
	return b;
}

static struct buf spki_proto(EVP_PKEY *pk, enum key_type t)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pk, &der);
	assert_true(n > 0);
	struct buf b = proto_of(t, der, (size_t)n);
	OPENSSL_free(der);
	return b;
}

/* Verify a good signature, then reject it over another message and with a
 * flipped byte. */
static void verify_generated(EVP_PKEY *pk, struct buf *proto, enum key_type t)
{
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(proto->data, proto->len, &k), 0);
	assert_int_equal(pubkey_type(k), t);
	struct buf enc = BUF_INIT;
	assert_int_equal(pubkey_encode(k, &enc), 0);
	assert_int_equal(enc.len, proto->len);
	assert_memory_equal(enc.data, proto->data, enc.len);

	const char *msg = "signed envelope payload";
	struct buf sig = der_sign(pk, msg, strlen(msg));
	assert_int_equal(pubkey_verify(k, msg, strlen(msg), sig.data, sig.len), 0);
	assert_int_equal(
	        pubkey_verify(k, "signed envelope payloaD", strlen(msg), sig.data, sig.len),
	        -EKEYREJECTED);
	sig.data[sig.len - 2] ^= 0x04;
	assert_int_equal(pubkey_verify(k, msg, strlen(msg), sig.data, sig.len), -EKEYREJECTED);
	assert_int_equal(pubkey_verify(k, msg, strlen(msg), sig.data, 8), -EKEYREJECTED);
	buf_free(&sig);
	buf_free(&enc);
	pubkey_free(k);
}

static void test_secp256k1_generated(void **state)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(pk);
	/* Compress the point by hand (02|03 by the parity of y, then x). */
	uint8_t full[65], point[33];
	size_t n = 0;
	assert_int_equal(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, full,
	                                                 sizeof(full), &n),
	                 1);
	assert_int_equal(n, 65);
	point[0] = (uint8_t)(2 | (full[64] & 1));
	memcpy(point + 1, full + 1, 32);
	n = 33;
	struct buf proto = proto_of(KEY_TYPE_SECP256K1, point, n);
	assert_int_equal(proto.len, 37);
	verify_generated(pk, &proto, KEY_TYPE_SECP256K1);
	buf_free(&proto);
	EVP_PKEY_free(pk);
}

static void test_secp256k1_spec_private_signs(void **state)
{
	/* The spec's secp256k1 private scalar signs; the spec public key
	 * verifies: the pair corresponds and our verify path agrees with it. */
	struct buf priv = th_hex(K1_PRIV), pub = th_hex(K1_PUB);
	BIGNUM *d = BN_bin2bn(priv.data + 4, 32, NULL);
	assert_non_null(d);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	assert_non_null(bld);
	assert_int_equal(
	        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0),
	        1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
	assert_int_equal(
	        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub.data + 4, 33),
	        1);
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params), 1);
	verify_generated(pk, &pub, KEY_TYPE_SECP256K1);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(d);
	buf_free(&priv);
	buf_free(&pub);
}

static void test_secp256k1_uncompressed_canonicalised(void **state)
{
	/* The uncompressed form of the spec key decodes and re-encodes to the
	 * compressed spec vector (what go and JS marshal and hash). */
	struct pubkey *k = decode_hex("08021241"
	                              "047777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e6"
	                              "30bfca991b41b30efa52b659e9db235c31f9975578a17e2b356a6b8483"
	                              "7b5b45c555cfb1",
	                              0);
	struct buf out = BUF_INIT;
	assert_int_equal(pubkey_encode(k, &out), 0);
	th_assert_hex(out.data, out.len, K1_PUB);
	buf_free(&out);
	pubkey_free(k);
	/* A point not on the curve. */
	decode_hex("080212410400000000000000000000000000000000000000000000000000000000000000"
	           "000000000000000000000000000000000000000000000000000000000000000001",
	           -EBADMSG);
	/* An x with no matching y (x = 5 is not on secp256k1: 125 + 7 = 132
	 * is a non-residue mod p). */
	decode_hex("0802122102"
	           "0000000000000000000000000000000000000000000000000000000000000005",
	           -EBADMSG);
	/* Wrong prefix and wrong length. */
	decode_hex("08021221057777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99",
	           -EBADMSG);
	decode_hex("08021220037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca",
	           -EBADMSG);
}

static void test_ecdsa_generated(void **state)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pk);
	struct buf proto = spki_proto(pk, KEY_TYPE_ECDSA);
	assert_int_equal(proto.len, 95);
	verify_generated(pk, &proto, KEY_TYPE_ECDSA);
	buf_free(&proto);
	EVP_PKEY_free(pk);
}

static void test_ecdsa_other_curves(void **state)
{
	/* P-384 is an accepted ECDSA curve. */
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	assert_non_null(pk);
	struct buf proto = spki_proto(pk, KEY_TYPE_ECDSA);
	verify_generated(pk, &proto, KEY_TYPE_ECDSA);
	buf_free(&proto);
	EVP_PKEY_free(pk);
	/* A secp256k1 SPKI labelled ECDSA is a curve we do not take there. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(pk);
	proto = spki_proto(pk, KEY_TYPE_ECDSA);
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(proto.data, proto.len, &k), -EPROTONOSUPPORT);
	assert_null(k);
	buf_free(&proto);
	EVP_PKEY_free(pk);
}

static void test_ecdsa_spec_private_signs(void **state)
{
	/* The spec's SEC1 ECPrivateKey signs; the spec public key verifies. */
	struct buf priv = th_hex(EC_PRIV), pub = th_hex(EC_PUB);
	const unsigned char *p = priv.data + 4;
	EVP_PKEY *pk = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, (long)(priv.len - 4));
	assert_non_null(pk);
	verify_generated(pk, &pub, KEY_TYPE_ECDSA);
	EVP_PKEY_free(pk);
	buf_free(&priv);
	buf_free(&pub);
}

static void test_rsa_generated(void **state)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(pk);
	struct buf proto = spki_proto(pk, KEY_TYPE_RSA);
	verify_generated(pk, &proto, KEY_TYPE_RSA);
	buf_free(&proto);
	EVP_PKEY_free(pk);
}

static void test_rsa_too_small(void **state)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(pk);
	struct buf proto = spki_proto(pk, KEY_TYPE_RSA);
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(proto.data, proto.len, &k), -EKEYREJECTED);
	assert_null(k);
	buf_free(&proto);
	EVP_PKEY_free(pk);
}

static void test_type_mismatch(void **state)
{
	/* An EC SPKI labelled RSA, an RSA SPKI labelled ECDSA, and SPKIs as
	 * Ed25519 or secp256k1 data are all malformed. */
	struct buf spki = th_hex(EC_SPKI);
	struct buf b = proto_of(KEY_TYPE_RSA, spki.data, spki.len);
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(b.data, b.len, &k), -EBADMSG);
	buf_free(&b);
	b = proto_of(KEY_TYPE_SECP256K1, spki.data, spki.len);
	assert_int_equal(pubkey_decode(b.data, b.len, &k), -EBADMSG);
	buf_free(&b);
	b = proto_of(KEY_TYPE_ED25519, spki.data, spki.len);
	assert_int_equal(pubkey_decode(b.data, b.len, &k), -EBADMSG);
	buf_free(&b);
	/* Trailing bytes after the SPKI. */
	assert_int_equal(buf_append_u8(&spki, 0), 0);
	b = proto_of(KEY_TYPE_ECDSA, spki.data, spki.len);
	assert_int_equal(pubkey_decode(b.data, b.len, &k), -EBADMSG);
	buf_free(&b);
	buf_free(&spki);

	struct buf rsa = th_hex(rsa_pub);
	/* Skip the 5-byte header 08 00 12 a6 04 to get the SPKI. */
	b = proto_of(KEY_TYPE_ECDSA, rsa.data + 5, rsa.len - 5);
	assert_int_equal(pubkey_decode(b.data, b.len, &k), -EBADMSG);
	buf_free(&b);
	buf_free(&rsa);
}

static void test_malformed_protobuf(void **state)
{
	/* Truncated anywhere. */
	struct buf b = th_hex(ED_PUB);
	for (size_t n = 0; n < b.len; n++) {
		struct pubkey *k = NULL;
		assert_int_equal(pubkey_decode(b.data, n, &k), -EBADMSG);
		assert_null(k);
	}
	buf_free(&b);
	decode_hex("ffffffff", -EBADMSG);
	decode_hex("0801", -EBADMSG); /* Data missing */
	decode_hex("1200", -EBADMSG); /* Type missing */
	decode_hex("0a00", -EBADMSG); /* wrong wire type for field 1 */
	decode_hex("08011221"
	           "00",
	           -EBADMSG); /* length beyond the input */
	/* An Ed25519 key of 31 or 33 bytes. */
	decode_hex("0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2",
	           -EBADMSG);
	decode_hex("080112211ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e00",
	           -EBADMSG);
	/* Oversized input is refused before parsing. */
	static uint8_t big[PUBKEY_MAX_ENCODED + 1];
	struct pubkey *k = NULL;
	assert_int_equal(pubkey_decode(big, sizeof(big), &k), -EBADMSG);
}

static void test_unknown_type(void **state)
{
	decode_hex("080412201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
	           -EPROTONOSUPPORT);
	decode_hex("087f12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
	           -EPROTONOSUPPORT);
	assert_string_equal(key_type_name(KEY_TYPE_SECP256K1), "Secp256k1");
	assert_string_equal(key_type_name(KEY_TYPE_ED25519), "Ed25519");
	assert_string_equal(key_type_name((enum key_type)9), "unknown");
}

static void test_noncanonical_input_reencoded(void **state)
{
	/* Data before Type, and an unknown field: decodes (protobuf allows it)
	 * and re-encodes canonically, so the peer ID is the canonical one. */
	struct pubkey *k = decode_hex(
	        "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801"
	        "1801",
	        0);
	struct buf out = BUF_INIT;
	assert_int_equal(pubkey_encode(k, &out), 0);
	th_assert_hex(out.data, out.len, ED_PUB);
	buf_free(&out);
	pubkey_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_public_keys),
	        cmocka_unit_test(test_ecdsa_peer_id_digests),
	        cmocka_unit_test(test_spec_ed25519_private),
	        cmocka_unit_test(test_legacy_private_form),
	        cmocka_unit_test(test_private_other_types),
	        cmocka_unit_test(test_rfc8032),
	        cmocka_unit_test(test_ed25519_roundtrip),
	        cmocka_unit_test(test_tls_certificate_keys),
	        cmocka_unit_test(test_secp256k1_generated),
	        cmocka_unit_test(test_secp256k1_spec_private_signs),
	        cmocka_unit_test(test_secp256k1_uncompressed_canonicalised),
	        cmocka_unit_test(test_ecdsa_generated),
	        cmocka_unit_test(test_ecdsa_other_curves),
	        cmocka_unit_test(test_ecdsa_spec_private_signs),
	        cmocka_unit_test(test_rsa_generated),
	        cmocka_unit_test(test_rsa_too_small),
	        cmocka_unit_test(test_type_mismatch),
	        cmocka_unit_test(test_malformed_protobuf),
	        cmocka_unit_test(test_unknown_type),
	        cmocka_unit_test(test_noncanonical_input_reencoded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
