/* libp2p identity keys over OpenSSL 3 EVP and the keys.proto codec.
 *
 * Decoding is permissive about protobuf layout (field order, repeats, unknown
 * fields: protobuf-c merges them as the spec requires) but strict about the
 * key material: every Data must parse completely as its type's encoding.
 * Encoding is canonical (Type then Data, minimal varints), so a remote key
 * re-encoded here hashes to the same peer ID every libp2p stack derives. */
#include "keys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "keys.pb-c.h"

/* RSA sizes accepted from peers: below 2048 bits is forgeable in practice
 * and go-libp2p refuses it; above 8192 only costs us CPU (go's cap too). */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
/* A PrivateKey we load is ours (Ed25519, at most 96 bytes of Data); this
 * bounds what a corrupt key file can make us parse. */
#define PRIVKEY_MAX_ENCODED 256
#define SECP256K1_COMPRESSED_LEN 33
#define SECP256K1_UNCOMPRESSED_LEN 65

struct pubkey {
	enum key_type type;
	/* The Data field in canonical form (what pubkey_encode writes). */
	uint8_t *data;
	size_t len;
	EVP_PKEY *pkey;
};

const char *key_type_name(enum key_type t)
{
	switch (t) {
	case KEY_TYPE_RSA:
		return "RSA";
	case KEY_TYPE_ED25519:
		return "Ed25519";
	case KEY_TYPE_SECP256K1:
		return "Secp256k1";
	case KEY_TYPE_ECDSA:
		return "ECDSA";
	}
	return "unknown";
}

/* --- our Ed25519 key ---------------------------------------------------- */

int privkey_from_seed(const uint8_t seed[ED25519_SEED_LEN], struct privkey *ret)
{
	if (!seed || !ret)
		return -EINVAL;
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, ED25519_SEED_LEN);
	if (!k)
		return -EIO;
	uint8_t pub[ED25519_PUBLIC_LEN];
	size_t n = sizeof(pub);
	int r = EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == sizeof(pub) ? 0 : -EIO;
	EVP_PKEY_free(k);
	if (r < 0)
		return r;
	/* seed may point into *ret (re-deriving in place), hence memmove. */
	memmove(ret->seed, seed, ED25519_SEED_LEN);
	memcpy(ret->pub, pub, sizeof(pub));
	return 0;
}

int privkey_generate(struct privkey *ret)
{
	if (!ret)
		return -EINVAL;
	uint8_t seed[ED25519_SEED_LEN];
	int r = crypto_random(seed, sizeof(seed));
	if (r == 0)
		r = privkey_from_seed(seed, ret);
	crypto_wipe(seed, sizeof(seed));
	return r;
}

void privkey_wipe(struct privkey *k)
{
	if (k)
		crypto_wipe(k, sizeof(*k));
}

int privkey_sign(const struct privkey *k, const void *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	if (!k || (!msg && len) || !sig)
		return -EINVAL;
	static const uint8_t empty[1];
	int r = -EIO;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *pk =
	        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, ED25519_SEED_LEN);
	if (!pk)
		return -EIO;
	md = EVP_MD_CTX_new();
	if (!md) {
		r = -ENOMEM;
		goto out;
	}
	/* Pure Ed25519: no digest, one-shot over the whole message. */
	if (EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, pk, NULL) != 1)
		goto out;
	size_t n = ED25519_SIG_LEN;
	if (EVP_DigestSign(md, sig, &n, msg ? msg : (const void *)empty, len) != 1 ||
	    n != ED25519_SIG_LEN)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return r;
}

/* Append a packed message to out; the buffer is reserved up front so a
 * secret is never left behind in a realloc'd-away block. */
static int pack_key(enum key_type t, const uint8_t *data, size_t len, bool private_key,
                    struct buf *out)
{
	if (!out)
		return -EINVAL;
	size_t need;
	uint8_t *p;
	if (private_key) {
		KeysPb__PrivateKey m = KEYS_PB__PRIVATE_KEY__INIT;
		m.type = (KeysPb__KeyType)t;
		m.data.data = (uint8_t *)data;
		m.data.len = len;
		need = keys_pb__private_key__get_packed_size(&m);
		if (buf_reserve(out, need) < 0 || !(p = buf_extend(out, need)))
			return -ENOMEM;
		keys_pb__private_key__pack(&m, p);
	} else {
		KeysPb__PublicKey m = KEYS_PB__PUBLIC_KEY__INIT;
		m.type = (KeysPb__KeyType)t;
		m.data.data = (uint8_t *)data;
		m.data.len = len;
		need = keys_pb__public_key__get_packed_size(&m);
		if (!(p = buf_extend(out, need)))
			return -ENOMEM;
		keys_pb__public_key__pack(&m, p);
	}
	return 0;
}

