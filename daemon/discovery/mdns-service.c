/* The mDNS service (see mdns-service.h): sockets, interfaces, and the
 * driving loop of each engine exactly as proto/mdns.h describes it: feed a
 * datagram or a timeout, then drain outputs (sent at once) and events, then
 * re-arm the engine's timer. */
#include "mdns-service-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "discovery/mdns-addrs.h"
#include "discovery/netif.h"
#include "log.h"
#include "net/clock.h"
#include "net/host.h"

/* ---- sending and draining -------------------------------------------- */

static void send_failed(struct mdns_iface *ifc, bool v6, int r)
{
	bool *failing = v6 ? &ifc->send_failing6 : &ifc->send_failing4;
	if (!*failing)
		log_debug("mDNS on %s: cannot send over %s: %s (more failures not logged until one "
		          "works)",
		          ifc->name, v6 ? "IPv6" : "IPv4", strerror(-r));
	*failing = true;
}

static void send_group(struct mdns_iface *ifc, const struct buf *data)
{
	struct mdns_svc *svc = ifc->svc;
	if (ifc->joined4) {
		int r = mdns_sock_send_group(&svc->s4, ifc->index, data->data, data->len);
		if (r < 0)
			send_failed(ifc, false, r);
		else
			ifc->send_failing4 = false;
	}
	if (ifc->joined6) {
		int r = mdns_sock_send_group(&svc->s6, ifc->index, data->data, data->len);
		if (r < 0)
			send_failed(ifc, true, r);
		else
			ifc->send_failing6 = false;
	}
}

static void dial_cb(struct host *h, struct conn *c, int err, const char *msg, void *ctx)
{
	(void)h;
	(void)c;
	(void)ctx;
	if (err < 0)
		log_debug("mDNS: dialling a discovered peer failed: %s",
		          msg ? msg : strerror(-err));
}

static void dial_found(struct mdns_svc *svc, const struct mdns_event *ev)
{
	for (size_t i = 0; i < ev->n_addrs; i++) {
		struct multiaddr ma;
		if (multiaddr_copy(&ev->addrs[i], &ma) < 0)
			return;
		int r = multiaddr_append_p2p(&ma, &ev->id);
		if (r == 0)
			r = host_dial(svc->host, &ma, 0, dial_cb, NULL);
		multiaddr_free(&ma);
		if (r == 0)
			return; /* one dial per peer; the host reuses a connection */
	}
}

static void notify(struct mdns_svc *svc, const struct mdns_peer_event *pe)
{
	/* A copy: an observer may remove itself. */
	const struct mdns_observer *obs[MDNS_SVC_MAX_OBSERVERS];
	size_t n = svc->n_obs;
	memcpy(obs, svc->obs, n * sizeof(obs[0]));
	for (size_t i = 0; i < n; i++)
		if (obs[i]->on_peer)
			obs[i]->on_peer(pe, obs[i]->ctx);
}

static void pair_found(struct mdns_iface *ifc, const struct mdns_event *ev)
{
	struct mdns_svc *svc = ifc->svc;
	if (!ifc->seek_on)
		return;
	for (size_t i = 0; i < svc->n_lookups; i++) {
		if (memcmp(svc->lookups[i].id, ifc->seek_id, RENDEZVOUS_ID_LEN) != 0)
			continue;
		rendezvous_found_cb cb = svc->lookups[i].cb;
		void *ctx = svc->lookups[i].ctx;
		char id[PEERID_TEXT_MAX] = "?";
		peerid_to_string(&ev->id, id, sizeof(id));
		log_info("mDNS on %s: pairing initiator %s found (%zu address%s)", ifc->name, id,
		         ev->n_addrs, ev->n_addrs == 1 ? "" : "es");
		cb(&ev->id, ev->addrs, ev->n_addrs, ctx);
		return;
	}
}

static void handle_event(struct mdns_iface *ifc, const struct mdns_event *ev)
{
	if (ev->type == MDNS_EV_PAIR_FOUND) {
		pair_found(ifc, ev);
		return;
	}
	const struct mdns_cache_entry *e = mdns_cache_find(mdns_cache_of(ifc->m), &ev->id);
	struct mdns_peer_event pe = {.type = ev->type,
	                             .ifname = ifc->name,
	                             .id = &ev->id,
	                             .addrs = ev->addrs,
	                             .n_addrs = ev->n_addrs,
	                             .device_name = e && e->device_name[0] &&
	                                                            ev->type != MDNS_EV_PEER_EXPIRED
	                                                    ? e->device_name
	                                                    : NULL};
	notify(ifc->svc, &pe);
	if (ev->type == MDNS_EV_PEER_FOUND && ifc->svc->dial_found)
		dial_found(ifc->svc, ev);
}

