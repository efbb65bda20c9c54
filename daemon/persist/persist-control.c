/* The device stream once authenticated: DeviceMessage frames for keeping
 * the connection alive and rotating its keys.
 *
 * Keepalive: the opener sends a Ping every keepalive interval (30 s by
 * default); the responder answers with a Pong, which gives the RTT. Any
 * frame counts as a sign of life; with none for PERSIST_KEEPALIVE_MISSES
 * intervals (plus half of one for slack) the peer is dead: the connection
 * is dropped and the link reconnects. One Ping and one Pong per interval
 * is about 80 bytes of DeviceMessage per 30 s (docs/operations.md has the
 * measured figure with framing).
 *
 * Rotation (the seed's SessionRefresh), run by the opener every rotation
 * interval:
 *   opener   PROPOSE{epoch E+1, eph_p, proof with the old keys}
 *   accepter derives, stores {E+1, previous E} atomically, ACCEPT{eph_r,
 *            proof with its new send MAC key}
 *   opener   derives, checks, stores {E+1} (the accepter has proven E+1),
 *            COMMIT{proof with its new send MAC key}
 *   accepter checks, stores {E+1} (previous dropped)
 * A side killed anywhere in between still authenticates: the next session
 * uses the lower of the two epochs, which both sides have, and the side
 * ahead drops the epoch the other never stored (persist-session.c). */
#include "persist-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Tests only: die at a named point of the rotation (kill -9 semantics). */
static void test_kill(const struct psess *s, const char *point)
{
	const char *want = s->p->cfg.test_rekey_kill;
	if (want && strcmp(want, point) == 0) {
		log_warning("test: killed at rotation point %s", point);
		raise(SIGKILL);
	}
}

/* Per session (keepalive cost) and per device (metrics, across sessions). */
static void count(struct psess *s, bool out, size_t bytes)
{
	struct plink *l = persist_link(s->p, s->device_id);
	if (out) {
		s->msgs_out++;
		s->ctl_bytes_out += bytes;
	} else {
		s->msgs_in++;
		s->ctl_bytes_in += bytes;
	}
	if (l)
		persist_count_message(s->p, l->device_id, out, bytes);
}

int pctl_send(struct psess *s, devmsg_pb *m)
{
	size_t before = s->out.len;
	struct errmsg e = {{0}};
	/* NULL: a frame was appended already (an Error reply). */
	int r = m ? devmsg_encode(m, &s->out, &e) : 0;
	if (r < 0) {
		log_debug("device stream: not sending a message: %s", e.text);
		return r;
	}
	count(s, true, s->out.len - before);
	r = psess_flush(s);
	if (r < 0)
		psess_fail(s, true, r, "cannot write to the device stream: %s", strerror(-r));
	return r;
}

static void new_id(uint8_t id[DEVMSG_ID_LEN])
{
	crypto_random(id, DEVMSG_ID_LEN);
}

static bool rotation_due(const struct psess *s, const struct plink *l)
{
	int64_t age_ms = ((int64_t)time(NULL) - l->rec.keys.rotated_at) * 1000;
	return s->opener && s->rk.phase == PREKEY_IDLE && age_ms >= 0 &&
	       (uint64_t)age_ms >= s->p->cfg.rotation_ms;
}

void pctl_start(struct psess *s, uint64_t now)
{
	s->up_ms = s->last_rx_ms = now;
	/* Both sides measure an RTT at once; then only the opener pings (the
	 * responder's later RTTs come from the connection's yamux pings). */
	s->next_ping_ms = now;
}

/* ---- keepalive ---------------------------------------------------------- */

