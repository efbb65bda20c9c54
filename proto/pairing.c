/* Pairing sessions and exchanges: the state machine of
 * /spacedrive/pairing/1.0.0 (see pairing.h for the API and docs/pairing.md
 * for the protocol and why it is shaped this way).
 *
 * The session owns the code and everything that outlives one stream; each
 * exchange runs the four messages on one stream. The protocol is strictly
 * half-duplex: each side sends one message and waits for the answer, so a
 * peer never has a reason to send bytes beyond the one message we expect,
 * and any it sends are refused rather than buffered.
 *
 * Three ways an exchange ends:
 *   x_end()   the session ended it (expiry, cancel, another exchange paired):
 *             no accounting;
 *   x_fail()  the peer or the clock failed it: counted against the session
 *             (three failed proofs cancel an initiator session, three failed
 *             exchanges end a joiner session);
 *   success   the result is copied to the session, which then ends. */
#include "pairing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lpmsg.h"
#include "pairing-limit.h"

/* No Result to send (joiner side, or the daemon just resets the stream). */
#define NO_STATUS (-1)

struct pairing_exchange {
	struct pairing_session *s; /* NULL once the session was freed */
	struct pairing_exchange *prev, *next;
	enum pairing_role role;
	enum pairing_state state;
	int err_code;
	struct errmsg err;
	struct peerid remote;
	uint64_t deadline;
	struct buf in;
	struct buf out;
	size_t out_off;
	/* Our half of the handshake. */
	uint8_t nonce[PAIRING_NONCE_LEN];
	uint8_t eph_priv[X25519_KEY_LEN];
	uint8_t eph_pub[X25519_KEY_LEN];
	/* Initiator: the joiner's proof we expect (computed with the Challenge,
	 * so checking it needs no code material). */
	uint8_t expect_mac[PAIRING_MAC_LEN];
	/* Filled once both proofs are computed; kept only on success. */
	struct pairing_result result;
};

struct pairing_session {
	enum pairing_role role;
	bool ended;
	enum pairing_state end_state;
	int err_code;
	struct errmsg err;
	uint64_t expires_at;
	/* Code material: wiped when the session ends, except the public
	 * rendezvous id (kept to tell late joiners "code already used"). */
	bool has_code;
	uint8_t entropy[PAIRING_ENTROPY_LEN];
	struct pairing_keys keys;
	struct pairing_device_info ours;
	uint8_t our_info[PAIRING_DEVICE_INFO_MAX];
	size_t our_info_len;
	struct pairing_limit limit;
	struct pairing_stats stats;
	unsigned failures;
	struct pairing_exchange *head, *tail;
	bool has_result;
	struct pairing_result result;
};

const char *pairing_state_name(enum pairing_state st)
{
	switch (st) {
	case PAIRING_WAITING_FOR_CONNECTION:
		return "WaitingForConnection";
	case PAIRING_CONNECTED:
		return "Connected";
	case PAIRING_AUTHENTICATING:
		return "Authenticating";
	case PAIRING_COMPLETED:
		return "Completed";
	case PAIRING_FAILED:
		return "Failed";
	case PAIRING_CANCELLED:
		return "Cancelled";
	case PAIRING_EXPIRED:
		return "Expired";
	}
	return "?";
}

bool pairing_state_is_final(enum pairing_state st)
{
	return st == PAIRING_COMPLETED || st == PAIRING_FAILED || st == PAIRING_CANCELLED ||
	       st == PAIRING_EXPIRED;
}

static const char *peer_text(const struct peerid *id, char buf[PEERID_TEXT_MAX])
{
	if (peerid_to_string(id, buf, PEERID_TEXT_MAX) < 0)
		strcpy(buf, "?");
	return buf;
}

static const char *role_name(enum pairing_role r)
{
	return r == PAIRING_ROLE_INITIATOR ? "initiator" : "joiner";
}

/* ---- ending exchanges ---- */

static void x_wipe(struct pairing_exchange *x)
{
	crypto_wipe(x->eph_priv, sizeof(x->eph_priv));
	crypto_wipe(x->expect_mac, sizeof(x->expect_mac));
	buf_wipe_free(&x->in);
	if (x->state != PAIRING_COMPLETED)
		crypto_wipe(&x->result, sizeof(x->result));
}

