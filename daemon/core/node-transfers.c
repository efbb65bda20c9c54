/* The node's side of the file-transfer service (see node-transfers.h). */
#include "node-transfers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"
#include "log.h"
#include "net/host.h"
#include "node-mdns.h"
#include "node-pairing.h"
#include "node.h"
#include "persist/persist.h"
#include "rpc.h"
#include "transfer/transfers.h"

/* Tests only, with --enable-test-protocols: cap every send at this many
 * bytes per second so a test can act in the middle of a transfer. */
#define TEST_RATE_ENV "SDNETD_TEST_XFER_RATE"

/* Connections a device stopped answering on (keepalive timeout): not
 * used for a retry until persist has the device back, or a re-offer would
 * wait on a connection TCP has not given up yet. */
#define DEAD_CONNS 16

struct dead_conn {
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
	const struct conn *c;
};

struct node_xfer_links {
	struct node *n;
	struct dead_conn dead[DEAD_CONNS];
	size_t dead_next;
	struct persist_observer pobs;
	struct host_observer hobs;
	struct mdns_observer mobs;
	bool p_on, h_on, m_on;
};

static struct transfers *svc_of(struct node *n)
{
	return n->transfers ? n->transfers->svc : NULL;
}

static void emit(void *ctx, const char *kind, json_t *data)
{
	struct node *n = ctx;
	if (n->rpc)
		rpc_server_emit(n->rpc, kind, data);
}

static const struct device *usable(const struct device *d)
{
	return d && d->trust != DEVICE_REVOKED && d->trust != DEVICE_EXPIRED ? d : NULL;
}

static bool is_dead(const struct node_xfer_links *l, const char *device_id, const struct conn *c)
{
	for (size_t i = 0; i < DEAD_CONNS; i++)
		if (l->dead[i].c == c && strcmp(l->dead[i].device_id, device_id) == 0)
			return true;
	return false;
}

static void forget_dead(struct node_xfer_links *l, const char *device_id)
{
	for (size_t i = 0; i < DEAD_CONNS; i++)
		if (strcmp(l->dead[i].device_id, device_id) == 0)
			l->dead[i] = (struct dead_conn){{0}, NULL};
}

/* The switch between persist's authenticated connection and the host's
 * own connection to the device's peer ID. */
static struct conn *conn_of(void *ctx, const char *device_id)
{
	struct node *n = ctx;
	struct conn *c = n->persist ? persist_conn(n->persist, device_id) : NULL;
	const struct device *d = usable(devices_find_id(n->pairing->devices, device_id));
	if (!c && d)
		c = host_find_conn(n->host, &d->info.peer_id);
	if (c && n->transfers && n->transfers->links && is_dead(n->transfers->links, device_id, c))
		return NULL;
	return c;
}

static void kick(void *ctx, const char *device_id)
{
	struct node *n = ctx;
	if (n->persist)
		persist_kick(n->persist, device_id);
}

static void p_up(struct persist *p, const char *device_id, struct conn *c, void *ctx)
{
	struct node_xfer_links *l = ctx;
	forget_dead(l, device_id);
	if (svc_of(l->n))
		transfers_device_up(svc_of(l->n), device_id);
}

static void p_down(struct persist *p, const char *device_id, int err, void *ctx)
{
	struct node_xfer_links *l = ctx;
	struct node *n = l->n;
	/* Only a device that stopped answering: any other session failure
	 * leaves a working connection that transfers may keep using. */
	if (err != -ETIMEDOUT || !svc_of(n))
		return;
	const struct device *d = usable(devices_find_id(n->pairing->devices, device_id));
	const struct conn *c = d ? host_find_conn(n->host, &d->info.peer_id) : NULL;
	if (c) {
		struct dead_conn *slot = &l->dead[l->dead_next++ % DEAD_CONNS];
		snprintf(slot->device_id, sizeof(slot->device_id), "%s", device_id);
		slot->c = c;
	}
	transfers_device_gone(svc_of(n), device_id, "the device stopped answering");
}