static void send_ping(struct psess *s, uint64_t now)
{
	DevmsgPb__Ping ping = DEVMSG_PB__PING__INIT;
	ping.has_timestamp_ms = true;
	ping.timestamp_ms = now;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	new_id(s->ping_id);
	devmsg_header(&m, s->ping_id, wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_PING;
	m.ping = &ping;
	s->ping_sent_us = persist_now_us();
	s->ping_outstanding = true;
	pctl_send(s, &m);
}

static void answer_ping(struct psess *s, const devmsg_pb *req)
{
	DevmsgPb__Pong pong = DEVMSG_PB__PONG__INIT;
	pong.has_ping_timestamp_ms = req->ping->has_timestamp_ms;
	pong.ping_timestamp_ms = req->ping->timestamp_ms;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	uint8_t id[DEVMSG_ID_LEN];
	new_id(id);
	devmsg_header(&m, id, wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	devmsg_set_reply_to(&m, req->id.data);
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_PONG;
	m.pong = &pong;
	pctl_send(s, &m);
}

static void on_pong(struct psess *s, const devmsg_pb *m, uint64_t now)
{
	if (!s->ping_outstanding || !m->has_in_reply_to ||
	    memcmp(m->in_reply_to.data, s->ping_id, DEVMSG_ID_LEN) != 0)
		return;
	s->ping_outstanding = false;
	(void)now;
	/* At least 1 us: 0 means "not measured" in the metrics. */
	uint64_t t = persist_now_us();
	s->rtt_us = t > s->ping_sent_us ? t - s->ping_sent_us : 1;
	struct plink *l = persist_link(s->p, s->device_id);
	if (l && l->sess == s)
		l->rtt_us = s->rtt_us;
}

/* ---- rotation ------------------------------------------------------------- */

static void send_refresh(struct psess *s, DevmsgPb__SessionRefresh__Phase phase, uint64_t epoch,
                         const uint8_t *key, const uint8_t mac[DEVAUTH_MAC_LEN])
{
	DevmsgPb__SessionRefresh r = DEVMSG_PB__SESSION_REFRESH__INIT;
	r.has_epoch = r.has_phase = r.has_proof = true;
	r.epoch = epoch;
	r.phase = phase;
	r.proof = (ProtobufCBinaryData){DEVAUTH_MAC_LEN, (uint8_t *)mac};
	if (key) {
		r.has_key_material = true;
		r.key_material = (ProtobufCBinaryData){X25519_KEY_LEN, (uint8_t *)key};
	}
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	uint8_t id[DEVMSG_ID_LEN];
	new_id(id);
	devmsg_header(&m, id, wall_ms(), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_SESSION_REFRESH;
	m.session_refresh = &r;
	pctl_send(s, &m);
}

static const struct peerid *self(const struct psess *s)
{
	return host_peer_id(s->p->cfg.host);
}

static void propose(struct psess *s, struct plink *l, uint64_t now)
{
	struct prekey *rk = &s->rk;
	/* Even if this fails, nothing is tried again before the timeout. */
	rk->phase = PREKEY_PROPOSED;
	rk->deadline_ms = now + PERSIST_REKEY_TIMEOUT_MS;
	if (x25519_keygen(rk->eph_priv, rk->eph_pub) < 0)
		return;
	rk->epoch = l->rec.keys.epoch + 1;
	struct devauth_rekey t = {.proposer = self(s),
	                          .accepter = &s->peer,
	                          .epoch = rk->epoch,
	                          .eph_p = rk->eph_pub};
	uint8_t th[DEVAUTH_HASH_LEN], mac[DEVAUTH_MAC_LEN];
	devauth_rekey_hash(&t, th);
	devauth_rekey_proof(l->rec.keys.cur.send_mac_key, DEVAUTH_REKEY_PROPOSE, th, mac);
	rk->phase = PREKEY_PROPOSED;
	rk->deadline_ms = now + PERSIST_REKEY_TIMEOUT_MS;
	log_debug("device '%s': proposing key epoch %llu", l->name, (unsigned long long)rk->epoch);
	send_refresh(s, DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_PROPOSE, rk->epoch, rk->eph_pub,
	             mac);
}

static bool refresh_ok(const DevmsgPb__SessionRefresh *r, bool need_key)
{
	return r->has_epoch && r->has_phase && r->has_proof && r->proof.len == DEVAUTH_MAC_LEN &&
	       (!need_key || (r->has_key_material && r->key_material.len == X25519_KEY_LEN));
}

/* Store keys (the record is written atomically); false when the write failed. */
static bool store_keys(struct plink *l, uint64_t epoch, const struct pairing_session_keys *k,
                       const struct pairing_session_keys *prev)
{
	struct pkeys old = l->rec.keys;
	struct pkeys *n = &l->rec.keys;
	if (prev) {
		n->prev = *prev;
		n->prev_epoch = epoch - 1;
		n->has_prev = true;
	} else {
		n->has_prev = false;
		crypto_wipe(&n->prev, sizeof(n->prev));
	}
	n->cur = *k;
	n->epoch = epoch;
	n->rotated_at = (int64_t)time(NULL);
	struct errmsg e = {{0}};
	if (precord_save(l->p->cfg.store, l->device_id, &l->rec, &e) < 0) {
		log_warning("device '%s': cannot store rotated keys, keeping epoch %llu: %s",
		            l->name, (unsigned long long)old.epoch, e.text);
		l->rec.keys = old;
		crypto_wipe(&old, sizeof(old));
		return false;
	}
	crypto_wipe(&old, sizeof(old));
	return true;
}

static void on_propose(struct psess *s, struct plink *l, const DevmsgPb__SessionRefresh *r,
                       uint64_t now)
{
	/* A proposal again for an epoch we accepted but never saw committed:
	 * start from the previous keys, as the proposer does. */
	const struct pairing_session_keys *base = precord_keys(&l->rec, r->epoch - 1);
	if (!refresh_ok(r, true) || r->epoch == 0 || !base) {
		log_debug("device '%s': ignoring a bad key proposal", l->name);
		return;
	}
	struct pairing_session_keys old = *base;
	struct devauth_rekey t = {.proposer = &s->peer,
	                          .accepter = self(s),
	                          .epoch = r->epoch,
	                          .eph_p = r->key_material.data};
	struct prekey *rk = &s->rk;
	uint8_t th[DEVAUTH_HASH_LEN], shared[X25519_KEY_LEN], mac[DEVAUTH_MAC_LEN];
	devauth_rekey_hash(&t, th);
	struct pairing_session_keys nk;
	bool ok = devauth_rekey_verify(old.receive_mac_key, DEVAUTH_REKEY_PROPOSE, th,
	                               r->proof.data, r->proof.len) == 0 &&
	          x25519_keygen(rk->eph_priv, rk->eph_pub) == 0 &&
	          x25519_shared(rk->eph_priv, r->key_material.data, shared) == 0;
	t.eph_r = rk->eph_pub;
	ok = ok && devauth_rekey_hash(&t, rk->th) == 0 &&
	     devauth_rekey_derive(shared, &old, DEVAUTH_ACCEPTER, rk->th, &nk) == 0 &&
	     store_keys(l, r->epoch, &nk, &old);
	crypto_wipe(shared, sizeof(shared));
	crypto_wipe(&old, sizeof(old));
	if (!ok) {
		crypto_wipe(&nk, sizeof(nk));
		rk->phase = PREKEY_IDLE;
		{
			log_warning("device '%s': key rotation to epoch %llu refused", l->name,
			            (unsigned long long)r->epoch);
			return;
		}
	}
	test_kill(s, "accepter_stored");
	devauth_rekey_proof(nk.send_mac_key, DEVAUTH_REKEY_ACCEPT, rk->th, mac);
	crypto_wipe(&nk, sizeof(nk));
	rk->phase = PREKEY_ACCEPTED;
	rk->epoch = r->epoch;
	rk->deadline_ms = now + PERSIST_REKEY_TIMEOUT_MS;
	send_refresh(s, DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_ACCEPT, r->epoch, rk->eph_pub,
	             mac);
}

static void on_accept(struct psess *s, struct plink *l, const DevmsgPb__SessionRefresh *r)
{
	struct prekey *rk = &s->rk;
	if (rk->phase != PREKEY_PROPOSED || !refresh_ok(r, true) || r->epoch != rk->epoch ||
	    l->rec.keys.epoch + 1 != rk->epoch) {
		log_debug("device '%s': ignoring an unexpected key acceptance", l->name);
		return;
	}
	struct devauth_rekey t = {.proposer = self(s),
	                          .accepter = &s->peer,
	                          .epoch = rk->epoch,
	                          .eph_p = rk->eph_pub,
	                          .eph_r = r->key_material.data};
	uint8_t shared[X25519_KEY_LEN], mac[DEVAUTH_MAC_LEN];
	struct pairing_session_keys nk;
	bool ok = devauth_rekey_hash(&t, rk->th) == 0 &&
	          x25519_shared(rk->eph_priv, r->key_material.data, shared) == 0 &&
	          devauth_rekey_derive(shared, &l->rec.keys.cur, DEVAUTH_PROPOSER, rk->th, &nk) ==
	                  0 &&
	          devauth_rekey_verify(nk.receive_mac_key, DEVAUTH_REKEY_ACCEPT, rk->th,
	                               r->proof.data, r->proof.len) == 0;
	crypto_wipe(shared, sizeof(shared));
	rk->phase = PREKEY_IDLE;
	if (!ok) {
		crypto_wipe(&nk, sizeof(nk));
		{
			log_warning("device '%s': the device's key acceptance did not verify",
			            l->name);
			return;
		}
	}
	test_kill(s, "proposer_before_store");
	if (!store_keys(l, rk->epoch, &nk, NULL)) {
		crypto_wipe(&nk, sizeof(nk));
		return;
	}
	test_kill(s, "proposer_stored");
	devauth_rekey_proof(nk.send_mac_key, DEVAUTH_REKEY_COMMIT, rk->th, mac);
	crypto_wipe(&nk, sizeof(nk));
	send_refresh(s, DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_COMMIT, rk->epoch, NULL, mac);
	char why[64];
	snprintf(why, sizeof(why), "keys rotated to epoch %llu", (unsigned long long)rk->epoch);
	persist_history(l, PHIST_ROTATED, "", why);
	log_info("device '%s': %s", l->name, why);
}

static void on_commit(struct psess *s, struct plink *l, const DevmsgPb__SessionRefresh *r)
{
	struct prekey *rk = &s->rk;
	if (rk->phase != PREKEY_ACCEPTED || !refresh_ok(r, false) || r->epoch != rk->epoch ||
	    l->rec.keys.epoch != rk->epoch) {
		log_debug("device '%s': ignoring an unexpected key commit", l->name);
		return;
	}
	rk->phase = PREKEY_IDLE;
	if (devauth_rekey_verify(l->rec.keys.cur.receive_mac_key, DEVAUTH_REKEY_COMMIT, rk->th,
	                         r->proof.data, r->proof.len) < 0) {
		log_warning("device '%s': the device's key commit did not verify", l->name);
		return;
	}
	struct pairing_session_keys cur = l->rec.keys.cur;
	store_keys(l, rk->epoch, &cur, NULL);
	crypto_wipe(&cur, sizeof(cur));
	char why[64];
	snprintf(why, sizeof(why), "keys rotated to epoch %llu", (unsigned long long)rk->epoch);
	persist_history(l, PHIST_ROTATED, "", why);
	log_info("device '%s': %s", l->name, why);
}

static void on_refresh(struct psess *s, const devmsg_pb *m, uint64_t now)
{
	struct plink *l = persist_link(s->p, s->device_id);
	const DevmsgPb__SessionRefresh *r = m->session_refresh;
	if (!l || !r)
		return;
	switch (r->phase) {
	case DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_PROPOSE:
		if (!s->opener)
			on_propose(s, l, r, now);
		break;
	case DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_ACCEPT:
		on_accept(s, l, r);
		break;
	default:
		on_commit(s, l, r);
		break;
	}
}

/* ---- frames and ticks -------------------------------------------------------- */

static void reply_error(struct psess *s, const devmsg_pb *req, DevmsgPb__Error__Code code,
                        const char *text)
{
	uint8_t id[DEVMSG_ID_LEN];
	new_id(id);
	size_t before = s->out.len;
	if (devmsg_error_to(req, code, text, id, wall_ms(), &s->out) == 0 && s->out.len > before)
		pctl_send(s, NULL);
}

void pctl_on_frame(struct psess *s, const uint8_t *frame, size_t len, uint64_t now)
{
	s->last_rx_ms = now;
	count(s, false, len);
	devmsg_pb *m = NULL;
	struct devmsg_fault f;
	struct errmsg e = {{0}};
	if (devmsg_decode(frame, len, &m, &f, &e) < 0) {
		uint8_t id[DEVMSG_ID_LEN];
		new_id(id);
		if (devmsg_error_reply(&f, e.text, id, wall_ms(), &s->out) == 0)
			pctl_send(s, NULL);
		return;
	}
	switch (m->body_case) {
	case DEVMSG_PB__DEVICE_MESSAGE__BODY_PING:
		answer_ping(s, m);
		break;
	case DEVMSG_PB__DEVICE_MESSAGE__BODY_PONG:
		on_pong(s, m, now);
		break;
	case DEVMSG_PB__DEVICE_MESSAGE__BODY_KEEPALIVE:
	case DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR:
		break;
	case DEVMSG_PB__DEVICE_MESSAGE__BODY_SESSION_REFRESH:
		on_refresh(s, m, now);
		break;
	default:
		reply_error(s, m, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER,
		            "the device stream carries only keepalive, ping and session refresh");
		break;
	}
	devmsg_free(m);
}

static uint64_t dead_after(const struct psess *s)
{
	uint64_t k = s->p->cfg.keepalive_ms;
	return k * PERSIST_KEEPALIVE_MISSES + k / 2;
}

void pctl_tick(struct psess *s, uint64_t now)
{
	struct plink *l = persist_link(s->p, s->device_id);
	if (now - s->last_rx_ms >= dead_after(s)) {
		psess_fail(s, true, -ETIMEDOUT,
		           "no keepalive answer for %llu ms: the device is gone",
		           (unsigned long long)(now - s->last_rx_ms));
		return;
	}
	if (now >= s->next_ping_ms) {
		send_ping(s, now);
		s->next_ping_ms = s->opener ? now + s->p->cfg.keepalive_ms : UINT64_MAX;
	}
	if (s->rk.phase != PREKEY_IDLE && now >= s->rk.deadline_ms) {
		log_debug("device '%s': key rotation timed out", l ? l->name : "?");
		s->rk.phase = PREKEY_IDLE;
	}
	if (l && l->sess == s && s->st == PSESS_UP && rotation_due(s, l))
		propose(s, l, now);
}

uint64_t pctl_deadline(const struct psess *s)
{
	uint64_t d = s->last_rx_ms + dead_after(s);
	if (s->next_ping_ms < d)
		d = s->next_ping_ms;
	if (s->rk.phase != PREKEY_IDLE && s->rk.deadline_ms < d)
		d = s->rk.deadline_ms;
	if (s->opener && s->rk.phase == PREKEY_IDLE) {
		const struct plink *l = persist_link(s->p, s->device_id);
		if (l) {
			uint64_t due_ms =
			        (uint64_t)(l->rec.keys.rotated_at > 0 ? l->rec.keys.rotated_at
			                                              : 0) *
			                1000 +
			        s->p->cfg.rotation_ms;
			uint64_t wall = wall_ms();
			uint64_t in = due_ms > wall ? due_ms - wall : 0;
			if (persist_now_ms() + in < d)
				d = persist_now_ms() + in;
		}
	}
	return d;
}
