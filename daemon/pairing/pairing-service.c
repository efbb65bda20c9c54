/* The pairing service's sessions (see pairing-service.h): creating them
 * for generate and join, one settle pass that brings every session and
 * stream up to date after any event, the events that report each change,
 * the end of a session (callbacks, rendezvous withdrawn) and pruning.
 *
 * Every callback (stream bytes, dial results, discovery, the timer) only
 * feeds the machine and then calls psvc_settle(); all decisions are made
 * there, in one place, so the order of callbacks cannot matter. */
#include "pairing-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "discovery/rendezvous.h"
#include "hex.h"
#include "log.h"
#include "net/clock.h"

uint64_t psvc_now(void)
{
	return mono_ms();
}

static const char *role_name(enum pairing_role r)
{
	return r == PAIRING_ROLE_INITIATOR ? "initiator" : "joiner";
}

/* ---- state as reported -------------------------------------------------- */

/* The state words of the control API (proto/openrpc.json). */
const char *psession_state_word(enum pairing_state st)
{
	switch (st) {
	case PAIRING_WAITING_FOR_CONNECTION:
		return "waiting_for_connection";
	case PAIRING_CONNECTED:
		return "connected";
	case PAIRING_AUTHENTICATING:
		return "authenticating";
	case PAIRING_COMPLETED:
		return "completed";
	case PAIRING_FAILED:
		return "failed";
	case PAIRING_CANCELLED:
		return "cancelled";
	default:
		return "expired";
	}
}

/* The machine says Completed as soon as the proofs pass; the service says
 * so only once the device is stored. */
enum pairing_state psession_state(const struct psession *ps, const char **ret_reason)
{
	if (ps->final) {
		*ret_reason = ps->final_reason;
		return ps->final_state;
	}
	enum pairing_state st = pairing_session_state(ps->ps);
	*ret_reason = pairing_session_error(ps->ps);
	if (st == PAIRING_COMPLETED) {
		*ret_reason = ps->role == PAIRING_ROLE_INITIATOR
		                      ? "proofs verified; waiting for the joiner to confirm"
		                      : "proofs verified; saving the device";
		return PAIRING_AUTHENTICATING;
	}
	return st;
}

static void emit(struct pairing_service *svc, const char *kind, json_t *data)
{
	if (data && svc->cfg.emit && !svc->freeing)
		svc->cfg.emit(svc->cfg.ctx, kind, data);
	json_decref(data);
}

static void report(struct psession *ps)
{
	const char *reason;
	enum pairing_state st = psession_state(ps, &reason);
	if (st == ps->shown_state && strcmp(reason, ps->shown_reason) == 0)
		return;
	log_debug("pairing %s (%s): %s -> %s (%s)", ps->id, role_name(ps->role),
	          pairing_state_name(ps->shown_state), pairing_state_name(st), reason);
	ps->shown_state = st;
	snprintf(ps->shown_reason, sizeof(ps->shown_reason), "%s", reason);
	emit(ps->svc, "pairing.state",
	     json_pack("{s:s, s:s, s:s, s:s}", "session_id", ps->id, "role", role_name(ps->role),
	               "state", psession_state_word(st), "reason", reason));
}

/* ---- the end of a session ----------------------------------------------- */

static void stop_discovery(struct psession *ps)
{
	const uint8_t *rid = pairing_session_rendezvous_id(ps->ps);
	if (ps->advertised)
		rendezvous_withdraw(ps->svc->cfg.rendezvous, rid);
	if (ps->looking)
		rendezvous_lookup_stop(ps->svc->cfg.rendezvous, rid);
	ps->advertised = ps->looking = false;
}

static void call_back(struct psession *ps, const struct device *dev)
{
	pairing_join_cb cb = ps->cb;
	if (!cb)
		return;
	ps->cb = NULL;
	cb(ps->cb_ctx, ps->id, ps->final_state == PAIRING_COMPLETED ? 0 : ps->final_err,
	   ps->final_reason, dev);
}

void psession_finish(struct psession *ps, enum pairing_state st, int err, const char *reason)
{
	if (ps->final)
		return;
	ps->final = true;
	ps->final_state = st;
	ps->final_err = err;
	snprintf(ps->final_reason, sizeof(ps->final_reason), "%s", reason ? reason : "");
	ps->ended_ms = psvc_now();
	/* The machine may still run (a join that failed to dial, a discarded
	 * pairing): end it so the code is wiped and streams close. */
	if (!pairing_state_is_final(pairing_session_state(ps->ps)))
		(void)pairing_session_cancel(ps->ps);
	stop_discovery(ps);
	pdial_stop(ps);
	if (st != PAIRING_COMPLETED)
		log_info("pairing %s (%s) ended: %s: %s", ps->id, role_name(ps->role),
		         pairing_state_name(st), ps->final_reason);
}