static void rearm(struct mdns_iface *ifc)
{
	uint64_t t = mdns_next_timeout(ifc->m);
	if (t == UINT64_MAX) {
		evtimer_del(ifc->timer);
		return;
	}
	uint64_t now = mono_ms();
	uint64_t d = t > now ? t - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(d / 1000),
	                     .tv_usec = (suseconds_t)(d % 1000) * 1000};
	evtimer_add(ifc->timer, &tv);
}

/* After every engine call. sock/src: the datagram just handled (unicast
 * answers go back to it), or NULL. */
static void drain(struct mdns_iface *ifc, const struct mdns_sock *sock, const struct mdns_src *src)
{
	struct mdns_output o;
	while (mdns_next_output(ifc->m, &o) == 1) {
		if (!o.unicast) {
			send_group(ifc, &o.data);
		} else if (sock && src) {
			int r = mdns_sock_send_to(sock, src, o.data.data, o.data.len);
			if (r < 0)
				log_debug("mDNS on %s: unicast answer not sent: %s", ifc->name,
				          strerror(-r));
		}
		buf_free(&o.data);
	}
	struct mdns_event ev;
	while (mdns_next_event(ifc->m, &ev) == 1) {
		handle_event(ifc, &ev);
		mdns_event_free(&ev);
	}
	rearm(ifc);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mdns_iface *ifc = arg;
	if (mdns_handle_timeout(ifc->m, mono_ms()) < 0)
		log_warning("mDNS on %s: out of memory", ifc->name);
	drain(ifc, NULL, NULL);
}

/* ---- receiving ------------------------------------------------------- */

static struct mdns_iface *iface_by_index(struct mdns_svc *svc, unsigned index)
{
	for (size_t i = 0; index && i < svc->n_ifaces; i++)
		if (svc->ifaces[i]->index == index)
			return svc->ifaces[i];
	return NULL;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct mdns_svc *svc = arg;
	const struct mdns_sock *sock = fd == svc->s4.fd ? &svc->s4 : &svc->s6;
	for (int i = 0; i < MDNS_SVC_READ_BATCH; i++) {
		struct mdns_src src;
		int n = mdns_sock_recv(sock, svc->rxbuf, DNS_MAX_MESSAGE, &src);
		if (n == -EAGAIN)
			return;
		if (n == -EMSGSIZE)
			continue; /* over DNS_MAX_MESSAGE: not ours to parse */
		if (n < 0) {
			log_debug("mDNS: receive failed: %s", strerror(-n));
			return;
		}
		/* Only links we run on: the group is joined per interface, but
		 * unicast to port 5353 can come from anywhere. */
		struct mdns_iface *ifc = iface_by_index(svc, src.ifindex);
		if (!ifc)
			continue;
		struct errmsg err = {{0}};
		int r = mdns_handle_packet(ifc->m, svc->rxbuf, (size_t)n, src.port, mono_ms(),
		                           &err);
		if (r == -ENOMEM)
			log_warning("mDNS on %s: out of memory", ifc->name);
		else if (r < 0)
			log_debug("mDNS on %s: ignored a packet: %s", ifc->name, err.text);
		drain(ifc, sock, &src);
	}
}

/* ---- interfaces ------------------------------------------------------ */

static void iface_free(struct mdns_iface *ifc)
{
	struct mdns_svc *svc = ifc->svc;
	if (ifc->joined4)
		(void)mdns_sock_membership(&svc->s4, ifc->index, false);
	if (ifc->joined6)
		(void)mdns_sock_membership(&svc->s6, ifc->index, false);
	if (ifc->timer)
		event_free(ifc->timer);
	mdns_free(ifc->m);
	free(ifc);
}

/* Say goodbye (best effort: the link may be gone), tell observers the
 * peers heard there are gone, and free. */