static void x_queue(struct pairing_exchange *x, const struct pairing_msg *m)
{
	/* Cannot fail short of memory; a lost Result only costs the peer a
	 * precise reason, it still sees the stream close. */
	(void)pairing_msg_append(m, &x->out);
}

static void x_queue_result(struct pairing_exchange *x, int status)
{
	if (x->role != PAIRING_ROLE_INITIATOR || status < 0)
		return;
	/* A Challenge not yet sent is moot now: the Result replaces it, so the
	 * joiner hears the reason rather than two messages at once. */
	if (x->out_off == 0 && status != PAIRING_STATUS_OK)
		buf_wipe_free(&x->out);
	struct pairing_msg m = {.type = PAIRING_MSG_RESULT, .code = (uint32_t)status};
	x_queue(x, &m);
}

static enum pairing_state state_for(int code)
{
	return code == -ECANCELED ? PAIRING_CANCELLED
	       : code == -ETIME   ? PAIRING_EXPIRED
	                          : PAIRING_FAILED;
}

/* The session ends x: the reason is already in x->err. */
static void x_end(struct pairing_exchange *x, int code, int status)
{
	x->state = state_for(code);
	x->err_code = code;
	x_queue_result(x, status);
	x_wipe(x);
}

static void session_end(struct pairing_session *s, enum pairing_state st, int code);

/* Count a peer-caused failure of x against its session. */
static void account(struct pairing_session *s, int code)
{
	s->stats.failed++;
	if (code == -EACCES)
		s->stats.failed_proofs++;
	if (s->ended)
		return;
	s->err_code = code;
	bool counts = s->role == PAIRING_ROLE_JOINER || code == -EACCES;
	if (!counts || ++s->failures < PAIRING_MAX_FAILURES)
		return;
	char last[ERRMSG_MAX];
	memcpy(last, s->err.text, sizeof(last));
	if (s->role == PAIRING_ROLE_INITIATOR) {
		errmsg_set(&s->err, -ECANCELED, "pairing cancelled after %d failed proofs",
		           PAIRING_MAX_FAILURES);
		session_end(s, PAIRING_CANCELLED, -ECANCELED);
	} else {
		errmsg_set(&s->err, code, "pairing failed %d times; last: %.200s",
		           PAIRING_MAX_FAILURES, last);
		session_end(s, PAIRING_FAILED, code);
	}
}

/* The peer (or the clock) failed x; the reason is already in x->err.
 * Returns code. */
static int x_fail(struct pairing_exchange *x, int status, int code)
{
	if (code == -ENOMEM)
		errmsg_set(&x->err, code, "pairing: out of memory");
	x_end(x, code, status);
	if (x->s) {
		if (!x->s->ended)
			memcpy(x->s->err.text, x->err.text, sizeof(x->err.text));
		account(x->s, code);
	}
	return code;
}

/* ---- the session ---- */

static void wipe_code(struct pairing_session *s)
{
	crypto_wipe(s->entropy, sizeof(s->entropy));
	crypto_wipe(s->keys.auth_key, sizeof(s->keys.auth_key));
	crypto_wipe(s->keys.record_key, sizeof(s->keys.record_key));
	s->has_code = false;
}

/* How an ended session answers an exchange still running or a late Hello. */
static int end_reply(const struct pairing_session *s, struct errmsg *err, int *status)
{
	switch (s->end_state) {
	case PAIRING_COMPLETED:
		*status = PAIRING_STATUS_CODE_USED;
		return errmsg_set(err, -EALREADY, "the pairing code was already used");
	case PAIRING_EXPIRED:
		*status = PAIRING_STATUS_EXPIRED;
		return errmsg_set(err, -ETIME, "the pairing code expired");
	case PAIRING_FAILED:
		*status = PAIRING_STATUS_CANCELLED;
		return errmsg_set(err, -ECANCELED, "the pairing session gave up after failures");
	default:
		*status = PAIRING_STATUS_CANCELLED;
		return errmsg_set(err, -ECANCELED, "the pairing session was cancelled");
	}
}

