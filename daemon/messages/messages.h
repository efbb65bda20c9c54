/* DeviceMessage service (issue 6, "Messages"): typed messages between
 * paired devices over /spacedrive/message/1.0.0, with priorities, bounded
 * per-device queues, durable delivery that survives disconnects and
 * restarts of either side, request/response correlation and a registry of
 * handlers. docs/protocols/device-messages.md describes the protocol.
 *
 * Streams. Every stream of the protocol carries length-prefixed
 * DeviceMessages (devmsg.h) in both directions. We keep one long-lived
 * outbound stream per device for everything we originate (pipelined, in
 * queue order); a message that arrives on any stream is answered (Ack,
 * Error, or a handler's immediate reply) on that same stream. Streams are
 * accepted only on connections the link provider recognises as an
 * authenticated paired device (persist_device_of()); others are reset.
 *
 * Durable messages are stored encrypted (msgstore.h) before
 * messages_send() returns, resent after every reconnect in priority order
 * until the receiver's Ack, and deleted then. The receiver handles each
 * once: before it acknowledges, it stores the message in its inbox
 * (inbox/<device>.<n>, one record per batch read) and its id in the
 * device's dedup window, both on disk; then it hands the message to the
 * handler from the inbox. A handler finishes at once (returns 0) or later
 * (returns MESSAGES_LATER, then messages_complete()); until then the
 * message stays in the inbox and is handed again, marked redelivered, to
 * the next handler of its protocol after the handler goes away or the
 * daemon restarts. A receiver that refuses a durable message with an
 * Error (no handler for its protocol, say) ends its delivery: the sender
 * deletes it and reports the failure (on_outcome); passing refusals (no
 * handler yet, inbox full) are deferrals, and the sender sends it again.
 *
 * Everything runs on the daemon's loop. Callbacks never run from inside
 * the messages_* call that caused them. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devmsg.h"
#include "errmsg.h"
#include "msgq.h"

#define MESSAGES_PROTOCOL_ID "/spacedrive/message/1.0.0"

/* Per device: messages queued (durable ones until acknowledged) and their
 * bytes. A sender over either gets -ENOBUFS (RPC: -32002). */
#define MESSAGES_MAX_QUEUE 4096
#define MESSAGES_MAX_QUEUE_BYTES ((size_t)16 << 20)
/* Durable ids remembered per sending device: twice the largest number of
 * unacknowledged messages a peer keeps for us (MESSAGES_MAX_QUEUE), so an
 * id never leaves the window before its last resend. */
#define MESSAGES_DEDUP_WINDOW (2 * MESSAGES_MAX_QUEUE)
/* Durable messages per sending device that are acknowledged but not yet
 * finished by their handler (the receiver's inbox), and their bytes. Over
 * either, new durable messages are deferred (Error QUEUE_FULL) and the
 * sender sends them again later: nothing is lost. The entry bound is the
 * dedup window, so every id in the inbox is also in the window. */
#define MESSAGES_INBOX_MAX MESSAGES_DEDUP_WINDOW
#define MESSAGES_INBOX_MAX_BYTES ((size_t)16 << 20)
/* Requests waiting for a reply, all devices together. */
#define MESSAGES_MAX_OUTSTANDING 16384
#define MESSAGES_DEFAULT_TIMEOUT_MS 30000
#define MESSAGES_MAX_TIMEOUT_MS (10u * 60 * 1000)
/* Registered handlers (Custom protocols and built-in bodies). */
#define MESSAGES_MAX_HANDLERS 256
/* Longest Custom protocol name a handler may register. */
#define MESSAGES_PROTOCOL_NAME_MAX 128
/* Devices the service tracks (paired devices: DEVICES_MAX). */
#define MESSAGES_MAX_DEVICES 256
/* Inbound message streams one peer may hold open (it needs one). */
#define MESSAGES_MAX_INBOUND_PER_PEER 4
/* Output buffered per stream before we stop taking from the queue or
 * reading requests whose answers would add to it. */
#define MESSAGES_STREAM_HIGH_WATER ((size_t)256 << 10)

struct messages;
struct conn;
struct host;
struct securestore;

/* Which devices are reachable: the persist service in the daemon
 * (persist.h), a stub in tests. */
struct messages_links {
	/* The authenticated connection to a device, or NULL. */
	struct conn *(*conn_of)(void *ctx, const char *device_id);
	/* The device a connection belongs to, or NULL: streams refused. */
	const char *(*device_of)(void *ctx, const struct conn *c);
	/* A message waits for a device that is not connected. May be NULL. */
	void (*kick)(void *ctx, const char *device_id);
	/* One frame carried for the device (metrics). May be NULL. */
	void (*count)(void *ctx, const char *device_id, bool outbound, size_t bytes);
	void *ctx;
};

