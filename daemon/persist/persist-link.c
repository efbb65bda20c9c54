/* One paired device's link: the state machine of docs/operations.md
 * ("Paired-device connections").
 *
 *   disabled      revoked, expired, or auto_reconnect off with no connection
 *   disconnected  nothing in flight: the next settle dials (or authenticates
 *                 a connection that exists)
 *   connecting    a dial or an authentication is running
 *   backoff       the last attempt failed: wait persist_backoff_ms()
 *   connected     authenticated; the session keeps it alive
 *
 * Addresses for a dial, in order: those that worked before (connections
 * record), those learned since start (mDNS, identify), then the registry's
 * last known ones; tried one after the other, each with the connection
 * timeout, one connection attempt in all. */
#include "persist-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "net/identify-service.h"

struct pldial {
	struct persist *p;
	struct plink *l; /* NULL once orphaned */
	struct pldial *next;
	char addr[DEVICE_ADDR_MAX];
};

static const char *const state_names[] = {
        [PERSIST_DISCONNECTED] = "disconnected", [PERSIST_CONNECTING] = "connecting",
        [PERSIST_CONNECTED] = "connected",       [PERSIST_BACKOFF] = "backoff",
        [PERSIST_DISABLED] = "disabled",
};

const char *persist_state_name(enum persist_link_state s)
{
	return (unsigned)s <= PERSIST_DISABLED ? state_names[s] : "?";
}

struct plink *plink_new(struct persist *p, const struct device *d)
{
	struct plink *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->p = p;
	snprintf(l->device_id, sizeof(l->device_id), "%s", d->info.device_id);
	snprintf(l->name, sizeof(l->name), "%s", d->info.name);
	l->peer = d->info.peer_id;
	l->trust = d->trust;
	l->state = PERSIST_DISCONNECTED;
	precord_load(p->cfg.store, d, &l->rec);
	phist_load(p->cfg.store, d->info.device_id, &l->hist);
	return l;
}

void plink_free(struct plink *l)
{
	if (!l)
		return;
	if (l->dial)
		l->dial->l = NULL;
	precord_wipe(&l->rec);
	free(l);
}

void plink_enter(struct plink *l, enum persist_link_state st, const char *why)
{
	if (why)
		snprintf(l->reason, sizeof(l->reason), "%s", why);
	if (l->state == st)
		return;
	log_debug("device '%s': %s -> %s (%s)", l->name, persist_state_name(l->state),
	          persist_state_name(st), why ? why : "");
	l->state = st;
}

bool plink_may_dial(const struct plink *l)
{
	return l->p->cfg.auto_reconnect &&
	       (l->trust == DEVICE_TRUSTED || l->trust == DEVICE_VERIFIED);
}

static const char *disabled_reason(const struct plink *l)
{
	if (l->trust == DEVICE_REVOKED)
		return "revoked: never connected";
	if (l->trust == DEVICE_EXPIRED)
		return "the pairing expired: pair again";
	return "auto_reconnect is off";
}

/* ---- backoff ------------------------------------------------------------ */

static void backoff(struct plink *l, uint64_t now, const char *why)
{
	l->failures++;
	uint32_t rnd = 0;
	crypto_random(&rnd, sizeof(rnd));
	uint64_t wait = persist_backoff_ms(l->failures, l->p->cfg.retry_interval_ms,
	                                   PERSIST_BACKOFF_CAP_MS, rnd);
	l->retry_ms = now + wait;
	plink_enter(l, PERSIST_BACKOFF, why);
	persist_emit(l->p, "device.reconnecting",
	             json_pack("{s:s, s:s, s:I, s:I, s:s}", "device_id", l->device_id, "name",
	                       l->name, "attempt", (json_int_t)l->failures + 1, "retry_in_ms",
	                       (json_int_t)wait, "reason", why));
}

void plink_discovered(struct plink *l, const char *addr)
{
	if (addr && *addr) {
		size_t k = 0;
		while (k < l->n_learned && strcmp(l->learned[k], addr) != 0)
			k++;
		if (k == l->n_learned && l->n_learned < PERSIST_LEARNED_MAX)
			l->n_learned++;
		if (k == PERSIST_LEARNED_MAX)
			k = PERSIST_LEARNED_MAX - 1;
		memmove(l->learned[1], l->learned[0], k * DEVICE_ADDR_MAX);
		snprintf(l->learned[0], DEVICE_ADDR_MAX, "%s", addr);
	}
	/* Seen again: whatever failed before may work now. */
	l->failures = 0;
	if (l->state == PERSIST_BACKOFF)
		l->retry_ms = persist_now_ms();
}

