/* One stream abstraction above the muxer.
 *
 * Protocol handlers (identify, ping, pairing, file transfer, ...) see only
 * struct stream: a reliable, ordered, flow-controlled byte stream to one
 * authenticated peer, already past protocol negotiation. Yamux-over-TCP
 * streams and (later) QUIC streams implement the same operations, so a
 * handler never knows which transport carries it.
 *
 * Reading: the handler sets callbacks with stream_set_callbacks(). on_data is
 * called when bytes are buffered; the handler looks at them with
 * stream_peek() and marks what it used with stream_consume(). Bytes it does
 * not consume stay buffered (and keep the peer's flow-control window shut
 * until consumed): that is the backpressure. on_eof: the peer half-closed;
 * on_closed: the stream is gone (reset by either side, connection lost, or
 * both sides finished); err is 0 for an orderly end, else a negative errno
 * (-ECONNRESET reset by peer, -ECONNABORTED connection lost, -ETIMEDOUT,
 * -ECANCELED after our own stream_reset(); on a stream opened with
 * host_open_stream_lazy() also -ENOPROTOOPT / -EPROTO when the peer refused
 * or garbled the negotiation after all).
 * After on_closed the handler must not touch the stream again; the stream is
 * freed by its owner right after the callback returns. Set the callbacks
 * inside on_stream() / the open callback: a stream that closes before it has
 * any is freed without a word. Bytes and EOF that arrived before the
 * callbacks were set are delivered (deferred) once they are.
 *
 * Writing: stream_write() takes what the flow-control window and output
 * buffer allow and returns that count (possibly 0); when it took less than
 * asked, on_writable fires once more can be written. stream_close_write()
 * half-closes (FIN); stream_reset() aborts (RST) and on_closed follows.
 *
 * All calls happen on the daemon's event loop thread. Callbacks are never
 * invoked re-entrantly from inside stream_write/close_write/reset: they are
 * deferred to the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peerid.h"

struct stream;
struct conn;

struct stream_callbacks {
	void (*on_data)(struct stream *s, void *ctx);
	void (*on_writable)(struct stream *s, void *ctx);
	void (*on_eof)(struct stream *s, void *ctx);
	void (*on_closed)(struct stream *s, int err, void *ctx);
};

void stream_set_callbacks(struct stream *s, const struct stream_callbacks *cb, void *ctx);

/* Received, unconsumed bytes (pointer valid until the next call on s). */
void stream_peek(struct stream *s, const uint8_t **ret_ptr, size_t *ret_len);
/* n <= what stream_peek showed. */
void stream_consume(struct stream *s, size_t n);
/* Returns bytes accepted (0..len) or negative errno: -EPIPE after
 * close_write, -ENOTCONN when the stream is gone. */
/* stream_close_write(): 0, -EPIPE (already closed), -ENOTCONN (gone). */
long stream_write(struct stream *s, const void *data, size_t len);
int stream_close_write(struct stream *s);
void stream_reset(struct stream *s);

/* True once the peer sent FIN (everything buffered is all there will be). */
bool stream_peer_closed(const struct stream *s);
/* The negotiated protocol ID. */
const char *stream_protocol(const struct stream *s);
/* The authenticated remote peer and the connection that carries the stream. */
const struct peerid *stream_peer(const struct stream *s);
struct conn *stream_conn(const struct stream *s);
/* 1 when we opened it. */
bool stream_outbound(const struct stream *s);

/* Implementation side: what a muxer provides per stream (yamux today, QUIC
 * later). Not for protocol handlers. */
struct stream_ops {
	void (*peek)(void *impl, const uint8_t **ret_ptr, size_t *ret_len);
	void (*consume)(void *impl, size_t n);
	long (*write)(void *impl, const void *data, size_t len);
	int (*close_write)(void *impl);
	void (*reset)(void *impl);
};
