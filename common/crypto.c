/* Crypto wrappers over OpenSSL 3 EVP.
 *
 * Everything is one-shot over the EVP interfaces so no deprecated low-level
 * API is used. HMAC and HKDF are built on EVP_MAC rather than the HKDF KDF
 * provider because Noise calls HKDF with an empty input key (Split()), which
 * the provider rejects; HKDF over HMAC is a dozen lines and exact RFC 5869. */
#include "crypto.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* EVP takes int lengths; larger inputs are fed in pieces of this size. */
#define EVP_CHUNK ((size_t)1 << 30)

void crypto_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return true;
	return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_random(void *out, size_t len)
{
	uint8_t *p = out;
	if (!out && len)
		return -EINVAL;
	while (len > 0) {
		size_t n = len < EVP_CHUNK ? len : EVP_CHUNK;
		if (RAND_bytes(p, (int)n) != 1)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* --- SHA-256 ------------------------------------------------------------ */

struct sha256_ctx {
	EVP_MD_CTX *md;
};

int crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	if ((!data && len) || !out)
		return -EINVAL;
	struct sha256_ctx *c = sha256_new();
	if (!c)
		return -ENOMEM;
	int r = sha256_update(c, data, len);
	if (r == 0)
		r = sha256_final(c, out);
	sha256_free(c);
	return r;
}

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *c = OPENSSL_zalloc(sizeof(*c));
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		sha256_free(c);
		return NULL;
	}
	return c;
}

int sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	if (!c || (!data && len))
		return -EINVAL;
	/* EVP_DigestUpdate takes size_t, no chunking needed. */
	if (len && EVP_DigestUpdate(c->md, data, len) != 1)
		return -EIO;
	return 0;
}

/* Finishing also re-arms the context, so one context can hash many files. */
int sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
	if (!c || !out)
		return -EINVAL;
	unsigned int n = 0;
	uint8_t tmp[SHA256_LEN];
	if (EVP_DigestFinal_ex(c->md, tmp, &n) != 1 || n != SHA256_LEN)
		return -EIO;
	memcpy(out, tmp, SHA256_LEN);
	if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
		return -EIO;
	return 0;
}

void sha256_free(struct sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	OPENSSL_free(c);
}

/* --- HMAC / HKDF / PBKDF2 ----------------------------------------------- */

struct piece {
	const void *p;
	size_t len;
};

/* HMAC-SHA256 over the concatenation of n pieces. An empty key is the same as
 * a one-byte zero key (HMAC zero-pads keys to the block size), which avoids
 * OpenSSL's refusal of zero-length keys. */
static int hmac_pieces(const void *key, size_t key_len, const struct piece *pc, size_t n,
                       uint8_t out[HMAC_SHA256_LEN])
{
	static const uint8_t zero_key[1] = {0};
	if (key_len == 0) {
		key = zero_key;
		key_len = sizeof(zero_key);
	}
	int r = -EIO;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!ctx)
		goto out;
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	        OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_init(ctx, key, key_len, params) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (pc[i].len && EVP_MAC_update(ctx, pc[i].p, pc[i].len) != 1)
			goto out;
	size_t got = 0;
	uint8_t tmp[HMAC_SHA256_LEN];
	if (EVP_MAC_final(ctx, tmp, &got, sizeof(tmp)) != 1 || got != HMAC_SHA256_LEN)
		goto out;
	memcpy(out, tmp, HMAC_SHA256_LEN);
	crypto_wipe(tmp, sizeof(tmp));
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[HMAC_SHA256_LEN])
{
	if ((!key && key_len) || (!data && len) || !out)
		return -EINVAL;
	struct piece pc = {data, len};
	return hmac_pieces(key, key_len, &pc, 1, out);
}

