/* Inside the pairing service: sessions, the streams that carry their
 * exchanges, and the helpers the service's files share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "devices/devices.h"
#include "net/host.h"
#include "pairing-service.h"
#include "pairing.h"

struct psession;
struct pdial;

/* A reason shown in events and errors. */
#define PSVC_REASON_MAX 512

/* Addresses of one discovered candidate that a joiner tries, in order. */
#define PAIRING_SVC_MAX_DIAL_ADDRS 4

/* One pairing stream: an exchange of a session, or (inbound, before its
 * first message) not yet routed to one. */
struct pstream {
	struct pairing_service *svc;
	struct psession *sess; /* NULL while unrouted */
	struct pstream *next;  /* svc->unrouted or sess->streams */
	struct stream *s;      /* NULL once closed */
	struct pairing_exchange *x;
	uint64_t created_ms;
	uint64_t deadline_ms;  /* unrouted: route by; initiator: confirm by */
	bool awaiting_confirm; /* initiator: Result{ok} queued, waiting for EOF */
	bool finished;         /* closed or detached; free at the next settle */
};

struct psession {
	struct pairing_service *svc;
	struct psession *next; /* svc->sessions, newest first */
	char id[PAIRING_SESSION_ID_LEN + 1];
	enum pairing_role role;
	struct pairing_session *ps;
	struct pstream *streams;
	uint64_t created_ms, ended_ms;
	uint64_t contact_ms; /* initiator: first stream of the pairing that completed */
	/* What was last reported, to emit only changes. */
	enum pairing_state shown_state;
	char shown_reason[PSVC_REASON_MAX];
	/* The service's own verdict, overriding the machine's: the pairing
	 * is not complete until the device is stored (or it was discarded). */
	bool final;
	enum pairing_state final_state;
	int final_err;
	char final_reason[PSVC_REASON_MAX];
	bool end_reported; /* events and callback for the end were sent */
	bool advertised, looking;
	/* Joiner. */
	pairing_join_cb cb;
	void *cb_ctx;
	bool have_peer;
	char peer_addr[MULTIADDR_TEXT_MAX];
	struct peerid tried[PAIRING_SVC_MAX_CANDIDATES];
	unsigned n_tried;
	unsigned dials; /* host_dial / host_open_stream calls not yet called back */
	bool hold_pending;
	uint64_t hold_until_ms;
	char device_id[PAIRING_DEVICE_ID_LEN + 1]; /* once stored */
};

struct pairing_service {
	struct pairing_service_config cfg;
	struct psession *sessions;
	struct pstream *unrouted;
	unsigned n_unrouted;
	struct pdial *dials; /* host_dial / open calls in flight */
	struct event *timer;
	struct host_observer observer;
	pairing_device_hook device_hook; /* pairing_service_set_device_hook() */
	void *device_hook_ctx;
	bool settling, resettle;
	bool freeing;
};

uint64_t psvc_now(void);
/* Bring everything up to date: pump streams, store completed pairings,
 * emit events, end joins, prune, re-arm the timer. Safe to call from any
 * callback (re-entrant calls are folded into one more pass). */
void psvc_settle(struct pairing_service *svc);

/* pairing-stream.c */
void pstream_on_inbound(struct stream *s, void *ctx);
/* Attach an outbound stream to a joiner session (new exchange). */
int pstream_attach_outbound(struct psession *ps, struct stream *s);
/* Write pending output; close or detach finished streams. */
void pstream_pump(struct pstream *st);
/* Let go of the stream: reset it (or FIN when reset is false) and stop
 * hearing from it. */
void pstream_detach(struct pstream *st, bool reset);
void pstream_free(struct pstream *st);
/* Route unrouted streams whose first message arrived; time out the rest. */
void pstream_route_pending(struct pairing_service *svc);

/* pairing-dial.c (joiner) */
int pdial_start(struct psession *ps, struct errmsg *err);
void pdial_stop(struct psession *ps);
/* The service is going: in-flight callbacks will find nothing. */
void pdial_orphan_all(struct pairing_service *svc);

/* pairing-store.c */
/* The joiner's or initiator's store step for a completed exchange. */
int pstore_result(struct psession *ps, struct pstream *st, struct errmsg *err);
json_t *pstore_device_json(struct pairing_service *svc, const struct device *d);
void pstore_observe(struct pairing_service *svc);

/* pairing-service.c */
void psession_finish(struct psession *ps, enum pairing_state st, int err, const char *reason);
enum pairing_state psession_state(const struct psession *ps, const char **ret_reason);
const char *psession_state_word(enum pairing_state st);