/* A joiner's failure in words a person can act on. */
static void join_failure_text(int err, const char *detail, char *out, size_t size)
{
	const char *what;
	switch (err) {
	case -ENOKEY:
	case -EACCES:
		what = "the code did not match: check the words with the other device, or "
		       "generate a new code there";
		break;
	case -ETIME:
		what = "the code has expired: generate a new one on the other device";
		break;
	case -EALREADY:
		what = "the code was already used to pair a device: generate a new code on the "
		       "other device";
		break;
	case -EAGAIN:
		what = "the other device refuses pairing attempts for now (too many tries): wait a "
		       "minute and try again";
		break;
	case -ECANCELED:
		what = "the pairing was cancelled";
		break;
	case -ETIMEDOUT:
		what = "the other device did not answer in time: check that its code is still "
		       "waiting ('network pair status' there) and try again";
		break;
	case -EPROTONOSUPPORT:
		what = "the other device runs an incompatible pairing protocol: update sdnetd on "
		       "both devices";
		break;
	default:
		snprintf(out, size, "pairing failed: %s",
		         detail && *detail ? detail : strerror(-err));
		return;
	}
	snprintf(out, size, "%s", what);
}

/* The machine ended a session on its own (expiry, cancel, too many
 * failures) or, with --peer, its one exchange failed. */
static void check_machine_end(struct psession *ps)
{
	if (ps->final)
		return;
	enum pairing_state st = pairing_session_state(ps->ps);
	if (st == PAIRING_COMPLETED || !pairing_state_is_final(st))
		return;
	int err = pairing_session_errno(ps->ps);
	char text[PSVC_REASON_MAX];
	if (ps->role == PAIRING_ROLE_JOINER)
		join_failure_text(err ? err : -ECANCELED, pairing_session_error(ps->ps), text,
		                  sizeof(text));
	else if (st == PAIRING_EXPIRED)
		snprintf(text, sizeof(text), "the code expired before a device joined");
	else
		snprintf(text, sizeof(text), "%s", pairing_session_error(ps->ps));
	psession_finish(ps, st, err, text);
}

/* ---- settle ------------------------------------------------------------- */

static void complete_stream(struct psession *ps, struct pstream *st)
{
	struct errmsg e = {{0}};
	int r = pstore_result(ps, st, &e);
	if (r < 0) {
		/* Unstored, so the other side must not store either: reset. */
		pstream_detach(st, true);
		char text[PSVC_REASON_MAX];
		snprintf(text, sizeof(text), "cannot save the paired device: %.200s", e.text);
		psession_finish(ps, PAIRING_FAILED, r, text);
		return;
	}
	/* FIN: for a joiner this is the confirmation the initiator waits for. */
	pstream_detach(st, false);
	psession_finish(ps, PAIRING_COMPLETED, 0, "");
	ps->contact_ms = ps->role == PAIRING_ROLE_INITIATOR ? st->created_ms : ps->created_ms;
}

static void settle_joiner_completed(struct psession *ps, struct pstream *st, uint64_t now)
{
	if (ps->svc->cfg.test_hold_ms && !ps->hold_pending) {
		ps->hold_pending = true;
		ps->hold_until_ms = now + ps->svc->cfg.test_hold_ms;
	}
	if (ps->hold_pending && now < ps->hold_until_ms)
		return;
	complete_stream(ps, st);
}

static void settle_initiator_completed(struct psession *ps, struct pstream *st, uint64_t now)
{
	if (!st->awaiting_confirm) {
		st->awaiting_confirm = true;
		st->deadline_ms = now + PAIRING_SVC_CONFIRM_TIMEOUT_MS;
	}
	pstream_pump(st);
	const uint8_t *p;
	size_t len;
	pairing_exchange_pending_output(st->x, &p, &len);
	if (st->s && len == 0 && stream_peer_closed(st->s)) {
		complete_stream(ps, st);
		return;
	}
	if (!st->s || now >= st->deadline_ms) {
		const char *why = st->s ? "the joiner did not confirm in time"
		                        : "the joiner went away before confirming";
		char text[PSVC_REASON_MAX];
		snprintf(text, sizeof(text),
		         "%s; nothing was saved: generate a new code and pair again", why);
		pstream_detach(st, true);
		psession_finish(ps, PAIRING_FAILED, -ECONNRESET, text);
	}
}

