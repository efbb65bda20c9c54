/* Shared by daemon/transfer/ (tx*.c, transfers.c); not for other modules. The objects:
 *
 *   struct transfers  the service: registry of transfers, protocol row,
 *                     worker thread, scheduler, request expiry.
 *   struct tx         one transfer in either role, around a struct xfer.
 *   struct txs        one stream of ours (control, data, or an inbound one
 *                     not yet classified by its first frame).
 *
 * A tx lives until it is finished and has aged out of the list (or the
 * service is freed). Its streams point back at it; when a tx lets go of a
 * stream it detaches it (callbacks to no-ops) before resetting it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "crypto.h"
#include "pairing-msg.h"
#include "transfers.h"
#include "txrec.h"
#include "xfer.h"

struct stream;
struct txsink;
struct txsrc;
struct txworker;
struct txsched;

/* ---- named limits -------------------------------------------------------- */

/* Transfers not yet finished, both directions (each holds two streams and
 * up to one read chunk). */
#define TX_MAX_ACTIVE 64
/* Incoming requests waiting for the user, in all and per peer: an unpaired
 * peer can only ever make us keep this many offers in memory. */
#define TX_MAX_PENDING 16
#define TX_MAX_PENDING_PER_PEER 4
/* Inbound streams of the protocol one peer may hold (2 per transfer). */
#define TX_MAX_INBOUND_PER_PEER 32
/* Finished transfers kept for transfers.list, and for how long. */
#define TX_KEEP_FINISHED 64
#define TX_FINISHED_TTL_MS (10u * 60 * 1000)
/* Control bytes queued for a peer that does not read them. */
#define TX_CTL_OUT_MAX ((size_t)4 << 20)
/* Sender: bytes read from a file per write attempt (the read-ahead bound). */
#define TX_CHUNK ((size_t)256 * 1024)
/* Receiver checkpoints: after this many bytes or this long since the first
 * byte not yet durable, fsync and write the state record. */
#define TX_CKPT_BYTES ((uint64_t)64 << 20)
#define TX_CKPT_MS 1000
/* transfer.progress events: at most one per transfer per interval (4/s). */
#define TX_PROGRESS_EVENT_MS 250
/* Sender: retry an interrupted transfer after this (doubling) delay. */
#define TX_RETRY_FIRST_MS 1000
#define TX_RETRY_MAX_MS 30000
/* An unanswered offer on the sender's side is given up after the
 * receiver's request timeout plus this margin (the receiver answers
 * "expired" itself; this only covers a silent peer). */
#define TX_ANSWER_MARGIN_MS 15000
/* An incoming transfer nobody resumed for this long is removed at start. */
#define TX_STALE_S (7 * 86400)
/* Names shown with an incoming request. */
#define TX_REQUEST_NAMES 8

/* The states shown over RPC (a finer view than enum xfer_state). */
enum tx_state {
	TX_CONNECTING,   /* sender: no streams yet */
	TX_PREPARING,    /* hashing ahead before a re-offer / preparing files */
	TX_WAITING,      /* sender: offered, waiting for the answer */
	TX_PENDING,      /* receiver: waiting for the user (Spacedrop, Verified) */
	TX_TRANSFERRING, /* data moving */
	TX_VERIFYING,    /* sender: all sent, waiting for Verify; receiver: final sync */
	TX_INTERRUPTED,  /* connection lost: resumes when the peer is back */
	TX_PAUSED,       /* the receiver's disk is full: resumes when it has room */
	TX_COMPLETED,
	TX_FAILED,
	TX_REJECTED,
	TX_EXPIRED,
	TX_CANCELLED,
};

struct tx;
struct transfers;

/* One stream. tx is NULL until an inbound stream's first frame says which
 * transfer it belongs to. */
struct txs {
	LIST_ENTRY(txs) link; /* svc->loose while unclassified */
	struct transfers *svc;
	struct tx *t;
	struct stream *s;
	bool data;    /* a data stream */
	bool loose;   /* on svc->loose */
	bool closing; /* we sent FIN */
};

