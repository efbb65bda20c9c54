/* Signed envelopes and peer records over the envelope.proto and
 * peer_record.proto codecs. */
#include "envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "envelope.pb-c.h"
#include "peer_record.pb-c.h"
#include "varint.h"

/* The bytes a signature covers: each part length-prefixed so no two
 * (domain, type, payload) triples serialise alike. */
static int signed_bytes(const char *domain, const uint8_t *type, size_t type_len,
                        const uint8_t *payload, size_t payload_len, struct buf *out)
{
	size_t dlen = strlen(domain);
	int r = buf_reserve(out, 3 * VARINT_MAX_BYTES + dlen + type_len + payload_len);
	if (r == 0)
		r = buf_append_varint(out, dlen);
	if (r == 0)
		r = buf_append(out, domain, dlen);
	if (r == 0)
		r = buf_append_varint(out, type_len);
	if (r == 0)
		r = buf_append(out, type, type_len);
	if (r == 0)
		r = buf_append_varint(out, payload_len);
	if (r == 0)
		r = buf_append(out, payload, payload_len);
	return r;
}

static bool domain_ok(const char *domain)
{
	return domain && domain[0] &&
	       strnlen(domain, ENVELOPE_DOMAIN_MAX + 1) <= ENVELOPE_DOMAIN_MAX;
}

int envelope_seal(const struct privkey *k, const char *domain, const uint8_t *payload_type,
                  size_t type_len, const uint8_t *payload, size_t payload_len, struct buf *out)
{
	if (!k || !domain_ok(domain) || !payload_type || type_len == 0 ||
	    type_len > ENVELOPE_PAYLOAD_TYPE_MAX || (!payload && payload_len) || !out)
		return -EINVAL;
	if (payload_len > ENVELOPE_MAX_SIZE)
		return -EMSGSIZE;

	_cleanup_buf_ struct buf tbs = BUF_INIT;
	int r = signed_bytes(domain, payload_type, type_len, payload, payload_len, &tbs);
	if (r < 0)
		return r;
	uint8_t sig[ED25519_SIG_LEN];
	r = privkey_sign(k, tbs.data, tbs.len, sig);
	if (r < 0)
		return r;

	KeysPb__PublicKey pk = KEYS_PB__PUBLIC_KEY__INIT;
	pk.type = KEYS_PB__KEY_TYPE__Ed25519;
	pk.data.data = (uint8_t *)k->pub;
	pk.data.len = ED25519_PUBLIC_LEN;
	EnvelopePb__Envelope env = ENVELOPE_PB__ENVELOPE__INIT;
	env.public_key = &pk;
	env.payload_type.data = (uint8_t *)payload_type;
	env.payload_type.len = type_len;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = payload_len;
	env.signature.data = sig;
	env.signature.len = sizeof(sig);

	size_t need = envelope_pb__envelope__get_packed_size(&env);
	/* Refuse to make what we would refuse to open. */
	if (need > ENVELOPE_MAX_SIZE)
		return -EMSGSIZE;
	uint8_t *p = buf_extend(out, need);
	if (!p)
		return -ENOMEM;
	envelope_pb__envelope__pack(&env, p);
	return 0;
}

void envelope_free(struct envelope *e)
{
	if (!e)
		return;
	pubkey_free(e->key);
	e->key = NULL;
	buf_free(&e->payload_type);
	buf_free(&e->payload);
}

