/* Peer IDs: the multihash of a node's PublicKey protobuf, and its two text
 * forms. Parsing is strict and says what is wrong, because peer IDs are
 * pasted by people (pairing, config, CLI) as well as sent by peers.
 *
 * Only identity and sha2-256 multihashes are peer IDs. An identity digest is
 * an inline PublicKey, which the spec allows only up to 42 bytes (longer keys
 * are hashed), so a longer or empty one is refused here: rust-libp2p refuses
 * the same, and it keeps struct peerid fixed-size. */
#include "peerid.h"

#include <errno.h>
#include <string.h>

#include "base58.h"
#include "keys.h"
#include "multibase.h"
#include "multihash.h"
#include "varint.h"

/* Keys whose encoding is at most this long are inlined (identity multihash). */
#define PEERID_INLINE_KEY_MAX 42
/* CIDv1 header in front of the multihash: version 1, codec libp2p-key. */
#define CID_VERSION 1
#define CID_CODEC_LIBP2P_KEY 0x72

static int from_bytes(const uint8_t *data, size_t len, struct peerid *ret, struct errmsg *err)
{
	struct multihash mh;
	int r = multihash_parse(data, len, &mh, err);
	if (r < 0)
		return r;
	if (mh.code == MULTIHASH_IDENTITY &&
	    (mh.digest_len == 0 || mh.digest_len > PEERID_INLINE_KEY_MAX))
		return errmsg_set(err, -EBADMSG,
		                  "identity multihash holds %zu bytes; an inline key has 1 to %d",
		                  mh.digest_len, PEERID_INLINE_KEY_MAX);
	/* Implied by the checks above; kept so the copy is visibly bounded. */
	if (len > PEERID_MAX_LEN)
		return errmsg_set(err, -EMSGSIZE, "%zu bytes is too long for a peer ID", len);
	ret->len = (uint8_t)len;
	memcpy(ret->bytes, data, len);
	memset(ret->bytes + len, 0, PEERID_MAX_LEN - len);
	return 0;
}

int peerid_from_bytes(const uint8_t *data, size_t len, struct peerid *ret)
{
	return from_bytes(data, len, ret, NULL);
}

int peerid_from_canonical_pubkey(const uint8_t *enc, size_t len, struct peerid *ret)
{
	_cleanup_buf_ struct buf mh = BUF_INIT;
	int r = len <= PEERID_INLINE_KEY_MAX ? multihash_encode(MULTIHASH_IDENTITY, enc, len, &mh)
	                                     : multihash_sha256(enc, len, &mh);
	if (r < 0)
		return r;
	return from_bytes(mh.data, mh.len, ret, NULL);
}

int peerid_from_pubkey_proto(const uint8_t *pb, size_t len, struct peerid *ret)
{
	if (len > PUBKEY_MAX_ENCODED)
		return -EMSGSIZE;
	struct pubkey *k = NULL;
	int r = pubkey_decode(pb, len, &k);
	if (r < 0)
		return r;
	/* Hash our canonical re-encoding, not the sender's bytes, so one key
	 * has one peer ID however it was serialised (peer-ids.md). */
	_cleanup_buf_ struct buf enc = BUF_INIT;
	r = pubkey_encode(k, &enc);
	pubkey_free(k);
	if (r < 0)
		return r;
	return peerid_from_canonical_pubkey(enc.data, enc.len, ret);
}

static int parse_cid(const uint8_t *data, size_t len, struct peerid *ret, struct errmsg *err)
{
	struct cursor c;
	cur_init(&c, len ? data : (const uint8_t *)"", len);
	uint64_t version, codec;
	if (cur_get_varint(&c, 0, &version) < 0)
		return errmsg_set(err, -EBADMSG, "truncated or malformed CID version");
	if (version != CID_VERSION)
		return errmsg_set(err, -EINVAL, "CID version %llu, a peer ID CID must be version 1",
		                  (unsigned long long)version);
	if (cur_get_varint(&c, 0, &codec) < 0)
		return errmsg_set(err, -EBADMSG, "truncated or malformed CID codec");
	if (codec != CID_CODEC_LIBP2P_KEY)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "CID codec 0x%llx is not libp2p-key (0x72), so not a peer ID",
		                  (unsigned long long)codec);
	return from_bytes(cur_ptr(&c), cur_remaining(&c), ret, err);
}

static int parse_text(const char *text, size_t len, struct peerid *ret, struct errmsg *err)
{
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r;
	/* peer-ids.md: '1...' (identity) and 'Qm...' (sha2-256) are bare
	 * base58btc; everything else must be a multibase CID. */
	if (text[0] == '1' || (text[0] == 'Q' && text[1] == 'm')) {
		if ((r = base58_decode(text, len, &b, err)) < 0)
			return r;
		return from_bytes(b.data, b.len, ret, err);
	}
	if ((r = multibase_decode(text, len, &b, NULL, err)) < 0)
		return r;
	return parse_cid(b.data, b.len, ret, err);
}

int peerid_parse(const char *text, struct peerid *ret, struct errmsg *err)
{
	size_t len = text ? strnlen(text, PEERID_TEXT_MAX) : 0;
	if (len == 0)
		return errmsg_set(err, -EINVAL, "peer ID: empty");
	if (len >= PEERID_TEXT_MAX)
		return errmsg_set(err, -EMSGSIZE, "peer ID: longer than %d characters",
		                  PEERID_TEXT_MAX - 1);
	struct peerid id;
	int r = parse_text(text, len, &id, err);
	if (r < 0) {
		errmsg_prefix(err, "peer ID");
		return r;
	}
	*ret = id;
	return 0;
}

static bool valid(const struct peerid *id)
{
	return id->len > 0 && id->len <= PEERID_MAX_LEN;
}

int peerid_to_string(const struct peerid *id, char *out, size_t out_len)
{
	if (!valid(id))
		return -EINVAL;
	return base58_encode(id->bytes, id->len, out, out_len);
}

int peerid_to_cid_string(const struct peerid *id, char *out, size_t out_len)
{
	if (!valid(id))
		return -EINVAL;
	uint8_t cid[2 + PEERID_MAX_LEN] = {CID_VERSION, CID_CODEC_LIBP2P_KEY};
	memcpy(cid + 2, id->bytes, id->len);
	return multibase_encode(MULTIBASE_BASE32, cid, 2 + (size_t)id->len, out, out_len);
}

bool peerid_equal(const struct peerid *a, const struct peerid *b)
{
	return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

int peerid_embedded_pubkey(const struct peerid *id, const uint8_t **ret, size_t *ret_len)
{
	struct multihash mh;
	if (!valid(id) || multihash_parse(id->bytes, id->len, &mh, NULL) < 0)
		return -EINVAL;
	if (mh.code != MULTIHASH_IDENTITY)
		return -ENOKEY;
	*ret = mh.digest;
	*ret_len = mh.digest_len;
	return 0;
}