int privkey_encode(const struct privkey *k, struct buf *out)
{
	if (!k)
		return -EINVAL;
	uint8_t data[ED25519_SEED_LEN + ED25519_PUBLIC_LEN];
	memcpy(data, k->seed, ED25519_SEED_LEN);
	memcpy(data + ED25519_SEED_LEN, k->pub, ED25519_PUBLIC_LEN);
	int r = pack_key(KEY_TYPE_ED25519, data, sizeof(data), true, out);
	crypto_wipe(data, sizeof(data));
	return r;
}

int privkey_encode_public(const struct privkey *k, struct buf *out)
{
	if (!k)
		return -EINVAL;
	return pack_key(KEY_TYPE_ED25519, k->pub, ED25519_PUBLIC_LEN, false, out);
}

static bool known_type(int t)
{
	return t == KEY_TYPE_RSA || t == KEY_TYPE_ED25519 || t == KEY_TYPE_SECP256K1 ||
	       t == KEY_TYPE_ECDSA;
}

int privkey_decode(const uint8_t *data, size_t len, struct privkey *ret)
{
	if ((!data && len) || !ret)
		return -EINVAL;
	if (len > PRIVKEY_MAX_ENCODED)
		return -EBADMSG;
	KeysPb__PrivateKey *m = keys_pb__private_key__unpack(NULL, len, data);
	if (!m)
		return -EBADMSG;
	int r;
	if (!known_type((int)m->type)) {
		r = -EPROTONOSUPPORT;
		goto out;
	}
	/* We only hold Ed25519 identities; other types would need a signer. */
	if (m->type != KEYS_PB__KEY_TYPE__Ed25519) {
		r = -EPROTONOSUPPORT;
		goto out;
	}
	const uint8_t *d = m->data.data;
	size_t dl = m->data.len;
	/* 64 bytes seed||pub, or the legacy seed||pub||pub whose copies match. */
	if (dl != 64 && dl != 96) {
		r = -EBADMSG;
		goto out;
	}
	if (dl == 96 && !crypto_equal(d + 32, d + 64, 32)) {
		r = -EBADMSG;
		goto out;
	}
	struct privkey k;
	r = privkey_from_seed(d, &k);
	if (r < 0)
		goto out;
	/* A stored public half that does not belong to the seed means a corrupt
	 * file; using it would give a peer ID our signatures cannot back. */
	if (!crypto_equal(k.pub, d + 32, ED25519_PUBLIC_LEN)) {
		privkey_wipe(&k);
		r = -EBADMSG;
		goto out;
	}
	*ret = k;
	privkey_wipe(&k);
	r = 0;
out:
	crypto_wipe(m->data.data, m->data.len);
	keys_pb__private_key__free_unpacked(m, NULL);
	return r;
}

/* --- peers' public keys ------------------------------------------------- */

static struct pubkey *pubkey_new(enum key_type t, const uint8_t *data, size_t len)
{
	struct pubkey *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->data = malloc(len ? len : 1);
	if (!k->data) {
		free(k);
		return NULL;
	}
	if (len) /* data may be NULL for an empty key (protobuf-c's empty bytes) */
		memcpy(k->data, data, len);
	k->len = len;
	k->type = t;
	return k;
}

void pubkey_free(struct pubkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->data);
	free(k);
}

struct pubkey *pubkey_from_ed25519(const uint8_t pub[ED25519_PUBLIC_LEN])
{
	if (!pub)
		return NULL;
	struct pubkey *k = pubkey_new(KEY_TYPE_ED25519, pub, ED25519_PUBLIC_LEN);
	if (!k)
		return NULL;
	k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, ED25519_PUBLIC_LEN);
	if (!k->pkey) {
		pubkey_free(k);
		return NULL;
	}
	return k;
}

enum key_type pubkey_type(const struct pubkey *k)
{
	return k->type;
}

/* A DER SubjectPublicKeyInfo that must be consumed completely. */
static int parse_spki(const uint8_t *d, size_t len, EVP_PKEY **ret)
{
	if (len == 0 || len > PUBKEY_MAX_ENCODED)
		return -EBADMSG;
	const unsigned char *p = d;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (!pk)
		return -EBADMSG;
	if ((size_t)(p - d) != len) {
		EVP_PKEY_free(pk);
		return -EBADMSG;
	}
	*ret = pk;
	return 0;
}

/* secp256k1: the "Bitcoin" encoding is a SEC1 point. We accept the
 * uncompressed form too (btcec does) but keep the compressed form, which is
 * what every implementation marshals and so what peer IDs hash. */
