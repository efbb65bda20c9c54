/* Shared by the files of the message service (messages.c, msg-send.c,
 * msg-stream.c, msg-builtin.c, msg-inbox.c); not for other modules. */
#pragma once

#include <sys/queue.h>

#include "buf.h"
#include "messages.h"
#include "net/protocols.h"
#include "msgq.h"
#include "msgstore.h"

struct stream;
struct msg_device;

/* What a durable message waits for, as a handler key: its Custom protocol,
 * or "#<body number>" for a built-in body. */
#define MSG_KEY_MAX (MESSAGES_PROTOCOL_NAME_MAX + 2)

/* ---- the receiver's durable inbox (msg-inbox.c) ---- */

enum msg_in_state {
	MSG_IN_NEW,   /* waiting for a handler */
	MSG_IN_SHOWN, /* handed to a handler that finishes it later */
	MSG_IN_DONE,  /* finished; leaves the record at the next sync */
};

/* One durable message we acknowledged. */
struct msg_inentry {
	uint8_t id[DEVMSG_ID_LEN];
	uint8_t *bytes; /* the packed DeviceMessage */
	size_t len;
	char key[MSG_KEY_MAX];
	enum msg_in_state state;
	bool redelivered; /* handed over before, or loaded after a restart */
	bool fresh;       /* read in the batch being committed: its stream answers */
	bool refused;     /* its handler refused it for good (DENIED) */
};

/* One inbox record: the entries not yet dropped from it on disk. */
struct msg_inrec {
	TAILQ_ENTRY(msg_inrec) link;
	uint64_t seq; /* inbox/<device>.<seq> */
	struct msg_inentry *e;
	size_t n, ndone, bytes; /* bytes: the encoded record's size */
	bool on_disk;
};

TAILQ_HEAD(msg_inrec_list, msg_inrec);

struct msg_inbox {
	struct msg_inrec_list recs;  /* on disk, oldest first */
	struct msg_inrec_list batch; /* staged while a batch is read */
	uint64_t next_seq;
	size_t count, bytes; /* entries not done (staged included), their bytes */
	size_t staged;
	unsigned busy; /* handing over: syncs wait until it is over */
};

/* Handler keys one stream remembers as refused (then all are). */
#define MSG_BLOCKED_MAX 8

/* One stream of the protocol, either direction. */
struct msg_stream {
	struct messages *m;
	struct msg_device *dev;
	struct stream *s;
	struct buf out; /* framed bytes; the stream took out.data[0..out_off) */
	size_t out_off;
	struct event *flush_ev; /* msg_stream_kick() */
	struct buf acks;        /* ids to acknowledge once the dedup window is on disk */
	LIST_ENTRY(msg_stream) link;
	bool outbound;
	/* Durable messages refused for a passing reason (no handler yet) on
	 * this stream, by handler key: later ones with the same key are
	 * refused too, so none is handled ahead of an earlier one. The sender
	 * resends them all on a new stream (msg-send.c, "deferred"). */
	char blocked[MSG_BLOCKED_MAX][MESSAGES_PROTOCOL_NAME_MAX + 2];
	size_t nblocked;
	bool block_all;
	bool broken;   /* a fatal framing error: input is discarded */
	bool peer_eof; /* the peer finished writing */
	bool fin_sent;
};

LIST_HEAD(msg_stream_list, msg_stream);

/* host_open_stream() in flight; outlives the device if it must. */
struct msg_opener {
	struct messages *m;
	struct msg_device *dev; /* NULL: abandoned, reset the stream if it comes */
};

/* A sender waiting for the answer to one request. */
struct msg_waiter {
	TAILQ_ENTRY(msg_waiter) link;
	struct msg_device *dev;
	struct msgq_item *item; /* while it waits unsent in the queue */
	uint8_t id[DEVMSG_ID_LEN];
	messages_reply_cb cb;
	void *ctx;
};

TAILQ_HEAD(msg_waiter_list, msg_waiter);

struct msg_device {
	TAILQ_ENTRY(msg_device) link;
	struct messages *m;
	char id[MSGSTORE_DEVICE_ID_MAX + 1];
	struct conn *conn;      /* the connection we use, NULL while down */
	struct msg_stream *out; /* our outbound stream, once negotiated */
	struct msg_opener *opener;
	struct msg_stream_list streams; /* every open stream, out included */
	struct msgq q;
	struct msgdedup *dedup; /* opened on the first durable message */
	struct msg_inbox inbox;
	struct msg_waiter_list waiters;   /* their message is still queued */
	struct msg_waiter_list answering; /* their message was written */
	struct event *retry;              /* reopen the outbound stream */
	struct event *redeliver;          /* resend what the device deferred */
	uint32_t redeliver_ms;            /* the next deferral's delay */
	uint64_t last_kick_ms;
	unsigned open_failures;
	uint64_t next_seq; /* durable record numbers */
	size_t durable;    /* durable messages queued */
	uint64_t sent, received, acked, refused, duplicates;
};

TAILQ_HEAD(msg_device_list, msg_device);

struct msg_handler {
	char protocol[MESSAGES_PROTOCOL_NAME_MAX + 1]; /* "" for a body handler */
	DevmsgPb__DeviceMessage__BodyCase body;        /* CUSTOM for a protocol */
	messages_handler_fn fn;
	void *ctx;
};

struct messages {
	struct messages_config cfg;
	struct msg_device_list devices;
	size_t ndevices;
	struct msg_handler handlers[MESSAGES_MAX_HANDLERS];
	size_t nhandlers;
	struct devmsg_corr corr;
	struct event *timer;
	uint64_t timer_at;      /* mono ms it is armed for; 0: not armed */
	uint64_t seed;          /* dedup hashing */
	struct event *inbox_ev; /* hand inbox entries to new handlers */
	bool registered;        /* our protocol is in the host's registry */
};