static void iface_stop(struct mdns_iface *ifc, const char *why)
{
	struct mdns_svc *svc = ifc->svc;
	uint64_t now = mono_ms();
	mdns_pair_stop(ifc->m, now);
	mdns_pair_seek_stop(ifc->m);
	ifc->adv_on = ifc->seek_on = false;
	(void)mdns_set_addrs(ifc->m, NULL, 0, now);
	struct mdns_output o;
	while (mdns_next_output(ifc->m, &o) == 1) {
		if (!o.unicast)
			send_group(ifc, &o.data);
		buf_free(&o.data);
	}
	const struct mdns_cache *c = mdns_cache_of(ifc->m);
	for (size_t i = 0; c && i < c->n; i++) {
		struct mdns_peer_event pe = {
		        .type = MDNS_EV_PEER_EXPIRED, .ifname = ifc->name, .id = &c->entries[i].id};
		notify(svc, &pe);
	}
	if (why)
		log_info("mDNS off on %s: %s", ifc->name, why);
	iface_free(ifc);
}

static int iface_start(struct mdns_svc *svc, const struct netif *nif)
{
	if (svc->n_ifaces == MDNS_SVC_MAX_IFACES) {
		if (!svc->warned_full)
			log_warning("mDNS: not running on %s (and maybe others): already on %d "
			            "interfaces; name the ones to use with --mdns-interface",
			            nif->name, MDNS_SVC_MAX_IFACES);
		svc->warned_full = true;
		return -ENOSPC;
	}
	struct mdns_iface *ifc = calloc(1, sizeof(*ifc));
	if (!ifc)
		return -ENOMEM;
	ifc->svc = svc;
	memcpy(ifc->name, nif->name, sizeof(ifc->name));
	ifc->index = nif->index;
	struct mdns_config mc = {.self = *host_peer_id(svc->host),
	                         .dns_sd = true,
	                         .allow_loopback = svc->allow_loopback};
	int r = crypto_random(mc.name_seed, sizeof(mc.name_seed));
	if (r == 0)
		r = mdns_new(&mc, &ifc->m);
	if (r == 0 && svc->device_name[0])
		(void)mdns_set_device_name(ifc->m, svc->device_name, mono_ms());
	if (r == 0 && !(ifc->timer = evtimer_new(svc->base, timer_cb, ifc)))
		r = -ENOMEM;
	int r4 = -ENOTSUP, r6 = -ENOTSUP;
	if (r == 0) {
		r4 = mdns_sock_membership(&svc->s4, ifc->index, true);
		ifc->joined4 = r4 == 0;
		if (svc->s6.fd >= 0) {
			r6 = mdns_sock_membership(&svc->s6, ifc->index, true);
			ifc->joined6 = r6 == 0;
		}
		if (!ifc->joined4 && !ifc->joined6) {
			log_warning("mDNS: cannot join the mDNS group on %s: %s", nif->name,
			            strerror(-r4));
			r = r4;
		}
	}
	if (r < 0) {
		iface_free(ifc);
		return r;
	}
	svc->ifaces[svc->n_ifaces++] = ifc;
	log_info("mDNS on %s (%s%s)", ifc->name, ifc->joined4 ? "224.0.0.251" : "",
	         ifc->joined6 ? (ifc->joined4 ? ", ff02::fb" : "ff02::fb") : "");
	if (svc->s6.fd >= 0 && !ifc->joined6)
		log_debug("mDNS on %s: IPv4 only: %s", ifc->name, strerror(-r6));
	return 0;
}

/* Announce the host's listen addresses usable on the interface; a change
 * sends goodbyes for the old ones and announces the new ones. */
static void iface_set_addrs(struct mdns_iface *ifc, const struct netif *nif)
{
	struct mdns_svc *svc = ifc->svc;
	const struct multiaddr *la;
	size_t nla = host_listen_addrs(svc->host, &la);
	struct multiaddr *v;
	size_t n;
	if (mdns_iface_addrs(la, nla, nif, svc->allow_loopback, &v, &n) < 0) {
		log_warning("mDNS on %s: out of memory", ifc->name);
		return;
	}
	int r = mdns_set_addrs(ifc->m, v, n, mono_ms());
	if (r == 1) {
		ifc->n_addrs = n;
		log_info("mDNS on %s: announcing %zu address%s", ifc->name, n, n == 1 ? "" : "es");
		for (size_t i = 0; i < n; i++) {
			char text[MULTIADDR_TEXT_MAX];
			if (multiaddr_to_string(&v[i], text, sizeof(text)) >= 0)
				log_debug("mDNS on %s: announcing %s", ifc->name, text);
		}
	} else if (r < 0) {
		log_warning("mDNS on %s: out of memory", ifc->name);
	}
	mdns_addrs_free(v, n);
}

