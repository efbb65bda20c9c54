/* Device authentication frames, transcript, proofs and rotation keys; the
 * encodings are spelled out in devauth.h. Every field read from the wire
 * goes through a bounded cursor, and a body must be used up exactly. */
#include "devauth.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "cursor.h"
#include "lpmsg.h"

static const char th_label[] = "sdnetd/device-auth/1";
static const char *const proof_label[2] = {"opener proof", "responder proof"};
static const char rekey_label[] = "sdnetd/device-rekey/1";
static const char *const rekey_step_label[3] = {"rekey propose", "rekey accept", "rekey commit"};
/* HKDF info per direction and purpose, proposer's point of view. */
static const char *const rekey_purpose[4] = {
        "sdnetd/device-rekey/1 proposer-to-accepter encryption",
        "sdnetd/device-rekey/1 accepter-to-proposer encryption",
        "sdnetd/device-rekey/1 proposer-to-accepter mac",
        "sdnetd/device-rekey/1 accepter-to-proposer mac",
};

static const char *const code_names[] = {
        [DEVAUTH_OK] = "ok",
        [DEVAUTH_NOT_PAIRED] = "not_paired",
        [DEVAUTH_BAD_PROOF] = "bad_proof",
        [DEVAUTH_NO_KEYS] = "no_keys",
        [DEVAUTH_REVOKED] = "revoked",
        [DEVAUTH_EXPIRED] = "expired",
        [DEVAUTH_UNSUPPORTED] = "unsupported",
        [DEVAUTH_PROTOCOL] = "protocol",
};

const char *devauth_code_name(enum devauth_code c)
{
	return (unsigned)c <= DEVAUTH_CODE_MAX ? code_names[c] : "unknown";
}

/* ---- frames ------------------------------------------------------------- */

static bool reason_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int encode_body(const struct devauth_msg *m, struct buf *b)
{
	int r = buf_append_u8(b, (uint8_t)m->type);
	switch (m->type) {
	case DEVAUTH_HELLO:
	case DEVAUTH_HELLO_PROOF:
		if (r == 0)
			r = buf_append_u8(b, m->version);
		if (r == 0)
			r = buf_append_u64be(b, m->epoch);
		if (r == 0 && m->type == DEVAUTH_HELLO_PROOF)
			r = buf_append_u64be(b, m->session_epoch);
		if (r == 0)
			r = buf_append(b, m->nonce, sizeof(m->nonce));
		if (r == 0 && m->type == DEVAUTH_HELLO_PROOF)
			r = buf_append(b, m->mac, sizeof(m->mac));
		return r;
	case DEVAUTH_PROOF:
		return r == 0 ? buf_append(b, m->mac, sizeof(m->mac)) : r;
	case DEVAUTH_RESULT: {
		size_t n = strnlen(m->reason, sizeof(m->reason));
		if ((unsigned)m->code > DEVAUTH_CODE_MAX || n > DEVAUTH_REASON_MAX ||
		    !reason_ok(m->reason, n))
			return -EINVAL;
		if (r == 0)
			r = buf_append_u8(b, (uint8_t)m->code);
		if (r == 0)
			r = buf_append_u8(b, (uint8_t)n);
		if (r == 0 && n)
			r = buf_append(b, m->reason, n);
		return r;
	}
	default:
		return -EINVAL;
	}
}

int devauth_encode(const struct devauth_msg *m, struct buf *out)
{
	_cleanup_buf_ struct buf body = BUF_INIT;
	int r = encode_body(m, &body);
	if (r == 0)
		r = lpmsg_append(out, body.data, body.len, DEVAUTH_MAX_FRAME);
	return r;
}

static int truncated(struct errmsg *err, const char *what)
{
	return errmsg_set(err, -EBADMSG, "device auth: %s is truncated", what);
}

static int decode_hello(struct cursor *c, struct devauth_msg *m, struct errmsg *err)
{
	if (cur_get_u8(c, &m->version) < 0 || cur_get_u64be(c, &m->epoch) < 0)
		return truncated(err, "hello");
	if (m->type == DEVAUTH_HELLO_PROOF && cur_get_u64be(c, &m->session_epoch) < 0)
		return truncated(err, "hello");
	if (cur_copy(c, m->nonce, sizeof(m->nonce)) < 0)
		return truncated(err, "hello nonce");
	if (m->type == DEVAUTH_HELLO_PROOF && cur_copy(c, m->mac, sizeof(m->mac)) < 0)
		return truncated(err, "hello proof");
	if (m->version == 0)
		return errmsg_set(err, -EBADMSG, "device auth: version 0 is not valid");
	return 0;
}