int envelope_open(const uint8_t *data, size_t len, const char *domain, const uint8_t *expected_type,
                  size_t expected_type_len, struct envelope *ret, struct errmsg *err)
{
	if ((!data && len) || !domain_ok(domain) || !ret)
		return errmsg_set(err, -EINVAL, "envelope: bad arguments");
	*ret = (struct envelope){.key = NULL};
	if (len > ENVELOPE_MAX_SIZE)
		return errmsg_set(err, -EMSGSIZE, "envelope: %zu bytes is over the %d-byte limit",
		                  len, ENVELOPE_MAX_SIZE);
	EnvelopePb__Envelope *m = envelope_pb__envelope__unpack(NULL, len, data);
	if (!m)
		return errmsg_set(err, -EBADMSG, "envelope: malformed protobuf");

	int r;
	struct pubkey *key = NULL;
	_cleanup_buf_ struct buf tbs = BUF_INIT;
	if (!m->public_key) {
		r = errmsg_set(err, -EBADMSG, "envelope: no public key");
		goto out;
	}
	if (m->signature.len == 0) {
		r = errmsg_set(err, -EBADMSG, "envelope: no signature");
		goto out;
	}
	/* The key arrives as a parsed sub-message; re-pack it for the key
	 * decoder (the signature does not cover it, so its layout is free). */
	size_t pklen = keys_pb__public_key__get_packed_size(m->public_key);
	uint8_t pkbuf[PUBKEY_MAX_ENCODED];
	if (pklen > sizeof(pkbuf)) {
		r = errmsg_set(err, -EBADMSG, "envelope: public key too large");
		goto out;
	}
	keys_pb__public_key__pack(m->public_key, pkbuf);
	r = pubkey_decode(pkbuf, pklen, &key);
	if (r < 0) {
		errmsg_set(err, r, "envelope: bad public key (%s)",
		           r == -EPROTONOSUPPORT ? "unsupported key type"
		           : r == -EKEYREJECTED  ? "key too weak"
		                                 : "malformed");
		goto out;
	}
	r = signed_bytes(domain, m->payload_type.data, m->payload_type.len, m->payload.data,
	                 m->payload.len, &tbs);
	if (r < 0)
		goto out;
	r = pubkey_verify(key, tbs.data, tbs.len, m->signature.data, m->signature.len);
	if (r < 0) {
		errmsg_set(err, r, "envelope: signature does not verify for domain '%s'", domain);
		goto out;
	}
	/* Only after the signature: the type is signed data too. */
	if (expected_type && (m->payload_type.len != expected_type_len ||
	                      (expected_type_len &&
	                       memcmp(m->payload_type.data, expected_type, expected_type_len)))) {
		r = errmsg_set(err, -ENOMSG, "envelope: payload type is not the expected one");
		goto out;
	}
	if (buf_append(&ret->payload_type, m->payload_type.data, m->payload_type.len) < 0 ||
	    buf_append(&ret->payload, m->payload.data, m->payload.len) < 0) {
		r = -ENOMEM;
		goto out;
	}
	ret->key = key;
	key = NULL;
	r = 0;
out:
	if (r < 0)
		envelope_free(ret);
	pubkey_free(key);
	envelope_pb__envelope__free_unpacked(m, NULL);
	return r;
}

/* --- peer records ------------------------------------------------------- */