static void note_name(struct mdns_svc *svc, size_t i, enum mdns_name_state st)
{
	if (svc->name_state[i] == st)
		return;
	if (st == NAME_MISSING)
		log_warning("mDNS: interface '%s' (--mdns-interface) does not exist; mDNS starts "
		            "there when it appears",
		            svc->names[i]);
	else if (st == NAME_DOWN)
		log_info("mDNS: interface '%s' is not up, has no carrier or does no multicast; "
		         "mDNS starts there when it can",
		         svc->names[i]);
	svc->name_state[i] = st;
}

static void check_names(struct mdns_svc *svc, const struct netif_list *l)
{
	for (size_t i = 0; i < svc->n_names; i++) {
		const struct netif *nif = netif_find(l, svc->names[i]);
		enum mdns_name_state st = !nif                                   ? NAME_MISSING
		                          : netif_wanted(nif, &svc->names[i], 1) ? NAME_ACTIVE
		                                                                 : NAME_DOWN;
		note_name(svc, i, st);
	}
}

/* Read the interfaces again and bring the engines in line: stop those
 * whose link went, start those whose link came, re-announce addresses. */
static void reconcile(struct mdns_svc *svc)
{
	struct netif_list l;
	struct errmsg err = {{0}};
	if (netif_list_get(&l, &err) < 0) {
		log_warning("mDNS: %s", err.text);
		return;
	}
	check_names(svc, &l);
	for (size_t i = svc->n_ifaces; i-- > 0;) {
		struct mdns_iface *ifc = svc->ifaces[i];
		const struct netif *nif = netif_find(&l, ifc->name);
		if (nif && nif->index == ifc->index && netif_wanted(nif, svc->names, svc->n_names))
			continue;
		memmove(&svc->ifaces[i], &svc->ifaces[i + 1],
		        (svc->n_ifaces - i - 1) * sizeof(svc->ifaces[0]));
		svc->n_ifaces--;
		iface_stop(ifc, nif ? "the interface is down or lost its carrier"
		                    : "the interface went away");
	}
	uint64_t now = mono_ms();
	for (size_t i = 0; i < l.n; i++) {
		const struct netif *nif = &l.v[i];
		if (!netif_wanted(nif, svc->names, svc->n_names))
			continue;
		struct mdns_iface *ifc = iface_by_index(svc, nif->index);
		bool fresh = !ifc;
		if (fresh) {
			if (iface_start(svc, nif) < 0)
				continue;
			ifc = svc->ifaces[svc->n_ifaces - 1];
		}
		iface_set_addrs(ifc, nif);
		if (fresh && mdns_start(ifc->m, now) < 0)
			log_warning("mDNS on %s: out of memory", ifc->name);
		drain(ifc, NULL, NULL);
	}
	netif_list_free(&l);
	if (svc->n_ifaces < MDNS_SVC_MAX_IFACES)
		svc->warned_full = false;
	/* New engines take up the running advertisement and lookup. */
	mdns_svc_apply_pairing(svc);
}

static void watch_cb(void *ctx)
{
	reconcile(ctx);
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reconcile(arg);
}

void mdns_service_refresh(struct mdns_svc *svc)
{
	/* On the loop, never inside a caller's callback. */
	if (svc)
		event_active(svc->refresh_ev, EV_TIMEOUT, 0);
}

/* ---- pairing state onto the engines ---------------------------------- */

static void apply_one(struct mdns_iface *ifc, uint64_t now)
{
	struct mdns_svc *svc = ifc->svc;
	const uint8_t *adv = svc->n_adverts ? svc->adverts[svc->n_adverts - 1].id : NULL;
	const uint8_t *seek = svc->n_lookups ? svc->lookups[svc->n_lookups - 1].id : NULL;
	if (adv && (!ifc->adv_on || memcmp(ifc->adv_id, adv, RENDEZVOUS_ID_LEN) != 0)) {
		if (mdns_pair_advertise(ifc->m, adv, now) == 0) {
			ifc->adv_on = true;
			memcpy(ifc->adv_id, adv, RENDEZVOUS_ID_LEN);
		}
	} else if (!adv && ifc->adv_on) {
		mdns_pair_stop(ifc->m, now);
		ifc->adv_on = false;
	}
	if (seek && (!ifc->seek_on || memcmp(ifc->seek_id, seek, RENDEZVOUS_ID_LEN) != 0)) {
		if (mdns_pair_seek(ifc->m, seek, now) == 0) {
			ifc->seek_on = true;
			memcpy(ifc->seek_id, seek, RENDEZVOUS_ID_LEN);
		}
	} else if (!seek && ifc->seek_on) {
		mdns_pair_seek_stop(ifc->m);
		ifc->seek_on = false;
	}
}

