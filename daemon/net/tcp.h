/* TCP transport: listening sockets and connected sockets on libevent, with
 * explicit backpressure in both directions. Internal to daemon/net.
 *
 * A struct tcp_sock owns a non-blocking socket, a receive buffer and a send
 * buffer. The owner (one connection, conn.c) reads with tcp_sock_peek() /
 * tcp_sock_consume() from on_readable and queues with tcp_sock_write().
 *
 * Backpressure:
 *   - receiving: the socket is read only while the receive buffer has room
 *     (TCP_RX_MAX) and the owner has not paused it. The owner pauses while
 *     upper layers hold bytes they could not take yet, so a slow consumer
 *     slows the peer down through TCP's own window.
 *   - sending: tcp_sock_write() always queues (bounded by the owner, who
 *     checks tcp_sock_tx_pending() against its cap) and on_drained fires when
 *     the queue falls to TCP_TX_LOW_WATER, so the owner can move more in. A
 *     queue that makes no progress for the stall timeout fails the socket
 *     with -ETIMEDOUT: the peer stopped reading.
 *
 * Callbacks run from the event loop only, never from inside a tcp_* call.
 * After tcp_sock_close() no callback runs again; the socket lingers on its
 * own (flushing what is queued, then FIN) and is freed by the tcp_set. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "errmsg.h"
#include "multiaddr.h"

/* Largest receive buffer per socket: one read can take this much, and it
 * bounds the bytes a paused connection holds in user space (the rest waits
 * in the kernel's buffer and then in the peer's). Several Noise frames fit. */
#define TCP_RX_MAX (256u * 1024)
/* Where the receive buffer starts (idle connections stay small). */
#define TCP_RX_INITIAL (16u * 1024)
/* on_drained fires once the send queue is at or below this. */
#define TCP_TX_LOW_WATER (64u * 1024)
/* How long a closed socket may take to flush its queue before it is cut. */
#define TCP_LINGER_MS 5000
/* Pending connections the kernel queues for a listener. */
#define TCP_LISTEN_BACKLOG 128
/* Accepts per listener wakeup, so a SYN flood cannot starve the loop. */
#define TCP_ACCEPT_BATCH 32
/* Pause after accept() ran out of file descriptors. */
#define TCP_ACCEPT_RETRY_MS 1000

struct tcp_set;
struct tcp_sock;
struct tcp_listener;

struct tcp_sock_ops {
	/* Outbound: connect() completed. */
	void (*on_connected)(void *ctx);
	/* New bytes are in the receive buffer. */
	void (*on_readable)(void *ctx);
	/* The send queue fell to TCP_TX_LOW_WATER. */
	void (*on_drained)(void *ctx);
	/* The socket is finished: err 0 when the peer closed it (EOF), else a
	 * negative errno (-ECONNREFUSED, -ETIMEDOUT for a stalled send queue,
	 * ...); what names it for a log line. The owner then calls
	 * tcp_sock_close(). */
	void (*on_error)(void *ctx, int err, const char *what);
};

/* All sockets of one host. tcp_set_free() closes every socket it still
 * holds (open or lingering) at once, without callbacks. */
struct tcp_set *tcp_set_new(struct event_base *base);
void tcp_set_free(struct tcp_set *set);
/* Sockets alive, including lingering ones (tests: nothing leaks). */
size_t tcp_set_count(const struct tcp_set *set);
/* Process shutdown: detach every socket from the loop, then with poll()
 * (blocking, at most linger_ms for all together) send what is queued, FIN,
 * and read and discard until each peer's FIN, so peers see an orderly end
 * rather than a reset; sockets still busy at the deadline are closed as is.
 * No callback runs. The set stays (empty) for tcp_set_free(). */
void tcp_set_shutdown(struct tcp_set *set, uint32_t linger_ms);

/* Start a non-blocking connect to addr (4 or 16 bytes for family AF_INET or
 * AF_INET6). on_connected or on_error follows. The caller times it out.
 * Errors: negative errno from socket()/connect() (-ENETUNREACH, ...), with
 * err filled. */
