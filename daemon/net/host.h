/* The libp2p host: our identity, the transports, the connection manager and
 * the protocol registry, on one libevent loop.
 *
 * It listens on the configured multiaddrs, dials peers, upgrades every raw
 * connection (multistream-select -> Noise -> Yamux, the muxer possibly
 * negotiated inside Noise), keeps one record per peer, enforces the named
 * limits, and turns inbound streams into handler calls via the registry.
 * Everything above it (identify, ping, pairing, RPC methods) uses this API. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"
#include "keys.h"
#include "multiaddr.h"
#include "peerid.h"
#include "protocols.h"
#include "stream.h"

struct host;
struct conn;

/* Named limits (docs/architecture.md explains each figure). Zero fields take
 * the defaults below. */
struct host_limits {
	unsigned max_conns;              /* established, all peers */
	unsigned max_conns_per_peer;     /* established, one peer */
	unsigned max_conns_per_ip;       /* inbound, one remote IP */
	unsigned max_handshaking;        /* not yet upgraded, all peers */
	unsigned max_streams_per_conn;   /* open streams, either direction */
	size_t max_buffered_per_conn;    /* bytes queued for a slow socket */
	uint32_t handshake_timeout_ms;   /* TCP connect + upgrade */
	uint32_t idle_timeout_ms;        /* no streams and no traffic */
	uint32_t ping_interval_ms;       /* yamux keepalive; unanswered by the next one: drop */
	uint32_t write_stall_timeout_ms; /* queued output making no progress: drop */
	uint32_t negotiation_timeout_ms; /* multistream-select on one stream */
};

#define HOST_DEFAULT_MAX_CONNS 256
#define HOST_DEFAULT_MAX_CONNS_PER_PEER 2
#define HOST_DEFAULT_MAX_CONNS_PER_IP 16
#define HOST_DEFAULT_MAX_HANDSHAKING 64
#define HOST_DEFAULT_MAX_STREAMS_PER_CONN 512
#define HOST_DEFAULT_MAX_BUFFERED_PER_CONN ((size_t)8 << 20)
#define HOST_DEFAULT_HANDSHAKE_TIMEOUT_MS 15000
#define HOST_DEFAULT_IDLE_TIMEOUT_MS 120000
#define HOST_DEFAULT_PING_INTERVAL_MS 30000
#define HOST_DEFAULT_WRITE_STALL_TIMEOUT_MS 60000
#define HOST_DEFAULT_NEGOTIATION_TIMEOUT_MS 10000

enum conn_direction { CONN_INBOUND, CONN_OUTBOUND };

/* A snapshot of one connection, for RPC and events. */
struct conn_info {
	struct peerid peer;
	enum conn_direction direction;
	const char *transport; /* "tcp" or "quic" */
	char local_addr[MULTIADDR_TEXT_MAX];
	char remote_addr[MULTIADDR_TEXT_MAX];
	uint64_t opened_ms; /* CLOCK_MONOTONIC ms when the upgrade finished */
	unsigned streams;
	uint64_t bytes_in, bytes_out;
	uint64_t rtt_ms; /* last yamux ping RTT, 0 before the first answer */
};

/* Observers (identify, ping, RPC events, persistent connections). Both run
 * from the loop, never inside a host_* call. on_connected: c finished its
 * upgrade and is the connection in use for its peer (a duplicate that loses
 * the simultaneous-dial rule at once is never announced). on_disconnected
 * follows exactly once for every announced connection; the peer may still be
 * connected through another one (check host_find_conn()). host_free() calls
 * it synchronously for connections still open, so remove an observer before
 * freeing what its ctx points to. */
struct host_observer {
	void (*on_connected)(struct host *h, struct conn *c, void *ctx);
	/* err: 0 for an orderly close (GoAway, idle, drained duplicate,
	 * host_disconnect), else why (-ESHUTDOWN the peer closed the TCP
	 * connection cleanly without a GoAway, -ECONNRESET it was reset,
	 * -ETIMEDOUT ping or send stall, -EPROTO protocol violation, ...). */
	void (*on_disconnected)(struct host *h, const struct conn_info *info, int err, void *ctx);
	void *ctx;
};