int peer_record_add_addr(struct peer_record *r, const uint8_t *ma, size_t len)
{
	if (!r || !ma || len == 0 || len > PEER_RECORD_ADDR_MAX)
		return -EINVAL;
	if (r->n_addrs >= PEER_RECORD_MAX_ADDRS)
		return -EMSGSIZE;
	struct buf *n = realloc(r->addrs, (r->n_addrs + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->addrs = n;
	n[r->n_addrs] = BUF_INIT;
	if (buf_append(&n[r->n_addrs], ma, len) < 0)
		return -ENOMEM;
	r->n_addrs++;
	return 0;
}

void peer_record_free(struct peer_record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_addrs; i++)
		buf_free(&r->addrs[i]);
	free(r->addrs);
	r->addrs = NULL;
	r->n_addrs = 0;
}

int peer_record_encode(const struct peer_record *r, struct buf *out)
{
	if (!r || !out || r->id.len == 0 || r->id.len > PEERID_MAX_LEN ||
	    r->n_addrs > PEER_RECORD_MAX_ADDRS)
		return -EINVAL;
	PeerRecordPb__PeerRecord m = PEER_RECORD_PB__PEER_RECORD__INIT;
	m.peer_id.data = (uint8_t *)r->id.bytes;
	m.peer_id.len = r->id.len;
	m.seq = r->seq;
	PeerRecordPb__PeerRecord__AddressInfo *infos = NULL, **ptrs = NULL;
	int rc = -ENOMEM;
	if (r->n_addrs) {
		infos = calloc(r->n_addrs, sizeof(*infos));
		ptrs = calloc(r->n_addrs, sizeof(*ptrs));
		if (!infos || !ptrs)
			goto out;
	}
	for (size_t i = 0; i < r->n_addrs; i++) {
		peer_record_pb__peer_record__address_info__init(&infos[i]);
		infos[i].multiaddr.data = r->addrs[i].data;
		infos[i].multiaddr.len = r->addrs[i].len;
		ptrs[i] = &infos[i];
	}
	m.n_addresses = r->n_addrs;
	m.addresses = ptrs;
	size_t need = peer_record_pb__peer_record__get_packed_size(&m);
	uint8_t *p = buf_extend(out, need);
	if (!p)
		goto out;
	peer_record_pb__peer_record__pack(&m, p);
	rc = 0;
out:
	free(infos);
	free(ptrs);
	return rc;
}

int peer_record_decode(const uint8_t *data, size_t len, struct peer_record *ret, struct errmsg *err)
{
	if ((!data && len) || !ret)
		return errmsg_set(err, -EINVAL, "peer record: bad arguments");
	*ret = PEER_RECORD_INIT;
	if (len > ENVELOPE_MAX_SIZE)
		return errmsg_set(err, -EMSGSIZE, "peer record: %zu bytes is over the limit", len);
	PeerRecordPb__PeerRecord *m = peer_record_pb__peer_record__unpack(NULL, len, data);
	if (!m)
		return errmsg_set(err, -EBADMSG, "peer record: malformed protobuf");
	int r = peerid_from_bytes(m->peer_id.data, m->peer_id.len, &ret->id);
	if (r < 0) {
		r = errmsg_set(err, -EBADMSG, "peer record: peer_id is not a valid peer ID");
		goto out;
	}
	ret->seq = m->seq;
	if (m->n_addresses > PEER_RECORD_MAX_ADDRS) {
		r = errmsg_set(err, -EMSGSIZE, "peer record: %zu addresses (at most %d)",
		               m->n_addresses, PEER_RECORD_MAX_ADDRS);
		goto out;
	}
	for (size_t i = 0; i < m->n_addresses; i++) {
		const ProtobufCBinaryData *a = &m->addresses[i]->multiaddr;
		if (a->len == 0 || a->len > PEER_RECORD_ADDR_MAX) {
			r = errmsg_set(err, -EBADMSG, "peer record: address %zu has %zu bytes", i,
			               a->len);
			goto out;
		}
		r = peer_record_add_addr(ret, a->data, a->len);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (r < 0)
		peer_record_free(ret);
	peer_record_pb__peer_record__free_unpacked(m, NULL);
	return r;
}

static int peerid_of_key(const struct pubkey *k, struct peerid *ret)
{
	_cleanup_buf_ struct buf enc = BUF_INIT;
	int r = pubkey_encode(k, &enc);
	if (r < 0)
		return r;
	return peerid_from_canonical_pubkey(enc.data, enc.len, ret);
}

int peer_record_seal(const struct privkey *k, const struct peer_record *r, struct buf *out)
{
	if (!k || !r || !out)
		return -EINVAL;
	/* Sealing someone else's ID would make a record every peer rejects. */
	struct pubkey *pk = pubkey_from_ed25519(k->pub);
	if (!pk)
		return -ENOMEM;
	struct peerid self;
	int rc = peerid_of_key(pk, &self);
	pubkey_free(pk);
	if (rc < 0)
		return rc;
	if (!peerid_equal(&self, &r->id))
		return -EINVAL;
	_cleanup_buf_ struct buf payload = BUF_INIT;
	rc = peer_record_encode(r, &payload);
	if (rc < 0)
		return rc;
	return envelope_seal(k, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE,
	                     PEER_RECORD_PAYLOAD_TYPE_LEN, payload.data, payload.len, out);
}

int peer_record_open(const uint8_t *data, size_t len, struct peer_record *ret,
                     struct pubkey **key_ret, struct errmsg *err)
{
	if (!ret)
		return errmsg_set(err, -EINVAL, "peer record: bad arguments");
	*ret = PEER_RECORD_INIT;
	if (key_ret)
		*key_ret = NULL;
	struct envelope env;
	int r = envelope_open(data, len, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE,
	                      PEER_RECORD_PAYLOAD_TYPE_LEN, &env, err);
	if (r < 0)
		return r;
	r = peer_record_decode(env.payload.data, env.payload.len, ret, err);
	if (r < 0)
		goto out;
	struct peerid signer;
	r = peerid_of_key(env.key, &signer);
	if (r < 0)
		goto out;
	if (!peerid_equal(&signer, &ret->id)) {
		r = errmsg_set(err, -EKEYREJECTED,
		               "peer record: peer_id is not the ID of the signing key");
		goto out;
	}
	if (key_ret) {
		*key_ret = env.key;
		env.key = NULL;
	}
	r = 0;
out:
	if (r < 0)
		peer_record_free(ret);
	envelope_free(&env);
	return r;
}
