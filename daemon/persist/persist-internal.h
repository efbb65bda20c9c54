/* Inside the persist service: one link per paired device, the sessions
 * (device-auth streams) that authenticate and then keep it alive, the
 * stored keys, counters and history, and the helpers its files share.
 *
 *   persist.c          service, registry sync, observers, public lookups
 *   persist-link.c     per-device state machine: dial, backoff, up, down
 *   persist-session.c  the /spacedrive/device/1.0.0 stream: authentication
 *   persist-control.c  the same stream afterwards: keepalive, RTT, rotation
 *   persist-keys.c     connections/<id>: key epochs, counters, addresses
 *   persist-history.c  history/<id>: the bounded event log
 *   persist-backoff.c  the backoff formula
 *   persist-json.c     what RPC shows */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "devauth.h"
#include "devices/devices.h"
#include "discovery/mdns-service.h"
#include "devmsg.h"
#include "persist.h"

/* An inbound connection from a paired device whose dialer did not start
 * authentication within this long is authenticated from our side. */
#define PERSIST_AUTH_WAIT_MS 1000
/* An authentication from a peer we have no pairing with waits this long
 * for the registry to learn it (the two sides of a pairing store it a
 * moment apart) before it is refused. */
#define PERSIST_UNKNOWN_WAIT_MS 3000
/* The whole authentication exchange, from opening the stream. */
#define PERSIST_AUTH_TIMEOUT_MS 10000
/* After a failed proof, the connection is closed this much later, so the
 * Result saying why reaches the peer first. */
#define PERSIST_CLOSE_GRACE_MS 250
/* Keepalive rounds without any frame from the peer before the connection
 * is declared dead and dropped. */
#define PERSIST_KEEPALIVE_MISSES 3
/* A rotation that has not finished within this long is abandoned (both
 * sides keep whatever epoch they stored; the next one tries again). */
#define PERSIST_REKEY_TIMEOUT_MS 30000
/* History entries kept per device, and the longest reason kept. */
#define PERSIST_HISTORY_MAX 64
#define PERSIST_REASON_MAX 320
/* Addresses that worked, kept per device (newest first). */
#define PERSIST_WORKED_MAX 8
/* Addresses learned from mDNS and identify, kept per device (newest first). */
#define PERSIST_LEARNED_MAX 8
/* Candidate addresses one connection attempt tries, in order. */
#define PERSIST_DIAL_MAX 16
/* Device-stream messages we buffer unsent before dropping the link (a
 * peer that stopped reading). */
#define PERSIST_MAX_PENDING_OUT (64 * 1024)
/* Sessions (streams being authenticated or up) at once, all peers. */
#define PERSIST_MAX_SESSIONS 512
/* Inbound device-auth streams one peer may hold open. */
#define PERSIST_MAX_INBOUND_PER_PEER 2

struct plink;
struct psess;
struct popen;

/* ---- persist-keys.c: connections/<device_id> ------------------------------ */

struct pkeys {
	uint64_t epoch;
	struct pairing_session_keys cur;
	bool has_prev; /* kept until the peer proves it has the new epoch */
	uint64_t prev_epoch;
	struct pairing_session_keys prev;
	int64_t rotated_at; /* unix seconds; paired_at for epoch 0 */
};

struct pcounters {
	uint64_t attempts, successes, failures, reconnects;
	int64_t last_success, last_failure; /* unix seconds, 0: never */
};

struct precord {
	uint8_t pairing_id[PAIRING_HASH_LEN]; /* the pairing these keys belong to */
	struct pkeys keys;
	struct pcounters n;
	char worked[PERSIST_WORKED_MAX][DEVICE_ADDR_MAX];
	size_t n_worked;
};

/* The record for d: connections/<id> when it belongs to d's pairing, else
 * a fresh one at epoch 0 with the pairing's keys. Unreadable records are
 * logged and replaced (the pairing keys still work at epoch 0 only if the
 * peer never rotated: then it must re-pair). */
void precord_load(struct securestore *st, const struct device *d, struct precord *ret);
int precord_save(struct securestore *st, const char *device_id, const struct precord *r,
                 struct errmsg *err);
/* Keys for epoch e, or NULL. */
const struct pairing_session_keys *precord_keys(const struct precord *r, uint64_t e);
void precord_add_worked(struct precord *r, const char *addr);
void precord_wipe(struct precord *r);
/* Codec (pure, fuzzed through tests/unit). */
int precord_encode(const struct precord *r, struct buf *out);
int precord_decode(const uint8_t *data, size_t len, struct precord *ret, struct errmsg *err);