static int decode_result(struct cursor *c, struct devauth_msg *m, struct errmsg *err)
{
	uint8_t code, n;
	const uint8_t *p;
	if (cur_get_u8(c, &code) < 0 || cur_get_u8(c, &n) < 0)
		return truncated(err, "result");
	if (code > DEVAUTH_CODE_MAX)
		return errmsg_set(err, -EBADMSG, "device auth: unknown result code %u", code);
	if (n > DEVAUTH_REASON_MAX)
		return errmsg_set(err, -EBADMSG, "device auth: reason of %u bytes, over %d", n,
		                  DEVAUTH_REASON_MAX);
	if (cur_get_bytes(c, n, &p) < 0)
		return truncated(err, "result reason");
	if (!reason_ok((const char *)p, n))
		return errmsg_set(err, -EBADMSG, "device auth: reason has control characters");
	m->code = (enum devauth_code)code;
	memcpy(m->reason, p, n);
	m->reason[n] = '\0';
	return 0;
}

int devauth_decode(const uint8_t *data, size_t len, struct devauth_msg *ret, struct errmsg *err)
{
	if (len > DEVAUTH_MAX_FRAME)
		return errmsg_set(err, -EMSGSIZE, "device auth: frame of %zu bytes, over %d", len,
		                  DEVAUTH_MAX_FRAME);
	struct cursor c;
	cur_init(&c, data, len);
	struct devauth_msg m = {0};
	uint8_t type;
	if (cur_get_u8(&c, &type) < 0)
		return errmsg_set(err, -EBADMSG, "device auth: empty frame");
	m.type = (enum devauth_type)type;
	int r;
	switch (type) {
	case DEVAUTH_HELLO:
	case DEVAUTH_HELLO_PROOF:
		r = decode_hello(&c, &m, err);
		break;
	case DEVAUTH_PROOF:
		r = cur_copy(&c, m.mac, sizeof(m.mac)) < 0 ? truncated(err, "proof") : 0;
		break;
	case DEVAUTH_RESULT:
		r = decode_result(&c, &m, err);
		break;
	default:
		return errmsg_set(err, -EBADMSG, "device auth: unknown frame type %u", type);
	}
	if (r == 0 && !cur_eof(&c))
		r = errmsg_set(err, -EBADMSG, "device auth: %zu bytes after the frame",
		               cur_remaining(&c));
	if (r == 0)
		*ret = m;
	return r;
}

int devauth_session_epoch(uint64_t ours, bool have_previous, uint64_t theirs, uint64_t *ret)
{
	if (theirs >= ours) {
		*ret = ours;
		return 0;
	}
	if (ours - theirs == 1 && have_previous) {
		*ret = theirs;
		return 0;
	}
	return -ESTALE;
}

/* ---- transcript and proofs ---------------------------------------------- */

static int field(struct buf *b, const void *data, size_t len)
{
	if ((len && !data) || len > UINT32_MAX)
		return -EINVAL;
	int r = buf_append_u32be(b, (uint32_t)len);
	if (r == 0 && len)
		r = buf_append(b, data, len);
	return r;
}

int devauth_hash(const struct devauth_transcript *t, uint8_t out[DEVAUTH_HASH_LEN])
{
	if (!t || !t->opener || !t->responder || !t->nonce_o || !t->nonce_r)
		return -EINVAL;
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r = buf_append(&b, th_label, strlen(th_label));
	if (r == 0)
		r = field(&b, t->opener->bytes, t->opener->len);
	if (r == 0)
		r = field(&b, t->responder->bytes, t->responder->len);
	if (r == 0)
		r = field(&b, t->nonce_o, DEVAUTH_NONCE_LEN);
	if (r == 0)
		r = field(&b, t->nonce_r, DEVAUTH_NONCE_LEN);
	if (r == 0)
		r = buf_append_u64be(&b, t->epoch);
	if (r == 0)
		r = crypto_sha256(b.data, b.len, out);
	return r;
}

static int labelled_mac(const uint8_t key[PAIRING_SESSION_KEY_LEN], const char *label,
                        const uint8_t th[DEVAUTH_HASH_LEN], uint8_t out[DEVAUTH_MAC_LEN])
{
	uint8_t msg[64 + DEVAUTH_HASH_LEN];
	size_t n = strlen(label);
	if (n > 64)
		return -EINVAL;
	memcpy(msg, label, n);
	memcpy(msg + n, th, DEVAUTH_HASH_LEN);
	return crypto_hmac_sha256(key, PAIRING_SESSION_KEY_LEN, msg, n + DEVAUTH_HASH_LEN, out);
}

int devauth_proof(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN], enum devauth_role who,
                  const uint8_t th[DEVAUTH_HASH_LEN], uint8_t out[DEVAUTH_MAC_LEN])
{
	if ((unsigned)who > DEVAUTH_RESPONDER)
		return -EINVAL;
	return labelled_mac(mac_key, proof_label[who], th, out);
}

