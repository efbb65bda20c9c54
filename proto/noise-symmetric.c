/* Noise CipherState and SymmetricState, the key schedule under the XX
 * handshake and the transport ciphers. Written from the Noise spec (rev 34):
 * ChaChaPoly nonces are 4 zero bytes then the 64-bit counter little-endian;
 * HKDF is Noise's two-output form built on HMAC-SHA256.
 *
 * Every intermediate key lives on the stack only as long as needed and is
 * wiped before returning. */
#include "noise-symmetric.h"

#include <errno.h>
#include <string.h>

int noise_hkdf2(const uint8_t ck[NOISE_HASH_LEN], const void *ikm, size_t ikm_len,
                uint8_t o1[NOISE_HASH_LEN], uint8_t o2[NOISE_HASH_LEN])
{
	uint8_t t[HMAC_SHA256_LEN], a[HMAC_SHA256_LEN], in2[HMAC_SHA256_LEN + 1];
	const uint8_t one = 0x01;
	int r = crypto_hmac_sha256(ck, NOISE_HASH_LEN, ikm, ikm_len, t);
	if (r == 0)
		r = crypto_hmac_sha256(t, sizeof(t), &one, 1, a);
	if (r == 0) {
		memcpy(in2, a, sizeof(a));
		in2[sizeof(a)] = 0x02;
		r = crypto_hmac_sha256(t, sizeof(t), in2, sizeof(in2), o2);
	}
	if (r == 0)
		memcpy(o1, a, sizeof(a));
	crypto_wipe(t, sizeof(t));
	crypto_wipe(a, sizeof(a));
	crypto_wipe(in2, sizeof(in2));
	return r;
}

void noise_cipher_init(struct noise_cipher *c, const uint8_t k[NOISE_KEY_LEN])
{
	memcpy(c->k, k, NOISE_KEY_LEN);
	c->n = 0;
	c->has_key = true;
	c->aead = NULL;
}

void noise_cipher_wipe(struct noise_cipher *c)
{
	chachapoly_ctx_free(c->aead);
	crypto_wipe(c, sizeof(*c));
}

/* The key is scheduled once, on first use: a handshake key seals one or
 * two messages, a transport key every frame of the connection. */
static int cipher_ready(struct noise_cipher *c)
{
	return c->aead ? 0 : chachapoly_ctx_new(c->k, &c->aead);
}

static void make_nonce(uint64_t n, uint8_t nonce[CHACHAPOLY_NONCE_LEN])
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

size_t noise_cipher_overhead(const struct noise_cipher *c)
{
	return c->has_key ? NOISE_TAG_LEN : 0;
}

int noise_cipher_encrypt(struct noise_cipher *c, const void *ad, size_t ad_len, const void *pt,
                         size_t len, uint8_t *out)
{
	if (!c->has_key) {
		if (len)
			memmove(out, pt, len);
		return 0;
	}
	if (c->n == NOISE_NONCE_MAX)
		return -EOVERFLOW;
	int r = cipher_ready(c);
	if (r < 0)
		return r;
	uint8_t nonce[CHACHAPOLY_NONCE_LEN];
	make_nonce(c->n, nonce);
	r = chachapoly_ctx_seal(c->aead, nonce, ad, ad_len, pt, len, out);
	if (r < 0)
		return r;
	c->n++;
	return 0;
}

int noise_cipher_decrypt(struct noise_cipher *c, const void *ad, size_t ad_len, const void *ct,
                         size_t ct_len, uint8_t *out)
{
	if (!c->has_key) {
		if (ct_len)
			memmove(out, ct, ct_len);
		return 0;
	}
	if (ct_len < NOISE_TAG_LEN)
		return -EINVAL;
	if (c->n == NOISE_NONCE_MAX)
		return -EOVERFLOW;
	int r = cipher_ready(c);
	if (r < 0)
		return r;
	uint8_t nonce[CHACHAPOLY_NONCE_LEN];
	make_nonce(c->n, nonce);
	r = chachapoly_ctx_open(c->aead, nonce, ad, ad_len, ct, ct_len, out);
	if (r < 0)
		return r;
	c->n++;
	return 0;
}

void noise_sym_init(struct noise_symmetric *s, const void *prologue, size_t len)
{
	_Static_assert(sizeof(NOISE_PROTOCOL_NAME) - 1 == NOISE_HASH_LEN,
	               "a 32-byte protocol name is used as h unhashed");
	memset(s, 0, sizeof(*s));
	memcpy(s->h, NOISE_PROTOCOL_NAME, NOISE_HASH_LEN);
	memcpy(s->ck, s->h, NOISE_HASH_LEN);
	/* Cannot fail short of an OpenSSL breakdown, which the first real
	 * operation reports anyway. */
	(void)noise_sym_mix_hash(s, prologue, len);
}

/* out = SHA256(h || data); out may not alias data. */
static int hash2(const uint8_t h[NOISE_HASH_LEN], const void *data, size_t len,
                 uint8_t out[NOISE_HASH_LEN])
{
	struct sha256_ctx *c = sha256_new();
	if (!c)
		return -ENOMEM;
	int r = sha256_update(c, h, NOISE_HASH_LEN);
	if (r == 0 && len)
		r = sha256_update(c, data, len);
	if (r == 0)
		r = sha256_final(c, out);
	sha256_free(c);
	return r;
}

int noise_sym_mix_hash(struct noise_symmetric *s, const void *data, size_t len)
{
	uint8_t h[NOISE_HASH_LEN];
	int r = hash2(s->h, data, len, h);
	if (r == 0)
		memcpy(s->h, h, sizeof(h));
	return r;
}

int noise_sym_mix_key(struct noise_symmetric *s, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_HASH_LEN], k[NOISE_HASH_LEN];
	int r = noise_hkdf2(s->ck, ikm, len, ck, k);
	if (r == 0) {
		memcpy(s->ck, ck, sizeof(ck));
		noise_cipher_wipe(&s->cs); /* the previous key, if any */
		noise_cipher_init(&s->cs, k);
	}
	crypto_wipe(ck, sizeof(ck));
	crypto_wipe(k, sizeof(k));
	return r;
}

int noise_sym_encrypt_hash(struct noise_symmetric *s, const void *pt, size_t len, uint8_t *out)
{
	int r = noise_cipher_encrypt(&s->cs, s->h, NOISE_HASH_LEN, pt, len, out);
	if (r < 0)
		return r;
	return noise_sym_mix_hash(s, out, len + noise_cipher_overhead(&s->cs));
}

int noise_sym_decrypt_hash(struct noise_symmetric *s, const void *ct, size_t ct_len, uint8_t *out)
{
	/* Hash the ciphertext before decrypting: out may overwrite it. */
	uint8_t h[NOISE_HASH_LEN];
	int r = hash2(s->h, ct, ct_len, h);
	if (r == 0)
		r = noise_cipher_decrypt(&s->cs, s->h, NOISE_HASH_LEN, ct, ct_len, out);
	if (r == 0)
		memcpy(s->h, h, sizeof(h));
	return r;
}

int noise_sym_split(const struct noise_symmetric *s, struct noise_cipher *c1,
                    struct noise_cipher *c2)
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];
	int r = noise_hkdf2(s->ck, "", 0, k1, k2);
	if (r == 0) {
		noise_cipher_init(c1, k1);
		noise_cipher_init(c2, k2);
	}
	crypto_wipe(k1, sizeof(k1));
	crypto_wipe(k2, sizeof(k2));
	return r;
}

void noise_sym_wipe(struct noise_symmetric *s)
{
	noise_cipher_wipe(&s->cs);
	crypto_wipe(s, sizeof(*s));
}
