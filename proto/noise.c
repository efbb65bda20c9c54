/* libp2p Noise session: the XX handshake driven message by message, the
 * libp2p payload checks between messages, then the transport ciphers.
 *
 * Layering inside the module: noise-symmetric.c (CipherState,
 * SymmetricState), noise-handshake.c (XX tokens), noise-payload.c (the
 * signed libp2p payload), noise-transport.c (frames after the handshake).
 * This file owns the policy: which message carries which payload, whether
 * the peer is the one we dialed, which muxer was agreed, and the errors the
 * caller sees.
 *
 * Handshake input is collected one framed message at a time (at most
 * NOISE_MAX_FRAME bytes); feeding stops at the end of the final message so
 * the caller can hand whatever follows to the transport. */
#include "noise.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "errmsg.h"
#include "noise-handshake.h"
#include "noise-payload.h"
#include "noise-transport.h"

/* Smallest valid handshake message per step: msg1 is e; msg2 is e, the
 * encrypted s and an encrypted (possibly empty) payload; msg3 the same
 * without e. */
static const size_t min_message[3] = {
        NOISE_DH_LEN,
        NOISE_DH_LEN + NOISE_DH_LEN + NOISE_TAG_LEN + NOISE_TAG_LEN,
        NOISE_DH_LEN + NOISE_TAG_LEN + NOISE_TAG_LEN,
};

struct noise {
	bool initiator;
	enum noise_state state;
	int err_code;
	struct errmsg err;
	struct privkey identity;
	bool has_expected;
	struct peerid expected;
	char **muxers;
	size_t n_muxers;
	struct noise_hs hs;
	/* The handshake message being received. */
	uint8_t hdr[2];
	size_t hdr_len;
	struct buf msg;
	struct buf out;
	size_t out_off;
	/* Results, once done. */
	struct noise_payload_result remote;
	int muxer;
	uint8_t hash[NOISE_HASH_LEN];
	struct noise_transport tr;
};

static const uint8_t *buf_at(const struct buf *b, size_t off)
{
	return b->data ? b->data + off : NULL;
}

static int fail(struct noise *n, int code)
{
	if (code == -ENOMEM)
		errmsg_set(&n->err, code, "noise: out of memory");
	else if (n->err.text[0] == '\0')
		errmsg_set(&n->err, code, "noise: internal error (%d)", code);
	n->state = NOISE_FAILED;
	n->err_code = code;
	noise_hs_wipe(&n->hs);
	noise_transport_wipe(&n->tr);
	buf_wipe_free(&n->msg);
	return code;
}

static int copy_muxers(struct noise *n, const char *const *muxers, size_t count)
{
	if (count > NOISE_MAX_MUXERS || (count && !muxers))
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		size_t len = muxers[i] ? strlen(muxers[i]) : 0;
		if (len == 0 || len > NOISE_MAX_MUXER_LEN)
			return -EINVAL;
	}
	n->muxers = calloc(count ? count : 1, sizeof(char *));
	if (!n->muxers)
		return -ENOMEM;
	for (; n->n_muxers < count; n->n_muxers++) {
		n->muxers[n->n_muxers] = strdup(muxers[n->n_muxers]);
		if (!n->muxers[n->n_muxers])
			return -ENOMEM;
	}
	return 0;
}

/* Frame and queue our next handshake message. */
static int send_message(struct noise *n, const uint8_t *payload, size_t len)
{
	size_t start = n->out.len;
	if (buf_append_u16be(&n->out, 0) < 0)
		return -ENOMEM;
	int r = noise_hs_write(&n->hs, payload, len, &n->out);
	size_t msg_len = n->out.len - start - 2;
	if (r == 0 && msg_len > NOISE_MAX_FRAME)
		r = -EINVAL; /* only a misconfigured muxer list could do this */
	if (r < 0) {
		n->out.len = start;
		return r;
	}
	n->out.data[start] = (uint8_t)(msg_len >> 8);
	n->out.data[start + 1] = (uint8_t)msg_len;
	return 0;
}

/* Messages 2 and 3 carry our signed payload and muxer list. */
static int send_payload_message(struct noise *n)
{
	_cleanup_buf_ struct buf pl = BUF_INIT;
	int r = noise_payload_encode(&n->identity, n->hs.s_pub, (const char *const *)n->muxers,
	                             n->n_muxers, &pl);
	if (r == 0)
		r = send_message(n, pl.data, pl.len);
	if (r == -EPROTO)
		errmsg_set(&n->err, r, "noise: peer sent a low-order X25519 key");
	else if (r < 0 && r != -ENOMEM)
		errmsg_set(&n->err, r, "noise: cannot build our handshake message (%d)", r);
	return r;
}

