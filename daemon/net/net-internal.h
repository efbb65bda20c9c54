/* Internals shared by the files of daemon/net that implement host.h and
 * stream.h: the host, one connection's upgrade and session, streams, the
 * connection manager and dials. Nothing outside daemon/net includes this.
 *
 * Ownership: the host owns its connections (host->conns), a connection owns
 * its streams (conn->streams). A dead connection (socket gone) stays
 * allocated until its last stream is freed, its observers were told, and no
 * dial result still points at it; then it is reaped from its deferred event.
 * Every user callback (stream callbacks, dial and open-stream completions,
 * observers) runs from a deferred libevent event, never from inside an API
 * call or from the middle of processing socket input. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "clock.h"
#include "errmsg.h"
#include "host.h"
#include "mss.h"
#include "noise.h"
#include "tcp.h"
#include "yamux.h"

/* Decrypted bytes a connection holds before it decrypts more: one Noise
 * frame's worth, so a muxer that stops taking input stops decryption too and
 * the rest waits in the socket buffer (see conn-upgrade.c). */
#define CONN_PT_LOW_WATER ((size_t)NOISE_MAX_PLAINTEXT)
/* Ciphertext decrypted per step (several frames). */
#define CONN_DECRYPT_CHUNK ((size_t)128 * 1024)
/* Muxer output encrypted per step. */
#define CONN_ENCRYPT_CHUNK ((size_t)16 * NOISE_MAX_PLAINTEXT)

enum conn_state {
	CONN_CONNECTING, /* outbound TCP connect in progress */
	CONN_SECURITY,   /* multistream-select for /noise on the raw socket */
	CONN_HANDSHAKE,  /* Noise XX */
	CONN_MUXER,      /* multistream-select for /yamux/1.0.0 inside Noise */
	CONN_OPEN,       /* yamux session running */
	CONN_DEAD,       /* socket gone; reaped once nothing refers to it */
};

/* Work a connection's deferred event does, in this order. */
enum {
	CONN_DEFER_FLUSH = 1u << 0, /* move muxer output to the socket, resume input */
	CONN_DEFER_UP = 1u << 1,    /* observers: on_connected */
	CONN_DEFER_DOWN = 1u << 2,  /* observers: on_disconnected */
	CONN_DEFER_REAP = 1u << 3,  /* free if dead and unreferenced */
};

struct conn_slot {
	void *data;
	void (*free_fn)(void *);
};

struct stream;
struct dial_req;
struct peer_rec;

struct conn {
	struct host *h;
	struct conn *prev, *next; /* host->conns */
	struct peer_rec *rec;     /* set while established */
	enum conn_state state;
	enum conn_direction dir;
	bool draining;      /* GoAway sent or received: no new streams */
	bool notified_up;   /* observers got on_connected */
	bool processing;    /* conn_process() is on the stack */
	bool reprocess;     /* ... and must run once more */
	bool in_events;     /* conn_drain_events() is on the stack */
	bool remote_goaway; /* the peer sent GoAway(0) */
	bool hs_timed_out;
	unsigned defer_flags;
	struct event *defer;
	struct event *hs_timer, *ping_timer, *idle_timer;
	uint32_t hs_timeout_ms;

	struct tcp_sock *sock;
	struct mss *mss;
	struct noise *noise;
	struct yamux_session *ymx;
	/* Decrypted bytes not yet fed to mss / yamux. */
	struct buf pt;
	size_t pt_off;

	struct peerid peer; /* authenticated (valid from CONN_MUXER on) */
	bool has_expected;
	struct peerid expected;
	struct sockaddr_storage remote_sa;
	struct multiaddr local_ma, remote_ma;
	uint64_t opened_ms;
	uint64_t rtt_ms;

	struct stream *streams;
	unsigned n_streams;
	unsigned refs; /* dial results not yet delivered */
	struct dial_req *waiters;
	struct conn_slot slots[CONN_SLOT_MAX];

