/* The /spacedrive/device/1.0.0 stream: device authentication (devauth.h)
 * first, then, once both sides proved their pairing keys, the DeviceMessage
 * frames of persist-control.c on the same stream for as long as the
 * connection lives.
 *
 * Who opens: the side that dialed the connection, at once; the other side
 * after PERSIST_AUTH_WAIT_MS if nothing came (a peer that connected for
 * something else, or one that does not know us any more). If both opened
 * at once on one connection, the stream opened by the peer whose ID sorts
 * first wins on both sides.
 *
 * Failures: a proof that does not verify, a protocol violation or no keys
 * for the epoch close the connection (hard); "not paired", a timeout or a
 * stream that would not open keep it (soft: the peer may be finishing a
 * pairing with us right now). Either way the link backs off and the
 * history records the reason. */
#include "persist-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "lpmsg.h"

struct popen {
	struct psess *s; /* NULL when the session went first */
};

static void noop(struct stream *st, void *ctx)
{
}

static void noop_closed(struct stream *st, int err, void *ctx)
{
}

static const struct stream_callbacks detached = {noop, noop, noop, noop_closed};

static struct plink *link_of(const struct psess *s)
{
	return s->device_id[0] ? persist_link(s->p, s->device_id) : NULL;
}

/* ---- lifetime -------------------------------------------------------------- */

static struct psess *sess_new(struct persist *p, struct plink *l, const struct peerid *peer,
                              struct conn *c, bool opener)
{
	if (p->n_sessions >= PERSIST_MAX_SESSIONS)
		return NULL;
	struct psess *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	*s = (struct psess){.p = p, .peer = *peer, .c = c, .opener = opener, .out = BUF_INIT};
	if (l)
		snprintf(s->device_id, sizeof(s->device_id), "%s", l->device_id);
	s->created_ms = persist_now_ms();
	s->deadline_ms = s->created_ms + PERSIST_AUTH_TIMEOUT_MS;
	s->next = p->sessions;
	p->sessions = s;
	p->n_sessions++;
	return s;
}

void psess_free(struct psess *s)
{
	if (!s)
		return;
	if (s->open_tok)
		s->open_tok->s = NULL;
	if (s->s) {
		stream_set_callbacks(s->s, &detached, NULL);
		stream_reset(s->s);
	}
	buf_wipe_free(&s->out);
	s->p->n_sessions--;
	crypto_wipe(&s->rk, sizeof(s->rk));
	free(s);
}

/* Let go of the stream: FIN after what is queued when graceful, else RST. */
static void detach(struct psess *s, bool graceful)
{
	if (!s->s)
		return;
	struct stream *st = s->s;
	s->s = NULL;
	if (graceful) {
		while (s->out.len) {
			long n = stream_write(st, s->out.data, s->out.len);
			if (n <= 0)
				break;
			buf_consume(&s->out, (size_t)n);
		}
	}
	stream_set_callbacks(st, &detached, NULL);
	if (graceful && s->out.len == 0)
		stream_close_write(st);
	else
		stream_reset(st);
}

void psess_close(struct psess *s, int err, const char *reason)
{
	if (s->st == PSESS_DEAD)
		return;
	if (!s->err) {
		s->err = err;
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
	}
	detach(s, err == 0);
	s->st = PSESS_DEAD;
	persist_poke(s->p);
}

void psess_fail(struct psess *s, bool hard, int err, const char *fmt, ...)
{
	if (s->st == PSESS_DEAD)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	s->err = err;
	s->hard_fail = hard;
	/* Graceful: a queued Result reaches the peer before the FIN. */
	detach(s, true);
	s->st = PSESS_DEAD;
	persist_poke(s->p);
}