void mdns_svc_apply_pairing(struct mdns_svc *svc)
{
	uint64_t now = mono_ms();
	for (size_t i = 0; i < svc->n_ifaces; i++) {
		apply_one(svc->ifaces[i], now);
		drain(svc->ifaces[i], NULL, NULL);
	}
}

/* ---- the service ----------------------------------------------------- */

static int copy_names(struct mdns_svc *svc, char *const *names, size_t n)
{
	if (n == 0)
		return 0;
	svc->names = calloc(n, sizeof(*svc->names));
	svc->name_state = calloc(n, sizeof(*svc->name_state));
	if (!svc->names || !svc->name_state)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(svc->names[i] = strdup(names[i])))
			return -ENOMEM;
		svc->n_names++;
	}
	return 0;
}

static int open_sockets(struct mdns_svc *svc, bool no_ipv6, struct errmsg *err)
{
	int r = mdns_sock_open(AF_INET, &svc->s4, err);
	if (r < 0)
		return r;
	svc->ev4 = event_new(svc->base, svc->s4.fd, EV_READ | EV_PERSIST, read_cb, svc);
	if (!svc->ev4 || event_add(svc->ev4, NULL) < 0)
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (no_ipv6)
		return 0;
	struct errmsg e6 = {{0}};
	if (mdns_sock_open(AF_INET6, &svc->s6, &e6) < 0) {
		/* IPv6 disabled on this machine: IPv4 alone is what js uses. */
		log_debug("mDNS: IPv4 only: %s", e6.text);
		return 0;
	}
	svc->ev6 = event_new(svc->base, svc->s6.fd, EV_READ | EV_PERSIST, read_cb, svc);
	if (!svc->ev6 || event_add(svc->ev6, NULL) < 0)
		return errmsg_set(err, -ENOMEM, "out of memory");
	return 0;
}

int mdns_service_new(const struct mdns_service_config *cfg, struct mdns_svc **ret,
                     struct errmsg *err)
{
	*ret = NULL;
	if (!cfg || !cfg->base || !cfg->host)
		return errmsg_set(err, -EINVAL, "mDNS: missing event loop or host");
	struct mdns_svc *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return errmsg_set(err, -ENOMEM, "out of memory");
	svc->base = cfg->base;
	svc->host = cfg->host;
	svc->dial_found = cfg->dial_found;
	svc->allow_loopback = cfg->allow_loopback;
	svc->s4.fd = svc->s6.fd = -1;
	mdns_svc_backend_init(svc);
	if (cfg->device_name && mdns_device_name_valid(cfg->device_name, strlen(cfg->device_name)))
		memcpy(svc->device_name, cfg->device_name, strlen(cfg->device_name) + 1);
	int r = copy_names(svc, cfg->interfaces, cfg->n_interfaces);
	if (r == 0 && !(svc->rxbuf = malloc(DNS_MAX_MESSAGE)))
		r = -ENOMEM;
	if (r == 0 && !(svc->refresh_ev = event_new(svc->base, -1, 0, refresh_cb, svc)))
		r = -ENOMEM;
	if (r < 0)
		errmsg_set(err, r, "out of memory");
	if (r == 0)
		r = open_sockets(svc, cfg->no_ipv6, err);
	if (r == 0) {
		struct errmsg e = {{0}};
		/* Without it, links that come up later are missed; mDNS on the
		 * ones up now still works. */
		if (netwatch_new(svc->base, 0, watch_cb, svc, &svc->watch, &e) < 0)
			log_warning("mDNS: not watching for interface changes: %s", e.text);
	}
	if (r < 0) {
		mdns_service_free(svc);
		return r;
	}
	reconcile(svc);
	*ret = svc;
	return 0;
}