	int close_err;
	char close_reason[ERRMSG_MAX];
	struct conn_info final_info; /* snapshot at death, for on_disconnected */
};

/* Ceiling on max_conns_per_peer (records hold a fixed array). */
#define CONNMGR_PER_PEER_CEILING 16

/* One record per peer with established connections (connmgr.c). */
struct peer_rec {
	struct peer_rec *next;
	struct peerid id;
	struct conn *conns[CONNMGR_PER_PEER_CEILING];
	unsigned n;
};

struct host {
	struct event_base *base;
	struct privkey key;
	struct peerid id;
	char *agent;
	struct host_limits lim;
	struct protocols *protos;
	struct tcp_set *tcp;
	struct tcp_listener **listeners;
	struct multiaddr *addrs; /* resolved listen addresses */
	size_t n_listeners;
	struct host_observer *obs;
	size_t n_obs;
	struct conn *conns;
	struct peer_rec *peers;
	struct dial_req *dials;
	struct host_stats st;
	bool freeing;   /* host_shutdown() runs or ran: no new work */
	bool shut_down; /* host_shutdown() ran */
};

/* ---- streams (stream.c, stream-negotiate.c, stream-yamux.c) ---- */

enum stream_state {
	STREAM_NEGOTIATING, /* multistream-select running on it */
	STREAM_OPEN,        /* handed to a handler / opener */
	STREAM_ABANDONED,   /* owned by nobody; freed once the muxer lets go */
};

enum {
	STREAM_PEND_DATA = 1u << 0,
	STREAM_PEND_WRITABLE = 1u << 1,
	STREAM_PEND_EOF = 1u << 2,
	STREAM_PEND_CLOSED = 1u << 3,
};

struct stream {
	struct conn *conn;
	struct stream *prev, *next; /* conn->streams */
	const struct stream_ops *ops;
	void *impl;
	uint32_t mux_id; /* yamux stream ID */
	bool outbound;
	enum stream_state state;
	char *protocol;
	/* While negotiating; and on an optimistic (lazy) outbound stream also
	 * after the hand-over, until the peer's echo arrived. */
	struct mss *mss;
	bool lazy;            /* opened with host_open_stream_lazy() */
	int neg_err;          /* a lazy negotiation failed: on_closed gets it */
	bool counted_inbound; /* holds one of its protocol's per-peer slots */
	host_stream_cb open_cb;
	void *open_ctx;
	struct stream_callbacks cb;
	void *cb_ctx;
	bool has_cb;
	unsigned pending;
	bool mux_gone;     /* the muxer released it: peek shows nothing more */
	bool write_closed; /* we sent FIN */
	bool peer_eof;     /* peer sent FIN */
	bool eof_delivered;
	bool reset_local; /* stream_reset() was called */
	int close_err;
	struct event *defer;
	struct event *neg_timer; /* while negotiating */
};

/* Allocate and link a stream to c (counts it); NULL on ENOMEM. */
struct stream *stream_new(struct conn *c, const struct stream_ops *ops, void *impl, bool outbound);
/* The muxer reports: data / writable / EOF; closed (err 0 orderly). */
void stream_notify(struct stream *s, unsigned what);
void stream_notify_closed(struct stream *s, int err);
/* Host shutdown: deliver on_closed (or the open callback) now and free. */
void stream_destroy_now(struct stream *s, int err);
/* Deliver pending callbacks from the loop. */
void stream_schedule(struct stream *s);

/* Start multistream-select on a new stream: inbound as listener over the
 * registry's IDs, outbound as initiator for protocol (lazy: optimistic, the
 * opener gets the stream as soon as the proposal is written). */
int stream_negotiate_start(struct stream *s, const char *protocol, bool lazy);
/* Feed what arrived; on completion hand the stream over. */
void stream_negotiate_step(struct stream *s);
/* True while an optimistic stream, already handed over, still waits for
 * the peer's echo. */