struct tx {
	TAILQ_ENTRY(tx) link;
	struct transfers *svc;
	struct xfer *x;
	bool sender;
	uint8_t id[XFER_ID_LEN];
	char idhex[2 * XFER_ID_LEN + 1];
	struct peerid peer;
	char peer_text[PEERID_TEXT_MAX];
	char device_id[PAIRING_DEVICE_ID_LEN + 1]; /* "" for an unpaired peer */
	char *peer_name;                           /* device name or Spacedrop sender name */
	bool spacedrop;
	char *message; /* Spacedrop message (sanitised), may be NULL */
	enum tx_state state;
	uint64_t attempt; /* bumps at every new attempt: stale worker results are dropped */
	uint64_t created_wall_ms, ended_wall_ms, ended_mono_ms;
	char error[ERRMSG_MAX];
	/* Streams of the current attempt. */
	struct txs *ctl, *data;
	struct buf ctl_out;
	bool ctl_hold; /* receiver: Verify waits for the final sync */
	/* Sender. */
	struct txsrc *src;
	struct buf dpend; /* header + file bytes read, not yet taken by the stream */
	bool data_opening, ctl_opening;
	bool data_done;         /* every span sent, FIN queued */
	bool hashes_due;        /* a file finished: send Complete after this round */
	bool sched_on;          /* on svc's ready list */
	uint64_t vbytes;        /* fair-share virtual clock: bytes written, see txsched.c */
	uint64_t last_write_ms; /* the scheduler's: when it last wrote data */
	TAILQ_ENTRY(tx) sched_link;
	bool sd_answered; /* Spacedrop: the receiver accepted once (re-offers skip the request) */
	struct multiaddr *addrs; /* unpaired Spacedrop target: where to dial */
	size_t n_addrs;
	bool dialing;
	size_t dial_next;
	unsigned dial_failures;
	bool restarted; /* loaded from a sender record: hash every file ahead */
	uint32_t retry_ms;
	struct event *timer;     /* sender: retry / answer timeout; receiver: expiry */
	bool hashing;            /* a hash-ahead job runs */
	uint64_t rate_tokens_ts; /* test rate cap */
	double rate_tokens;
	/* Receiver. */
	struct txsink *sink;
	char *dest;   /* where files land */
	bool pending; /* waiting for the user */
	uint64_t expires_mono_ms;
	char **names; /* first TX_REQUEST_NAMES offered names (for the request) */
	size_t n_names;
	uint64_t sd_total_bytes;
	uint32_t sd_file_count;
	bool ckpt_running;
	bool ckpt_again;
	uint64_t ckpt_first_ms; /* when the oldest non-durable byte came */
	uint64_t unsynced;      /* bytes written since the last checkpoint began */
	bool finishing;         /* final sync running */
	bool resumed_from_record;
	/* Progress events. */
	uint64_t last_progress_ms;
	uint64_t bytes_attempt; /* payload bytes moved in this attempt */
	uint64_t bytes_moved;   /* payload bytes moved by this process, all attempts */
	uint64_t bytes_resumed_total;
	unsigned attempts;
};

TAILQ_HEAD(tx_list, tx);
LIST_HEAD(txs_list, txs);

struct tx_peer_cache;
struct txdone;
struct txopen;
LIST_HEAD(txopen_list, txopen);

struct transfers {
	struct transfers_config cfg;
	char *data_dir, *receive_dir, *device_name;
	struct tx_list txs;
	struct tx_list ready;     /* senders with data to write, fewest vbytes first */
	uint64_t vnow;            /* vbytes of the transfer served last */
	struct event *recheck_ev; /* txsched.c */
	struct txs_list loose;
	struct txopen_list opens; /* streams being opened, dials running */
	struct txworker *worker;
	struct event *sched_ev;
	struct event *tick_ev;       /* 1 s: checkpoints, progress, expiry, aging */
	struct tx_peer_cache *peers; /* mDNS-found peers */
	struct txdone *done;         /* completed incoming transfers (txdone.h) */
	struct transfers_stats stats;
	bool freeing;
	bool registered;
};

/* ---- transfers.c: registry, states, events -------------------------------- */

uint64_t tx_now_ms(void);  /* monotonic */
uint64_t tx_wall_ms(void); /* unix ms */
struct tx *tx_new(struct transfers *svc, bool sender, const uint8_t id[XFER_ID_LEN],
                  const struct peerid *peer);
void tx_free(struct tx *t);
struct tx *tx_find(struct transfers *svc, const uint8_t id[XFER_ID_LEN]);
/* By hex id or unique prefix (>= 4 digits). -ENOENT / -ENOTUNIQ with err. */
int tx_lookup(struct transfers *svc, const char *id, struct tx **ret, struct errmsg *err);
size_t tx_count_active(const struct transfers *svc);
bool tx_state_final(enum tx_state s);
const char *tx_state_name(enum tx_state s);
/* Change state: logs old -> new (why) at debug, emits transfer.state, and
 * for a final state stamps the end and lets go of streams and files. */
void tx_set_state(struct tx *t, enum tx_state s, const char *why);
/* transfer.progress now if the last one is older than the interval (or
 * force). */
