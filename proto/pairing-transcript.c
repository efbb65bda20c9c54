/* Transcript hash, proofs and session keys of the pairing protocol; see
 * pairing-transcript.h for the exact encoding. */
#include "pairing-transcript.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "pairing-code.h"

static const char th_label[] = "spacedrive/pairing/1.0.0 transcript";
static const char proof_label_i[] = "spacedrive/pairing/1.0.0 initiator proof";
static const char proof_label_j[] = "spacedrive/pairing/1.0.0 joiner proof";
static const char keys_label[] = "spacedrive/pairing/1.0.0 session keys";
/* HKDF info labels, appended to keys_label. */
static const char *const key_purpose[4] = {
        " initiator-to-joiner encryption",
        " joiner-to-initiator encryption",
        " initiator-to-joiner mac",
        " joiner-to-initiator mac",
};

static int field(struct buf *b, const void *data, size_t len)
{
	if (len && !data)
		return -EINVAL;
	if (len > UINT32_MAX)
		return -EINVAL;
	int r = buf_append_u32be(b, (uint32_t)len);
	if (r == 0 && len)
		r = buf_append(b, data, len);
	return r;
}

static int encode(const struct pairing_transcript *t, struct buf *b)
{
	uint8_t ver[4] = {(uint8_t)(t->version >> 24), (uint8_t)(t->version >> 16),
	                  (uint8_t)(t->version >> 8), (uint8_t)t->version};
	int r = buf_append(b, th_label, strlen(th_label));
	if (r == 0)
		r = field(b, ver, sizeof(ver));
	if (r == 0)
		r = field(b, "initiator", 9);
	if (r == 0)
		r = field(b, t->initiator_peer->bytes, t->initiator_peer->len);
	if (r == 0)
		r = field(b, "joiner", 6);
	if (r == 0)
		r = field(b, t->joiner_peer->bytes, t->joiner_peer->len);
	if (r == 0)
		r = field(b, t->rendezvous_id, PAIRING_RENDEZVOUS_LEN);
	if (r == 0)
		r = field(b, t->nonce_i, PAIRING_NONCE_LEN);
	if (r == 0)
		r = field(b, t->nonce_j, PAIRING_NONCE_LEN);
	if (r == 0)
		r = field(b, t->eph_i, X25519_KEY_LEN);
	if (r == 0)
		r = field(b, t->eph_j, X25519_KEY_LEN);
	if (r == 0)
		r = field(b, t->info_i, t->info_i_len);
	if (r == 0)
		r = field(b, t->info_j, t->info_j_len);
	return r;
}

int pairing_transcript_hash(const struct pairing_transcript *t, uint8_t out[PAIRING_HASH_LEN])
{
	if (!t || !t->initiator_peer || !t->joiner_peer || !t->rendezvous_id || !t->nonce_i ||
	    !t->nonce_j || !t->eph_i || !t->eph_j)
		return -EINVAL;
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r = encode(t, &b);
	if (r == 0)
		r = crypto_sha256(b.data, b.len, out);
	return r;
}

int pairing_proof(const uint8_t *auth_key, enum pairing_role who,
                  const uint8_t th[PAIRING_HASH_LEN], uint8_t out[PAIRING_MAC_LEN])
{
	if (!auth_key || !th)
		return -EINVAL;
	const char *label = who == PAIRING_ROLE_INITIATOR ? proof_label_i : proof_label_j;
	size_t label_len = strlen(label);
	uint8_t msg[sizeof(proof_label_i) + PAIRING_HASH_LEN];
	memcpy(msg, label, label_len);
	memcpy(msg + label_len, th, PAIRING_HASH_LEN);
	return crypto_hmac_sha256(auth_key, PAIRING_KEY_LEN, msg, label_len + PAIRING_HASH_LEN,
	                          out);
}

static int derive_one(const uint8_t *ikm, const uint8_t *th, int purpose, uint8_t *out)
{
	char info[sizeof(keys_label) + 40];
	size_t a = strlen(keys_label), b = strlen(key_purpose[purpose]);
	memcpy(info, keys_label, a);
	memcpy(info + a, key_purpose[purpose], b);
	return crypto_hkdf_sha256(th, PAIRING_HASH_LEN, ikm, X25519_KEY_LEN + PAIRING_KEY_LEN, info,
	                          a + b, out, PAIRING_SESSION_KEY_LEN);
}

int pairing_session_keys_derive(const uint8_t shared[X25519_KEY_LEN], const uint8_t *auth_key,
                                const uint8_t th[PAIRING_HASH_LEN], enum pairing_role us,
                                struct pairing_session_keys *ret)
{
	if (!shared || !auth_key || !th || !ret)
		return -EINVAL;
	uint8_t ikm[X25519_KEY_LEN + PAIRING_KEY_LEN];
	uint8_t k[4][PAIRING_SESSION_KEY_LEN];
	memcpy(ikm, shared, X25519_KEY_LEN);
	memcpy(ikm + X25519_KEY_LEN, auth_key, PAIRING_KEY_LEN);
	int r = 0;
	for (int i = 0; i < 4 && r == 0; i++)
		r = derive_one(ikm, th, i, k[i]);
	if (r == 0) {
		/* k[0], k[2]: initiator to joiner; k[1], k[3]: the reverse. */
		bool ini = us == PAIRING_ROLE_INITIATOR;
		memcpy(ret->send_key, k[ini ? 0 : 1], PAIRING_SESSION_KEY_LEN);
		memcpy(ret->receive_key, k[ini ? 1 : 0], PAIRING_SESSION_KEY_LEN);
		memcpy(ret->send_mac_key, k[ini ? 2 : 3], PAIRING_SESSION_KEY_LEN);
		memcpy(ret->receive_mac_key, k[ini ? 3 : 2], PAIRING_SESSION_KEY_LEN);
	}
	crypto_wipe(ikm, sizeof(ikm));
	crypto_wipe(k, sizeof(k));
	return r;
}

void pairing_session_keys_wipe(struct pairing_session_keys *k)
{
	if (k)
		crypto_wipe(k, sizeof(*k));
}