struct host_config {
	const struct privkey *key;
	const char *agent_version;      /* "sdnetd/<version>" */
	const struct multiaddr *listen; /* n_listen addresses */
	size_t n_listen;
	struct host_limits limits;
};

/* Listen on every cfg->listen address (IPv4 and IPv6, port 0 picks one)
 * and derive our peer ID from cfg->key (copied). Errors: -EINVAL (missing
 * key or base), -EAFNOSUPPORT (a listen address that is not
 * /ip4|ip6/<addr>/tcp/<port>), -EADDRINUSE and other bind errors, -ENOMEM;
 * err names the address. Zero limits take the HOST_DEFAULT_* values. */
int host_new(struct event_base *base, const struct host_config *cfg, struct host **ret,
             struct errmsg *err);
/* Close every listener and connection: GoAway, then FIN; pending dial and
 * open-stream callbacks get -ECANCELED, open streams' on_closed
 * -ECONNABORTED and observers on_disconnected, all synchronously, before it
 * returns. Then, for at most linger_ms for all connections together, it
 * sends what is still queued and reads and discards what the peers still
 * send until each one's FIN, so a peer in the middle of a transfer sees an
 * orderly end (GoAway, EOF) rather than a reset; whatever is left then is
 * closed as is. This wait blocks (poll(), not the loop): it is for a process
 * that is stopping. linger_ms 0 closes at once. Afterwards only
 * host_get_stats() and host_free() may be called. Idempotent; never call it
 * from one of the callbacks it runs. */
void host_shutdown(struct host *h, uint32_t linger_ms);
/* host_shutdown(h, 0) unless that already ran, then free. NULL-safe. Never
 * call it from one of the callbacks that runs. */
void host_free(struct host *h);

struct event_base *host_base(const struct host *h);
const struct peerid *host_peer_id(const struct host *h);
const struct privkey *host_key(const struct host *h);
struct protocols *host_protocols(struct host *h);
/* cfg->agent_version as copied ("sdnetd" when it was NULL). */
const char *host_agent_version(const struct host *h);
/* The addresses we actually listen on (port 0 resolved), without /p2p. */
size_t host_listen_addrs(const struct host *h, const struct multiaddr **ret);
int host_add_observer(struct host *h, const struct host_observer *o);
void host_remove_observer(struct host *h, const struct host_observer *o);

/* Dial ma (which may end in /p2p/<id>; then the Noise identity must match).
 * Reuses an existing connection to that peer when there is one. cb runs
 * exactly once, later on the loop: conn on success, or NULL and err with a
 * message naming what failed (refused, timed out, peer ID mismatch, limit).
 * timeout_ms 0 takes limits.handshake_timeout_ms; it covers TCP connect and
 * the whole upgrade.
 * err in cb: -ECONNREFUSED and other connect errors, -ETIMEDOUT, -EPERM (the
 * peer proved another ID; msg names both), -EBUSY (a limit; msg names it),
 * -EAFNOSUPPORT (not a TCP multiaddr), -EINVAL (our own ID), -ECONNRESET /
 * -EPROTO / -EBADMSG (the peer broke the upgrade), -ENOPROTOOPT (the peer
 * refused /noise: we send Noise message 1 with the proposal, optimistically,
 * since it is the only one we make), -ECANCELED (host_free).
 * Returns 0, or -EINVAL (NULL ma or cb) / -ENOMEM / -ESHUTDOWN (called from
 * a callback host_free() runs), and then cb never runs.
 * A struct conn * stays valid until on_disconnected has run for it (or, for
 * a connection never announced, until the loop turns after it closed):
 * look it up again with host_find_conn() rather than keeping it. */
typedef void (*host_dial_cb)(struct host *h, struct conn *c, int err, const char *msg, void *ctx);
int host_dial(struct host *h, const struct multiaddr *ma, uint32_t timeout_ms, host_dial_cb cb,
              void *ctx);

