/* The mDNS engine: one per socket. It turns received datagrams and the
 * time into datagrams to send and discovery events, following RFC 6762's
 * timing where it matters to peers (query backoff, two announcements,
 * at most one multicast answer a second, goodbyes) and libp2p's record
 * shapes (mdns-records.c). No probing or conflict resolution: our names are
 * 32 random characters, as in js and rust. The driving loop is in mdns.h. */
#include "mdns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_TIMER UINT64_MAX
/* Distinct initiators one joiner reports per seek. */
#define MDNS_PAIR_MAX_FOUND 4

/* Rate-limit slots: one per kind of multicast answer. */
enum { SLOT_P2P, SLOT_PAIR, SLOT_META, N_SLOTS };

/* Query backoff (RFC 6762 section 5.2). */
struct schedule {
	bool on;
	uint64_t next_ms, interval_ms;
};

struct announce {
	unsigned left;
	uint64_t next_ms;
};

struct mdns {
	struct mdns_config cfg;
	char name[MDNS_PEER_NAME_LEN + 1];
	char device_name[MDNS_DEVICE_NAME_MAX + 1]; /* "": not advertised */
	struct multiaddr addrs[MDNS_MAX_ADDRS];
	size_t n_addrs;
	bool started;
	struct schedule query;
	struct announce announce;
	uint64_t last_multicast_ms[N_SLOTS];
	bool multicast_sent[N_SLOTS];
	/* Initiator side of pairing. */
	bool pair_adv;
	uint8_t pair_rv[MDNS_RENDEZVOUS_LEN];
	struct announce pair_announce;
	/* Joiner side. */
	struct schedule pair_query;
	uint8_t seek_rv[MDNS_RENDEZVOUS_LEN];
	struct peerid pair_found[MDNS_PAIR_MAX_FOUND];
	size_t n_pair_found;
	struct mdns_cache cache;
	struct mdns_output out[MDNS_MAX_OUTPUTS];
	size_t out_head, out_n;
	struct mdns_event ev[MDNS_MAX_EVENTS];
	size_t ev_head, ev_n;
	struct mdns_stats stats;
};

/* ---- queues ---- */

static void push_output(struct mdns *m, struct buf *data, bool unicast)
{
	if (m->out_n == MDNS_MAX_OUTPUTS) {
		m->stats.outputs_dropped++;
		buf_free(data);
		return;
	}
	struct mdns_output *o = &m->out[(m->out_head + m->out_n++) % MDNS_MAX_OUTPUTS];
	o->data = *data;
	o->unicast = unicast;
	*data = BUF_INIT;
}

int mdns_next_output(struct mdns *m, struct mdns_output *ret)
{
	if (m->out_n == 0)
		return 0;
	*ret = m->out[m->out_head];
	m->out_head = (m->out_head + 1) % MDNS_MAX_OUTPUTS;
	m->out_n--;
	return 1;
}

void mdns_event_free(struct mdns_event *ev)
{
	for (size_t i = 0; i < ev->n_addrs; i++)
		multiaddr_free(&ev->addrs[i]);
	free(ev->addrs);
	ev->addrs = NULL;
	ev->n_addrs = 0;
}

static bool events_full(const struct mdns *m)
{
	return m->ev_n == MDNS_MAX_EVENTS;
}

/* Queue an event with copies of n addresses taken by get(i). */
static int push_event(struct mdns *m, enum mdns_event_type type, const struct peerid *id,
                      const struct multiaddr *const *addrs, size_t n)
{
	if (events_full(m)) {
		m->stats.events_dropped++;
		return 0;
	}
	struct mdns_event ev = {.type = type, .id = *id};
	if (n && !(ev.addrs = calloc(n, sizeof(*ev.addrs))))
		return -ENOMEM;
	for (; ev.n_addrs < n; ev.n_addrs++) {
		if (multiaddr_copy(addrs[ev.n_addrs], &ev.addrs[ev.n_addrs]) < 0) {
			mdns_event_free(&ev);
			return -ENOMEM;
		}
	}
	m->ev[(m->ev_head + m->ev_n++) % MDNS_MAX_EVENTS] = ev;
	return 0;
}

int mdns_next_event(struct mdns *m, struct mdns_event *ret)
{
	if (m->ev_n == 0)
		return 0;
	*ret = m->ev[m->ev_head];
	m->ev_head = (m->ev_head + 1) % MDNS_MAX_EVENTS;
	m->ev_n--;
	return 1;
}