static void settle_stream(struct psession *ps, struct pstream *st, uint64_t now)
{
	if (st->finished)
		return;
	enum pairing_state xs = pairing_exchange_state(st->x);
	if (xs == PAIRING_COMPLETED && !ps->final) {
		if (ps->role == PAIRING_ROLE_JOINER)
			settle_joiner_completed(ps, st, now);
		else
			settle_initiator_completed(ps, st, now);
		return;
	}
	pstream_pump(st);
	if (ps->role == PAIRING_ROLE_JOINER && ps->have_peer && pairing_state_is_final(xs) &&
	    xs != PAIRING_COMPLETED && !ps->final) {
		/* With --peer there is no other candidate: report this one's
		 * refusal (docs/pairing.md). */
		char text[PSVC_REASON_MAX];
		join_failure_text(pairing_exchange_errno(st->x), pairing_exchange_error(st->x),
		                  text, sizeof(text));
		psession_finish(ps, xs == PAIRING_EXPIRED ? PAIRING_EXPIRED : PAIRING_FAILED,
		                pairing_exchange_errno(st->x), text);
	}
}

static void free_finished_streams(struct psession *ps)
{
	struct pstream **pp = &ps->streams;
	while (*pp) {
		struct pstream *st = *pp;
		if (st->finished) {
			*pp = st->next;
			pstream_free(st);
		} else {
			pp = &st->next;
		}
	}
}

static void emit_completed(struct psession *ps)
{
	const struct device *d = devices_find_id(ps->svc->cfg.devices, ps->device_id);
	if (!d)
		return;
	uint64_t elapsed = ps->ended_ms - (ps->contact_ms ? ps->contact_ms : ps->created_ms);
	log_info("paired with '%s' (%s) as %s in %llu ms", d->info.name, d->info.device_id,
	         role_name(ps->role), (unsigned long long)elapsed);
	emit(ps->svc, "pairing.completed",
	     json_pack("{s:s, s:s, s:o, s:I}", "session_id", ps->id, "role", role_name(ps->role),
	               "device", pstore_device_json(ps->svc, d), "elapsed_ms",
	               (json_int_t)elapsed));
}

static void settle_session(struct psession *ps, uint64_t now)
{
	pairing_session_tick(ps->ps, now);
	for (struct pstream *st = ps->streams; st; st = st->next)
		settle_stream(ps, st, now);
	check_machine_end(ps);
	/* Streams ended by the above (cancel, completion) send their last
	 * Result and close. */
	for (struct pstream *st = ps->streams; st; st = st->next)
		if (!st->finished)
			pstream_pump(st);
	free_finished_streams(ps);
	report(ps);
	if (ps->final && !ps->end_reported) {
		ps->end_reported = true;
		if (ps->final_state == PAIRING_COMPLETED)
			emit_completed(ps);
		call_back(ps, ps->final_state == PAIRING_COMPLETED
		                      ? devices_find_id(ps->svc->cfg.devices, ps->device_id)
		                      : NULL);
	}
}

static void session_free(struct psession *ps)
{
	stop_discovery(ps);
	pdial_stop(ps);
	while (ps->streams) {
		struct pstream *st = ps->streams;
		ps->streams = st->next;
		pstream_free(st);
	}
	pairing_session_free(ps->ps);
	crypto_wipe(ps, sizeof(*ps));
	free(ps);
}

static unsigned count_sessions(const struct pairing_service *svc, bool running_only)
{
	unsigned n = 0;
	for (const struct psession *ps = svc->sessions; ps; ps = ps->next)
		n += !running_only || !ps->final;
	return n;
}

/* Forget ended sessions after PAIRING_SVC_KEEP_ENDED_MS, and the oldest
 * ended ones beyond the cap (always one slot free for a new session). */
static void prune(struct pairing_service *svc, uint64_t now)
{
	unsigned total = count_sessions(svc, false);
	struct psession **pp = &svc->sessions, **oldest = NULL;
	while (*pp) {
		struct psession *ps = *pp;
		bool idle = ps->final && ps->dials == 0 && !ps->streams;
		if (idle && now >= ps->ended_ms + PAIRING_SVC_KEEP_ENDED_MS) {
			*pp = ps->next;
			session_free(ps);
			total--;
			continue;
		}
		if (idle)
			oldest = pp;
		pp = &ps->next;
	}
	if (total >= PAIRING_SVC_MAX_SESSIONS && oldest) {
		struct psession *ps = *oldest;
		*oldest = ps->next;
		session_free(ps);
	}
}