static int parse_secp256k1(struct pubkey *k, const uint8_t *d, size_t len)
{
	if (!((len == SECP256K1_COMPRESSED_LEN && (d[0] == 2 || d[0] == 3)) ||
	      (len == SECP256K1_UNCOMPRESSED_LEN && d[0] == 4)))
		return -EBADMSG;
	int r = -EBADMSG;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"secp256k1",
	                                         0),
	        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)d, len),
	        OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *pk = NULL;
	if (!ctx) {
		r = -ENOMEM;
		goto out;
	}
	/* fromdata decodes the point, which fails when it is not on the curve. */
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* OpenSSL 3.0 hands the point back uncompressed whatever format is
	 * asked for, so compress it here: 02|03 by the parity of y, then x. */
	uint8_t full[SECP256K1_UNCOMPRESSED_LEN], comp[SECP256K1_COMPRESSED_LEN];
	size_t n = 0;
	if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, full, sizeof(full), &n) !=
	    1)
		goto out;
	if (n == SECP256K1_UNCOMPRESSED_LEN && full[0] == 4) {
		comp[0] = (uint8_t)(2 | (full[64] & 1));
		memcpy(comp + 1, full + 1, 32);
	} else if (n == SECP256K1_COMPRESSED_LEN && (full[0] == 2 || full[0] == 3)) {
		memcpy(comp, full, n);
	} else {
		goto out;
	}
	n = sizeof(comp);
	if (len != n) {
		uint8_t *nd = malloc(n);
		if (!nd) {
			r = -ENOMEM;
			goto out;
		}
		free(k->data);
		k->data = nd;
	}
	memcpy(k->data, comp, n);
	k->len = n;
	k->pkey = pk;
	pk = NULL;
	r = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ECDSA keys on the NIST curves go and JS accept; explicit curve parameters
 * and other named curves are refused (they cost us, nobody sends them). */
static bool ecdsa_curve_ok(const EVP_PKEY *pk)
{
	char name[64];
	size_t n = 0;
	if (EVP_PKEY_get_group_name(pk, name, sizeof(name), &n) != 1)
		return false;
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "secp384r1") == 0 ||
	       strcmp(name, "secp521r1") == 0;
}

static int parse_key_data(struct pubkey *k)
{
	int r;
	switch (k->type) {
	case KEY_TYPE_ED25519:
		if (k->len != ED25519_PUBLIC_LEN)
			return -EBADMSG;
		k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->data, k->len);
		return k->pkey ? 0 : -EBADMSG;
	case KEY_TYPE_SECP256K1:
		return parse_secp256k1(k, k->data, k->len);
	case KEY_TYPE_ECDSA:
		r = parse_spki(k->data, k->len, &k->pkey);
		if (r < 0)
			return r;
		/* An SPKI of another algorithm under the ECDSA type is malformed. */
		if (!EVP_PKEY_is_a(k->pkey, "EC"))
			return -EBADMSG;
		return ecdsa_curve_ok(k->pkey) ? 0 : -EPROTONOSUPPORT;
	case KEY_TYPE_RSA:
		r = parse_spki(k->data, k->len, &k->pkey);
		if (r < 0)
			return r;
		if (!EVP_PKEY_is_a(k->pkey, "RSA"))
			return -EBADMSG;
		int bits = EVP_PKEY_get_bits(k->pkey);
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
			return -EKEYREJECTED;
		return 0;
	}
	return -EPROTONOSUPPORT;
}

int pubkey_decode(const uint8_t *data, size_t len, struct pubkey **ret)
{
	if ((!data && len) || !ret)
		return -EINVAL;
	*ret = NULL;
	if (len > PUBKEY_MAX_ENCODED)
		return -EBADMSG;
	KeysPb__PublicKey *m = keys_pb__public_key__unpack(NULL, len, data);
	if (!m)
		return -EBADMSG;
	int r;
	struct pubkey *k = NULL;
	if (!known_type((int)m->type)) {
		r = -EPROTONOSUPPORT;
		goto out;
	}
	k = pubkey_new((enum key_type)m->type, m->data.data, m->data.len);
	if (!k) {
		r = -ENOMEM;
		goto out;
	}
	r = parse_key_data(k);
	if (r < 0)
		goto out;
	*ret = k;
	k = NULL;
out:
	pubkey_free(k);
	keys_pb__public_key__free_unpacked(m, NULL);
	return r;
}

int pubkey_encode(const struct pubkey *k, struct buf *out)
{
	if (!k)
		return -EINVAL;
	return pack_key(k->type, k->data, k->len, false, out);
}

int pubkey_verify(const struct pubkey *k, const void *msg, size_t len, const uint8_t *sig,
                  size_t sig_len)
{
	if (!k || (!msg && len) || (!sig && sig_len))
		return -EINVAL;
	if (sig_len == 0 || sig_len > SIGNATURE_MAX_LEN)
		return -EKEYREJECTED;
	if (k->type == KEY_TYPE_ED25519 && sig_len != ED25519_SIG_LEN)
		return -EKEYREJECTED;
	static const uint8_t empty[1];
	/* Ed25519 is pure (no digest); the others hash with SHA-256 first. The
	 * RSA default padding is PKCS#1 v1.5 and ECDSA takes a DER signature,
	 * exactly the libp2p encodings. */
	const char *mdname = k->type == KEY_TYPE_ED25519 ? NULL : "SHA256";
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	int r = -EKEYREJECTED;
	if (EVP_DigestVerifyInit_ex(md, NULL, mdname, NULL, NULL, k->pkey, NULL) != 1) {
		r = -EIO;
		goto out;
	}
	if (EVP_DigestVerify(md, sig, sig_len, msg ? msg : (const void *)empty, len) == 1)
		r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}