int tcp_connect(struct tcp_set *set, int family, const uint8_t *addr, uint16_t port,
                const struct tcp_sock_ops *ops, void *ctx, struct tcp_sock **ret,
                struct errmsg *err);
/* Take over an accepted socket (fd is closed on error too). */
int tcp_adopt(struct tcp_set *set, int fd, const struct tcp_sock_ops *ops, void *ctx,
              struct tcp_sock **ret);

/* Received bytes not consumed yet (*ret_ptr valid until the next call). */
void tcp_sock_peek(const struct tcp_sock *s, const uint8_t **ret_ptr, size_t *ret_len);
void tcp_sock_consume(struct tcp_sock *s, size_t n);
/* Stop / restart reading the socket (see backpressure above). */
void tcp_sock_pause(struct tcp_sock *s);
void tcp_sock_resume(struct tcp_sock *s);

/* Queue bytes to send; 0 or -ENOMEM (nothing queued then), -EPIPE after
 * an error or close. */
int tcp_sock_write(struct tcp_sock *s, const void *data, size_t len);
/* Queue what fill() appends to out, which is the send queue itself: a
 * producer that writes in place (Noise sealing frames) needs no copy of its
 * own. fill only appends and returns 0 or a negative errno; on error nothing
 * is queued and its errno is returned. Otherwise as tcp_sock_write(). */
typedef int (*tcp_fill_fn)(struct buf *out, void *arg);
int tcp_sock_write_fill(struct tcp_sock *s, tcp_fill_fn fill, void *arg);
size_t tcp_sock_tx_pending(const struct tcp_sock *s);
/* Fail the socket when queued bytes make no progress for ms (0: never). */
void tcp_sock_set_stall_timeout(struct tcp_sock *s, uint32_t ms);

/* Addresses of a connected socket as /ip4|ip6/.../tcp/... multiaddrs and as
 * the raw sockaddr of the peer (for per-IP limits). */
int tcp_sock_local_addr(const struct tcp_sock *s, struct multiaddr *ret);
int tcp_sock_remote_addr(const struct tcp_sock *s, struct multiaddr *ret);
const struct sockaddr_storage *tcp_sock_remote_sockaddr(const struct tcp_sock *s);
uint64_t tcp_sock_bytes_in(const struct tcp_sock *s);
uint64_t tcp_sock_bytes_out(const struct tcp_sock *s);

/* Detach the owner: no callback runs again. Queued bytes are still sent
 * (for up to TCP_LINGER_MS), then FIN; the set frees the socket. */
void tcp_sock_close(struct tcp_sock *s);

/* An accepted connection: fd is the caller's (pass it to tcp_adopt() or
 * close it). */
typedef void (*tcp_accept_cb)(int fd, const struct sockaddr_storage *remote, void *ctx);

/* Listen on /ip4|ip6/<addr>/tcp/<port> (port 0: the kernel picks one). IPv6
 * sockets are IPv6-only so /ip4/0.0.0.0 and /ip6/:: can share a port.
 * Errors: -EAFNOSUPPORT for another kind of multiaddr, else the errno of
 * socket()/bind()/listen() (-EADDRINUSE, ...), with err filled. */
int tcp_listen(struct event_base *base, const struct multiaddr *ma, tcp_accept_cb cb, void *ctx,
               struct tcp_listener **ret, struct errmsg *err);
/* The bound address, port resolved. */
const struct multiaddr *tcp_listener_addr(const struct tcp_listener *l);
void tcp_listener_free(struct tcp_listener *l);

/* sockaddr <-> multiaddr helpers (IPv4-mapped IPv6 shown as ip4). */
int tcp_sockaddr_to_multiaddr(const struct sockaddr_storage *sa, struct multiaddr *ret);
/* Build a sockaddr from the parts multiaddr_as_tcp() gives. -EAFNOSUPPORT. */
int tcp_sockaddr_fill(int family, const uint8_t *addr, uint16_t port, struct sockaddr_storage *sa,
                      socklen_t *len);
/* True when a and b carry the same IP (ports ignored). */
bool tcp_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