static uint64_t next_deadline(const struct pairing_service *svc)
{
	uint64_t t = UINT64_MAX;
	for (const struct pstream *st = svc->unrouted; st; st = st->next)
		t = st->deadline_ms < t ? st->deadline_ms : t;
	for (const struct psession *ps = svc->sessions; ps; ps = ps->next) {
		uint64_t x = pairing_session_next_timeout(ps->ps);
		t = x < t ? x : t;
		for (const struct pstream *st = ps->streams; st; st = st->next)
			if (st->awaiting_confirm && st->deadline_ms < t)
				t = st->deadline_ms;
		if (ps->hold_pending && !ps->final && ps->hold_until_ms < t)
			t = ps->hold_until_ms;
		if (ps->final && ps->ended_ms + PAIRING_SVC_KEEP_ENDED_MS < t)
			t = ps->ended_ms + PAIRING_SVC_KEEP_ENDED_MS;
	}
	return t;
}

static void arm_timer(struct pairing_service *svc, uint64_t now)
{
	uint64_t t = next_deadline(svc);
	event_del(svc->timer);
	if (t == UINT64_MAX)
		return;
	uint64_t d = t > now ? t - now : 0;
	struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};
	event_add(svc->timer, &tv);
}

void psvc_settle(struct pairing_service *svc)
{
	if (svc->settling) {
		svc->resettle = true;
		return;
	}
	svc->settling = true;
	uint64_t now;
	do {
		svc->resettle = false;
		now = psvc_now();
		pstream_route_pending(svc);
		for (struct psession *ps = svc->sessions; ps; ps = ps->next)
			settle_session(ps, now);
		if (!svc->freeing)
			prune(svc, now);
	} while (svc->resettle);
	if (!svc->freeing)
		arm_timer(svc, now);
	svc->settling = false;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	psvc_settle(arg);
}

/* ---- creating sessions -------------------------------------------------- */

static int new_session(struct pairing_service *svc, enum pairing_role role, struct psession **ret,
                       struct errmsg *err)
{
	if (count_sessions(svc, true) >= PAIRING_SVC_MAX_RUNNING)
		return errmsg_set(err, -EBUSY,
		                  "%d pairings are already running; cancel one ('network pair "
		                  "status' lists them) or wait for one to end",
		                  PAIRING_SVC_MAX_RUNNING);
	prune(svc, psvc_now());
	if (count_sessions(svc, false) >= PAIRING_SVC_MAX_SESSIONS)
		return errmsg_set(err, -EBUSY, "too many pairing sessions; try again in a moment");
	struct psession *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return errmsg_set(err, -ENOMEM, "out of memory");
	uint8_t raw[PAIRING_SESSION_ID_LEN / 2];
	if (crypto_random(raw, sizeof(raw)) < 0) {
		free(ps);
		return errmsg_set(err, -EIO, "no random bytes for a session id");
	}
	hex_encode(raw, sizeof(raw), ps->id);
	ps->svc = svc;
	ps->role = role;
	ps->created_ms = psvc_now();
	ps->shown_state = PAIRING_WAITING_FOR_CONNECTION;
	*ret = ps;
	return 0;
}

static void link_session(struct pairing_service *svc, struct psession *ps)
{
	ps->next = svc->sessions;
	svc->sessions = ps;
	/* The first event: the session exists and waits. */
	emit(svc, "pairing.state",
	     json_pack("{s:s, s:s, s:s, s:s}", "session_id", ps->id, "role", role_name(ps->role),
	               "state", psession_state_word(ps->shown_state), "reason", ""));
}