/* ---- persist-history.c: history/<device_id> ------------------------------- */

enum phist_kind {
	PHIST_ATTEMPT,
	PHIST_CONNECTED,
	PHIST_FAILED,
	PHIST_DISCONNECTED,
	PHIST_AUTH_FAILED,
	PHIST_REFUSED,
	PHIST_ROTATED,
};

struct phist_entry {
	int64_t t; /* unix seconds */
	enum phist_kind kind;
	char addr[DEVICE_ADDR_MAX];
	char reason[PERSIST_REASON_MAX];
};

/* A ring of the newest PERSIST_HISTORY_MAX entries (oldest dropped). */
struct phist {
	struct phist_entry v[PERSIST_HISTORY_MAX];
	size_t head, n; /* v[head] is the oldest */
};

const char *phist_kind_name(enum phist_kind k);
void phist_add(struct phist *h, int64_t t, enum phist_kind kind, const char *addr,
               const char *reason);
/* i-th oldest, i < h->n. */
const struct phist_entry *phist_at(const struct phist *h, size_t i);
int phist_encode(const struct phist *h, struct buf *out);
int phist_decode(const uint8_t *data, size_t len, struct phist *ret, struct errmsg *err);
void phist_load(struct securestore *st, const char *device_id, struct phist *ret);
int phist_save(struct securestore *st, const char *device_id, const struct phist *h,
               struct errmsg *err);

/* ---- persist-backoff.c ------------------------------------------------------ */

/* The wait before attempt number `failures` + 1: min(cap, base * 2^(failures
 * - 1)) scaled by a jitter factor in [0.8, 1.2) drawn from rnd (uniform
 * over uint32), never over cap; 0 failures: no wait. */
uint64_t persist_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd);

/* ---- sessions ---------------------------------------------------------------- */

enum psess_state {
	PSESS_OPENING, /* host_open_stream in flight */
	PSESS_HELLO,   /* opener: Hello sent; responder: waiting for Hello */
	PSESS_PROOF,   /* responder: HelloProof sent, waiting for Proof */
	PSESS_RESULT,  /* opener: Proof sent, waiting for Result */
	PSESS_UP,      /* authenticated: DeviceMessage frames */
	PSESS_DEAD,    /* finished; freed at the next settle */
};

enum prekey_phase {
	PREKEY_IDLE,
	PREKEY_PROPOSED, /* proposer: waiting for ACCEPT */
	PREKEY_ACCEPTED, /* accepter: stored new keys, waiting for COMMIT */
};

struct prekey {
	enum prekey_phase phase;
	uint64_t epoch;
	uint8_t eph_priv[X25519_KEY_LEN], eph_pub[X25519_KEY_LEN];
	uint8_t peer_pub[X25519_KEY_LEN];
	uint64_t deadline_ms;
	uint8_t th[DEVAUTH_HASH_LEN];
};

struct psess {
	struct persist *p;
	struct psess *next;
	char device_id[PAIRING_DEVICE_ID_LEN + 1]; /* "" when the peer is not a device */
	struct peerid peer;
	struct conn *c;
	struct stream *s; /* NULL once closed */
	bool opener;
	enum psess_state st;
	uint64_t created_ms, deadline_ms;
	uint8_t nonce_o[DEVAUTH_NONCE_LEN], nonce_r[DEVAUTH_NONCE_LEN];
	uint64_t epoch; /* session epoch */
	struct buf out; /* unsent bytes */
	/* Up: liveness and metrics. */
	uint64_t up_ms, last_rx_ms, next_ping_ms;
	uint64_t ping_sent_us; /* persist_now_us(): RTTs in microseconds */
	uint8_t ping_id[DEVMSG_ID_LEN];
	bool ping_outstanding;
	unsigned missed;
	uint64_t rtt_us;
	uint64_t msgs_in, msgs_out, ctl_bytes_in, ctl_bytes_out;
	struct prekey rk;
	/* devices.verify waiting for this session. */
	persist_verify_cb verify_cb;
	void *verify_ctx;
	struct popen *open_tok; /* host_open_stream in flight */
	bool announced;         /* plink_up ran for it */
	bool reported;          /* its end was handed to the link */
	/* Why it failed (for the link and history). */
	int err;
	char reason[PERSIST_REASON_MAX];
	bool hard_fail; /* close the connection */
};

/* ---- links --------------------------------------------------------------- */

struct pldial; /* host_dial in flight */