/* messages.c */
struct msg_device *msg_device_find(const struct messages *m, const char *id);
/* Find or create (-EINVAL bad id, -ENOSPC MESSAGES_MAX_DEVICES, -ENOMEM). */
int msg_device_get(struct messages *m, const char *id, struct msg_device **ret);
const struct msg_handler *msg_handler_find(const struct messages *m, const devmsg_pb *msg);
void msg_handler_key(const devmsg_pb *msg, char key[MSG_KEY_MAX]);
/* The device's dedup window, opened (loaded) on first use; NULL on error
 * (logged). */
struct msgdedup *msg_device_dedup(struct messages *m, struct msg_device *d);

/* msg-send.c */
/* Fill ids with fresh random ones; -EIO when the RNG fails. */
int msg_new_id(uint8_t id[DEVMSG_ID_LEN]);
uint64_t msg_wall_ms(void);
/* Write what the queue holds, up to the high-water mark; opens the stream
 * or asks for a connection as needed. */
void msg_pump(struct messages *m, struct msg_device *d);
/* Answer a waiter and free it (the corr entry must already be gone). */
void msg_waiter_finish(struct messages *m, struct msg_waiter *w, int err, const devmsg_pb *reply,
                       const char *text);
/* A reply (any message with in_reply_to) or an Ack arrived from d. */
void msg_on_reply(struct messages *m, struct msg_device *d, const devmsg_pb *msg);
void msg_on_ack(struct messages *m, struct msg_device *d, const devmsg_pb *msg);
/* Resend every unacknowledged message of d on a new stream. */
void msg_redeliver_cb(evutil_socket_t fd, short what, void *arg);
/* Fail every waiter of d whose message was already sent. */
void msg_fail_sent(struct messages *m, struct msg_device *d, int err, const char *text);
/* Arm the timer for deadline (mono ms) if it is earlier than the armed one. */
void msg_timer_arm(struct messages *m, uint64_t deadline);
void msg_timer_cb(evutil_socket_t fd, short what, void *arg);
/* Free the queue's items and their waiters (-ECANCELED). */
void msg_device_drop_queue(struct messages *m, struct msg_device *d);

/* msg-stream.c */
extern const struct protocol_handler msg_protocol_handlers[];
void msg_on_stream(struct stream *s, void *ctx);
/* Open d's outbound stream on d->conn. */
void msg_stream_open(struct messages *m, struct msg_device *d);
/* Forget every stream of d (reset, quietly). */
void msg_streams_drop(struct messages *m, struct msg_device *d);
/* Forget d's outbound stream only. */
void msg_stream_drop_out(struct msg_device *d);
/* Append a framed message to ms->out (flushed by msg_stream_flush). */
int msg_stream_queue(struct msg_stream *ms, const uint8_t *frame, size_t len);
/* Hand ms->out to the stream; 0 or -1 when the stream was reset. */
int msg_stream_flush(struct msg_stream *ms);
/* Flush later in this loop turn (many sends, one write). */
void msg_stream_kick(struct msg_stream *ms);
/* Bytes waiting in ms->out. */
size_t msg_stream_buffered(const struct msg_stream *ms);
/* Answer req on stream origin with the Error for a handler's err. */
void msg_stream_refuse(void *origin, const devmsg_pb *req, int err);

/* msg-inbox.c */
void msg_inbox_init(struct msg_inbox *ib);
void msg_inbox_free(struct msg_inbox *ib);
/* 0, or -ENOBUFS when a message of len bytes would pass the bounds. */
int msg_inbox_room(const struct messages *m, const struct msg_device *d, size_t len);
/* Is id staged in the batch being read? */
bool msg_inbox_staged(const struct msg_device *d, const uint8_t id[DEVMSG_ID_LEN]);
/* Stage a new durable message (bytes: packed) in the batch. -ENOMEM. */
int msg_inbox_stage(struct messages *m, struct msg_device *d, const devmsg_pb *msg,
                    const uint8_t *bytes, size_t len);
/* Write the staged batch (one record per MSGREC_INBOX_ENTRIES messages or
 * MSGREC_INBOX_MAX_BYTES). 0 and *first is the first record written (NULL
 * when nothing was staged); on a store error every staged entry is handed
 * to refuse (fresh, not in the inbox) and dropped. */
int msg_inbox_commit(struct messages *m, struct msg_device *d, struct msg_inrec **first,
                     void (*refuse)(void *ctx, const uint8_t *bytes, size_t len), void *ctx,
                     struct errmsg *err);
/* Hand every waiting entry to its handler, in order per handler key
 * (origin answers the fresh ones; NULL when there are none). */
void msg_inbox_deliver(struct messages *m, struct msg_device *d, void *origin);
/* Drop what is done from disk: records rewritten or deleted. Errors are
 * logged and retried at the next sync; the first is returned (err may be
 * NULL). */
int msg_inbox_sync(struct messages *m, struct msg_device *d, struct errmsg *err);
/* Entries of a handler key that was handed over go back in line. */
void msg_inbox_unshow(struct messages *m, const char *key);
/* Deliver soon (a handler appeared; after the start). */
void msg_inbox_kick(struct messages *m);
void msg_inbox_kick_cb(evutil_socket_t fd, short what, void *arg);
/* Load every device's records at start (unreadable ones are skipped and
 * left in place); the devices' dedup windows then hold every inbox id. */
int msg_inbox_load(struct messages *m, struct errmsg *err);

/* msg-builtin.c: Ping -> Pong and Keepalive. */
int msg_builtin_register(struct messages *m);