struct messages_config {
	struct event_base *base;
	struct host *host;
	struct securestore *store; /* required: durable queues and dedup windows */
	struct messages_links links;
	/* A durable message left the queue: delivered (err 0), or refused by
	 * the receiver (err -EREMOTEIO, text its Error's message). May be NULL. */
	void (*on_outcome)(void *ctx, const char *device_id, const uint8_t id[DEVMSG_ID_LEN],
	                   int err, const char *text);
	void *ctx;
	/* 0 takes the defaults above. */
	size_t max_queue, max_queue_bytes, dedup_window, max_outstanding;
	size_t inbox_max, inbox_max_bytes;
};

/* Register the protocol on cfg->host and load the durable queues from the
 * store (unreadable records are skipped with a warning and left in place).
 * Errors name what failed. */
int messages_new(const struct messages_config *cfg, struct messages **ret, struct errmsg *err);
/* Unregister the protocol; waiting senders get -ECANCELED (from inside
 * this call), streams are reset, queues freed (durable messages stay on
 * disk). Before host_free(). NULL-safe. */
void messages_free(struct messages *m);

/* The link provider's news: c is the device's authenticated connection
 * (opens the outbound stream and starts sending), or it went away (streams
 * dropped, durable messages put back in line, senders waiting for replies
 * to messages already sent get -ECONNABORTED). */
void messages_device_up(struct messages *m, const char *device_id, struct conn *c);
void messages_device_down(struct messages *m, const char *device_id, int err);

/* ---- handlers ------------------------------------------------------------ */

/* A message for a handler, valid for the duration of the call. */
struct messages_incoming {
	const char *device_id;
	const devmsg_pb *msg;
	bool needs_reply; /* the sender waits (devmsg_expects_reply) */
	bool durable;
	/* Durable only: it was handed to a handler before (which went away
	 * without finishing it, or the daemon restarted), or may have been. */
	bool redelivered;
	void *origin; /* the stream it came on, for messages_respond(); NULL
	                 for a message handed over from the inbox later */
};

/* A durable message's handler returns this to finish it later with
 * messages_complete(): it stays in the inbox until then. */
#define MESSAGES_LATER 1

/* Return 0 once the message is handled, or a negative errno and the sender
 * gets an Error: -ENOENT NO_HANDLER (e.g. the app behind it is gone),
 * -EACCES DENIED, -ENOBUFS QUEUE_FULL, others INTERNAL. A durable message
 * comes from the inbox, already acknowledged: 0 drops it from the inbox,
 * MESSAGES_LATER keeps it there until messages_complete(), -EACCES/-EPERM
 * drop it (the sender gets DENIED when the message is new, else it is
 * logged), other errors keep it for the next handler of its protocol. */
typedef int (*messages_handler_fn)(void *ctx, struct messages *m,
                                   const struct messages_incoming *in);

/* Custom messages of this protocol go to fn. protocol: 1 to
 * MESSAGES_PROTOCOL_NAME_MAX printable ASCII characters. -EINVAL, -EEXIST
 * (someone else has it), -ENOSPC (MESSAGES_MAX_HANDLERS). */
int messages_register(struct messages *m, const char *protocol, messages_handler_fn fn, void *ctx);
/* A built-in body (Ping, Keepalive, SessionRefresh...). Same errors. */
int messages_register_body(struct messages *m, DevmsgPb__DeviceMessage__BodyCase body,
                           messages_handler_fn fn, void *ctx);
/* -ENOENT when not registered. Durable messages the handler did not finish
 * go back in line for the next handler of the protocol. */
int messages_unregister(struct messages *m, const char *protocol);
int messages_unregister_body(struct messages *m, DevmsgPb__DeviceMessage__BodyCase body);
bool messages_has_handler(const struct messages *m, const char *protocol);

/* Answer in->msg from inside its handler, on the stream it came on: reply's
 * body is set by the caller; id, in_reply_to and priority HIGH are set
 * here. 0, -EINVAL (not a valid message), -ENOMEM. */
int messages_respond(struct messages *m, const struct messages_incoming *in, devmsg_pb *reply);

/* The durable message id from a device, handed to a handler that returned
 * MESSAGES_LATER, is done: it leaves the inbox (on disk before this
 * returns; called from inside a handler, once the handler returns) and is
 * never handed over again. -ENOENT (not in the inbox), the store's errors
 * (then it stays). */