int pairing_service_generate(struct pairing_service *svc, uint32_t lifetime_s,
                             struct pairing_generated *ret, struct errmsg *err)
{
	if (lifetime_s == 0)
		lifetime_s = PAIRING_SVC_DEFAULT_LIFETIME_S;
	if (lifetime_s < PAIRING_SVC_MIN_LIFETIME_S || lifetime_s > PAIRING_SVC_MAX_LIFETIME_S)
		return errmsg_set(err, -EINVAL, "expires_s must be between %d and %d seconds",
		                  PAIRING_SVC_MIN_LIFETIME_S, PAIRING_SVC_MAX_LIFETIME_S);
	struct psession *ps;
	int r = new_session(svc, PAIRING_ROLE_INITIATOR, &ps, err);
	if (r < 0)
		return r;
	struct pairing_device_info self;
	svc->cfg.self(svc->cfg.ctx, &self);
	struct pairing_params p = {.info = &self,
	                           .now_ms = ps->created_ms,
	                           .lifetime_ms = (uint64_t)lifetime_s * 1000};
	r = pairing_initiator_new(&p, &ps->ps, err);
	if (r == 0)
		r = pairing_session_words(ps->ps, ret->words);
	if (r < 0) {
		pairing_session_free(ps->ps);
		free(ps);
		return r;
	}
	const uint8_t *rid = pairing_session_rendezvous_id(ps->ps);
	r = rendezvous_advertise(svc->cfg.rendezvous, rid);
	ps->advertised = r == 0;
	if (r < 0)
		log_warning("pairing %s: no discovery backend could advertise it (%s); the other "
		            "device must join with --peer",
		            ps->id, strerror(-r));
	memcpy(ret->session_id, ps->id, sizeof(ret->session_id));
	ret->expires_in_s = lifetime_s;
	ret->advertised = ps->advertised && rendezvous_backend_count(svc->cfg.rendezvous) > 0;
	link_session(svc, ps);
	log_info("pairing %s: code generated, expires in %u s", ps->id, lifetime_s);
	psvc_settle(svc);
	return 0;
}

static int check_peer(const char *peer, struct errmsg *err)
{
	struct multiaddr ma;
	struct errmsg e = {{0}};
	int r = multiaddr_parse(peer, &ma, &e);
	if (r < 0)
		return errmsg_set(err, -EINVAL, "peer: %s", e.text);
	int family;
	const uint8_t *addr;
	uint16_t port;
	r = multiaddr_as_tcp(&ma, &family, &addr, &port);
	multiaddr_free(&ma);
	if (r < 0)
		return errmsg_set(err, -EINVAL,
		                  "peer: %s is not a TCP address (/ip4/ADDR/tcp/PORT[/p2p/ID])",
		                  peer);
	return 0;
}

int pairing_service_join(struct pairing_service *svc, const char *words, const char *peer,
                         pairing_join_cb cb, void *ctx, char ret_id[PAIRING_SESSION_ID_LEN + 1],
                         struct errmsg *err)
{
	if (peer && check_peer(peer, err) < 0)
		return -EINVAL;
	if (!peer && rendezvous_backend_count(svc->cfg.rendezvous) == 0)
		return errmsg_set(err, -ENOTSUP,
		                  "no discovery is running to find the other device: pass its "
		                  "address with --peer (its 'network info' shows it)");
	struct psession *ps;
	int r = new_session(svc, PAIRING_ROLE_JOINER, &ps, err);
	if (r < 0)
		return r;
	struct pairing_device_info self;
	svc->cfg.self(svc->cfg.ctx, &self);
	struct pairing_params p = {.words = words,
	                           .info = &self,
	                           .now_ms = ps->created_ms,
	                           .lifetime_ms = PAIRING_SVC_JOIN_LIFETIME_MS};
	r = pairing_joiner_new(&p, &ps->ps, err);
	if (r < 0) {
		free(ps);
		return r;
	}
	ps->cb = cb;
	ps->cb_ctx = ctx;
	if (peer) {
		ps->have_peer = true;
		snprintf(ps->peer_addr, sizeof(ps->peer_addr), "%s", peer);
	}
	r = pdial_start(ps, err);
	if (r < 0) {
		session_free(ps);
		return r;
	}
	memcpy(ret_id, ps->id, PAIRING_SESSION_ID_LEN + 1);
	link_session(svc, ps);
	psvc_settle(svc);
	return 0;
}

static struct psession *find_session(struct pairing_service *svc, const char *id)
{
	for (struct psession *ps = svc->sessions; ps; ps = ps->next)
		if (strcmp(ps->id, id) == 0)
			return ps;
	return NULL;
}

int pairing_service_cancel(struct pairing_service *svc, const char *session_id, struct errmsg *err)
{
	struct psession *ps = find_session(svc, session_id);
	if (!ps)
		return errmsg_set(err, -ENOENT,
		                  "no pairing session %s; 'network pair status' lists them",
		                  session_id);
	if (ps->final)
		return errmsg_set(err, -EALREADY, "pairing session %s has already ended (%s)",
		                  session_id, psession_state_word(ps->final_state));
	psession_finish(ps, PAIRING_CANCELLED, -ECANCELED, "cancelled by the user");
	psvc_settle(svc);
	return 0;
}