void mdns_service_free(struct mdns_svc *svc)
{
	if (!svc)
		return;
	/* Observers hear nothing more: the node may be half torn down. */
	svc->n_obs = 0;
	for (size_t i = svc->n_ifaces; i-- > 0;)
		iface_stop(svc->ifaces[i], NULL);
	svc->n_ifaces = 0;
	netwatch_free(svc->watch);
	if (svc->refresh_ev)
		event_free(svc->refresh_ev);
	if (svc->ev4)
		event_free(svc->ev4);
	if (svc->ev6)
		event_free(svc->ev6);
	mdns_sock_close(&svc->s4);
	mdns_sock_close(&svc->s6);
	for (size_t i = 0; i < svc->n_names; i++)
		free(svc->names[i]);
	free(svc->names);
	free(svc->name_state);
	free(svc->rxbuf);
	free(svc);
}

int mdns_service_add_observer(struct mdns_svc *svc, const struct mdns_observer *o)
{
	if (!svc || !o)
		return -EINVAL;
	if (svc->n_obs == MDNS_SVC_MAX_OBSERVERS)
		return -ENOSPC;
	svc->obs[svc->n_obs++] = o;
	return 0;
}

void mdns_service_remove_observer(struct mdns_svc *svc, const struct mdns_observer *o)
{
	for (size_t i = 0; svc && i < svc->n_obs; i++) {
		if (svc->obs[i] != o)
			continue;
		memmove(&svc->obs[i], &svc->obs[i + 1], (svc->n_obs - i - 1) * sizeof(svc->obs[0]));
		svc->n_obs--;
		return;
	}
}

size_t mdns_service_iface_count(const struct mdns_svc *svc)
{
	return svc ? svc->n_ifaces : 0;
}

const char *mdns_service_iface_name(const struct mdns_svc *svc, size_t i)
{
	return svc && i < svc->n_ifaces ? svc->ifaces[i]->name : NULL;
}

bool mdns_service_has_addrs(const struct mdns_svc *svc)
{
	for (size_t i = 0; svc && i < svc->n_ifaces; i++)
		if (svc->ifaces[i]->n_addrs)
			return true;
	return false;
}

const struct rendezvous_backend *mdns_service_backend(struct mdns_svc *svc)
{
	return svc ? &svc->backend : NULL;
}

int mdns_service_set_device_name(struct mdns_svc *svc, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len && !mdns_device_name_valid(name, len))
		return -EINVAL;
	if (len ? strcmp(svc->device_name, name) == 0 : svc->device_name[0] == '\0')
		return 0;
	if (len)
		memcpy(svc->device_name, name, len);
	svc->device_name[len] = '\0';
	uint64_t now = mono_ms();
	for (size_t i = 0; i < svc->n_ifaces; i++) {
		if (mdns_set_device_name(svc->ifaces[i]->m, svc->device_name, now) < 0)
			log_warning("mDNS on %s: out of memory", svc->ifaces[i]->name);
		drain(svc->ifaces[i], NULL, NULL);
	}
	return 0;
}

static void nearby_one(const struct mdns_iface *ifc, const struct mdns_cache_entry *e,
                       void (*cb)(const struct mdns_nearby_peer *p, void *ctx), void *ctx,
                       uint64_t now_ms)
{
	struct mdns_nearby_peer p = {.ifname = ifc->name,
	                             .id = &e->id,
	                             .device_name = e->device_name[0] ? e->device_name : NULL,
	                             .last_seen_ms = e->last_seen_ms};
	for (size_t j = 0; j < e->n_addrs; j++) {
		if (e->addrs[j].expires_ms <= now_ms)
			continue;
		p.addrs[p.n_addrs++] = &e->addrs[j].ma;
		if (e->addrs[j].expires_ms > p.expires_ms)
			p.expires_ms = e->addrs[j].expires_ms;
	}
	if (p.n_addrs)
		cb(&p, ctx);
}

void mdns_service_foreach_peer(const struct mdns_svc *svc,
                               void (*cb)(const struct mdns_nearby_peer *p, void *ctx), void *ctx,
                               uint64_t now_ms)
{
	for (size_t i = 0; svc && i < svc->n_ifaces; i++) {
		const struct mdns_cache *c = mdns_cache_of(svc->ifaces[i]->m);
		for (size_t k = 0; k < c->n; k++)
			nearby_one(svc->ifaces[i], &c->entries[k], cb, ctx, now_ms);
	}
}