static int init_keys(struct noise *n, const struct noise_config *cfg)
{
	uint8_t s_priv[NOISE_KEY_SIZE], s_pub[NOISE_KEY_SIZE];
	int r = 0;
	if (cfg->static_key)
		memcpy(s_priv, cfg->static_key, sizeof(s_priv));
	else
		r = x25519_keygen(s_priv, s_pub);
	if (r == 0)
		r = noise_hs_init(&n->hs, n->initiator, s_priv, cfg->test_ephemeral_key);
	crypto_wipe(s_priv, sizeof(s_priv));
	return r;
}

int noise_new(const struct noise_config *cfg, struct noise **ret)
{
	if (!cfg || !cfg->identity ||
	    (cfg->role != NOISE_INITIATOR && cfg->role != NOISE_RESPONDER))
		return -EINVAL;
	struct noise *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->initiator = cfg->role == NOISE_INITIATOR;
	n->identity = *cfg->identity;
	n->muxer = -1;
	if (cfg->expected_peer) {
		n->has_expected = true;
		n->expected = *cfg->expected_peer;
	}
	int r = copy_muxers(n, cfg->muxers, cfg->n_muxers);
	if (r == 0)
		r = init_keys(n, cfg);
	/* -> e, with an empty payload: nothing may be said before a key exists. */
	if (r == 0 && n->initiator)
		r = send_message(n, NULL, 0);
	if (r < 0)
		return noise_free(n), r;
	*ret = n;
	return 0;
}

struct noise *noise_free(struct noise *n)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n->n_muxers; i++)
		free(n->muxers[i]);
	free(n->muxers);
	privkey_wipe(&n->identity);
	noise_hs_wipe(&n->hs);
	noise_transport_wipe(&n->tr);
	buf_wipe_free(&n->msg);
	buf_wipe_free(&n->out);
	free(n->remote.identity_key);
	crypto_wipe(n, sizeof(*n));
	free(n);
	return NULL;
}

/* Collect the next framed handshake message into n->msg: 1 once complete, 0
 * when the input ran out first. */
static int take_message(struct noise *n, struct cursor *c)
{
	while (n->hdr_len < 2 && cur_get_u8(c, &n->hdr[n->hdr_len]) == 0)
		n->hdr_len++;
	if (n->hdr_len < 2)
		return 0;
	size_t want = ((size_t)n->hdr[0] << 8 | n->hdr[1]) - n->msg.len;
	size_t take = cur_remaining(c) < want ? cur_remaining(c) : want;
	const uint8_t *p;
	if (take && (cur_get_bytes(c, take, &p) < 0 || buf_append(&n->msg, p, take) < 0))
		return -ENOMEM;
	return take == want;
}

static int read_message(struct noise *n, struct buf *payload)
{
	unsigned step = n->hs.step;
	if (n->msg.len < min_message[step])
		return errmsg_set(&n->err, -EPROTO,
		                  "noise: handshake message %u has %zu bytes, fewer than %zu",
		                  step + 1, n->msg.len, min_message[step]);
	int r = noise_hs_read(&n->hs, n->msg.data, n->msg.len, payload);
	if (r == -EBADMSG)
		return errmsg_set(&n->err, r,
		                  "noise: handshake message %u failed authentication "
		                  "(corrupted, or the peer does not speak libp2p Noise)",
		                  step + 1);
	if (r == -EPROTO)
		return errmsg_set(&n->err, r, "noise: peer sent a low-order X25519 key");
	return r;
}

static int check_peer(struct noise *n, const struct noise_payload_result *res)
{
	if (!n->has_expected || peerid_equal(&res->peer, &n->expected))
		return 0;
	char got[PEERID_TEXT_MAX] = "?", want[PEERID_TEXT_MAX] = "?";
	peerid_to_string(&res->peer, got, sizeof(got));
	peerid_to_string(&n->expected, want, sizeof(want));
	return errmsg_set(
	        &n->err, -EPERM,
	        "noise: remote peer is %s, expected %s (check the /p2p/ part of the address)", got,
	        want);
}

/* Inlined muxer negotiation: a result only when both sent a list. */
static int settle_muxer(struct noise *n, const struct noise_payload_result *res)
{
	if (n->n_muxers == 0 || !res->has_muxers)
		return 0;
	if (res->muxer < 0)
		return errmsg_set(&n->err, -ENOPROTOOPT,
		                  "noise: peer offers no stream muxer we support (we offer %s%s)",
		                  n->muxers[0], n->n_muxers > 1 ? ", ..." : "");
	n->muxer = res->muxer;
	return 0;
}

/* Authenticate the peer from the payload of message 2 or 3. */
static int accept_payload(struct noise *n, const struct buf *payload)
{
	struct noise_payload_result res;
	int r = noise_payload_verify(payload->data, payload->len, noise_hs_remote_static(&n->hs),
	                             (const char *const *)n->muxers, n->n_muxers, !n->initiator,
	                             &res, &n->err);
	if (r < 0)
		return r;
	if ((r = check_peer(n, &res)) < 0 || (r = settle_muxer(n, &res)) < 0) {
		free(res.identity_key);
		return r;
	}
	n->remote = res;
	return 0;
}