/* Open a stream on c and negotiate protocol; cb runs once, later: the stream
 * (its callbacks not yet set: set them in cb) or NULL and err (-ENOPROTOOPT
 * when the peer does not speak it, -ETIMEDOUT when it did not answer within
 * limits.negotiation_timeout_ms, -ECONNRESET when it reset the stream,
 * e.g. over its stream caps, -ECONNABORTED when the connection went,
 * -ECANCELED from host_free). Returns 0, or (cb never runs): -EINVAL (bad
 * protocol ID), -ENOTCONN (c is closed), -ESHUTDOWN (c is draining: use
 * host_find_conn() for the peer's current one), -EMFILE (max_streams_per_conn,
 * counted in refused_limit), -EAGAIN (256 streams not yet acknowledged by
 * the peer), -ENOMEM. */
typedef void (*host_stream_cb)(struct stream *s, int err, void *ctx);
int host_open_stream(struct host *h, struct conn *c, const char *protocol, host_stream_cb cb,
                     void *ctx);
/* The same, optimistically (multistream-select "lazy" mode): cb gets the
 * stream as soon as the header and proposal are written, without waiting
 * for the peer's echo, so the caller's first bytes follow them in the same
 * round trip. The echo is still read (and stripped) before the caller sees
 * any byte. If the peer refuses the protocol the stream is reset and its
 * on_closed gets -ENOPROTOOPT (-EPROTO for a garbled answer, -ECONNRESET
 * for EOF before the echo, -ETIMEDOUT for none within
 * negotiation_timeout_ms). Use it when the peer is known to speak protocol
 * (identify said so), or when an error after the first write costs nothing
 * more than an error before it (ping). cb's own errors and the return
 * values are those of host_open_stream(). */
int host_open_stream_lazy(struct host *h, struct conn *c, const char *protocol, host_stream_cb cb,
                          void *ctx);

/* Connections: the best (newest established) to a peer, or NULL. */
struct conn *host_find_conn(struct host *h, const struct peerid *peer);
/* Snapshot every established connection; caller frees *ret. */
int host_list_conns(struct host *h, struct conn_info **ret, size_t *ret_n);
/* Close all connections to peer (GoAway, then FIN; its streams get
 * -ECONNABORTED), including dials still upgrading towards it. 0, or
 * -ENOTCONN when there were none. */
int host_disconnect(struct host *h, const struct peerid *peer);

void conn_get_info(const struct conn *c, struct conn_info *ret);
const struct peerid *conn_peer(const struct conn *c);
/* Per-connection data slots for modules (identify stores what it learned). */
void conn_set_slot(struct conn *c, unsigned slot, void *data, void (*free_fn)(void *));
void *conn_get_slot(const struct conn *c, unsigned slot);
enum { CONN_SLOT_IDENTIFY, CONN_SLOT_PING, CONN_SLOT_MAX = 8 };

/* Counters of every cap, readable over RPC (net.stats). conns: established
 * (draining ones included); handshaking: accepted or dialed, not yet
 * upgraded; streams: open, negotiating included. refused_handshake:
 * max_handshaking refusals; refused_limit: every other cap (max_conns,
 * per peer, per IP, streams per connection, per-protocol inbound streams).
 * handshake_failures: upgrades that failed (timeouts counted apart).
 * Lifetime totals, for leak checks: conns_opened / conns_closed count every
 * connection object created (accepted or dialed, upgraded or not) and
 * freed, streams_opened / streams_closed every stream (either direction,
 * negotiated or not); opened - closed is what is alive now, and once
 * everything has been closed (after host_shutdown(), or a quiet host with
 * no peers) they are equal. */
struct host_stats {
	unsigned conns, handshaking, streams;
	uint64_t refused_limit, refused_handshake, handshake_failures, handshake_timeouts;
	uint64_t refused_per_ip; /* max_conns_per_ip refusals (also in refused_limit) */
	uint64_t dials, dial_failures, inbound_accepted;
	uint64_t conns_opened, conns_closed, streams_opened, streams_closed;
};
void host_get_stats(const struct host *h, struct host_stats *ret);
/* The limits in effect (the config's, zero fields given their defaults). */
const struct host_limits *host_get_limits(const struct host *h);
/* Sockets the host still holds, lingering closes included (tests). */
size_t host_socket_count(const struct host *h);