int crypto_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm, size_t ikm_len,
                       const void *info, size_t info_len, void *out, size_t out_len)
{
	if ((!salt && salt_len) || (!ikm && ikm_len) || (!info && info_len) || !out ||
	    out_len == 0 || out_len > HKDF_SHA256_MAX_OUT)
		return -EINVAL;
	/* Extract: PRK = HMAC(salt, IKM); a missing salt is HashLen zeros, which
	 * HMAC treats exactly like an empty key. */
	uint8_t prk[HMAC_SHA256_LEN], t[HMAC_SHA256_LEN];
	struct piece in = {ikm, ikm_len};
	int r = hmac_pieces(salt, salt_len, &in, 1, prk);
	if (r < 0)
		goto out;
	/* Expand: T(i) = HMAC(PRK, T(i-1) || info || i). Written into a
	 * scratch block first so out is untouched on failure. */
	uint8_t *o = out;
	size_t done = 0;
	for (uint8_t i = 1; done < out_len; i++) {
		struct piece pc[3] = {
		        {t, i == 1 ? 0 : sizeof(t)},
		        {info, info_len},
		        {&i, 1},
		};
		r = hmac_pieces(prk, sizeof(prk), pc, 3, t);
		if (r < 0) {
			crypto_wipe(out, done);
			goto out;
		}
		size_t n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		memcpy(o + done, t, n);
		done += n;
	}
	r = 0;
out:
	crypto_wipe(prk, sizeof(prk));
	crypto_wipe(t, sizeof(t));
	return r;
}

int crypto_pbkdf2_sha256(const void *pw, size_t pw_len, const void *salt, size_t salt_len,
                         uint32_t iterations, void *out, size_t out_len)
{
	if ((!pw && pw_len) || (!salt && salt_len) || !out || out_len == 0 || out_len > INT_MAX ||
	    pw_len > INT_MAX || salt_len > INT_MAX || iterations == 0 || iterations > INT_MAX)
		return -EINVAL;
	static const uint8_t empty[1] = {0};
	/* PKCS5_PBKDF2_HMAC is the EVP-level entry point (not deprecated) and
	 * bypasses the provider's SP 800-132 minimums, which BIP39 (2048
	 * rounds, 8-byte salt "mnemonic") would not meet. */
	if (PKCS5_PBKDF2_HMAC(pw ? pw : (const void *)empty, (int)pw_len,
	                      salt ? salt : (const void *)empty, (int)salt_len, (int)iterations,
	                      EVP_sha256(), (int)out_len, out) != 1) {
		crypto_wipe(out, out_len);
		return -EIO;
	}
	return 0;
}

/* --- X25519 ------------------------------------------------------------- */

int x25519_public(const uint8_t priv[X25519_KEY_LEN], uint8_t pub[X25519_KEY_LEN])
{
	if (!priv || !pub)
		return -EINVAL;
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, X25519_KEY_LEN);
	if (!k)
		return -EIO;
	size_t n = X25519_KEY_LEN;
	uint8_t tmp[X25519_KEY_LEN];
	int r = EVP_PKEY_get_raw_public_key(k, tmp, &n) == 1 && n == X25519_KEY_LEN ? 0 : -EIO;
	EVP_PKEY_free(k);
	if (r == 0)
		memcpy(pub, tmp, X25519_KEY_LEN);
	return r;
}

int x25519_keygen(uint8_t priv[X25519_KEY_LEN], uint8_t pub[X25519_KEY_LEN])
{
	if (!priv || !pub)
		return -EINVAL;
	uint8_t sk[X25519_KEY_LEN];
	int r = crypto_random(sk, sizeof(sk));
	if (r == 0)
		r = x25519_public(sk, pub);
	if (r == 0)
		memcpy(priv, sk, sizeof(sk));
	crypto_wipe(sk, sizeof(sk));
	return r;
}

int x25519_shared(const uint8_t priv[X25519_KEY_LEN], const uint8_t peer_pub[X25519_KEY_LEN],
                  uint8_t out[X25519_KEY_LEN])
{
	if (!priv || !peer_pub || !out)
		return -EINVAL;
	int r = -EIO;
	uint8_t tmp[X25519_KEY_LEN] = {0};
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, X25519_KEY_LEN);
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, X25519_KEY_LEN);
	if (!sk || !pk)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, sk, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, pk) != 1)
		goto out;
	size_t n = sizeof(tmp);
	/* With valid keys of the right size the only derive failure OpenSSL
	 * has is an all-zero result: a low-order peer point. */
	if (EVP_PKEY_derive(ctx, tmp, &n) != 1 || n != X25519_KEY_LEN) {
		r = -EINVAL;
		goto out;
	}
	static const uint8_t zero[X25519_KEY_LEN];
	if (crypto_equal(tmp, zero, sizeof(tmp))) {
		r = -EINVAL;
		goto out;
	}
	memcpy(out, tmp, sizeof(tmp));
	r = 0;