bool stream_lazy_pending(const struct stream *s);
/* Such a stream got data or EOF: strip the peer's negotiation messages
 * before the owner sees anything; an "na" (or EOF first) resets it. */
void stream_lazy_input(struct stream *s);
/* The stream's protocol slot for its peer (max_inbound_per_peer). */
unsigned stream_count_inbound(struct host *h, const struct peerid *peer, const char *protocol);

extern const struct stream_ops stream_yamux_ops;
/* Route one yamux stream event of c's session. */
void stream_yamux_event(struct conn *c, const struct yamux_event *ev);
/* Open an outbound yamux stream on c. */
int stream_yamux_open(struct conn *c, struct stream **ret);

/* ---- connections (conn.c, conn-upgrade.c) ---- */

int conn_accept(struct host *h, int fd, const struct sockaddr_storage *remote);
int conn_dial(struct host *h, const struct multiaddr *ma, const struct peerid *expected,
              uint32_t timeout_ms, struct conn **ret, struct errmsg *err);
/* The socket is connected: start multistream-select for security. */
int conn_upgrade_start(struct conn *c);
/* Take what the socket holds through the layers (conn-upgrade.c). */
void conn_process(struct conn *c);
/* Move pending output of the current layer to the socket. */
void conn_flush(struct conn *c);
/* Seal p into Noise frames queued on the socket; 0 or a negative errno. */
int conn_send_encrypted(struct conn *c, const uint8_t *p, size_t len);
/* The Noise handshake is done and the muxer agreed (conn-upgrade.c). */
void conn_established(struct conn *c);
void conn_enter_state(struct conn *c, enum conn_state s, const char *why);
/* Route the session's pending events (not re-entrant: a nested call
 * returns at once and the outer loop takes the rest). */
void conn_drain_events(struct conn *c);
/* After any call into c's yamux session: route its events, flush later. */
void conn_after_mux(struct conn *c);
void conn_schedule(struct conn *c, unsigned flags);
/* End the connection now (err < 0) or in order (err 0: GoAway first). */
void conn_fail(struct conn *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void conn_close(struct conn *c, const char *reason);
/* No new streams; close once the open ones finish (duplicate connection). */
void conn_drain(struct conn *c, const char *why);
/* A stream of c was freed. */
void conn_stream_removed(struct conn *c);
void conn_stream_added(struct conn *c);
/* Host shutdown: close and free now. */
void conn_destroy_now(struct conn *c);
void conn_unref(struct conn *c);
const char *conn_state_name(enum conn_state s);

/* ---- connection manager (connmgr.c) ---- */

/* Admission of a new inbound socket / outbound dial: 0, or -EBUSY (counted)
 * with err naming the limit. */
int connmgr_admit_inbound(struct host *h, const struct sockaddr_storage *remote,
                          struct errmsg *err);
int connmgr_admit_dial(struct host *h, struct errmsg *err);
/* c finished its upgrade: enforce the established limits, join its peer's
 * record and resolve duplicates (the loser drains). -EBUSY when c must
 * close (counted), with err saying why. */
int connmgr_attach(struct host *h, struct conn *c, struct errmsg *err);
void connmgr_detach(struct host *h, struct conn *c);
/* The connection new streams to peer should use, or NULL. */
struct conn *connmgr_best(struct host *h, const struct peerid *peer);
/* The simultaneous-dial rule: true when a connection we initiated beats one
 * the peer initiated (our ID sorts first). */
bool connmgr_prefer_ours(const struct peerid *ours, const struct peerid *theirs);

/* ---- dials (dial.c) ---- */

/* c succeeded (err 0) or failed: resolve the dials waiting on it. */
void dial_conn_done(struct conn *c, int err, const char *msg);
/* Host shutdown: every pending dial callback gets -ECANCELED now. */
void dial_cancel_all(struct host *h);
