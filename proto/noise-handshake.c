/* XX handshake messages, token by token, over the SymmetricState. The
 * payload of every message goes through EncryptAndHash / DecryptAndHash even
 * when empty (message 1 has no key yet, so its payload travels in clear but
 * is still mixed into h): skipping that would change every key after it. */
#include "noise-handshake.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"

/* Encrypted static key: the key and an AEAD tag. */
#define ENC_STATIC_LEN (NOISE_DH_LEN + NOISE_TAG_LEN)

/* buf_extend() for a possibly empty region: one spare byte is reserved so a
 * NULL result always means out of memory, never "nothing to point at". */
static uint8_t *extend(struct buf *b, size_t len)
{
	if (buf_reserve(b, len + 1) < 0)
		return NULL;
	return buf_extend(b, len);
}

int noise_hs_init(struct noise_hs *hs, bool initiator, const uint8_t s_priv[NOISE_DH_LEN],
                  const uint8_t *e_priv)
{
	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	noise_sym_init(&hs->ss, "", 0);
	memcpy(hs->s_priv, s_priv, NOISE_DH_LEN);
	int r = x25519_public(hs->s_priv, hs->s_pub);
	if (r == 0 && e_priv) {
		memcpy(hs->e_priv, e_priv, NOISE_DH_LEN);
		r = x25519_public(hs->e_priv, hs->e_pub);
	} else if (r == 0) {
		r = x25519_keygen(hs->e_priv, hs->e_pub);
	}
	if (r < 0)
		noise_hs_wipe(hs);
	return r;
}

void noise_hs_wipe(struct noise_hs *hs)
{
	noise_sym_wipe(&hs->ss);
	crypto_wipe(hs, sizeof(*hs));
}

bool noise_hs_finished(const struct noise_hs *hs)
{
	return hs->step == 3;
}

const uint8_t *noise_hs_remote_static(const struct noise_hs *hs)
{
	return hs->rs;
}

const uint8_t *noise_hs_hash(const struct noise_hs *hs)
{
	return hs->ss.h;
}

/* MixKey(DH(priv, pub)). A low-order remote key gives an all-zero secret,
 * which x25519_shared() refuses: that is the peer's fault. */
static int mix_dh(struct noise_hs *hs, const uint8_t priv[NOISE_DH_LEN],
                  const uint8_t pub[NOISE_DH_LEN])
{
	uint8_t dh[NOISE_DH_LEN];
	int r = x25519_shared(priv, pub, dh);
	if (r == -EINVAL)
		return -EPROTO;
	if (r == 0)
		r = noise_sym_mix_key(&hs->ss, dh, sizeof(dh));
	crypto_wipe(dh, sizeof(dh));
	return r;
}

static int write_e(struct noise_hs *hs, struct buf *out)
{
	if (buf_append(out, hs->e_pub, NOISE_DH_LEN) < 0)
		return -ENOMEM;
	return noise_sym_mix_hash(&hs->ss, hs->e_pub, NOISE_DH_LEN);
}

static int write_s(struct noise_hs *hs, struct buf *out)
{
	uint8_t *p = buf_extend(out, ENC_STATIC_LEN);
	if (!p)
		return -ENOMEM;
	return noise_sym_encrypt_hash(&hs->ss, hs->s_pub, NOISE_DH_LEN, p);
}

static int write_payload(struct noise_hs *hs, const uint8_t *payload, size_t len, struct buf *out)
{
	uint8_t *p = extend(out, len + noise_cipher_overhead(&hs->ss.cs));
	if (!p)
		return -ENOMEM;
	return noise_sym_encrypt_hash(&hs->ss, payload, len, p);
}

static int write_tokens(struct noise_hs *hs, struct buf *out)
{
	int r;
	switch (hs->step) {
	case 0: /* -> e */
		return write_e(hs, out);
	case 1: /* <- e, ee, s, es */
		if ((r = write_e(hs, out)) < 0 || (r = mix_dh(hs, hs->e_priv, hs->re)) < 0 ||
		    (r = write_s(hs, out)) < 0)
			return r;
		return mix_dh(hs, hs->s_priv, hs->re);
	default: /* -> s, se */
		if ((r = write_s(hs, out)) < 0)
			return r;
		return mix_dh(hs, hs->s_priv, hs->re);
	}
}

static bool my_turn_to_write(const struct noise_hs *hs)
{
	return hs->step < 3 && (hs->step % 2 == 0) == hs->initiator;
}

int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t len, struct buf *out)
{
	if (!my_turn_to_write(hs))
		return -EINVAL;
	size_t start = out->len;
	int r = write_tokens(hs, out);
	if (r == 0)
		r = write_payload(hs, payload, len, out);
	if (r < 0) {
		out->len = start;
		return r;
	}
	hs->step++;
	return 0;
}

static int read_e(struct noise_hs *hs, struct cursor *c)
{
	if (cur_copy(c, hs->re, NOISE_DH_LEN) < 0)
		return -EPROTO;
	return noise_sym_mix_hash(&hs->ss, hs->re, NOISE_DH_LEN);
}

static int read_s(struct noise_hs *hs, struct cursor *c)
{
	const uint8_t *p;
	if (cur_get_bytes(c, ENC_STATIC_LEN, &p) < 0)
		return -EPROTO;
	return noise_sym_decrypt_hash(&hs->ss, p, ENC_STATIC_LEN, hs->rs);
}

static int read_tokens(struct noise_hs *hs, struct cursor *c)
{
	int r;
	switch (hs->step) {
	case 0: /* -> e */
		return read_e(hs, c);
	case 1: /* <- e, ee, s, es */
		if ((r = read_e(hs, c)) < 0 || (r = mix_dh(hs, hs->e_priv, hs->re)) < 0 ||
		    (r = read_s(hs, c)) < 0)
			return r;
		return mix_dh(hs, hs->e_priv, hs->rs);
	default: /* -> s, se */
		if ((r = read_s(hs, c)) < 0)
			return r;
		return mix_dh(hs, hs->e_priv, hs->rs);
	}
}

static int read_payload(struct noise_hs *hs, struct cursor *c, struct buf *payload)
{
	size_t ct_len = cur_remaining(c);
	size_t overhead = noise_cipher_overhead(&hs->ss.cs);
	if (ct_len < overhead)
		return -EPROTO;
	size_t start = payload->len;
	uint8_t *p = extend(payload, ct_len - overhead);
	if (!p)
		return -ENOMEM;
	int r = noise_sym_decrypt_hash(&hs->ss, cur_ptr(c), ct_len, p);
	if (r < 0)
		payload->len = start;
	return r;
}

int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, struct buf *payload)
{
	if (hs->step >= 3 || my_turn_to_write(hs))
		return -EINVAL;
	struct cursor c;
	cur_init(&c, msg, len);
	int r = read_tokens(hs, &c);
	if (r == 0)
		r = read_payload(hs, &c, payload);
	if (r < 0)
		return r;
	hs->step++;
	return 0;
}

int noise_hs_split(const struct noise_hs *hs, struct noise_cipher *send, struct noise_cipher *recv)
{
	if (!noise_hs_finished(hs))
		return -EINVAL;
	return hs->initiator ? noise_sym_split(&hs->ss, send, recv)
	                     : noise_sym_split(&hs->ss, recv, send);
}