static void h_up(struct host *h, struct conn *c, void *ctx)
{
	struct node_xfer_links *l = ctx;
	const struct device *d = usable(devices_find_peer(l->n->pairing->devices, conn_peer(c)));
	if (d && svc_of(l->n))
		transfers_device_up(svc_of(l->n), d->info.device_id);
}

static void h_down(struct host *h, const struct conn_info *ci, int err, void *ctx)
{
}

static void on_peer(const struct mdns_peer_event *ev, void *ctx)
{
	struct node_xfer_links *l = ctx;
	struct transfers *t = svc_of(l->n);
	if (!t)
		return;
	if (ev->type == MDNS_EV_PEER_EXPIRED)
		transfers_peer_gone(t, ev->id);
	else
		transfers_peer_seen(t, ev->id, ev->addrs, ev->n_addrs);
}

static int observe(struct node *n, struct node_xfer_links *l, struct errmsg *err)
{
	l->n = n;
	int r;
	if (n->persist) {
		l->pobs = (struct persist_observer){p_up, p_down, l};
		r = persist_add_observer(n->persist, &l->pobs);
		l->p_on = r == 0;
	} else {
		l->hobs = (struct host_observer){h_up, h_down, l};
		r = host_add_observer(n->host, &l->hobs);
		l->h_on = r == 0;
	}
	if (r == 0 && n->mdns && n->mdns->svc) {
		l->mobs = (struct mdns_observer){on_peer, l};
		/* Without room for us, Spacedrop still works by multiaddr. */
		l->m_on = mdns_service_add_observer(n->mdns->svc, &l->mobs) == 0;
	}
	if (r < 0)
		return errmsg_set(err, r, "cannot observe device connections: %s", strerror(-r));
	return 0;
}

/* Tests only, with --enable-test-protocols: what the sender offers and
 * lies (transfers_config.test_names, test_lie). */
#define TEST_NAMES_ENV "SDNETD_TEST_XFER_NAMES"
#define TEST_LIE_ENV "SDNETD_TEST_XFER_LIE"

static const char *test_env(const struct node *n, const char *name)
{
	const char *v = getenv(name);
	if (!n->cfg.enable_test_protocols || !v || !*v)
		return NULL;
	log_warning("%s is set: file transfers misbehave on purpose (tests only)", name);
	return v;
}

static uint64_t test_rate(const struct node *n)
{
	const char *v = getenv(TEST_RATE_ENV);
	if (!n->cfg.enable_test_protocols || !v || !*v)
		return 0;
	log_warning("%s=%s: file transfers are slowed down (tests only)", TEST_RATE_ENV, v);
	return strtoull(v, NULL, 10);
}

int node_transfers_start(struct node *n, struct errmsg *err)
{
	if (!n->pairing || !n->pairing->devices)
		return 0;
	struct node_transfers *nt = calloc(1, sizeof(*nt));
	if (!nt || !(nt->links = calloc(1, sizeof(*nt->links)))) {
		free(nt);
		return errmsg_set(err, -ENOMEM, "out of memory");
	}
	n->transfers = nt;
	char *recv = NULL;
	if (!n->cfg.receive_dir && asprintf(&recv, "%s/received", n->data_dir) < 0)
		return errmsg_set(err, -ENOMEM, "out of memory");
	const struct config *c = &n->cfg;
	struct transfers_config tc = {
	        .base = n->base,
	        .host = n->host,
	        .devices = n->pairing->devices,
	        .data_dir = n->data_dir,
	        .receive_dir = c->receive_dir ? c->receive_dir : recv,
	        .device_name = n->id.device_name,
	        .auto_accept = config_has(c, CONFIG_AUTO_ACCEPT) ? c->auto_accept : true,
	        .request_timeout_ms = (uint32_t)c->request_timeout_ms,
	        .test_rate_bps = test_rate(n),
	        .test_names = test_env(n, TEST_NAMES_ENV),
	        .test_lie = test_env(n, TEST_LIE_ENV),
	        .links = {conn_of, kick, n},
	        .emit = emit,
	        .ctx = n,
	};
	int r = transfers_new(&tc, &nt->svc, err);
	free(recv);
	return r < 0 ? r : observe(n, nt->links, err);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0);
}