out:
	crypto_wipe(tmp, sizeof(tmp));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(pk);
	return r;
}

/* --- AEAD --------------------------------------------------------------- */

static int cipher_update_all(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		size_t n = len < EVP_CHUNK ? len : EVP_CHUNK;
		int outl = 0;
		if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 || (size_t)outl != n)
			return -EIO;
		if (out)
			out += n;
		in += n;
		len -= n;
	}
	return 0;
}

/* Both AEADs here have a 12-byte nonce and a 16-byte tag and are stream
 * modes (output length equals input length), so one routine serves both. */
static bool seal_args_ok(const uint8_t *nonce, const void *ad, size_t ad_len, const void *pt,
                         size_t pt_len, const uint8_t *out)
{
	return nonce && (ad || !ad_len) && (pt || !pt_len) && out &&
	       pt_len <= SIZE_MAX - AEAD_TAG_LEN;
}

static bool open_args_ok(const uint8_t *nonce, const void *ad, size_t ad_len, const void *ct,
                         size_t ct_len, const uint8_t *out)
{
	return nonce && (ad || !ad_len) && ct && ct_len >= AEAD_TAG_LEN &&
	       (out || ct_len == AEAD_TAG_LEN);
}

/* One message on a context already set up for encryption with its key and
 * nonce: AD, plaintext, tag. */
static int seal_on(EVP_CIPHER_CTX *ctx, const void *ad, size_t ad_len, const void *pt,
                   size_t pt_len, uint8_t *out)
{
	int outl = 0;
	if ((ad_len && cipher_update_all(ctx, NULL, ad, ad_len) < 0) ||
	    (pt_len && cipher_update_all(ctx, out, pt, pt_len) < 0) ||
	    EVP_EncryptFinal_ex(ctx, out + pt_len, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, out + pt_len) != 1) {
		crypto_wipe(out, pt_len + AEAD_TAG_LEN);
		return -EIO;
	}
	return 0;
}

