/* Encoding and checking the libp2p handshake payload. The signature is
 * checked over the static key taken from this very handshake (the caller
 * passes rs), so a payload replayed from another session cannot vouch for a
 * key it did not sign. The identity key is kept as received; the peer ID is
 * derived from its canonical re-encoding (peerid_from_pubkey_proto). */
#include "noise-payload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "noise.pb-c.h"

#define PREFIX_LEN (sizeof(NOISE_STATIC_KEY_PREFIX) - 1)
#define SIGNED_LEN (PREFIX_LEN + 32)

static void signed_message(const uint8_t static_pub[32], uint8_t out[SIGNED_LEN])
{
	memcpy(out, NOISE_STATIC_KEY_PREFIX, PREFIX_LEN);
	memcpy(out + PREFIX_LEN, static_pub, 32);
}

int noise_payload_encode(const struct privkey *identity, const uint8_t static_pub[32],
                         const char *const *muxers, size_t n_muxers, struct buf *out)
{
	_cleanup_buf_ struct buf key = BUF_INIT;
	uint8_t msg[SIGNED_LEN], sig[ED25519_SIG_LEN];
	int r = privkey_encode_public(identity, &key);
	if (r < 0)
		return r;
	signed_message(static_pub, msg);
	if ((r = privkey_sign(identity, msg, sizeof(msg), sig)) < 0)
		return r;

	NoisePb__NoiseExtensions ext = NOISE_PB__NOISE_EXTENSIONS__INIT;
	NoisePb__NoiseHandshakePayload pl = NOISE_PB__NOISE_HANDSHAKE_PAYLOAD__INIT;
	pl.has_identity_key = 1;
	pl.identity_key.data = key.data;
	pl.identity_key.len = key.len;
	pl.has_identity_sig = 1;
	pl.identity_sig.data = sig;
	pl.identity_sig.len = sizeof(sig);
	if (n_muxers) {
		/* protobuf-c only reads the strings while packing. */
		ext.n_stream_muxers = n_muxers;
		ext.stream_muxers = (char **)muxers;
		pl.extensions = &ext;
	}
	size_t size = noise_pb__noise_handshake_payload__get_packed_size(&pl);
	if (buf_reserve(out, size + 1) < 0)
		return -ENOMEM;
	noise_pb__noise_handshake_payload__pack(&pl, buf_extend(out, size));
	return 0;
}

/* The first muxer in the initiator's list that the responder also has, as an
 * index into ours; -1 for none. */
static int match_muxers(char *const *remote, size_t n_remote, const char *const *ours,
                        size_t n_ours, bool remote_is_initiator)
{
	for (size_t a = 0; a < (remote_is_initiator ? n_remote : n_ours); a++) {
		for (size_t b = 0; b < (remote_is_initiator ? n_ours : n_remote); b++) {
			size_t i = remote_is_initiator ? a : b, j = remote_is_initiator ? b : a;
			if (strcmp(remote[i], ours[j]) == 0)
				return (int)j;
		}
	}
	return -1;
}

static int check_key(const NoisePb__NoiseHandshakePayload *pl, struct peerid *ret_peer,
                     struct pubkey **ret_key, struct errmsg *err)
{
	if (!pl->has_identity_key || pl->identity_key.len == 0)
		return errmsg_set(err, -EPROTO, "noise: peer sent no identity key");
	if (pl->identity_key.len > PUBKEY_MAX_ENCODED)
		return errmsg_set(err, -EPROTO, "noise: identity key of %zu bytes exceeds %d",
		                  pl->identity_key.len, PUBKEY_MAX_ENCODED);
	int r = pubkey_decode(pl->identity_key.data, pl->identity_key.len, ret_key);
	if (r == -EPROTONOSUPPORT)
		return errmsg_set(err, r, "noise: peer's identity key has an unsupported type");
	if (r == -ENOMEM)
		return errmsg_set(err, r, "noise: out of memory");
	if (r < 0)
		return errmsg_set(err, -EPROTO, "noise: peer's identity key is malformed");
	r = peerid_from_pubkey_proto(pl->identity_key.data, pl->identity_key.len, ret_peer);
	if (r < 0) {
		pubkey_free(*ret_key);
		*ret_key = NULL;
		return errmsg_set(err, r == -ENOMEM ? r : -EPROTO,
		                  "noise: cannot derive a peer ID from the identity key");
	}
	return 0;
}

static int check_signature(const NoisePb__NoiseHandshakePayload *pl, const struct pubkey *key,
                           const struct peerid *peer, const uint8_t rs[32], struct errmsg *err)
{
	char id[PEERID_TEXT_MAX] = "?";
	peerid_to_string(peer, id, sizeof(id));
	if (!pl->has_identity_sig || pl->identity_sig.len == 0)
		return errmsg_set(err, -EPROTO, "noise: peer %s sent no identity signature", id);
	if (pl->identity_sig.len > SIGNATURE_MAX_LEN)
		return errmsg_set(err, -EPROTO, "noise: signature of %zu bytes exceeds %d",
		                  pl->identity_sig.len, SIGNATURE_MAX_LEN);
	uint8_t msg[SIGNED_LEN];
	signed_message(rs, msg);
	int r = pubkey_verify(key, msg, sizeof(msg), pl->identity_sig.data, pl->identity_sig.len);
	if (r == -ENOMEM)
		return errmsg_set(err, r, "noise: out of memory");
	if (r < 0)
		return errmsg_set(
		        err, -EKEYREJECTED,
		        "noise: identity signature of %s does not cover its Noise static key", id);
	return 0;
}

int noise_payload_verify(const uint8_t *data, size_t len, const uint8_t rs[32],
                         const char *const *ours, size_t n_ours, bool remote_is_initiator,
                         struct noise_payload_result *ret, struct errmsg *err)
{
	NoisePb__NoiseHandshakePayload *pl =
	        noise_pb__noise_handshake_payload__unpack(NULL, len, data);
	if (!pl)
		return errmsg_set(err, -EPROTO, "noise: handshake payload is not a valid protobuf");
	struct noise_payload_result res = {.muxer = -1};
	struct pubkey *key = NULL;
	int r = check_key(pl, &res.peer, &key, err);
	if (r == 0)
		r = check_signature(pl, key, &res.peer, rs, err);
	if (r == 0) {
		res.identity_key = malloc(pl->identity_key.len);
		r = res.identity_key ? 0 : errmsg_set(err, -ENOMEM, "noise: out of memory");
	}
	if (r == 0) {
		memcpy(res.identity_key, pl->identity_key.data, pl->identity_key.len);
		res.identity_key_len = pl->identity_key.len;
		const NoisePb__NoiseExtensions *ext = pl->extensions;
		res.has_muxers = ext && ext->n_stream_muxers > 0;
		if (res.has_muxers)
			res.muxer = match_muxers(ext->stream_muxers, ext->n_stream_muxers, ours,
			                         n_ours, remote_is_initiator);
		*ret = res;
	}
	pubkey_free(key);
	noise_pb__noise_handshake_payload__free_unpacked(pl, NULL);
	return r;
}