static bool auto_accept_of(const struct config *c)
{
	return config_has(c, CONFIG_AUTO_ACCEPT) ? c->auto_accept : true;
}

static uint64_t timeout_of(const struct config *c)
{
	return c->request_timeout_ms ? c->request_timeout_ms : TRANSFERS_DEFAULT_REQUEST_TIMEOUT_MS;
}

int node_transfers_reload(struct node *n, struct config *next)
{
	struct transfers *svc = svc_of(n);
	if (!svc)
		return 0;
	struct config *cur = &n->cfg;
	bool dir = !same_str(cur->receive_dir, next->receive_dir);
	bool acc = auto_accept_of(cur) != auto_accept_of(next);
	bool tmo = timeout_of(cur) != timeout_of(next);
	char *recv = NULL;
	if (!next->receive_dir && asprintf(&recv, "%s/received", n->data_dir) < 0)
		return 0;
	struct transfers_settings s = {
	        .receive_dir = next->receive_dir ? next->receive_dir : recv,
	        .device_name = n->id.device_name,
	        .auto_accept = auto_accept_of(next),
	        .request_timeout_ms = (uint32_t)next->request_timeout_ms,
	};
	struct errmsg e = {{0}};
	int r = transfers_reconfigure(svc, &s, &e);
	if (r < 0) {
		log_error("reload: %s; keeping the file-transfer settings", e.text);
		free(recv);
		return 0;
	}
	if (dir)
		log_info("reload: receive-dir %s -> %s (transfers under way keep theirs)",
		         cur->receive_dir ? cur->receive_dir : "(default)", s.receive_dir);
	if (acc)
		log_info("reload: auto-accept %s -> %s", auto_accept_of(cur) ? "true" : "false",
		         s.auto_accept ? "true" : "false");
	if (tmo)
		log_info("reload: request-timeout %llu ms -> %llu ms",
		         (unsigned long long)timeout_of(cur), (unsigned long long)timeout_of(next));
	free(recv);
	free(cur->receive_dir);
	cur->receive_dir = next->receive_dir;
	next->receive_dir = NULL;
	cur->auto_accept = next->auto_accept;
	cur->set =
	        (cur->set & ~(1u << CONFIG_AUTO_ACCEPT)) | (next->set & (1u << CONFIG_AUTO_ACCEPT));
	cur->request_timeout_ms = next->request_timeout_ms;
	return dir + acc + tmo;
}

void node_transfers_renamed(struct node *n)
{
	struct transfers *svc = svc_of(n);
	if (!svc)
		return;
	/* NULL receive_dir keeps the running one; the rest is unchanged. */
	struct transfers_settings s = {
	        .device_name = n->id.device_name,
	        .auto_accept = auto_accept_of(&n->cfg),
	        .request_timeout_ms = (uint32_t)n->cfg.request_timeout_ms,
	};
	struct errmsg e = {{0}};
	if (transfers_reconfigure(svc, &s, &e) < 0)
		log_error("rename: Spacedrop requests keep the old sender name: %s", e.text);
}

void node_transfers_free(struct node *n)
{
	struct node_transfers *nt = n->transfers;
	if (!nt)
		return;
	struct node_xfer_links *l = nt->links;
	if (l && l->p_on)
		persist_remove_observer(n->persist, &l->pobs);
	if (l && l->h_on)
		host_remove_observer(n->host, &l->hobs);
	if (l && l->m_on && n->mdns && n->mdns->svc)
		mdns_service_remove_observer(n->mdns->svc, &l->mobs);
	transfers_free(nt->svc);
	free(l);
	free(nt);
	n->transfers = NULL;
}