struct plink {
	struct persist *p;
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
	char name[PAIRING_NAME_MAX + 1];
	struct peerid peer;
	enum device_trust trust;
	enum persist_link_state state;
	char reason[PERSIST_REASON_MAX]; /* why not connected (last failure) */
	struct psess *sess;              /* authenticated session, when up */
	struct pldial *dial;
	/* Candidates of the current attempt and the one being tried. */
	char cand[PERSIST_DIAL_MAX][DEVICE_ADDR_MAX];
	size_t n_cand, i_cand;
	unsigned failures;     /* consecutive, for the backoff */
	uint64_t retry_ms;     /* BACKOFF: when to try again */
	uint64_t wait_auth_ms; /* inbound conn seen at; 0: none */
	uint64_t close_ms;     /* close the connection then (failed proof); 0: no */
	bool was_up;           /* up before in this run: the next up is a reconnection */
	bool auto_reconnected;
	uint64_t up_since_ms;
	uint64_t rtt_us; /* last keepalive RTT, 0: none yet */
	uint64_t msgs_in, msgs_out, msg_bytes_in, msg_bytes_out;
	char learned[PERSIST_LEARNED_MAX][DEVICE_ADDR_MAX];
	size_t n_learned;
	struct precord rec;
	struct phist hist;
	bool seen; /* registry sync mark */
};

struct persist {
	struct persist_config cfg;
	struct plink **links;
	size_t n_links;
	struct psess *sessions;
	unsigned n_sessions;
	struct pldial *dials;
	struct event *timer;
	struct host_observer hobs;
	struct persist_observer *obs[8];
	size_t n_obs;
	bool settling, resettle, freeing, registry_dirty;
	struct mdns_observer mobs;
	bool mdns_observing;
};

uint64_t persist_now_ms(void);
/* For RTTs: a loopback or LAN round trip is well under a millisecond. */
uint64_t persist_now_us(void);
/* Process everything due, then re-arm the timer. Re-entrant calls fold
 * into one more pass. */
void persist_settle(struct persist *p);
/* Run settle from the loop soon (safe inside any callback). */
void persist_poke(struct persist *p);
struct plink *persist_link(struct persist *p, const char *device_id);
struct plink *persist_link_by_peer(struct persist *p, const struct peerid *peer);
void persist_emit(struct persist *p, const char *kind, json_t *data);
/* Write the link's record and history (failures are logged). */
void persist_save(struct plink *l);
void persist_history(struct plink *l, enum phist_kind kind, const char *addr, const char *reason);
/* A refused connection of a revoked device, recorded at most once a second. */
void persist_refused(struct plink *l, const char *why);

/* persist-link.c */
struct plink *plink_new(struct persist *p, const struct device *d);
void plink_free(struct plink *l);
void plink_enter(struct plink *l, enum persist_link_state st, const char *why);
/* Decide what to do now: dial, start auth on a connection, wait. */
void plink_settle(struct plink *l, uint64_t now);
/* The link's session authenticated / its authenticated session ended. */
void plink_up(struct plink *l, struct psess *s);
void plink_down(struct plink *l, int err, const char *reason);
/* An auth attempt failed (not yet up). */
void plink_auth_failed(struct plink *l, struct psess *s);
/* Discovered (mDNS, identify): reset the backoff and try now. */
void plink_discovered(struct plink *l, const char *addr);
uint64_t plink_deadline(const struct plink *l);
void plink_orphan_dials(struct persist *p);
bool plink_may_dial(const struct plink *l);

/* persist-session.c */
int psess_open(struct persist *p, struct plink *l, struct conn *c);
void psess_on_inbound(struct stream *s, void *ctx);
/* Reset the stream, mark dead (freed at the next settle). */
void psess_close(struct psess *s, int err, const char *reason);
void psess_settle(struct psess *s, uint64_t now);
uint64_t psess_deadline(const struct psess *s);
void psess_free(struct psess *s);
/* Write what is pending; -EPIPE etc. when the stream is gone. */
int psess_flush(struct psess *s);
void psess_fail(struct psess *s, bool hard, int err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* persist-control.c */
void pctl_start(struct psess *s, uint64_t now);
/* One DeviceMessage frame arrived on an up session. */
void pctl_on_frame(struct psess *s, const uint8_t *frame, size_t len, uint64_t now);
void pctl_tick(struct psess *s, uint64_t now);
uint64_t pctl_deadline(const struct psess *s);
/* Append a DeviceMessage to the session's output and flush. */
int pctl_send(struct psess *s, devmsg_pb *m);
