/* The node's libp2p side: the host on the configured listen addresses with
 * our identity, ping, identify and the RPC events, plus the echo test
 * protocol when --enable-test-protocols is given; and taking it down in the
 * order that keeps a shutdown mid-transfer clean: pending RPC calls
 * answered, identify stopped, then every connection closed with GoAway
 * and FIN before the listeners go. */
#include "node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* the build's: SDNETD_VERSION */
#include "log.h"
#include "net/echotest.h"
#include "net/host.h"
#include "net/identify-service.h"
#include "net/ping.h"
#include "rpc-net.h"

#define NODE_AGENT "sdnetd/" SDNETD_VERSION
/* At shutdown, how long (for all connections together) we keep draining
 * what peers still send after our GoAway and FIN, so they see an orderly
 * end rather than a reset; the stop stays prompt. */
#define NODE_SHUTDOWN_LINGER_MS 500

/* The limits we run with, written out (zero fields would take the same
 * defaults inside the host); max_conns_per_ip comes from the config
 * (max-connections-per-ip) at start, and net.stats shows the host's. */
static const struct host_limits node_limits = {
        .max_conns = HOST_DEFAULT_MAX_CONNS,
        .max_conns_per_peer = HOST_DEFAULT_MAX_CONNS_PER_PEER,
        .max_conns_per_ip = HOST_DEFAULT_MAX_CONNS_PER_IP,
        .max_handshaking = HOST_DEFAULT_MAX_HANDSHAKING,
        .max_streams_per_conn = HOST_DEFAULT_MAX_STREAMS_PER_CONN,
        .max_buffered_per_conn = HOST_DEFAULT_MAX_BUFFERED_PER_CONN,
        .handshake_timeout_ms = HOST_DEFAULT_HANDSHAKE_TIMEOUT_MS,
        .idle_timeout_ms = HOST_DEFAULT_IDLE_TIMEOUT_MS,
        .ping_interval_ms = HOST_DEFAULT_PING_INTERVAL_MS,
        .write_stall_timeout_ms = HOST_DEFAULT_WRITE_STALL_TIMEOUT_MS,
        .negotiation_timeout_ms = HOST_DEFAULT_NEGOTIATION_TIMEOUT_MS,
};

const struct host_limits *node_net_limits(void)
{
	return &node_limits;
}

/* The configured listen addresses the host can serve (TCP today); the
 * others are logged and left out, so a config written for QUIC still
 * starts. */
static int listen_addrs(const struct node *n, struct multiaddr **ret, size_t *ret_n,
                        struct errmsg *err)
{
	const struct strlist *l = &n->cfg.listen;
	struct multiaddr *v = calloc(l->n ? l->n : 1, sizeof(*v));
	if (!v)
		return errmsg_set(err, -ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct errmsg e = {{0}};
		int r = multiaddr_parse(l->v[i], &v[k], &e);
		if (r < 0) {
			for (size_t j = 0; j < k; j++)
				multiaddr_free(&v[j]);
			free(v);
			return errmsg_set(err, r, "listen address %s: %s", l->v[i], e.text);
		}
		int family;
		const uint8_t *addr;
		uint16_t port;
		if (multiaddr_as_tcp(&v[k], &family, &addr, &port) < 0) {
			log_warning(
			        "listen address %s: only TCP is supported so far; not listening "
			        "there",
			        l->v[i]);
			multiaddr_free(&v[k]);
			continue;
		}
		k++;
	}
	*ret = v;
	*ret_n = k;
	return 0;
}

static int add_protocols(struct node *n, struct errmsg *err)
{
	int r = ping_register(n->host);
	if (r == 0 && n->cfg.enable_test_protocols) {
		r = echotest_register(n->host, NULL);
		if (r == 0)
			log_warning(
			        "test protocols enabled (--enable-test-protocols): the echo "
			        "protocol %s and the test.* RPC methods are served; for tests only",
			        ECHOTEST_PROTOCOL_ID);
	}
	if (r == 0)
		r = identify_service_new(n->host, NODE_AGENT, &n->identify);
	if (r == 0)
		r = rpc_net_events_attach(n);
	if (r < 0)
		return errmsg_set(err, r, "cannot register the libp2p protocols: %s", strerror(-r));
	return 0;
}

/* config_load() adds the default listen address without marking it given,
 * so config_merge() into the node leaves it behind: put it back, so the
 * node (and SIGHUP's comparison) sees the list in effect. */
static int default_listen(struct node *n)
{
	if (n->cfg.listen.n > 0)
		return 0;
	uint32_t set = n->cfg.set;
	int r = config_set(&n->cfg, config_option_find("listen"), CONFIG_DEFAULT_LISTEN, false,
	                   NULL);
	n->cfg.set = set;
	return r;
}

int node_net_start(struct node *n, struct errmsg *err)
{
	struct multiaddr *addrs = NULL;
	size_t n_addrs = 0;
	int r = default_listen(n);
	if (r < 0)
		return errmsg_set(err, r, "out of memory");
	r = listen_addrs(n, &addrs, &n_addrs, err);
	if (r < 0)
		return r;
	struct host_config hc = {
	        .key = &n->id.key,
	        .agent_version = NODE_AGENT,
	        .listen = addrs,
	        .n_listen = n_addrs,
	        .limits = node_limits,
	};
	hc.limits.max_conns_per_ip = config_max_connections_per_ip(&n->cfg);
	r = host_new(n->base, &hc, &n->host, err);
	for (size_t i = 0; i < n_addrs; i++)
		multiaddr_free(&addrs[i]);
	free(addrs);
	if (r < 0)
		return r;
	r = add_protocols(n, err);
	if (r < 0)
		return r;
	const struct multiaddr *la;
	size_t nla = host_listen_addrs(n->host, &la);
	for (size_t i = 0; i < nla; i++) {
		char text[MULTIADDR_TEXT_MAX];
		if (multiaddr_to_string(&la[i], text, sizeof(text)) >= 0)
			log_info("listening on %s/p2p/%s", text, n->id.peer_id);
	}
	return 0;
}

void node_net_changed(struct node *n)
{
	if (n->identify)
		identify_service_push_all(n->identify);
}

/* The lifetime totals once everything is closed: equal counts mean no
 * connection or stream leaked (the integration suite checks this line). */
static void log_totals(const struct host *h)
{
	struct host_stats st;
	host_get_stats(h, &st);
	log_info("connections: %" PRIu64 " opened, %" PRIu64 " closed; streams: %" PRIu64
	         " opened, %" PRIu64 " closed",
	         st.conns_opened, st.conns_closed, st.streams_opened, st.streams_closed);
}

void node_net_free(struct node *n)
{
	rpc_net_cancel_all(n);
	if (n->host)
		rpc_net_events_detach(n);
	identify_service_free(n->identify);
	n->identify = NULL;
	if (n->host) {
		host_shutdown(n->host, NODE_SHUTDOWN_LINGER_MS);
		log_totals(n->host);
	}
	host_free(n->host);
	n->host = NULL;
}