int devauth_verify(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN], enum devauth_role who,
                   const uint8_t th[DEVAUTH_HASH_LEN], const uint8_t mac[DEVAUTH_MAC_LEN])
{
	uint8_t want[DEVAUTH_MAC_LEN];
	int r = devauth_proof(mac_key, who, th, want);
	if (r == 0 && !crypto_equal(want, mac, sizeof(want)))
		r = -EACCES;
	crypto_wipe(want, sizeof(want));
	return r;
}

/* ---- rotation ------------------------------------------------------------ */

int devauth_rekey_hash(const struct devauth_rekey *t, uint8_t out[DEVAUTH_HASH_LEN])
{
	if (!t || !t->proposer || !t->accepter || !t->eph_p)
		return -EINVAL;
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r = buf_append(&b, rekey_label, strlen(rekey_label));
	if (r == 0)
		r = field(&b, t->proposer->bytes, t->proposer->len);
	if (r == 0)
		r = field(&b, t->accepter->bytes, t->accepter->len);
	if (r == 0)
		r = buf_append_u64be(&b, t->epoch);
	if (r == 0)
		r = field(&b, t->eph_p, X25519_KEY_LEN);
	/* The proposal is proven before the accepter's key exists: an empty
	 * field then. */
	if (r == 0)
		r = field(&b, t->eph_r, t->eph_r ? X25519_KEY_LEN : 0);
	if (r == 0)
		r = crypto_sha256(b.data, b.len, out);
	return r;
}

/* Keys in proposer order: p->a enc, a->p enc, p->a mac, a->p mac. */
static void canonical(const struct pairing_session_keys *k, enum devauth_rekey_role us,
                      const uint8_t *ret[4])
{
	bool p = us == DEVAUTH_PROPOSER;
	ret[0] = p ? k->send_key : k->receive_key;
	ret[1] = p ? k->receive_key : k->send_key;
	ret[2] = p ? k->send_mac_key : k->receive_mac_key;
	ret[3] = p ? k->receive_mac_key : k->send_mac_key;
}

int devauth_rekey_derive(const uint8_t shared[X25519_KEY_LEN],
                         const struct pairing_session_keys *old, enum devauth_rekey_role us,
                         const uint8_t th[DEVAUTH_HASH_LEN], struct pairing_session_keys *ret)
{
	if ((unsigned)us > DEVAUTH_ACCEPTER)
		return -EINVAL;
	uint8_t ikm[X25519_KEY_LEN + 4 * PAIRING_SESSION_KEY_LEN];
	const uint8_t *in[4];
	canonical(old, us, in);
	memcpy(ikm, shared, X25519_KEY_LEN);
	for (int i = 0; i < 4; i++)
		memcpy(ikm + X25519_KEY_LEN + i * PAIRING_SESSION_KEY_LEN, in[i],
		       PAIRING_SESSION_KEY_LEN);
	uint8_t out[4][PAIRING_SESSION_KEY_LEN];
	int r = 0;
	for (int i = 0; r == 0 && i < 4; i++)
		r = crypto_hkdf_sha256(th, DEVAUTH_HASH_LEN, ikm, sizeof(ikm), rekey_purpose[i],
		                       strlen(rekey_purpose[i]), out[i], PAIRING_SESSION_KEY_LEN);
	if (r == 0) {
		bool p = us == DEVAUTH_PROPOSER;
		memcpy(ret->send_key, out[p ? 0 : 1], PAIRING_SESSION_KEY_LEN);
		memcpy(ret->receive_key, out[p ? 1 : 0], PAIRING_SESSION_KEY_LEN);
		memcpy(ret->send_mac_key, out[p ? 2 : 3], PAIRING_SESSION_KEY_LEN);
		memcpy(ret->receive_mac_key, out[p ? 3 : 2], PAIRING_SESSION_KEY_LEN);
	}
	crypto_wipe(ikm, sizeof(ikm));
	crypto_wipe(out, sizeof(out));
	return r;
}

int devauth_rekey_proof(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN],
                        enum devauth_rekey_step step, const uint8_t th[DEVAUTH_HASH_LEN],
                        uint8_t out[DEVAUTH_MAC_LEN])
{
	if ((unsigned)step > DEVAUTH_REKEY_COMMIT)
		return -EINVAL;
	return labelled_mac(mac_key, rekey_step_label[step], th, out);
}

int devauth_rekey_verify(const uint8_t mac_key[PAIRING_SESSION_KEY_LEN],
                         enum devauth_rekey_step step, const uint8_t th[DEVAUTH_HASH_LEN],
                         const uint8_t *mac, size_t mac_len)
{
	if (!mac || mac_len != DEVAUTH_MAC_LEN)
		return -EACCES;
	uint8_t want[DEVAUTH_MAC_LEN];
	int r = devauth_rekey_proof(mac_key, step, th, want);
	if (r == 0 && !crypto_equal(want, mac, sizeof(want)))
		r = -EACCES;
	crypto_wipe(want, sizeof(want));
	return r;
}