/* The reason is already in s->err. Ends every running exchange. */
static void session_end(struct pairing_session *s, enum pairing_state st, int code)
{
	if (s->ended)
		return;
	s->ended = true;
	s->end_state = st;
	s->err_code = code;
	wipe_code(s);
	for (struct pairing_exchange *x = s->head; x; x = x->next) {
		if (pairing_state_is_final(x->state))
			continue;
		int status = NO_STATUS;
		int r = end_reply(s, &x->err, &status);
		if (x->role == PAIRING_ROLE_JOINER && st == PAIRING_COMPLETED)
			r = errmsg_set(&x->err, -ECANCELED, "paired through another connection");
		x_end(x, r, status);
	}
}

static bool check_time(struct pairing_session *s, uint64_t now)
{
	if (!s->ended && now >= s->expires_at) {
		errmsg_set(&s->err, -ETIME, "the pairing code expired");
		session_end(s, PAIRING_EXPIRED, -ETIME);
	}
	return !s->ended;
}

static void timeout_exchanges(struct pairing_session *s, uint64_t now)
{
	for (struct pairing_exchange *x = s->head; x; x = x->next) {
		if (pairing_state_is_final(x->state) || now < x->deadline)
			continue;
		errmsg_set(&x->err, -ETIMEDOUT, "the %s did not answer within %d s",
		           x->role == PAIRING_ROLE_INITIATOR ? "joiner" : "initiator",
		           PAIRING_EXCHANGE_TIMEOUT_MS / 1000);
		x_fail(x, NO_STATUS, -ETIMEDOUT);
	}
}

void pairing_session_tick(struct pairing_session *s, uint64_t now_ms)
{
	if (!s)
		return;
	check_time(s, now_ms);
	timeout_exchanges(s, now_ms);
}

uint64_t pairing_session_next_timeout(const struct pairing_session *s)
{
	uint64_t t = UINT64_MAX;
	if (!s)
		return t;
	if (!s->ended)
		t = s->expires_at;
	for (const struct pairing_exchange *x = s->head; x; x = x->next)
		if (!pairing_state_is_final(x->state) && x->deadline < t)
			t = x->deadline;
	return t;
}

int pairing_session_cancel(struct pairing_session *s)
{
	if (!s)
		return -EINVAL;
	if (s->ended)
		return -EALREADY;
	errmsg_set(&s->err, -ECANCELED, "pairing cancelled");
	session_end(s, PAIRING_CANCELLED, -ECANCELED);
	return 0;
}

static int load_code(struct pairing_session *s, const struct pairing_params *p, struct errmsg *err)
{
	int r;
	if (p->entropy) {
		memcpy(s->entropy, p->entropy, PAIRING_ENTROPY_LEN);
		r = 0;
	} else if (p->words) {
		r = pairing_code_from_words(p->words, s->entropy, err);
	} else if (s->role == PAIRING_ROLE_INITIATOR) {
		r = pairing_code_generate(s->entropy);
	} else {
		r = errmsg_set(err, -EINVAL, "joining needs the 12-word pairing code");
	}
	if (r == 0)
		r = pairing_keys_derive(s->entropy, &s->keys);
	s->has_code = r == 0;
	return r;
}

