/* Yamux stream multiplexer (/yamux/1.0.0), sans-I/O session state machine.
 *
 * One struct yamux_session per secured connection. It never touches a socket
 * or a clock: the transport feeds it decrypted bytes and the current time,
 * pulls bytes to encrypt and send, and pulls events. Everything it may be
 * made to allocate is capped (YAMUX_* below, counters in struct yamux_stats).
 *
 * Driving it from a transport loop:
 *
 *   on readable socket (after decryption into `in`):
 *       n = yamux_feed(s, in, in_len, now_ms);
 *       if (n < 0)   -> session failed: flush pending output (it ends with a
 *                       GoAway), then close the connection.
 *       drop n bytes from `in`; if n < in_len the event queue or the output
 *       is full, or a stream's RST waits behind data whose STREAM_DATA
 *       event was not taken yet (so the data can be read before the reset
 *       drops it): handle events and flush output, then feed the rest. While
 *       bytes remain unfed, stop reading the socket (this is the backpressure
 *       that reaches the peer through TCP).
 *   after every call into the session:
 *       while (yamux_next_event(s, &ev) == 0) handle ev;
 *       yamux_pending_output(s, &p, &len); write what the socket takes;
 *       yamux_output_consumed(s, written);
 *   application reads:  yamux_stream_peek() then yamux_stream_consumed(), or
 *       yamux_stream_read(); the peer's window reopens only as data is
 *       consumed, so a slow reader holds the sender back.
 *   application writes: yamux_write() returns how much it took (bounded by
 *       the peer's window and YAMUX_OUTPUT_HIGH_WATER); on a short count or
 *       -EAGAIN wait for YAMUX_EV_STREAM_WRITABLE.
 *   timers: call yamux_ping(s, now) once at start (auto-tuning needs an RTT)
 *       and periodically (js pings every 30 s); if
 *       yamux_stats.ping_outstanding stays set too long, drop the connection.
 *
 * Event lifecycle per stream: an inbound stream starts with STREAM_OPENED (we
 * have already sent its ACK); an outbound one with yamux_open_stream(). Then
 * any number of STREAM_DATA / STREAM_WRITABLE, at most one STREAM_EOF (peer
 * sent FIN), at most one STREAM_RESET (peer sent RST), and always exactly one
 * final STREAM_CLOSED, after which the ID is dead. A stream is closed when it
 * was reset (by either side), or when both sides sent FIN and the application
 * consumed all received data.
 *
 * Session end: SESSION_ERROR (we queued GoAway 1 or 2) or GOAWAY with a non-zero
 * code are final: no events follow, the caller flushes output and frees the
 * session. GOAWAY with code 0 only forbids new streams; existing streams run
 * to completion.
 *
 * Errors (negative errno) from the API:
 *   -EPROTO     the peer broke the protocol (yamux_feed; see yamux_error())
 *   -ENOMEM     allocation failed; the session is unusable after a feed error
 *   -ENOTCONN   the session has failed or ended
 *   -ESHUTDOWN  a GoAway was sent or received: no new streams
 *   -EAGAIN     nothing can be accepted now (window 0, output full, too many
 *               un-ACKed outbound streams); retry after the matching event
 *   -EMFILE     the outbound stream cap is reached
 *   -ENOENT     no such stream (never opened, or already closed)
 *   -EPIPE      writing after yamux_close_write()
 *   -EALREADY   a ping is already in flight, or GoAway already sent
 *   -EINVAL     bad argument */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YAMUX_PROTOCOL_ID "/yamux/1.0.0"
#define YAMUX_HEADER_SIZE 12
#define YAMUX_VERSION 0

/* The spec's initial window for each direction of each stream. */
#define YAMUX_INITIAL_WINDOW (256u * 1024)
/* Auto-tuning never grows a receive window past this (js and go default). */
#define YAMUX_DEFAULT_MAX_WINDOW (16u * 1024 * 1024)
/* Sum of all receive windows of one session that auto-tuning may reach. */
#define YAMUX_DEFAULT_SESSION_WINDOW_BUDGET (64u * 1024 * 1024)
/* Inbound streams open at once; more are refused with RST (js: 1000). */
#define YAMUX_DEFAULT_MAX_INBOUND 1000
/* Outbound streams open at once; yamux_open_stream() fails beyond. */
#define YAMUX_DEFAULT_MAX_OUTBOUND 1000
/* Outbound streams the peer has not ACKed yet (go blocks at 256 too). */
#define YAMUX_MAX_UNACKED_OUTBOUND 256
/* Largest Data payload we send, so one stream cannot hog the connection. */
#define YAMUX_MAX_DATA_PAYLOAD (16u * 1024)
/* yamux_write() stops accepting data while this much output is unsent. */
#define YAMUX_OUTPUT_HIGH_WATER (256u * 1024)
/* yamux_feed() stops taking frames while this much output is unsent
 * (peer-triggered control frames: ping ACKs, RSTs, window updates). */