/* ---- dialing ------------------------------------------------------------ */

static void add_cand(struct plink *l, const char *addr)
{
	if (!addr || !*addr || l->n_cand == PERSIST_DIAL_MAX)
		return;
	for (size_t i = 0; i < l->n_cand; i++)
		if (strcmp(l->cand[i], addr) == 0)
			return;
	snprintf(l->cand[l->n_cand++], DEVICE_ADDR_MAX, "%s", addr);
}

static void gather(struct plink *l)
{
	l->n_cand = l->i_cand = 0;
	for (size_t i = 0; i < l->rec.n_worked; i++)
		add_cand(l, l->rec.worked[i]);
	for (size_t i = 0; i < l->n_learned; i++)
		add_cand(l, l->learned[i]);
	const struct device *d = devices_find_id(l->p->cfg.devices, l->device_id);
	for (size_t i = 0; d && i < d->n_addrs; i++)
		add_cand(l, d->addrs[i]);
}

/* cand[i] as a dialable multiaddr ending in the device's /p2p. */
static int cand_addr(struct plink *l, size_t i, struct multiaddr *ret)
{
	if (multiaddr_parse(l->cand[i], ret, NULL) < 0)
		return -EINVAL;
	multiaddr_strip_p2p(ret);
	int family;
	const uint8_t *a;
	uint16_t port;
	if (multiaddr_as_tcp(ret, &family, &a, &port) < 0 || port == 0 ||
	    multiaddr_append_p2p(ret, &l->peer) < 0) {
		multiaddr_free(ret);
		return -EAFNOSUPPORT;
	}
	return 0;
}

static void dial_done(struct host *h, struct conn *c, int err, const char *msg, void *ctx);

/* Dial the next usable candidate; false when none is left. */
static bool dial_next(struct plink *l)
{
	struct persist *p = l->p;
	for (; l->i_cand < l->n_cand; l->i_cand++) {
		struct multiaddr ma;
		if (cand_addr(l, l->i_cand, &ma) < 0)
			continue;
		struct pldial *d = calloc(1, sizeof(*d));
		if (!d) {
			multiaddr_free(&ma);
			return false;
		}
		*d = (struct pldial){.p = p, .l = l, .next = p->dials};
		snprintf(d->addr, sizeof(d->addr), "%s", l->cand[l->i_cand]);
		int r = host_dial(p->cfg.host, &ma, p->cfg.connection_timeout_ms, dial_done, d);
		multiaddr_free(&ma);
		if (r < 0) {
			free(d);
			continue;
		}
		p->dials = d;
		l->dial = d;
		l->i_cand++;
		return true;
	}
	return false;
}

static void unlink_dial(struct persist *p, struct pldial *d)
{
	for (struct pldial **pp = &p->dials; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			return;
		}
	}
}

static void dial_done(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	struct pldial *d = ctx;
	struct plink *l = d->l;
	if (!l) { /* orphaned: the link or the service went */
		free(d);
		return;
	}
	unlink_dial(d->p, d);
	l->dial = NULL;
	if (c) {
		log_debug("device '%s': connected to %s", l->name, d->addr);
		free(d);
		persist_poke(l->p);
		return;
	}
	char why[PERSIST_REASON_MAX];
	snprintf(why, sizeof(why), "%s: %s", d->addr, msg && *msg ? msg : strerror(-err));
	snprintf(l->reason, sizeof(l->reason), "%s", why);
	free(d);
	if (dial_next(l))
		return;
	l->rec.n.failures++;
	l->rec.n.last_failure = (int64_t)time(NULL);
	persist_save(l);
	persist_history(l, PHIST_FAILED, "", why);
	backoff(l, persist_now_ms(), why);
	persist_poke(l->p);
}

void plink_orphan_dials(struct persist *p)
{
	while (p->dials) {
		struct pldial *d = p->dials;
		p->dials = d->next;
		if (d->l)
			d->l->dial = NULL;
		d->l = NULL;
	}
}