void tx_progress_event(struct tx *t, bool force);
json_t *tx_json(struct tx *t);
void tx_emit(struct transfers *svc, const char *kind, json_t *data);
/* Record an error text for the user (also logged at info). */
void tx_error(struct tx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tx_arm_timer(struct tx *t, uint64_t ms);
void tx_disarm_timer(struct tx *t);
/* Random bytes for xfer ids (xfer_config.rand). */
void tx_rand(uint8_t *out, size_t len, void *ctx);
/* Strip control characters and cut to max bytes (a peer's text shown to
 * people). malloc'd. */
char *tx_clean_text(const char *s, size_t max);

/* ---- txwire.c: streams ------------------------------------------------------- */

extern const struct stream_callbacks txwire_callbacks;
/* The protocol's inbound streams (protocol row). */
void txwire_on_stream(struct stream *s, void *ctx);
struct txs *txwire_attach(struct transfers *svc, struct tx *t, struct stream *s, bool data);
/* Detach and reset (or FIN when graceful) a stream; NULL-safe. */
void txwire_drop(struct txs *ts, bool graceful);
/* Drop both streams of t's attempt. */
void txwire_drop_all(struct tx *t, bool graceful);
/* Write what is queued in t->ctl_out (unless held). -EPIPE when gone. */
int txwire_flush_ctl(struct tx *t);
/* Encode m's body for t into ctl_out (spacedrop bodies). */
int txwire_queue_msg(struct tx *t, devmsg_pb *m);
/* A decoded control frame for t (after the stream was classified). */
void txwire_control_frame(struct tx *t, const devmsg_pb *m);
/* Open t's control or data stream on c (the callback attaches it). */
int txwire_open(struct tx *t, struct conn *c, bool data);
/* Dial an unpaired Spacedrop target; txsend_connect runs again after. */
int txwire_dial(struct tx *t, const struct multiaddr *ma);
void txwire_free_loose(struct transfers *svc);
/* An inbound stream classified as t's control stream. */
void txwire_adopt(struct txs *ts, struct tx *t);
/* Answer an inbound stream that belongs to no usable transfer with a
 * Cancel for id, then close it. */
void txwire_refuse(struct txs *ts, const uint8_t id[XFER_ID_LEN], const char *text, bool resumable);
/* At shutdown: callbacks still to come must not touch the service. */
void txwire_orphan_opens(struct transfers *svc);

/* ---- txsend.c: the sender ------------------------------------------------------- */

/* Create and start a transfer from scanned paths. */
int txsend_start(struct transfers *svc, struct tx *t, const char *const *paths, size_t n,
                 struct errmsg *err);
/* Try to (re)connect and offer now. */
void txsend_connect(struct tx *t);
void txsend_on_event(struct tx *t, int ev);
/* The data stream may take more: write up to quantum bytes; returns bytes
 * written; *more when it could write more right away. */
size_t txsend_pump(struct tx *t, size_t quantum, bool *more);
void txsend_interrupted(struct tx *t, const char *why);
void txsend_timer(struct tx *t);
/* Spacedrop answer from the receiver. */
void txsend_spacedrop_answer(struct tx *t, bool accepted, const char *text);
void txsend_free(struct tx *t);
/* The user cancelled: forget the sender record. */
void txsend_cancelled(struct tx *t);
/* Start-up: resume the transfers whose sender records are on disk. */
void txsend_load_all(struct transfers *svc);
/* The stream callbacks of txwire. */
void txsend_ctl_opened(struct tx *t);
void txsend_data_opened(struct tx *t);
void txsend_open_failed(struct tx *t, bool data, int err, const char *msg);
void txsend_dialed(struct tx *t, int err, const char *msg);

/* ---- txrecv.c: the receiver ------------------------------------------------------ */

/* A new control stream's first frame (Offer or SpacedropRequest) from peer
 * (device_id "" when unpaired). Takes ownership of nothing; may reset. */
void txrecv_first_frame(struct transfers *svc, struct txs *ts, const devmsg_pb *m,
                        const char *device_id);
void txrecv_on_event(struct tx *t, int ev);
/* Data-stream bytes (first frame included); returns bytes consumed, or
 * <0 after the transfer failed or paused. */
long txrecv_data(struct tx *t, const uint8_t *p, size_t len);
void txrecv_spacedrop_request(struct tx *t, const devmsg_pb *m);
int txrecv_accept(struct tx *t, const char *dir, struct errmsg *err);
int txrecv_reject(struct tx *t, bool expired, struct errmsg *err);
void txrecv_interrupted(struct tx *t, const char *why);
/* Remove partial files and records (cancel, failure, protocol error). */
void txrecv_cleanup(struct tx *t);
void txrecv_tick(struct tx *t, uint64_t now);
void txrecv_free(struct tx *t);
/* Start-up: remove partial transfers whose index is older than
 * TX_STALE_S (their sender never came back). */
void txrecv_forget_stale(struct transfers *svc);

/* ---- txpeers.c: peers found over mDNS (Spacedrop targets) ------------------------ */

/* The addresses last announced by peer (borrowed until the next change),
 * or 0 when none are known. */
size_t txpeers_get(struct transfers *svc, const struct peerid *id, const struct multiaddr **ret);
void txpeers_free(struct transfers *svc);
/* Fair-share quantum per turn and bytes written per loop turn. */
#define TX_QUANTUM ((size_t)256 * 1024)
#define TX_TURN_BUDGET ((size_t)8 << 20)
/* How far one transfer may run ahead of another on the same connection,
 * and how long one that writes nothing still counts (txsched.c). */
#define TX_FAIR_LEAD ((uint64_t)4 << 20)
#define TX_FAIR_STALL_MS 200

/* ---- txsched.c: fair sharing among senders ----------------------------------------- */

void txsched_ready(struct tx *t);
/* A data stream opened: ready, with the clock caught up. */
void txsched_join(struct tx *t);
void txsched_remove(struct tx *t);
void txsched_run(evutil_socket_t fd, short what, void *ctx);