#define YAMUX_OUTPUT_FEED_LIMIT (384u * 1024)
/* yamux_feed() stops taking frames while this many events are queued. */
#define YAMUX_MAX_PENDING_EVENTS 256

enum yamux_type {
	YAMUX_TYPE_DATA = 0,
	YAMUX_TYPE_WINDOW_UPDATE = 1,
	YAMUX_TYPE_PING = 2,
	YAMUX_TYPE_GO_AWAY = 3,
};

enum yamux_flag {
	YAMUX_FLAG_SYN = 0x1,
	YAMUX_FLAG_ACK = 0x2,
	YAMUX_FLAG_FIN = 0x4,
	YAMUX_FLAG_RST = 0x8,
};

enum yamux_goaway_code {
	YAMUX_GOAWAY_NORMAL = 0,
	YAMUX_GOAWAY_PROTOCOL_ERROR = 1,
	YAMUX_GOAWAY_INTERNAL_ERROR = 2,
};

struct yamux_header {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t stream_id;
	uint32_t length;
};

/* Header codec. Encoding writes exactly YAMUX_HEADER_SIZE bytes. Decoding
 * needs len >= YAMUX_HEADER_SIZE (-ENODATA otherwise) and checks nothing else:
 * the session validates version, type and stream ID. */
void yamux_header_encode(const struct yamux_header *h, uint8_t out[static YAMUX_HEADER_SIZE]);
int yamux_header_decode(const uint8_t *data, size_t len, struct yamux_header *ret);

enum yamux_role {
	YAMUX_CLIENT, /* opened the secured connection: odd stream IDs from 1 */
	YAMUX_SERVER, /* even stream IDs from 2 */
};

struct yamux_config {
	uint32_t max_inbound_streams;
	uint32_t max_outbound_streams;
	/* Receive window ceiling for auto-tuning, >= YAMUX_INITIAL_WINDOW. */
	uint32_t max_stream_window;
	uint64_t session_window_budget;
	/* Grow receive windows of fast consumers (see docs/protocols/yamux.md). */
	bool auto_tune;
};

/* The defaults above, auto-tuning on. */
void yamux_config_default(struct yamux_config *ret);

enum yamux_event_type {
	YAMUX_EV_STREAM_OPENED,   /* inbound stream accepted (ACK already queued) */
	YAMUX_EV_STREAM_DATA,     /* received data is buffered: .len bytes */
	YAMUX_EV_STREAM_WRITABLE, /* a blocked yamux_write() may succeed now */
	YAMUX_EV_STREAM_EOF,      /* peer half-closed (FIN): no more data after the buffer */
	YAMUX_EV_STREAM_RESET,    /* peer reset the stream; buffered data is gone */
	YAMUX_EV_STREAM_CLOSED,   /* final event of a stream; the ID is dead */
	YAMUX_EV_PING_RTT,        /* our ping was answered: .rtt_ms */
	YAMUX_EV_GOAWAY,          /* peer sent GoAway .code */
	YAMUX_EV_SESSION_ERROR,   /* session failed: .reason */
};

struct yamux_event {
	enum yamux_event_type type;
	uint32_t stream_id;
	/* STREAM_DATA: bytes buffered at the time the event is taken. */
	size_t len;
	uint64_t rtt_ms;
	uint32_t code;
	/* SESSION_ERROR: static or session-owned text, valid until free. */
	const char *reason;
};