static size_t active_links(const struct persist *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_links; i++)
		if (p->links[i]->state == PERSIST_CONNECTED ||
		    p->links[i]->state == PERSIST_CONNECTING)
			n++;
	return n;
}

static void start_dial(struct plink *l, uint64_t now)
{
	struct persist *p = l->p;
	if (active_links(p) >= p->cfg.max_connections) {
		char why[PERSIST_REASON_MAX];
		snprintf(why, sizeof(why),
		         "max_connections (%u) devices are connected or connecting",
		         p->cfg.max_connections);
		l->retry_ms = now + p->cfg.retry_interval_ms * 10;
		plink_enter(l, PERSIST_BACKOFF, why);
		return;
	}
	gather(l);
	l->rec.n.attempts++;
	if (!dial_next(l)) {
		l->rec.n.failures++;
		persist_save(l);
		backoff(l, now,
		        "no known address to dial; waiting for the device to be discovered");
		return;
	}
	persist_save(l);
	persist_history(l, PHIST_ATTEMPT, l->cand[l->i_cand - 1], "");
	plink_enter(l, PERSIST_CONNECTING, "dialing");
}

/* ---- up and down ----------------------------------------------------------- */

static bool session_on(const struct persist *p, const struct plink *l, const struct conn *c)
{
	for (const struct psess *s = p->sessions; s; s = s->next)
		if (s->st != PSESS_DEAD && s->c == c && strcmp(s->device_id, l->device_id) == 0)
			return true;
	return false;
}

/* A connection to the device exists but is not authenticated: the dialer
 * authenticates at once, the other side after PERSIST_AUTH_WAIT_MS. */
static void settle_conn(struct plink *l, struct conn *c, uint64_t now)
{
	if (session_on(l->p, l, c)) {
		plink_enter(l, PERSIST_CONNECTING, "authenticating");
		return;
	}
	if ((l->state == PERSIST_BACKOFF && now < l->retry_ms) || l->close_ms)
		return; /* waiting to retry, or to close this connection */
	struct conn_info ci;
	conn_get_info(c, &ci);
	if (ci.direction == CONN_INBOUND) {
		if (!l->wait_auth_ms)
			l->wait_auth_ms = now + PERSIST_AUTH_WAIT_MS;
		if (now < l->wait_auth_ms) {
			plink_enter(l, PERSIST_CONNECTING,
			            "waiting for the device to authenticate");
			return;
		}
	}
	l->wait_auth_ms = 0;
	if (psess_open(l->p, l, c) == 0)
		plink_enter(l, PERSIST_CONNECTING, "authenticating");
	else
		backoff(l, now, "cannot open the device stream");
}

void plink_settle(struct plink *l, uint64_t now)
{
	struct persist *p = l->p;
	if (l->close_ms && now >= l->close_ms) {
		l->close_ms = 0;
		if (l->state != PERSIST_CONNECTED)
			host_disconnect(p->cfg.host, &l->peer);
	}
	if (l->state == PERSIST_CONNECTED)
		return;
	if (l->trust == DEVICE_REVOKED || l->trust == DEVICE_EXPIRED) {
		plink_enter(l, PERSIST_DISABLED, disabled_reason(l));
		return;
	}
	struct conn *c = host_find_conn(p->cfg.host, &l->peer);
	if (c) {
		settle_conn(l, c, now);
		return;
	}
	l->wait_auth_ms = 0;
	if (l->dial) {
		plink_enter(l, PERSIST_CONNECTING, "dialing");
		return;
	}
	if (!plink_may_dial(l)) {
		plink_enter(l, PERSIST_DISABLED, disabled_reason(l));
		return;
	}
	if (l->state == PERSIST_BACKOFF && now < l->retry_ms)
		return;
	start_dial(l, now);
}

uint64_t plink_deadline(const struct plink *l)
{
	if (l->state == PERSIST_CONNECTED || l->state == PERSIST_DISABLED)
		return UINT64_MAX;
	uint64_t d = l->close_ms ? l->close_ms : UINT64_MAX;
	if (l->state == PERSIST_BACKOFF && l->retry_ms < d)
		d = l->retry_ms;
	if (l->wait_auth_ms && l->wait_auth_ms < d)
		d = l->wait_auth_ms;
	if (l->state == PERSIST_DISCONNECTED)
		d = 0;
	return d;
}