int messages_complete(struct messages *m, const char *device_id, const uint8_t id[DEVMSG_ID_LEN],
                      struct errmsg *err);
/* The same without writing: many finish, then one messages_inbox_flush()
 * writes each record they were in once. Until then a restart hands them
 * over again. -ENOENT. */
int messages_complete_later(struct messages *m, const char *device_id,
                            const uint8_t id[DEVMSG_ID_LEN], struct errmsg *err);
/* Write what finished since the last write. The store's first error, with
 * err naming the file (what failed stays finished in memory and is written
 * at the next flush). */
int messages_inbox_flush(struct messages *m, struct errmsg *err);
/* The inbox entry with this id, not yet done: its device and its handler
 * key (the Custom protocol, or "#<body number>"); -ENOENT. The strings
 * live until the entry is done. */
int messages_inbox_find(const struct messages *m, const uint8_t id[DEVMSG_ID_LEN],
                        const char **ret_device_id, const char **ret_key);

/* ---- sending ------------------------------------------------------------- */

struct messages_send_opts {
	enum msgq_prio prio;
	bool durable;        /* stored and acknowledged; cannot wait for a reply */
	bool expect_reply;   /* cb gets the answer (a Custom's expects_reply is set) */
	uint32_t timeout_ms; /* reply wait, and how long an unsent message may
	                        queue (0: MESSAGES_DEFAULT_TIMEOUT_MS); durable
	                        messages wait for the device however long */
};

/* The answer to a request: err 0 and reply (any body answering it), or
 * err -EREMOTEIO and reply the peer's Error, or reply NULL and err
 * -ETIMEDOUT (no answer in time), -ECONNABORTED (the device went away
 * after it was sent; it may or may not have been handled), -ECANCELED
 * (shutdown). text says it for people. reply is borrowed for the call. */
typedef void (*messages_reply_cb)(void *ctx, int err, const devmsg_pb *reply, const char *text);

/* Send msg (body set by the caller; its envelope is filled here) to a
 * device. Returns once the message is queued (and, durable, stored on
 * disk) with its id in ret_id (may be NULL); with expect_reply, cb runs
 * exactly once later. Errors (cb never runs): -EINVAL (bad device id,
 * options or message; err says which), -ENOBUFS (the device's queue is
 * full: err gives the bound), -EBUSY (MESSAGES_MAX_OUTSTANDING requests
 * wait already), -ENOSPC/-EIO (the store could not keep it), -ENOMEM. */
int messages_send(struct messages *m, const char *device_id, devmsg_pb *msg,
                  const struct messages_send_opts *o, messages_reply_cb cb, void *ctx,
                  uint8_t ret_id[DEVMSG_ID_LEN], struct errmsg *err);
/* Stop waiting for a reply (cb will not run; a message still queued is
 * dropped). -ENOENT when unknown or already answered. */
int messages_cancel(struct messages *m, const uint8_t id[DEVMSG_ID_LEN]);

/* Answer a request later, outside its handler: reply (body set) goes out
 * ahead of Normal and Low traffic as a non-durable message answering
 * request_id. Same errors as messages_send. */
int messages_reply(struct messages *m, const char *device_id,
                   const uint8_t request_id[DEVMSG_ID_LEN], devmsg_pb *reply, struct errmsg *err);

/* ---- observation ---------------------------------------------------------- */

struct messages_device_stats {
	bool connected;   /* a connection is known */
	bool stream_open; /* our outbound stream is negotiated */
	size_t queued;    /* in the queue, sent-but-unacknowledged included */
	size_t unsent;    /* waiting to be written */
	size_t queued_bytes;
	size_t durable; /* durable messages not yet acknowledged */
	size_t inbox;   /* durable messages from it not yet finished here */
	uint64_t sent, received, acked, refused, duplicates;
};

/* -ENOENT when the service has never heard of the device. */
int messages_device_stats(const struct messages *m, const char *device_id,
                          struct messages_device_stats *ret);
/* The devices the service tracks, in no particular order; i < count. */
size_t messages_device_count(const struct messages *m);
const char *messages_device_at(const struct messages *m, size_t i);
/* Requests waiting for replies. */
size_t messages_outstanding(const struct messages *m);

/* ---- forgetting a device ------------------------------------------------------ */

/* The device was unpaired: drop everything the service holds for it
 * (streams, queue, waiting senders get -ECANCELED, dedup window, inbox) and
 * delete its queue/, dedup/ and inbox/ records from the store
 * (msgstore_purge_device()). The store's errors, with err naming the file;
 * what could be deleted is. */
int messages_forget_device(struct messages *m, const char *device_id, struct errmsg *err);