/* The same for decryption; never leaves unauthenticated plaintext behind. */
static int open_on(EVP_CIPHER_CTX *ctx, const void *ad, size_t ad_len, const void *ct,
                   size_t ct_len, uint8_t *out)
{
	size_t pt_len = ct_len - AEAD_TAG_LEN;
	/* Copy the tag first: out may equal ct and decryption overwrites it. */
	uint8_t tag[AEAD_TAG_LEN];
	memcpy(tag, (const uint8_t *)ct + pt_len, AEAD_TAG_LEN);
	int r = -EIO;
	if (ad_len && cipher_update_all(ctx, NULL, ad, ad_len) < 0)
		goto out;
	if (pt_len && cipher_update_all(ctx, out, ct, pt_len) < 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
		goto out;
	int outl = 0;
	uint8_t dummy[AEAD_TAG_LEN];
	r = EVP_DecryptFinal_ex(ctx, out ? out + pt_len : dummy, &outl) == 1 ? 0 : -EBADMSG;
out:
	if (r < 0 && out)
		crypto_wipe(out, pt_len);
	return r;
}

static int aead_seal(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *nonce,
                     const void *ad, size_t ad_len, const void *pt, size_t pt_len, uint8_t *out)
{
	if (!key || !seal_args_ok(nonce, ad, ad_len, pt, pt_len, out))
		return -EINVAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	int r = -EIO;
	if (EVP_EncryptInit_ex(ctx, cipher, NULL, key, nonce) == 1)
		r = seal_on(ctx, ad, ad_len, pt, pt_len, out);
	else
		crypto_wipe(out, pt_len + AEAD_TAG_LEN);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static int aead_open(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *nonce,
                     const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out)
{
	if (!key || !open_args_ok(nonce, ad, ad_len, ct, ct_len, out))
		return -EINVAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	int r = -EIO;
	if (EVP_DecryptInit_ex(ctx, cipher, NULL, key, nonce) == 1)
		r = open_on(ctx, ad, ad_len, ct, ct_len, out);
	else if (out)
		crypto_wipe(out, ct_len - AEAD_TAG_LEN);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int chachapoly_seal(const uint8_t key[CHACHAPOLY_KEY_LEN],
                    const uint8_t nonce[CHACHAPOLY_NONCE_LEN], const void *ad, size_t ad_len,
                    const void *pt, size_t pt_len, uint8_t *out)
{
	return aead_seal(EVP_chacha20_poly1305(), key, nonce, ad, ad_len, pt, pt_len, out);
}

int chachapoly_open(const uint8_t key[CHACHAPOLY_KEY_LEN],
                    const uint8_t nonce[CHACHAPOLY_NONCE_LEN], const void *ad, size_t ad_len,
                    const void *ct, size_t ct_len, uint8_t *out)
{
	return aead_open(EVP_chacha20_poly1305(), key, nonce, ad, ad_len, ct, ct_len, out);
}

/* --- ChaCha20-Poly1305 with a reusable key ------------------------------ */

/* One EVP context per direction, each keyed once; a message only sets the
 * nonce (EVP_CipherInit_ex2 with no cipher and no key keeps both and starts
 * a new message). The cipher is fetched explicitly, once per context, rather
 * than looked up by name on every init. */
struct chachapoly_ctx {
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *enc, *dec;
};

struct chachapoly_ctx *chachapoly_ctx_free(struct chachapoly_ctx *c)
{
	if (!c)
		return NULL;
	/* EVP_CIPHER_CTX_free cleanses the key schedule it holds. */
	EVP_CIPHER_CTX_free(c->enc);
	EVP_CIPHER_CTX_free(c->dec);
	EVP_CIPHER_free(c->cipher);
	OPENSSL_clear_free(c, sizeof(*c));
	return NULL;
}

int chachapoly_ctx_new(const uint8_t key[CHACHAPOLY_KEY_LEN], struct chachapoly_ctx **ret)
{
	if (!key || !ret)
		return -EINVAL;
	struct chachapoly_ctx *c = OPENSSL_zalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	c->enc = EVP_CIPHER_CTX_new();
	c->dec = EVP_CIPHER_CTX_new();
	if (!c->cipher || !c->enc || !c->dec) {
		int r = c->cipher ? -ENOMEM : -EIO;
		chachapoly_ctx_free(c);
		return r;
	}
	/* The all-zero nonce here is never used: every message sets its own. */
	static const uint8_t zero_nonce[CHACHAPOLY_NONCE_LEN];
	if (EVP_EncryptInit_ex2(c->enc, c->cipher, key, zero_nonce, NULL) != 1 ||
	    EVP_DecryptInit_ex2(c->dec, c->cipher, key, zero_nonce, NULL) != 1) {
		chachapoly_ctx_free(c);
		return -EIO;
	}
	*ret = c;
	return 0;
}

int chachapoly_ctx_seal(struct chachapoly_ctx *c, const uint8_t nonce[CHACHAPOLY_NONCE_LEN],
                        const void *ad, size_t ad_len, const void *pt, size_t pt_len, uint8_t *out)
{
	if (!c || !seal_args_ok(nonce, ad, ad_len, pt, pt_len, out))
		return -EINVAL;
	if (EVP_EncryptInit_ex2(c->enc, NULL, NULL, nonce, NULL) != 1) {
		crypto_wipe(out, pt_len + AEAD_TAG_LEN);
		return -EIO;
	}
	return seal_on(c->enc, ad, ad_len, pt, pt_len, out);
}

int chachapoly_ctx_open(struct chachapoly_ctx *c, const uint8_t nonce[CHACHAPOLY_NONCE_LEN],
                        const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out)
{
	if (!c || !open_args_ok(nonce, ad, ad_len, ct, ct_len, out))
		return -EINVAL;
	if (EVP_DecryptInit_ex2(c->dec, NULL, NULL, nonce, NULL) != 1) {
		if (out)
			crypto_wipe(out, ct_len - AEAD_TAG_LEN);
		return -EIO;
	}
	return open_on(c->dec, ad, ad_len, ct, ct_len, out);
}

int aesgcm_seal(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t nonce[AES256GCM_NONCE_LEN],
                const void *ad, size_t ad_len, const void *pt, size_t pt_len, uint8_t *out)
{
	return aead_seal(EVP_aes_256_gcm(), key, nonce, ad, ad_len, pt, pt_len, out);
}

int aesgcm_open(const uint8_t key[AES256GCM_KEY_LEN], const uint8_t nonce[AES256GCM_NONCE_LEN],
                const void *ad, size_t ad_len, const void *ct, size_t ct_len, uint8_t *out)
{
	return aead_open(EVP_aes_256_gcm(), key, nonce, ad, ad_len, ct, ct_len, out);
}