static int load_info(struct pairing_session *s, const struct pairing_device_info *info,
                     struct errmsg *err)
{
	int r = pairing_device_info_check(info, err);
	if (r < 0) {
		errmsg_prefix(err, "our device information");
		return -EINVAL;
	}
	s->ours = *info;
	struct buf b = BUF_INIT;
	r = pairing_device_info_encode(info, &b);
	if (r == 0) {
		memcpy(s->our_info, b.data, b.len);
		s->our_info_len = b.len;
	}
	buf_free(&b);
	return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

static int session_new(enum pairing_role role, const struct pairing_params *p,
                       struct pairing_session **ret, struct errmsg *err)
{
	if (!p || !p->info || !ret)
		return errmsg_set(err, -EINVAL, "pairing: missing parameters");
	uint64_t life = p->lifetime_ms ? p->lifetime_ms : PAIRING_DEFAULT_LIFETIME_MS;
	if (life > UINT64_MAX - p->now_ms)
		return errmsg_set(err, -EINVAL, "pairing: lifetime too long");
	struct pairing_session *s = calloc(1, sizeof(*s));
	if (!s)
		return errmsg_set(err, -ENOMEM, "pairing: out of memory");
	s->role = role;
	s->expires_at = p->now_ms + life;
	pairing_limit_init(&s->limit);
	int r = load_info(s, p->info, err);
	if (r == 0)
		r = load_code(s, p, err);
	if (r < 0) {
		pairing_session_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int pairing_initiator_new(const struct pairing_params *p, struct pairing_session **ret,
                          struct errmsg *err)
{
	return session_new(PAIRING_ROLE_INITIATOR, p, ret, err);
}

int pairing_joiner_new(const struct pairing_params *p, struct pairing_session **ret,
                       struct errmsg *err)
{
	return session_new(PAIRING_ROLE_JOINER, p, ret, err);
}

struct pairing_session *pairing_session_free(struct pairing_session *s)
{
	if (!s)
		return NULL;
	for (struct pairing_exchange *x = s->head, *next; x; x = next) {
		next = x->next;
		if (!pairing_state_is_final(x->state)) {
			errmsg_set(&x->err, -ECANCELED, "pairing session ended");
			x_end(x, -ECANCELED, NO_STATUS);
		}
		x->s = NULL;
		x->prev = x->next = NULL;
	}
	crypto_wipe(s, sizeof(*s));
	free(s);
	return NULL;
}

enum pairing_role pairing_session_role(const struct pairing_session *s)
{
	return s->role;
}

enum pairing_state pairing_session_state(const struct pairing_session *s)
{
	if (s->ended)
		return s->end_state;
	enum pairing_state st = PAIRING_WAITING_FOR_CONNECTION;
	for (const struct pairing_exchange *x = s->head; x; x = x->next) {
		if (x->state == PAIRING_AUTHENTICATING)
			return PAIRING_AUTHENTICATING;
		if (x->state == PAIRING_CONNECTED)
			st = PAIRING_CONNECTED;
	}
	return st;
}

const char *pairing_session_error(const struct pairing_session *s)
{
	return s->err.text;
}

int pairing_session_errno(const struct pairing_session *s)
{
	return s->err_code;
}

uint64_t pairing_session_expires_at(const struct pairing_session *s)
{
	return s->expires_at;
}

const struct pairing_stats *pairing_session_stats(const struct pairing_session *s)
{
	return &s->stats;
}

int pairing_session_words(const struct pairing_session *s, char out[BIP39_MNEMONIC_MAX])
{
	if (!s->has_code)
		return -ESTALE;
	return pairing_code_to_words(s->entropy, out);
}

const uint8_t *pairing_session_rendezvous_id(const struct pairing_session *s)
{
	return s->keys.rendezvous_id;
}

int pairing_session_record_key(const struct pairing_session *s, uint8_t out[PAIRING_KEY_LEN])
{
	if (!s->has_code)
		return -ESTALE;
	memcpy(out, s->keys.record_key, PAIRING_KEY_LEN);
	return 0;
}

const struct pairing_result *pairing_session_result(const struct pairing_session *s)
{
	return s->has_result ? &s->result : NULL;
}

/* ---- exchanges ---- */

static void link_exchange(struct pairing_session *s, struct pairing_exchange *x)
{
	x->s = s;
	x->prev = s->tail;
	if (s->tail)
		s->tail->next = x;
	else
		s->head = x;
	s->tail = x;
}

static void unlink_exchange(struct pairing_exchange *x)
{
	struct pairing_session *s = x->s;
	if (!s)
		return;
	if (x->prev)
		x->prev->next = x->next;
	else
		s->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		s->tail = x->prev;
	x->s = NULL;
}

/* Make room for one more running exchange: an initiator drops the oldest
 * one still waiting for its Hello (a stream opened and left idle must not
 * lock the real joiner out); otherwise -EBUSY. */
static int make_room(struct pairing_session *s)
{
	unsigned live = 0;
	struct pairing_exchange *idle = NULL;
	for (struct pairing_exchange *x = s->head; x; x = x->next) {
		if (pairing_state_is_final(x->state))
			continue;
		live++;
		if (!idle && x->state == PAIRING_CONNECTED)
			idle = x;
	}
	if (live < PAIRING_MAX_EXCHANGES)
		return 0;
	if (s->role != PAIRING_ROLE_INITIATOR || !idle)
		return -EBUSY;
	errmsg_set(&idle->err, -EBUSY, "replaced by a newer pairing stream (too many at once)");
	x_end(idle, -EBUSY, NO_STATUS);
	return 0;
}

static int send_hello(struct pairing_exchange *x)
{
	struct pairing_session *s = x->s;
	struct pairing_msg m = {.type = PAIRING_MSG_HELLO, .version = PAIRING_VERSION};
	int r = crypto_random(x->nonce, sizeof(x->nonce));
	if (r == 0)
		r = x25519_keygen(x->eph_priv, x->eph_pub);
	if (r < 0)
		return r;
	memcpy(m.rendezvous_id, s->keys.rendezvous_id, PAIRING_RENDEZVOUS_LEN);
	memcpy(m.nonce, x->nonce, PAIRING_NONCE_LEN);
	memcpy(m.eph, x->eph_pub, X25519_KEY_LEN);
	memcpy(m.info, s->our_info, s->our_info_len);
	m.info_len = s->our_info_len;
	return pairing_msg_append(&m, &x->out);
}

int pairing_exchange_new(struct pairing_session *s, const struct peerid *remote_peer,
                         uint64_t now_ms, struct pairing_exchange **ret)
{
	struct peerid check;
	if (!s || !remote_peer || !ret ||
	    peerid_from_bytes(remote_peer->bytes, remote_peer->len, &check) < 0 ||
	    peerid_equal(remote_peer, &s->ours.peer_id))
		return -EINVAL;
	pairing_session_tick(s, now_ms);
	if (s->ended && s->role == PAIRING_ROLE_JOINER)
		return -ESTALE;
	int r = make_room(s);
	if (r < 0)
		return r;
	struct pairing_exchange *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->role = s->role;
	x->state = PAIRING_CONNECTED;
	x->remote = *remote_peer;
	x->deadline = now_ms > UINT64_MAX - PAIRING_EXCHANGE_TIMEOUT_MS
	                      ? UINT64_MAX
	                      : now_ms + PAIRING_EXCHANGE_TIMEOUT_MS;
	link_exchange(s, x);
	if (x->role == PAIRING_ROLE_JOINER && (r = send_hello(x)) < 0) {
		pairing_exchange_free(x);
		return r;
	}
	s->stats.exchanges++;
	*ret = x;
	return 0;
}

struct pairing_exchange *pairing_exchange_free(struct pairing_exchange *x)
{
	if (!x)
		return NULL;
	unlink_exchange(x);
	buf_wipe_free(&x->in);
	buf_wipe_free(&x->out);
	crypto_wipe(x, sizeof(*x));
	free(x);
	return NULL;
}

/* ---- the handshake ---- */

/* Decode and check the peer's DeviceInfo: it must name the peer Noise
 * authenticated, or a relay could pass off someone else's record. */
static int peer_info(struct pairing_exchange *x, const struct pairing_msg *m,
                     struct pairing_device_info *ret)
{
	const char *who = x->role == PAIRING_ROLE_INITIATOR ? "joiner" : "initiator";
	struct errmsg e = {{0}};
	if (pairing_device_info_decode(m->info, m->info_len, ret, &e) < 0)
		return errmsg_set(&x->err, -EPERM, "the %s's %s", who, e.text);
	if (!peerid_equal(&ret->peer_id, &x->remote)) {
		char a[PEERID_TEXT_MAX], b[PEERID_TEXT_MAX];
		return errmsg_set(&x->err, -EPERM,
		                  "the %s's DeviceInfo names peer %s but the stream is from %s",
		                  who, peer_text(&ret->peer_id, a), peer_text(&x->remote, b));
	}
	return 0;
}

/* Everything after both halves are known: the transcript hash, both proofs
 * and the session keys. peer: the other side's message (Hello or
 * Challenge). Fills x->result and our_mac / their_mac. */
static int settle(struct pairing_exchange *x, const struct pairing_msg *peer,
                  uint8_t our_mac[PAIRING_MAC_LEN], uint8_t their_mac[PAIRING_MAC_LEN])
{
	struct pairing_session *s = x->s;
	bool ini = x->role == PAIRING_ROLE_INITIATOR;
	uint8_t shared[X25519_KEY_LEN];
	int r = x25519_shared(x->eph_priv, peer->eph, shared);
	if (r == -EINVAL)
		return errmsg_set(&x->err, -EPROTO, "the %s's ephemeral key is a low-order point",
		                  ini ? "joiner" : "initiator");
	struct pairing_transcript t = {
	        .version = PAIRING_VERSION,
	        .initiator_peer = ini ? &s->ours.peer_id : &x->remote,
	        .joiner_peer = ini ? &x->remote : &s->ours.peer_id,
	        .rendezvous_id = s->keys.rendezvous_id,
	        .nonce_i = ini ? x->nonce : peer->nonce,
	        .nonce_j = ini ? peer->nonce : x->nonce,
	        .eph_i = ini ? x->eph_pub : peer->eph,
	        .eph_j = ini ? peer->eph : x->eph_pub,
	        .info_i = ini ? s->our_info : peer->info,
	        .info_i_len = ini ? s->our_info_len : peer->info_len,
	        .info_j = ini ? peer->info : s->our_info,
	        .info_j_len = ini ? peer->info_len : s->our_info_len,
	};
	uint8_t *th = x->result.pairing_id;
	enum pairing_role us = x->role, them = ini ? PAIRING_ROLE_JOINER : PAIRING_ROLE_INITIATOR;
	if (r == 0)
		r = pairing_transcript_hash(&t, th);
	if (r == 0)
		r = pairing_proof(s->keys.auth_key, us, th, our_mac);
	if (r == 0)
		r = pairing_proof(s->keys.auth_key, them, th, their_mac);
	if (r == 0)
		r = pairing_session_keys_derive(shared, s->keys.auth_key, th, us, &x->result.keys);
	crypto_wipe(shared, sizeof(shared));
	crypto_wipe(x->eph_priv, sizeof(x->eph_priv));
	return r;
}

static int refuse_hello(struct pairing_exchange *x, const struct pairing_msg *m, uint64_t now,
                        int *status)
{
	struct pairing_session *s = x->s;
	char p[PEERID_TEXT_MAX];
	if (pairing_limit_take(&s->limit, &x->remote, now) < 0) {
		s->stats.rate_limited++;
		*status = PAIRING_STATUS_RATE_LIMITED;
		return errmsg_set(&x->err, -EAGAIN,
		                  "too many pairing attempts: Hello from %s refused",
		                  peer_text(&x->remote, p));
	}
	if (s->ended) {
		s->stats.refused_late++;
		return end_reply(s, &x->err, status);
	}
	if (!crypto_equal(m->rendezvous_id, s->keys.rendezvous_id, PAIRING_RENDEZVOUS_LEN)) {
		s->stats.unknown_code++;
		*status = PAIRING_STATUS_UNKNOWN_CODE;
		return errmsg_set(&x->err, -ENOKEY, "%s asked to pair with a different code",
		                  peer_text(&x->remote, p));
	}
	*status = PAIRING_STATUS_BAD_DEVICE_INFO;
	return peer_info(x, m, &x->result.peer);
}

/* Initiator: Hello in, Challenge out. */
static int on_hello(struct pairing_exchange *x, const struct pairing_msg *m, uint64_t now)
{
	struct pairing_session *s = x->s;
	int status = NO_STATUS;
	int r = refuse_hello(x, m, now, &status);
	if (r < 0)
		return x_fail(x, status, r);
	struct pairing_msg c = {.type = PAIRING_MSG_CHALLENGE};
	r = crypto_random(x->nonce, sizeof(x->nonce));
	if (r == 0)
		r = x25519_keygen(x->eph_priv, x->eph_pub);
	if (r == 0)
		r = settle(x, m, c.mac, x->expect_mac);
	if (r < 0)
		return x_fail(x, PAIRING_STATUS_PROTOCOL_ERROR, r);
	memcpy(c.nonce, x->nonce, PAIRING_NONCE_LEN);
	memcpy(c.eph, x->eph_pub, X25519_KEY_LEN);
	memcpy(c.info, s->our_info, s->our_info_len);
	c.info_len = s->our_info_len;
	x_queue(x, &c);
	crypto_wipe(&c, sizeof(c));
	x->state = PAIRING_AUTHENTICATING;
	return 0;
}

static void complete(struct pairing_exchange *x)
{
	struct pairing_session *s = x->s;
	x->state = PAIRING_COMPLETED;
	x_wipe(x);
	s->result = x->result;
	s->has_result = true;
	s->err.text[0] = '\0';
	session_end(s, PAIRING_COMPLETED, 0);
}

/* Initiator: Proof in, Result out. */
static int on_proof(struct pairing_exchange *x, const struct pairing_msg *m)
{
	struct pairing_session *s = x->s;
	if (s->ended) {
		int status = NO_STATUS;
		int r = end_reply(s, &x->err, &status);
		return x_fail(x, status, r);
	}
	if (!crypto_equal(m->mac, x->expect_mac, PAIRING_MAC_LEN)) {
		char p[PEERID_TEXT_MAX];
		errmsg_set(&x->err, -EACCES, "%s sent a wrong proof: it does not hold this code",
		           peer_text(&x->remote, p));
		return x_fail(x, PAIRING_STATUS_BAD_PROOF, -EACCES);
	}
	x_queue_result(x, PAIRING_STATUS_OK);
	complete(x);
	return 0;
}

/* Joiner: Challenge in, Proof out; the initiator's proof is checked before
 * we prove anything. */
static int on_challenge(struct pairing_exchange *x, const struct pairing_msg *m)
{
	struct pairing_msg p = {.type = PAIRING_MSG_PROOF};
	uint8_t want[PAIRING_MAC_LEN];
	int r = peer_info(x, m, &x->result.peer);
	if (r == 0)
		r = settle(x, m, p.mac, want);
	if (r == 0 && !crypto_equal(m->mac, want, PAIRING_MAC_LEN))
		r = errmsg_set(&x->err, -EACCES,
		               "the initiator did not prove it holds this code "
		               "(an impostor, or a different code)");
	crypto_wipe(want, sizeof(want));
	if (r == 0)
		x_queue(x, &p);
	crypto_wipe(&p, sizeof(p));
	if (r < 0)
		return x_fail(x, NO_STATUS, r);
	x->state = PAIRING_AUTHENTICATING;
	return 0;
}

/* Joiner: the initiator's verdict. */
static int on_result(struct pairing_exchange *x, const struct pairing_msg *m)
{
	if (m->code == PAIRING_STATUS_OK) {
		if (x->state != PAIRING_AUTHENTICATING)
			return x_fail(x, NO_STATUS,
			              errmsg_set(&x->err, -EPROTO,
			                         "the initiator reported success before proving "
			                         "it holds the code"));
		complete(x);
		return 0;
	}
	int code = pairing_status_errno(m->code);
	errmsg_set(&x->err, code, "the initiator refused: %s", pairing_status_text(m->code));
	return x_fail(x, NO_STATUS, code);
}

static int dispatch(struct pairing_exchange *x, const struct pairing_msg *m, uint64_t now)
{
	bool ini = x->role == PAIRING_ROLE_INITIATOR;
	bool first = x->state == PAIRING_CONNECTED;
	if (ini && first && m->type == PAIRING_MSG_HELLO)
		return on_hello(x, m, now);
	if (ini && !first && m->type == PAIRING_MSG_PROOF)
		return on_proof(x, m);
	if (!ini && first && m->type == PAIRING_MSG_CHALLENGE)
		return on_challenge(x, m);
	if (!ini && m->type == PAIRING_MSG_RESULT)
		return on_result(x, m);
	const char *want = ini ? (first ? "Hello" : "Proof") : (first ? "Challenge" : "Result");
	errmsg_set(&x->err, -EPROTO, "expected %s from the %s, got %s", want,
	           ini ? "joiner" : "initiator", pairing_msg_name(m->type));
	return x_fail(x, PAIRING_STATUS_PROTOCOL_ERROR, -EPROTO);
}

static int bad_frame(struct pairing_exchange *x, long r)
{
	if (r == -EMSGSIZE)
		errmsg_set(&x->err, -EMSGSIZE, "the %s sent a message over %d bytes",
		           role_name(x->role == PAIRING_ROLE_INITIATOR ? PAIRING_ROLE_JOINER
		                                                       : PAIRING_ROLE_INITIATOR),
		           PAIRING_MAX_MESSAGE);
	else
		errmsg_set(&x->err, -EPROTO, "malformed message length prefix");
	return x_fail(x, PAIRING_STATUS_PROTOCOL_ERROR, r == -EMSGSIZE ? -EMSGSIZE : -EPROTO);
}

static int handle(struct pairing_exchange *x, const uint8_t *msg, size_t len, uint64_t now)
{
	struct pairing_msg m;
	struct errmsg e = {{0}};
	int r = pairing_msg_decode(msg, len, &m, &e);
	if (r == -EPROTONOSUPPORT && x->role == PAIRING_ROLE_INITIATOR) {
		memcpy(x->err.text, e.text, sizeof(e.text));
		return x_fail(x, PAIRING_STATUS_UNSUPPORTED_VERSION, r);
	}
	if (r < 0) {
		errmsg_set(&x->err, -EPROTO, "malformed message from the %s: %s",
		           x->role == PAIRING_ROLE_INITIATOR ? "joiner" : "initiator", e.text);
		return x_fail(x, PAIRING_STATUS_PROTOCOL_ERROR, -EPROTO);
	}
	r = dispatch(x, &m, now);
	crypto_wipe(&m, sizeof(m));
	return r;
}

/* Bring x up to date with the clock; false if it is over. */
static bool x_alive(struct pairing_exchange *x, uint64_t now)
{
	if (x->s)
		pairing_session_tick(x->s, now);
	return !pairing_state_is_final(x->state);
}

int pairing_exchange_feed(struct pairing_exchange *x, const uint8_t *data, size_t len,
                          uint64_t now_ms)
{
	if (!x || (len && !data))
		return -EINVAL;
	if (pairing_state_is_final(x->state))
		return -EALREADY;
	if (!x_alive(x, now_ms))
		return x->err_code;
	if (len == 0)
		return 0;
	/* At most one frame is expected before we answer. */
	size_t cap = PAIRING_MAX_MESSAGE + LPMSG_MAX_PREFIX;
	size_t take = len < cap - x->in.len ? len : cap - x->in.len;
	if (buf_append(&x->in, data, take) < 0)
		return x_fail(x, NO_STATUS, -ENOMEM);
	const uint8_t *msg;
	size_t msg_len;
	long n = lpmsg_next(x->in.data, x->in.len, PAIRING_MAX_MESSAGE, &msg, &msg_len);
	if (n < 0)
		return bad_frame(x, n);
	if (n == 0)
		return 0;
	if ((size_t)n < x->in.len || take < len) {
		errmsg_set(&x->err, -EPROTO,
		           "the %s sent %zu bytes after its message without waiting for our reply",
		           x->role == PAIRING_ROLE_INITIATOR ? "joiner" : "initiator",
		           x->in.len - (size_t)n + (len - take));
		return x_fail(x, PAIRING_STATUS_PROTOCOL_ERROR, -EPROTO);
	}
	int r = handle(x, msg, msg_len, now_ms);
	buf_wipe_free(&x->in);
	return r;
}

int pairing_exchange_eof(struct pairing_exchange *x, uint64_t now_ms)
{
	if (!x)
		return -EINVAL;
	if (!x_alive(x, now_ms))
		return 0;
	bool ini = x->role == PAIRING_ROLE_INITIATOR;
	bool first = x->state == PAIRING_CONNECTED;
	errmsg_set(&x->err, -EPROTO, "the %s closed the stream before sending its %s%s",
	           ini ? "joiner" : "initiator",
	           ini ? (first ? "Hello" : "Proof") : (first ? "Challenge" : "Result"),
	           x->in.len ? " (a message was cut short)" : "");
	return x_fail(x, NO_STATUS, -EPROTO);
}

void pairing_exchange_pending_output(const struct pairing_exchange *x, const uint8_t **ret_ptr,
                                     size_t *ret_len)
{
	*ret_ptr = x->out.data ? x->out.data + x->out_off : NULL;
	*ret_len = x->out.len - x->out_off;
}

void pairing_exchange_output_consumed(struct pairing_exchange *x, size_t n)
{
	size_t left = x->out.len - x->out_off;
	x->out_off += n < left ? n : left;
	if (x->out_off == x->out.len) {
		buf_wipe_free(&x->out);
		x->out_off = 0;
	}
}

enum pairing_state pairing_exchange_state(const struct pairing_exchange *x)
{
	return x->state;
}

const char *pairing_exchange_error(const struct pairing_exchange *x)
{
	return x->err.text;
}

int pairing_exchange_errno(const struct pairing_exchange *x)
{
	return x->err_code;
}

const struct pairing_result *pairing_exchange_result(const struct pairing_exchange *x)
{
	return x->state == PAIRING_COMPLETED ? &x->result : NULL;
}

const struct peerid *pairing_exchange_remote(const struct pairing_exchange *x)
{
	return &x->remote;
}