static int finish(struct noise *n)
{
	struct noise_cipher send, recv;
	int r = noise_hs_split(&n->hs, &send, &recv);
	if (r < 0)
		return r;
	noise_transport_init(&n->tr, &send, &recv);
	noise_cipher_wipe(&send);
	noise_cipher_wipe(&recv);
	memcpy(n->hash, noise_hs_hash(&n->hs), sizeof(n->hash));
	noise_hs_wipe(&n->hs);
	buf_wipe_free(&n->msg);
	n->state = NOISE_DONE;
	return 0;
}

/* One complete handshake message is in n->msg: process it and answer. */
static int on_message(struct noise *n)
{
	_cleanup_secret_buf_ struct buf payload = BUF_INIT;
	unsigned step = n->hs.step;
	int r = read_message(n, &payload);
	buf_reset(&n->msg);
	n->hdr_len = 0;
	if (r < 0)
		return r;
	/* Message 1's payload is unauthenticated cleartext: libp2p puts
	 * nothing there, and whatever a peer sends is ignored. */
	if (step == 0)
		return send_payload_message(n);
	if ((r = accept_payload(n, &payload)) < 0)
		return r;
	if (step == 1 && (r = send_payload_message(n)) < 0)
		return r;
	return finish(n);
}

long noise_feed(struct noise *n, const uint8_t *data, size_t len)
{
	if (n->state == NOISE_DONE)
		return -EALREADY;
	if (n->state == NOISE_FAILED)
		return n->err_code;
	struct cursor c;
	cur_init(&c, data, len);
	while (n->state == NOISE_HANDSHAKING && !cur_eof(&c)) {
		int r = take_message(n, &c);
		if (r > 0)
			r = on_message(n);
		if (r < 0)
			return fail(n, r);
	}
	return (long)c.off;
}

enum noise_state noise_state(const struct noise *n)
{
	return n->state;
}

void noise_pending_output(const struct noise *n, const uint8_t **ret_ptr, size_t *ret_len)
{
	*ret_ptr = buf_at(&n->out, n->out_off);
	*ret_len = n->out.len - n->out_off;
}

void noise_output_consumed(struct noise *n, size_t n_sent)
{
	size_t pending = n->out.len - n->out_off;
	n->out_off += n_sent < pending ? n_sent : pending;
	if (n->out_off == n->out.len) {
		buf_reset(&n->out);
		n->out_off = 0;
	}
}

static int transport_ready(const struct noise *n)
{
	if (n->state == NOISE_FAILED)
		return n->err_code;
	return n->state == NOISE_DONE ? 0 : -ENOTCONN;
}

int noise_encrypt(struct noise *n, const uint8_t *data, size_t len, struct buf *out)
{
	int r = transport_ready(n);
	if (r < 0)
		return r;
	r = noise_transport_encrypt(&n->tr, data, len, out);
	if (r == -EOVERFLOW)
		errmsg_set(&n->err, r, "noise: send nonces exhausted; reconnect");
	return r < 0 ? fail(n, r) : 0;
}

int noise_decrypt(struct noise *n, const uint8_t *data, size_t len, struct buf *out)
{
	int r = transport_ready(n);
	if (r < 0)
		return r;
	r = noise_transport_decrypt(&n->tr, data, len, out);
	if (r == -EPROTO)
		errmsg_set(&n->err, r,
		           "noise: transport frame of %zu bytes is shorter than the tag",
		           n->tr.frame_len);
	else if (r == -EBADMSG)
		errmsg_set(&n->err, r, "noise: transport frame failed authentication");
	else if (r == -EOVERFLOW)
		errmsg_set(&n->err, r, "noise: receive nonces exhausted; reconnect");
	return r < 0 ? fail(n, r) : 0;
}

size_t noise_input_pending(const struct noise *n)
{
	if (n->state == NOISE_DONE)
		return noise_transport_pending(&n->tr);
	return n->hdr_len + n->msg.len;
}

const struct peerid *noise_remote_peer(const struct noise *n)
{
	return n->state == NOISE_DONE ? &n->remote.peer : NULL;
}

int noise_remote_identity_key(const struct noise *n, const uint8_t **ret_ptr, size_t *ret_len)
{
	if (n->state != NOISE_DONE)
		return -ENOTCONN;
	*ret_ptr = n->remote.identity_key;
	*ret_len = n->remote.identity_key_len;
	return 0;
}

const char *noise_muxer(const struct noise *n)
{
	return n->state == NOISE_DONE && n->muxer >= 0 ? n->muxers[n->muxer] : NULL;
}

const uint8_t *noise_handshake_hash(const struct noise *n)
{
	return n->state == NOISE_DONE ? n->hash : NULL;
}

const char *noise_error(const struct noise *n)
{
	return n->err.text;
}