static void notify_up(struct plink *l)
{
	struct persist *p = l->p;
	for (size_t i = 0; i < p->n_obs; i++)
		if (p->obs[i]->on_device_up)
			p->obs[i]->on_device_up(p, l->device_id, l->sess->c, p->obs[i]->ctx);
}

static void notify_down(struct plink *l, int err)
{
	struct persist *p = l->p;
	for (size_t i = 0; i < p->n_obs; i++)
		if (p->obs[i]->on_device_down)
			p->obs[i]->on_device_down(p, l->device_id, err, p->obs[i]->ctx);
}

/* Addresses this connection proved: where we dialed it, and what it told
 * identify it listens on. */
static void learn_addrs(struct plink *l, struct conn *c, char *ret_addr, size_t size)
{
	struct conn_info ci;
	conn_get_info(c, &ci);
	snprintf(ret_addr, size, "%s", ci.remote_addr);
	if (ci.direction == CONN_OUTBOUND)
		precord_add_worked(&l->rec, ci.remote_addr);
	const struct identify_result *id = identify_get(c);
	for (size_t i = 0; id && i < id->n_listen_addrs; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&id->listen_addrs[i], text, sizeof(text)) >= 0)
			plink_discovered(l, text);
	}
}

void plink_up(struct plink *l, struct psess *s)
{
	struct psess *old = l->sess;
	if (old && old != s) {
		/* A new authentication replaced the session (devices.verify, or
		 * the host replaced the connection). Same connection: nothing
		 * changes for users; another one: they hear down, then up. */
		bool same = old->c == s->c;
		l->sess = NULL;
		psess_close(old, 0, "replaced by a new authentication");
		old->reported = true;
		if (!same)
			notify_down(l, -ECONNRESET);
		l->sess = s;
		if (!same)
			notify_up(l);
		return;
	}
	l->sess = s;
	l->failures = 0;
	l->wait_auth_ms = 0;
	bool again = l->was_up || l->rec.n.successes > 0;
	l->auto_reconnected = again;
	if (again)
		l->rec.n.reconnects++;
	l->rec.n.successes++;
	l->rec.n.last_success = (int64_t)time(NULL);
	l->up_since_ms = persist_now_ms();
	char addr[MULTIADDR_TEXT_MAX];
	learn_addrs(l, s->c, addr, sizeof(addr));
	persist_save(l);
	persist_history(l, PHIST_CONNECTED, addr, again ? "auto-reconnected" : "");
	plink_enter(l, PERSIST_CONNECTED, again ? "auto-reconnected" : "authenticated");
	log_info("device '%s' connected (%s, key epoch %llu)%s", l->name, addr,
	         (unsigned long long)s->epoch, again ? ", auto-reconnected" : "");
	char peer[PEERID_TEXT_MAX] = "";
	peerid_to_string(&l->peer, peer, sizeof(peer));
	persist_emit(l->p, "device.connected",
	             json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "device_id", l->device_id, "name",
	                       l->name, "peer_id", peer, "address", addr, "reconnected", again,
	                       "epoch", (json_int_t)s->epoch));
	notify_up(l);
}

void plink_down(struct plink *l, int err, const char *reason)
{
	if (!l->sess)
		return;
	l->sess = NULL;
	l->was_up = true;
	l->rtt_us = 0;
	persist_history(l, PHIST_DISCONNECTED, "", reason);
	log_info("device '%s' disconnected: %s", l->name, reason);
	persist_emit(l->p, "device.disconnected",
	             json_pack("{s:s, s:s, s:s, s:i}", "device_id", l->device_id, "name", l->name,
	                       "reason", reason, "error", err));
	/* Straight back to dialing: the first retry is immediate. */
	plink_enter(l, PERSIST_DISCONNECTED, reason);
	notify_down(l, err);
}

void plink_auth_failed(struct plink *l, struct psess *s)
{
	l->rec.n.failures++;
	l->rec.n.last_failure = (int64_t)time(NULL);
	persist_save(l);
	persist_history(l, PHIST_AUTH_FAILED, "", s->reason);
	log_warning("device '%s': authentication failed: %s", l->name, s->reason);
	uint64_t now = persist_now_ms();
	/* Close a little later, so the Result that says why reaches the peer
	 * before the connection goes (plink_settle does it). */
	if (s->hard_fail)
		l->close_ms = now + PERSIST_CLOSE_GRACE_MS;
	backoff(l, now, s->reason);
}