static int push_entry_event(struct mdns *m, enum mdns_event_type type,
                            const struct mdns_cache_entry *e)
{
	const struct multiaddr *addrs[MDNS_MAX_ADDRS_PER_PEER];
	for (size_t i = 0; i < e->n_addrs; i++)
		addrs[i] = &e->addrs[i].ma;
	return push_event(m, type, &e->id, addrs, e->n_addrs);
}

/* ---- lifecycle ---- */

int mdns_new(const struct mdns_config *cfg, struct mdns **ret)
{
	if (cfg->self.len == 0)
		return -EINVAL;
	struct mdns *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	if (!m->cfg.ttl_s)
		m->cfg.ttl_s = MDNS_TTL_S;
	mdns_peer_name_from_seed(cfg->name_seed, m->name);
	if (mdns_cache_init(&m->cache, cfg->max_peers) < 0) {
		free(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

struct mdns *mdns_free(struct mdns *m)
{
	if (!m)
		return NULL;
	struct mdns_output o;
	struct mdns_event ev;
	while (mdns_next_output(m, &o))
		buf_free(&o.data);
	while (mdns_next_event(m, &ev))
		mdns_event_free(&ev);
	for (size_t i = 0; i < m->n_addrs; i++)
		multiaddr_free(&m->addrs[i]);
	mdns_cache_free(&m->cache);
	free(m);
	return NULL;
}

const char *mdns_peer_name(const struct mdns *m)
{
	return m->name;
}

const struct mdns_cache *mdns_cache_of(const struct mdns *m)
{
	return &m->cache;
}

void mdns_get_stats(const struct mdns *m, struct mdns_stats *ret)
{
	*ret = m->stats;
	ret->evicted = m->cache.evicted;
}

/* ---- sending ---- */

/* Our response for svc with the given addresses and TTL. */
static int send_response(struct mdns *m, enum mdns_service svc, const struct multiaddr *addrs,
                         size_t n, uint32_t ttl, bool addrs_goodbye,
                         const struct mdns_query_info *q, bool unicast)
{
	struct mdns_self self = {.svc = svc,
	                         .id = &m->cfg.self,
	                         .peer_name = m->name,
	                         .addrs = addrs,
	                         .n_addrs = n,
	                         .ttl_s = ttl,
	                         .addrs_goodbye = addrs_goodbye,
	                         .rendezvous = m->pair_rv,
	                         .device_name = m->device_name[0] ? m->device_name : NULL,
	                         .dns_sd = m->cfg.dns_sd};
	if (q && q->legacy) {
		self.echo_question = q->question;
		self.echo_id = q->id;
		if (self.ttl_s > MDNS_LEGACY_TTL_S)
			self.ttl_s = MDNS_LEGACY_TTL_S;
	}
	struct mdns_packets p = {0};
	int r = mdns_build_response(&self, &p, NULL);
	for (size_t i = 0; i < p.n; i++)
		push_output(m, &p.pkt[i], unicast);
	mdns_packets_free(&p);
	return r;
}

static int send_query(struct mdns *m, enum mdns_service svc)
{
	struct buf b = BUF_INIT;
	int r = mdns_build_query(svc, &b);
	if (r == 0)
		push_output(m, &b, false);
	buf_free(&b);
	return r;
}

/* A multicast answer is allowed once a second per kind. */
static bool may_multicast(struct mdns *m, int slot, uint64_t now_ms)
{
	if (m->multicast_sent[slot] &&
	    now_ms < m->last_multicast_ms[slot] + MDNS_MIN_RESPONSE_INTERVAL_MS)
		return false;
	m->multicast_sent[slot] = true;
	m->last_multicast_ms[slot] = now_ms;
	return true;
}

static void schedule_start(struct schedule *s, uint64_t now_ms)
{
	s->on = true;
	s->next_ms = now_ms;
	s->interval_ms = MDNS_QUERY_INTERVAL_FIRST_MS;
}

static bool schedule_due(struct schedule *s, uint64_t now_ms)
{
	if (!s->on || now_ms < s->next_ms)
		return false;
	s->next_ms = now_ms + s->interval_ms;
	s->interval_ms *= 2;
	if (s->interval_ms > MDNS_QUERY_INTERVAL_MAX_MS)
		s->interval_ms = MDNS_QUERY_INTERVAL_MAX_MS;
	return true;
}

static bool announce_due(struct announce *a, uint64_t now_ms)
{
	if (!a->left || now_ms < a->next_ms)
		return false;
	a->left--;
	a->next_ms = now_ms + MDNS_ANNOUNCE_INTERVAL_MS;
	return true;
}

static void announce_start(struct announce *a, uint64_t now_ms)
{
	a->left = MDNS_ANNOUNCE_COUNT;
	a->next_ms = now_ms;
}

/* ---- timers ---- */

static int expire_cache(struct mdns *m, uint64_t now_ms)
{
	struct peerid id;
	bool gone;
	/* Leave what does not fit in the event queue for the next call. */
	while (!events_full(m) && mdns_cache_expire_one(&m->cache, now_ms, &id, &gone) == 1) {
		int r = gone ? push_event(m, MDNS_EV_PEER_EXPIRED, &id, NULL, 0)
		             : push_entry_event(m, MDNS_EV_PEER_UPDATED,
		                                mdns_cache_find(&m->cache, &id));
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_due(struct mdns *m, uint64_t now_ms)
{
	int r = 0;
	if (m->started && schedule_due(&m->query, now_ms))
		r = send_query(m, MDNS_P2P);
	if (r == 0 && schedule_due(&m->pair_query, now_ms))
		r = send_query(m, MDNS_PAIR);
	if (r == 0 && m->started && announce_due(&m->announce, now_ms)) {
		may_multicast(m, SLOT_P2P, now_ms);
		r = send_response(m, MDNS_P2P, m->addrs, m->n_addrs, m->cfg.ttl_s, false, NULL,
		                  false);
	}
	if (r == 0 && m->pair_adv && announce_due(&m->pair_announce, now_ms)) {
		may_multicast(m, SLOT_PAIR, now_ms);
		r = send_response(m, MDNS_PAIR, m->addrs, m->n_addrs, m->cfg.ttl_s, false, NULL,
		                  false);
	}
	if (r == 0)
		r = expire_cache(m, now_ms);
	return r;
}

int mdns_handle_timeout(struct mdns *m, uint64_t now_ms)
{
	return run_due(m, now_ms);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t mdns_next_timeout(const struct mdns *m)
{
	uint64_t t = mdns_cache_next_expiry(&m->cache);
	if (m->started)
		t = min_u64(t, m->query.next_ms);
	if (m->pair_query.on)
		t = min_u64(t, m->pair_query.next_ms);
	if (m->started && m->announce.left)
		t = min_u64(t, m->announce.next_ms);
	if (m->pair_adv && m->pair_announce.left)
		t = min_u64(t, m->pair_announce.next_ms);
	return t;
}

int mdns_start(struct mdns *m, uint64_t now_ms)
{
	m->started = true;
	schedule_start(&m->query, now_ms);
	if (m->n_addrs)
		announce_start(&m->announce, now_ms);
	return run_due(m, now_ms);
}

/* ---- our addresses ---- */

static bool addr_in(const struct multiaddr *set, size_t n, const struct multiaddr *ma)
{
	for (size_t i = 0; i < n; i++)
		if (multiaddr_equal(&set[i], ma))
			return true;
	return false;
}

/* The usable, distinct addresses of the input, without /p2p. */
static int filter_addrs(const struct mdns *m, const struct multiaddr *in, size_t n,
                        struct multiaddr *out, size_t *ret_n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < MDNS_MAX_ADDRS; i++) {
		if (!mdns_addr_usable(&in[i], m->cfg.allow_loopback))
			continue;
		if (multiaddr_copy(&in[i], &out[k]) < 0) {
			while (k)
				multiaddr_free(&out[--k]);
			return -ENOMEM;
		}
		multiaddr_strip_p2p(&out[k]);
		if (addr_in(out, k, &out[k]))
			multiaddr_free(&out[k]);
		else
			k++;
	}
	*ret_n = k;
	return 0;
}

/* Goodbye for the addresses we drop (all of us when none remain). */
static int say_goodbye(struct mdns *m, const struct multiaddr *next, size_t n_next)
{
	struct multiaddr gone[MDNS_MAX_ADDRS];
	size_t n_gone = 0;
	for (size_t i = 0; i < m->n_addrs; i++)
		if (!addr_in(next, n_next, &m->addrs[i]))
			gone[n_gone++] = m->addrs[i];
	if (!n_gone || !m->started)
		return 0;
	int r = send_response(m, MDNS_P2P, gone, n_gone, n_next ? m->cfg.ttl_s : 0, n_next > 0,
	                      NULL, false);
	if (r == 0 && m->pair_adv)
		r = send_response(m, MDNS_PAIR, gone, n_gone, n_next ? m->cfg.ttl_s : 0, n_next > 0,
		                  NULL, false);
	return r;
}

int mdns_set_addrs(struct mdns *m, const struct multiaddr *addrs, size_t n, uint64_t now_ms)
{
	struct multiaddr next[MDNS_MAX_ADDRS];
	size_t n_next;
	int r = filter_addrs(m, addrs, n, next, &n_next);
	if (r < 0)
		return r;
	bool same = n_next == m->n_addrs;
	for (size_t i = 0; same && i < n_next; i++)
		same = addr_in(m->addrs, m->n_addrs, &next[i]);
	if (same) {
		for (size_t i = 0; i < n_next; i++)
			multiaddr_free(&next[i]);
		return 0;
	}
	r = say_goodbye(m, next, n_next);
	for (size_t i = 0; i < m->n_addrs; i++)
		multiaddr_free(&m->addrs[i]);
	memcpy(m->addrs, next, n_next * sizeof(next[0]));
	m->n_addrs = n_next;
	if (m->started && n_next)
		announce_start(&m->announce, now_ms);
	if (m->pair_adv && n_next)
		announce_start(&m->pair_announce, now_ms);
	if (r == 0)
		r = run_due(m, now_ms);
	return r < 0 ? r : 1;
}

int mdns_set_device_name(struct mdns *m, const char *name, uint64_t now_ms)
{
	size_t len = name ? strlen(name) : 0;
	if (len && !mdns_device_name_valid(name, len))
		return -EINVAL;
	if (len ? strcmp(m->device_name, name) == 0 : m->device_name[0] == '\0')
		return 0;
	if (len)
		memcpy(m->device_name, name, len);
	m->device_name[len] = '\0';
	m->multicast_sent[SLOT_P2P] = false;
	if (m->started && m->n_addrs)
		announce_start(&m->announce, now_ms);
	int r = run_due(m, now_ms);
	return r < 0 ? r : 1;
}

/* ---- pairing ---- */

int mdns_pair_advertise(struct mdns *m, const uint8_t rv[MDNS_RENDEZVOUS_LEN], uint64_t now_ms)
{
	if (m->pair_adv && memcmp(m->pair_rv, rv, MDNS_RENDEZVOUS_LEN) != 0)
		mdns_pair_stop(m, now_ms);
	m->pair_adv = true;
	memcpy(m->pair_rv, rv, MDNS_RENDEZVOUS_LEN);
	m->multicast_sent[SLOT_PAIR] = false;
	announce_start(&m->pair_announce, now_ms);
	return run_due(m, now_ms);
}

void mdns_pair_stop(struct mdns *m, uint64_t now_ms)
{
	if (!m->pair_adv)
		return;
	/* Best effort: without memory the record simply times out. */
	(void)send_response(m, MDNS_PAIR, m->addrs, m->n_addrs, 0, false, NULL, false);
	m->pair_adv = false;
	m->pair_announce.left = 0;
	memset(m->pair_rv, 0, sizeof(m->pair_rv));
}

int mdns_pair_seek(struct mdns *m, const uint8_t rv[MDNS_RENDEZVOUS_LEN], uint64_t now_ms)
{
	memcpy(m->seek_rv, rv, MDNS_RENDEZVOUS_LEN);
	m->n_pair_found = 0;
	schedule_start(&m->pair_query, now_ms);
	return run_due(m, now_ms);
}

void mdns_pair_seek_stop(struct mdns *m)
{
	m->pair_query.on = false;
	m->n_pair_found = 0;
	memset(m->seek_rv, 0, sizeof(m->seek_rv));
}

/* ---- receiving ---- */

static int learn_peers(struct mdns *m, const struct mdns_response *resp, uint64_t now_ms)
{
	for (size_t i = 0; i < resp->n; i++) {
		int c = mdns_cache_update(&m->cache, &resp->peers[i], now_ms);
		if (c < 0)
			return c;
		if (c == MDNS_CACHE_REFRESHED)
			continue;
		const struct mdns_cache_entry *e = mdns_cache_find(&m->cache, &resp->peers[i].id);
		int r = push_entry_event(
		        m, c == MDNS_CACHE_NEW ? MDNS_EV_PEER_FOUND : MDNS_EV_PEER_UPDATED, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool pair_reported(struct mdns *m, const struct peerid *id)
{
	for (size_t i = 0; i < m->n_pair_found; i++)
		if (peerid_equal(&m->pair_found[i], id))
			return true;
	return false;
}

static int learn_initiators(struct mdns *m, const struct mdns_response *resp)
{
	for (size_t i = 0; i < resp->n; i++) {
		const struct mdns_found *f = &resp->peers[i];
		if (f->ptr_ttl_s == 0 || memcmp(f->rendezvous, m->seek_rv, MDNS_RENDEZVOUS_LEN) ||
		    pair_reported(m, &f->id) || m->n_pair_found == MDNS_PAIR_MAX_FOUND)
			continue;
		const struct multiaddr *addrs[MDNS_MAX_ADDRS_PER_PEER];
		size_t n = 0;
		for (size_t j = 0; j < f->n_addrs; j++)
			if (f->addrs[j].ttl_s)
				addrs[n++] = &f->addrs[j].ma;
		if (!n)
			continue;
		m->pair_found[m->n_pair_found++] = f->id;
		int r = push_event(m, MDNS_EV_PAIR_FOUND, &f->id, addrs, n);
		if (r < 0)
			return r;
	}
	return 0;
}

static int on_response(struct mdns *m, const struct dns_msg *msg, uint64_t now_ms,
                       struct errmsg *err)
{
	struct mdns_parse_opts opts = {.svc = MDNS_P2P,
	                               .self_id = &m->cfg.self,
	                               .self_name = m->name,
	                               .allow_loopback = m->cfg.allow_loopback};
	struct mdns_response resp;
	m->stats.responses_seen++;
	int r = mdns_parse_response(msg, &opts, &resp, err);
	int bad = r;
	if (r >= 0)
		r = learn_peers(m, &resp, now_ms);
	m->stats.own_seen += resp.own;
	m->stats.ignored_addrs += resp.ignored_addrs;
	m->stats.rejected_peers += resp.rejected_peers;
	m->stats.bad_names += resp.bad_names;
	mdns_response_free(&resp);
	if (r == -ENOMEM || !m->pair_query.on)
		return r;
	opts.svc = MDNS_PAIR;
	int r2 = mdns_parse_response(msg, &opts, &resp, err);
	if (r2 >= 0)
		r2 = learn_initiators(m, &resp);
	m->stats.rejected_peers += resp.rejected_peers;
	mdns_response_free(&resp);
	return r2 == -ENOMEM ? r2 : bad < 0 ? bad : r2;
}

static int answer(struct mdns *m, enum mdns_service svc, int slot, const struct mdns_query_info *q,
                  uint64_t now_ms)
{
	bool unicast = q->legacy || q->unicast;
	if (!unicast && !may_multicast(m, slot, now_ms)) {
		m->stats.rate_limited++;
		return 0;
	}
	m->stats.queries_answered++;
	if (slot == SLOT_META) {
		struct buf b = BUF_INIT;
		int r = mdns_build_meta_response(q->legacy ? MDNS_LEGACY_TTL_S : m->cfg.ttl_s, &b);
		if (r == 0)
			push_output(m, &b, unicast);
		buf_free(&b);
		return r;
	}
	return send_response(m, svc, m->addrs, m->n_addrs, m->cfg.ttl_s, false, q, unicast);
}

static int on_query(struct mdns *m, const struct dns_msg *msg, uint16_t src_port, uint64_t now_ms)
{
	struct mdns_query_info q;
	mdns_classify_query(msg, m->name, src_port, m->cfg.ttl_s, &q);
	/* Like js: nothing to say without an address. */
	if (!m->started || !m->n_addrs)
		return 0;
	int r = 0;
	if (q.want & MDNS_WANT_P2P)
		r = answer(m, MDNS_P2P, SLOT_P2P, &q, now_ms);
	if (r == 0 && (q.want & MDNS_WANT_PAIR) && m->pair_adv)
		r = answer(m, MDNS_PAIR, SLOT_PAIR, &q, now_ms);
	if (r == 0 && (q.want & MDNS_WANT_META))
		r = answer(m, MDNS_P2P, SLOT_META, &q, now_ms);
	return r;
}

int mdns_handle_packet(struct mdns *m, const uint8_t *pkt, size_t len, uint16_t src_port,
                       uint64_t now_ms, struct errmsg *err)
{
	struct dns_msg msg;
	m->stats.packets_in++;
	int r = dns_parse(pkt, len, &msg, err);
	if (r < 0) {
		m->stats.bad_packets++;
		return r;
	}
	/* RFC 6762 section 6: responses not from port 5353 are ignored. */
	if ((msg.flags & DNS_FLAG_QR) && src_port != MDNS_PORT)
		r = 0;
	else if (msg.flags & DNS_FLAG_QR)
		r = on_response(m, &msg, now_ms, err);
	else
		r = on_query(m, &msg, src_port, now_ms);
	dns_msg_free(&msg);
	if (r == -EBADMSG)
		m->stats.bad_packets++;
	return r;
}