/* Caps and counters, for RPC and for the fuzzers' bound checks. */
struct yamux_stats {
	uint32_t streams_inbound;
	uint32_t streams_outbound;
	uint32_t outbound_unacked;
	uint64_t inbound_refused; /* RST sent for inbound streams over a cap or after GoAway */
	uint64_t frames_ignored;  /* frames for unknown or closed streams */
	uint64_t recv_buffered;   /* received bytes not yet consumed, all streams */
	uint64_t recv_window_total;
	uint32_t max_stream_window_seen;
	size_t output_pending;
	size_t events_pending;
	bool ping_outstanding;
	uint64_t rtt_ms; /* last measured, 0 if none */
};

struct yamux_session;

/* config may be NULL (defaults); it is copied. Returns 0, -EINVAL (bad role or
 * config) or -ENOMEM. Free with yamux_session_free(). */
int yamux_session_new(enum yamux_role role, const struct yamux_config *config,
                      struct yamux_session **ret);
/* NULL-safe; releases all streams and buffers; returns NULL. */
struct yamux_session *yamux_session_free(struct yamux_session *s);

/* Consume received bytes; returns how many were taken (possibly fewer than
 * len, see above), -EPROTO / -ENOMEM (session failed now or earlier), or
 * -ENOTCONN after the peer ended the session with a non-zero GoAway. */
long yamux_feed(struct yamux_session *s, const uint8_t *data, size_t len, uint64_t now_ms);
/* 0 and the oldest event, or -EAGAIN when there is none. */
int yamux_next_event(struct yamux_session *s, struct yamux_event *ret);

/* Unsent bytes (*ret_ptr valid until the next call on s). */
void yamux_pending_output(const struct yamux_session *s, const uint8_t **ret_ptr, size_t *ret_len);
/* n of them were sent. May queue STREAM_WRITABLE events. */
void yamux_output_consumed(struct yamux_session *s, size_t n);

/* Open an outbound stream (queues SYN). Errors: -ENOTCONN, -ESHUTDOWN,
 * -EMFILE, -EAGAIN (un-ACKed backlog full), -ERANGE (IDs exhausted). */
int yamux_open_stream(struct yamux_session *s, uint32_t *ret_id);
/* Queue up to len bytes; returns the count taken (> 0, or 0 for len 0), or
 * -EAGAIN, -ENOENT, -EPIPE, -ENOTCONN. */
long yamux_write(struct yamux_session *s, uint32_t id, const uint8_t *data, size_t len);
/* Half-close our direction (FIN). -ENOENT, -EPIPE (already closed), -ENOTCONN. */
int yamux_close_write(struct yamux_session *s, uint32_t id);
/* Abort the stream (RST unless both FINs already went); buffered data is
 * dropped and STREAM_CLOSED follows. -ENOENT, -ENOTCONN. */
int yamux_reset(struct yamux_session *s, uint32_t id);

/* Received data of a stream, without copying: *ret_ptr valid until the next
 * call on s. -ENOENT. */
int yamux_stream_peek(const struct yamux_session *s, uint32_t id, const uint8_t **ret_ptr,
                      size_t *ret_len);
/* The application is done with n buffered bytes (n <= buffered, else
 * -EINVAL); reopens the peer's window and may auto-tune it. -ENOENT. */
int yamux_stream_consumed(struct yamux_session *s, uint32_t id, size_t n, uint64_t now_ms);
/* peek + copy + consumed. Returns bytes copied (0 when nothing is buffered). */
long yamux_stream_read(struct yamux_session *s, uint32_t id, uint8_t *out, size_t cap,
                       uint64_t now_ms);

/* Send a ping; its answer yields PING_RTT and the RTT that receive-window
 * auto-tuning needs (so ping once at session start, as js does; allowed after
 * a GoAway too, as a keepalive). -EALREADY (one in flight), -ENOTCONN. */
int yamux_ping(struct yamux_session *s, uint64_t now_ms);
/* Send GoAway(code): no new streams either way afterwards; with code 0 the
 * open streams continue. -EALREADY, -ENOTCONN. */
int yamux_goaway(struct yamux_session *s, uint32_t code);

void yamux_get_stats(const struct yamux_session *s, struct yamux_stats *ret);
/* The receive window currently granted for a stream (for tests and stats);
 * 0 for an unknown stream. */
uint32_t yamux_stream_recv_window(const struct yamux_session *s, uint32_t id);
/* Our remaining send window on a stream; 0 for an unknown stream. */
uint32_t yamux_stream_send_window(const struct yamux_session *s, uint32_t id);
/* Why the session failed ("" if it did not). */
const char *yamux_error(const struct yamux_session *s);