void pairing_service_cancel_join(struct pairing_service *svc, const char *session_id)
{
	struct psession *ps = find_session(svc, session_id);
	if (!ps)
		return;
	ps->cb = NULL;
	if (!ps->final) {
		psession_finish(ps, PAIRING_CANCELLED, -ECANCELED, "the caller went away");
		psvc_settle(svc);
	}
}

/* ---- status ------------------------------------------------------------- */

static json_t *stats_json(const struct pairing_stats *s)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "exchanges", s->exchanges,
	                 "failed_proofs", s->failed_proofs, "failed", s->failed, "unknown_code",
	                 s->unknown_code, "rate_limited", s->rate_limited, "refused_late",
	                 s->refused_late);
}

static json_t *session_json(const struct psession *ps, uint64_t now)
{
	const char *reason;
	enum pairing_state st = psession_state(ps, &reason);
	uint64_t exp = pairing_session_expires_at(ps->ps);
	json_int_t left = ps->final || exp <= now ? 0 : (json_int_t)((exp - now + 999) / 1000);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "session_id", ps->id, "role",
	                      role_name(ps->role), "state", psession_state_word(st), "reason",
	                      reason, "expires_in", left, "created_ago",
	                      (json_int_t)((now - ps->created_ms) / 1000), "stats",
	                      stats_json(pairing_session_stats(ps->ps)));
	if (o && ps->final && ps->final_state == PAIRING_COMPLETED)
		json_object_set_new(o, "device_id", json_string(ps->device_id));
	return o;
}

json_t *pairing_service_status_json(struct pairing_service *svc)
{
	psvc_settle(svc);
	uint64_t now = psvc_now();
	json_t *a = json_array();
	for (const struct psession *ps = svc->sessions; a && ps; ps = ps->next)
		if (json_array_append_new(a, session_json(ps, now)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *pairing_service_devices_json(struct pairing_service *svc)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < devices_count(svc->cfg.devices); i++)
		if (json_array_append_new(
		            a, pstore_device_json(svc, devices_at(svc->cfg.devices, i))) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *pairing_service_device_json(struct pairing_service *svc, const struct device *d)
{
	return pstore_device_json(svc, d);
}

void pairing_service_set_device_hook(struct pairing_service *svc, pairing_device_hook fn, void *ctx)
{
	svc->device_hook = fn;
	svc->device_hook_ctx = ctx;
}

/* ---- the service -------------------------------------------------------- */

static const struct protocol_handler pairing_handlers[] = {
        {PAIRING_PROTOCOL_ID, pstream_on_inbound,
         .max_inbound_per_peer = PAIRING_SVC_MAX_INBOUND_PER_PEER},
        {0},
};

int pairing_service_new(const struct pairing_service_config *cfg, struct pairing_service **ret,
                        struct errmsg *err)
{
	struct pairing_service *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return errmsg_set(err, -ENOMEM, "out of memory");
	svc->cfg = *cfg;
	svc->timer = evtimer_new(cfg->base, on_timer, svc);
	int r = svc->timer ? 0 : -ENOMEM;
	if (r == 0)
		r = protocols_register(host_protocols(cfg->host), pairing_handlers, svc);
	if (r < 0) {
		if (svc->timer)
			event_free(svc->timer);
		free(svc);
		return errmsg_set(err, r, "cannot register %s: %s", PAIRING_PROTOCOL_ID,
		                  strerror(-r));
	}
	pstore_observe(svc);
	*ret = svc;
	return 0;
}

void pairing_service_free(struct pairing_service *svc)
{
	if (!svc)
		return;
	svc->freeing = true;
	host_remove_observer(svc->cfg.host, &svc->observer);
	for (struct psession *ps = svc->sessions; ps; ps = ps->next)
		psession_finish(ps, PAIRING_CANCELLED, -ECANCELED, "the daemon is shutting down");
	psvc_settle(svc);
	while (svc->sessions) {
		struct psession *ps = svc->sessions;
		svc->sessions = ps->next;
		session_free(ps);
	}
	while (svc->unrouted) {
		struct pstream *st = svc->unrouted;
		svc->unrouted = st->next;
		pstream_free(st);
	}
	pdial_orphan_all(svc);
	event_free(svc->timer);
	free(svc);
}