int psess_flush(struct psess *s)
{
	while (s->s && s->out.len) {
		long n = stream_write(s->s, s->out.data, s->out.len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break; /* on_writable resumes */
		buf_consume(&s->out, (size_t)n);
	}
	if (s->out.len > PERSIST_MAX_PENDING_OUT)
		return -ENOBUFS;
	return 0;
}

/* ---- sending ----------------------------------------------------------------- */

static void send_msg(struct psess *s, const struct devauth_msg *m)
{
	int r = devauth_encode(m, &s->out);
	if (r == 0)
		r = psess_flush(s);
	if (r < 0)
		psess_fail(s, false, r, "cannot write to the device stream: %s", strerror(-r));
}

/* Tell the peer why, then fail. */
static void refuse(struct psess *s, bool hard, enum devauth_code code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void refuse(struct psess *s, bool hard, enum devauth_code code, const char *fmt, ...)
{
	struct devauth_msg m = {.type = DEVAUTH_RESULT, .code = code};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m.reason, sizeof(m.reason), fmt, ap);
	va_end(ap);
	for (char *q = m.reason; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = ' ';
	(void)devauth_encode(&m, &s->out);
	psess_fail(s, hard, -EACCES, "%s (%s)", m.reason, devauth_code_name(code));
}

/* ---- the exchange ------------------------------------------------------------- */

static const struct peerid *self(const struct psess *s)
{
	return host_peer_id(s->p->cfg.host);
}

static void transcript(const struct psess *s, uint8_t th[DEVAUTH_HASH_LEN])
{
	struct devauth_transcript t = {
	        .opener = s->opener ? self(s) : &s->peer,
	        .responder = s->opener ? &s->peer : self(s),
	        .nonce_o = s->nonce_o,
	        .nonce_r = s->nonce_r,
	        .epoch = s->epoch,
	};
	devauth_hash(&t, th);
}

static void send_hello(struct psess *s, struct plink *l)
{
	crypto_random(s->nonce_o, sizeof(s->nonce_o));
	struct devauth_msg m = {
	        .type = DEVAUTH_HELLO, .version = DEVAUTH_VERSION, .epoch = l->rec.keys.epoch};
	memcpy(m.nonce, s->nonce_o, sizeof(m.nonce));
	s->st = PSESS_HELLO;
	send_msg(s, &m);
}

/* The session is authenticated at s->epoch: both sides have those keys.
 * A later epoch we stored that the peer never finished is dropped; a
 * previous one the peer no longer needs is dropped. */
static void reconcile_epoch(struct psess *s, struct plink *l)
{
	struct pkeys *k = &l->rec.keys;
	if (k->epoch > s->epoch && k->has_prev && k->prev_epoch == s->epoch) {
		log_info("device '%s': key rotation to epoch %llu was not finished by the device; "
		         "staying at epoch %llu",
		         l->name, (unsigned long long)k->epoch, (unsigned long long)s->epoch);
		k->epoch = k->prev_epoch;
		k->cur = k->prev;
		k->has_prev = false;
		crypto_wipe(&k->prev, sizeof(k->prev));
		persist_save(l);
	} else if (k->epoch == s->epoch && k->has_prev) {
		k->has_prev = false;
		crypto_wipe(&k->prev, sizeof(k->prev));
		persist_save(l);
	}
}

static void become_up(struct psess *s, struct plink *l)
{
	reconcile_epoch(s, l);
	s->st = PSESS_UP;
	pctl_start(s, persist_now_ms());
	persist_poke(s->p);
}

static void responder_hello(struct psess *s, struct plink *l, const struct devauth_msg *m)
{
	if (m->type != DEVAUTH_HELLO) {
		refuse(s, true, DEVAUTH_PROTOCOL, "expected a Hello");
		return;
	}
	const struct pkeys *k = &l->rec.keys;
	if (devauth_session_epoch(k->epoch, k->has_prev, m->epoch, &s->epoch) < 0) {
		refuse(s, true, DEVAUTH_NO_KEYS,
		       "no keys for key epoch %llu (this device is at %llu): pair again",
		       (unsigned long long)m->epoch, (unsigned long long)k->epoch);
		return;
	}
	const struct pairing_session_keys *keys = precord_keys(&l->rec, s->epoch);
	memcpy(s->nonce_o, m->nonce, sizeof(s->nonce_o));
	crypto_random(s->nonce_r, sizeof(s->nonce_r));
	uint8_t th[DEVAUTH_HASH_LEN];
	transcript(s, th);
	struct devauth_msg out = {.type = DEVAUTH_HELLO_PROOF,
	                          .version = DEVAUTH_VERSION,
	                          .epoch = k->epoch,
	                          .session_epoch = s->epoch};
	memcpy(out.nonce, s->nonce_r, sizeof(out.nonce));
	devauth_proof(keys->send_mac_key, DEVAUTH_RESPONDER, th, out.mac);
	s->st = PSESS_PROOF;
	send_msg(s, &out);
}

static void responder_proof(struct psess *s, struct plink *l, const struct devauth_msg *m)
{
	if (m->type != DEVAUTH_PROOF) {
		refuse(s, true, DEVAUTH_PROTOCOL, "expected a Proof");
		return;
	}
	uint8_t th[DEVAUTH_HASH_LEN];
	transcript(s, th);
	const struct pairing_session_keys *keys = precord_keys(&l->rec, s->epoch);
	if (!keys || devauth_verify(keys->receive_mac_key, DEVAUTH_OPENER, th, m->mac) < 0) {
		refuse(s, true, DEVAUTH_BAD_PROOF,
		       "the device's proof does not match the pairing keys (a copied "
		       "identity without the pairing?)");
		return;
	}
	struct devauth_msg ok = {.type = DEVAUTH_RESULT, .code = DEVAUTH_OK};
	send_msg(s, &ok);
	if (s->st != PSESS_DEAD)
		become_up(s, l);
}

static void opener_hello_proof(struct psess *s, struct plink *l, const struct devauth_msg *m)
{
	if (m->type != DEVAUTH_HELLO_PROOF) {
		refuse(s, true, DEVAUTH_PROTOCOL, "expected a HelloProof");
		return;
	}
	const struct pkeys *k = &l->rec.keys;
	uint64_t e;
	if (devauth_session_epoch(k->epoch, k->has_prev, m->epoch, &e) < 0 ||
	    e != m->session_epoch) {
		refuse(s, true, DEVAUTH_NO_KEYS,
		       "no common key epoch (device at %llu, this device at %llu): pair "
		       "again",
		       (unsigned long long)m->epoch, (unsigned long long)k->epoch);
		return;
	}
	s->epoch = e;
	memcpy(s->nonce_r, m->nonce, sizeof(s->nonce_r));
	uint8_t th[DEVAUTH_HASH_LEN];
	transcript(s, th);
	const struct pairing_session_keys *keys = precord_keys(&l->rec, e);
	if (!keys || devauth_verify(keys->receive_mac_key, DEVAUTH_RESPONDER, th, m->mac) < 0) {
		refuse(s, true, DEVAUTH_BAD_PROOF,
		       "the device's proof does not match the pairing keys (a copied "
		       "identity without the pairing?)");
		return;
	}
	struct devauth_msg out = {.type = DEVAUTH_PROOF};
	devauth_proof(keys->send_mac_key, DEVAUTH_OPENER, th, out.mac);
	s->st = PSESS_RESULT;
	send_msg(s, &out);
}

static void on_result(struct psess *s, struct plink *l, const struct devauth_msg *m)
{
	if (m->code == DEVAUTH_OK && s->opener && s->st == PSESS_RESULT) {
		become_up(s, l);
		return;
	}
	/* The peer refused: soft when it only does not know us (it may be
	 * storing the pairing right now), else hard. */
	bool hard = m->code != DEVAUTH_NOT_PAIRED && m->code != DEVAUTH_OK;
	psess_fail(s, hard, -EACCES, "the device refused: %s (%s)",
	           m->reason[0] ? m->reason : "no reason given", devauth_code_name(m->code));
}

static void on_auth_frame(struct psess *s, const uint8_t *frame, size_t len)
{
	struct plink *l = link_of(s);
	struct devauth_msg m;
	struct errmsg e = {{0}};
	if (!l) {
		psess_fail(s, false, -ENOENT, "the device was forgotten");
		return;
	}
	if (devauth_decode(frame, len, &m, &e) < 0) {
		refuse(s, true, DEVAUTH_PROTOCOL, "%s", e.text);
		return;
	}
	if (m.type == DEVAUTH_RESULT) {
		on_result(s, l, &m);
		return;
	}
	if ((m.type == DEVAUTH_HELLO || m.type == DEVAUTH_HELLO_PROOF) &&
	    m.version != DEVAUTH_VERSION && m.version < DEVAUTH_VERSION) {
		refuse(s, true, DEVAUTH_UNSUPPORTED, "version %u is not supported", m.version);
		return;
	}
	if (!s->opener && s->st == PSESS_HELLO)
		responder_hello(s, l, &m);
	else if (!s->opener && s->st == PSESS_PROOF)
		responder_proof(s, l, &m);
	else if (s->opener && s->st == PSESS_HELLO)
		opener_hello_proof(s, l, &m);
	else
		refuse(s, true, DEVAUTH_PROTOCOL, "unexpected frame type %u", m.type);
}

/* ---- stream callbacks -------------------------------------------------------- */

static void feed(struct psess *s)
{
	while (s->s && s->st != PSESS_DEAD) {
		const uint8_t *p, *frame;
		size_t len, flen;
		stream_peek(s->s, &p, &len);
		size_t max = s->st == PSESS_UP ? DEVMSG_MAX_SIZE : DEVAUTH_MAX_FRAME;
		long n = lpmsg_next(p, len, max, &frame, &flen);
		if (n == 0)
			return;
		if (n < 0) {
			psess_fail(s, true, (int)n, "the device sent a frame over %zu bytes", max);
			return;
		}
		uint64_t now = persist_now_ms();
		if (s->st == PSESS_UP) {
			pctl_on_frame(s, frame, flen, now);
		} else if (!s->device_id[0]) {
			return; /* waiting to learn whether the peer is paired */
		} else {
			on_auth_frame(s, frame, flen);
		}
		if (s->s)
			stream_consume(s->s, (size_t)n);
	}
}

static void on_data(struct stream *st, void *ctx)
{
	struct psess *s = ctx;
	feed(s);
	persist_settle(s->p);
}

static void on_writable(struct stream *st, void *ctx)
{
	struct psess *s = ctx;
	int r = psess_flush(s);
	if (r < 0)
		psess_fail(s, false, r, "cannot write to the device stream: %s", strerror(-r));
	persist_settle(s->p);
}

static void on_eof(struct stream *st, void *ctx)
{
	struct psess *s = ctx;
	feed(s);
	psess_close(s, -ECONNRESET, "the device closed the device stream");
	persist_settle(s->p);
}

static void on_closed(struct stream *st, int err, void *ctx)
{
	struct psess *s = ctx;
	s->s = NULL;
	psess_close(s, err ? err : -ECONNRESET,
	            err == -ECONNABORTED ? "the connection was lost"
	                                 : "the device stream was closed");
	persist_settle(s->p);
}

static const struct stream_callbacks callbacks = {on_data, on_writable, on_eof, on_closed};

/* ---- opening ------------------------------------------------------------------- */

static void on_opened(struct stream *st, int err, void *ctx)
{
	struct popen *tok = ctx;
	struct psess *s = tok->s;
	free(tok);
	if (!s) {
		if (st)
			stream_reset(st);
		return;
	}
	s->open_tok = NULL;
	if (s->st == PSESS_DEAD) {
		if (st)
			stream_reset(st);
		persist_poke(s->p);
		return;
	}
	struct plink *l = link_of(s);
	if (!st && err == -ECONNABORTED && host_find_conn(s->p->cfg.host, &s->peer)) {
		/* The connection went (a duplicate the host drained): not a
		 * failure of the device; the next settle uses the one left. */
		psess_close(s, -ECANCELED, "the connection was replaced");
		persist_settle(s->p);
		return;
	}
	if (!st || !l) {
		if (st)
			stream_reset(st);
		psess_fail(s, false, err ? err : -ENOENT, "cannot open %s: %s", DEVAUTH_PROTOCOL_ID,
		           err == -ENOPROTOOPT ? "the device does not speak it"
		                               : strerror(err ? -err : ENOENT));
		persist_settle(s->p);
		return;
	}
	s->s = st;
	stream_set_callbacks(st, &callbacks, s);
	send_hello(s, l);
	persist_settle(s->p);
}

int psess_open(struct persist *p, struct plink *l, struct conn *c)
{
	struct psess *s = sess_new(p, l, &l->peer, c, true);
	if (!s)
		return -ENOMEM;
	struct popen *tok = calloc(1, sizeof(*tok));
	int r = tok ? 0 : -ENOMEM;
	if (r == 0) {
		tok->s = s;
		s->open_tok = tok;
		r = host_open_stream(p->cfg.host, c, DEVAUTH_PROTOCOL_ID, on_opened, tok);
	}
	if (r < 0) {
		free(tok);
		s->open_tok = NULL;
		s->st = PSESS_DEAD;
		s->reported = true;
		return r;
	}
	s->st = PSESS_OPENING;
	return 0;
}

/* Peer ID order decides which of two crossing authentications survives. */
static bool ours_first(const struct peerid *ours, const struct peerid *theirs)
{
	size_t n = ours->len < theirs->len ? ours->len : theirs->len;
	int cmp = memcmp(ours->bytes, theirs->bytes, n);
	return cmp == 0 ? ours->len < theirs->len : cmp < 0;
}

/* An authentication of ours still running on c. */
static struct psess *pending_opener(struct persist *p, const struct plink *l, const struct conn *c)
{
	for (struct psess *s = p->sessions; s; s = s->next)
		if (s->opener && s->c == c && s->st != PSESS_DEAD && s->st != PSESS_UP &&
		    strcmp(s->device_id, l->device_id) == 0)
			return s;
	return NULL;
}

/* Streams we answer only to say no: a Result, then FIN. */
static void answer_and_close(struct persist *p, struct stream *st, enum devauth_code code,
                             const char *reason)
{
	struct psess *s = sess_new(p, NULL, stream_peer(st), stream_conn(st), false);
	if (!s) {
		stream_reset(st);
		return;
	}
	s->s = st;
	stream_set_callbacks(st, &callbacks, s);
	refuse(s, false, code, "%s", reason);
	s->reported = true;
}

void psess_on_inbound(struct stream *st, void *ctx)
{
	struct persist *p = ctx;
	struct plink *l = persist_link_by_peer(p, stream_peer(st));
	if (!l) {
		/* Maybe a pairing with it is being stored right now (the joiner
		 * authenticates as soon as it stored its side): wait a moment. */
		struct psess *s = sess_new(p, NULL, stream_peer(st), stream_conn(st), false);
		if (!s) {
			stream_reset(st);
			return;
		}
		s->s = st;
		s->st = PSESS_HELLO;
		s->deadline_ms = s->created_ms + PERSIST_UNKNOWN_WAIT_MS;
		stream_set_callbacks(st, &callbacks, s);
		return;
	}
	if (l->trust == DEVICE_REVOKED) {
		answer_and_close(p, st, DEVAUTH_REVOKED, "this device revoked the pairing");
		persist_refused(l, "the device is revoked: refused");
		host_disconnect(p->cfg.host, &l->peer);
		return;
	}
	if (l->trust == DEVICE_EXPIRED) {
		answer_and_close(p, st, DEVAUTH_EXPIRED,
		                 "the pairing expired on this device: pair again");
		return;
	}
	struct conn *c = stream_conn(st);
	struct psess *mine = pending_opener(p, l, c);
	if (mine && ours_first(host_peer_id(p->cfg.host), &l->peer)) {
		stream_reset(st); /* ours wins; the peer drops its own the same way */
		return;
	}
	struct psess *s = sess_new(p, l, &l->peer, c, false);
	if (!s) {
		stream_reset(st);
		return;
	}
	if (mine) {
		psess_close(mine, -ECANCELED, "crossed authentication: the device's stream wins");
		mine->reported = true;
		/* A devices.verify waiting on ours gets the answer of theirs. */
		s->verify_cb = mine->verify_cb;
		s->verify_ctx = mine->verify_ctx;
		mine->verify_cb = NULL;
	}
	s->s = st;
	s->st = PSESS_HELLO;
	l->wait_auth_ms = 0;
	stream_set_callbacks(st, &callbacks, s);
	persist_poke(p);
}

/* ---- settling ------------------------------------------------------------------ */

static void report_end(struct psess *s)
{
	s->reported = true;
	struct plink *l = link_of(s);
	if (s->verify_cb) {
		persist_verify_cb cb = s->verify_cb;
		s->verify_cb = NULL;
		cb(s->verify_ctx, s->err ? s->err : -ECONNRESET, s->reason, s->epoch,
		   persist_now_ms() - s->created_ms);
	}
	if (!l)
		return;
	if (s->announced) {
		if (l->sess == s)
			plink_down(l, s->err, s->reason);
	} else if (s->err != -ECANCELED) {
		plink_auth_failed(l, s);
	}
}

/* An inbound stream from a peer not (yet) paired: take it up once the
 * registry knows the peer, refuse it at the deadline. False while waiting
 * or after refusing. */
static bool adopt(struct psess *s, uint64_t now)
{
	struct plink *l = persist_link_by_peer(s->p, &s->peer);
	if (l && l->trust != DEVICE_REVOKED && l->trust != DEVICE_EXPIRED) {
		snprintf(s->device_id, sizeof(s->device_id), "%s", l->device_id);
		s->deadline_ms = now + PERSIST_AUTH_TIMEOUT_MS;
		feed(s);
		return s->st != PSESS_DEAD;
	}
	if (now >= s->deadline_ms || l) {
		refuse(s, false, l ? DEVAUTH_REVOKED : DEVAUTH_NOT_PAIRED,
		       l ? "this device does not accept you any more"
		         : "this device has no pairing with you");
		s->reported = true;
	}
	return false;
}

void psess_settle(struct psess *s, uint64_t now)
{
	if (s->st == PSESS_DEAD) {
		if (!s->reported)
			report_end(s);
		return;
	}
	if (!s->device_id[0] && s->st == PSESS_HELLO && !adopt(s, now))
		return;
	if (s->st != PSESS_UP) {
		if (now >= s->deadline_ms && s->st != PSESS_OPENING)
			psess_fail(s, false, -ETIMEDOUT,
			           "the device did not finish authenticating within %d s",
			           PERSIST_AUTH_TIMEOUT_MS / 1000);
		if (s->st == PSESS_DEAD)
			report_end(s);
		return;
	}
	struct plink *l = link_of(s);
	if (!s->announced && l) {
		s->announced = true;
		plink_up(l, s);
		if (s->verify_cb) {
			persist_verify_cb cb = s->verify_cb;
			s->verify_cb = NULL;
			cb(s->verify_ctx, 0, "", s->epoch, now - s->created_ms);
		}
	}
	pctl_tick(s, now);
	if (s->st == PSESS_DEAD)
		report_end(s);
}

uint64_t psess_deadline(const struct psess *s)
{
	if (s->st == PSESS_DEAD)
		return s->reported ? UINT64_MAX : 0;
	if (s->st == PSESS_UP)
		return s->announced ? pctl_deadline(s) : 0;
	return s->deadline_ms;
}

/* ---- devices.verify ------------------------------------------------------------- */

int persist_verify(struct persist *p, const char *device_id, persist_verify_cb cb, void *ctx)
{
	struct plink *l = persist_link(p, device_id);
	if (!l || !l->sess || l->state != PERSIST_CONNECTED || !l->sess->c)
		return -ENOTCONN;
	int r = psess_open(p, l, l->sess->c);
	if (r < 0)
		return r;
	p->sessions->verify_cb = cb;
	p->sessions->verify_ctx = ctx;
	return 0;
}

void persist_verify_cancel(struct persist *p, void *ctx)
{
	for (struct psess *s = p->sessions; s; s = s->next)
		if (s->verify_cb && s->verify_ctx == ctx)
			s->verify_cb = NULL;
}
