/* Connected TCP sockets on raw libevent events (see tcp.h for the contract).
 *
 * Raw events rather than bufferevents because the backpressure rules are
 * ours: the read event is armed exactly while the receive buffer has room
 * and the owner has not paused, and the write event (with the stall timeout)
 * exactly while bytes are queued. Every socket belongs to a tcp_set so a
 * closed socket can linger (flush, FIN, drain the peer's last bytes) after
 * its owner is gone, and host shutdown still frees it. */
#include "tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"

struct tcp_set {
	struct event_base *base;
	struct tcp_sock *head;
	size_t count;
};

struct tcp_sock {
	struct tcp_set *set;
	struct tcp_sock *prev, *next;
	int fd;
	const struct tcp_sock_ops *ops;
	void *ctx;
	struct event *rev, *wev;
	struct event *linger; /* closing: the deadline, or "free me now" */
	struct sockaddr_storage local, remote;
	/* Receive buffer: bytes at rx.data + rx_off, rx.len - rx_off of them;
	 * rx_cap is how far it may grow now (TCP_RX_INITIAL .. TCP_RX_MAX). */
	struct buf rx;
	size_t rx_off;
	size_t rx_cap;
	struct buf tx;
	size_t tx_off;
	uint32_t stall_ms;
	uint64_t bytes_in, bytes_out;
	bool connecting, paused, eof, failed, closing, shut_wr;
};

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);
static void linger_cb(evutil_socket_t fd, short what, void *arg);
static long flush_tx(struct tcp_sock *s);

struct tcp_set *tcp_set_new(struct event_base *base)
{
	struct tcp_set *set = calloc(1, sizeof(*set));
	if (set)
		set->base = base;
	return set;
}

static void sock_free(struct tcp_sock *s)
{
	struct tcp_set *set = s->set;
	if (s->prev)
		s->prev->next = s->next;
	else
		set->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	set->count--;
	if (s->rev)
		event_free(s->rev);
	if (s->wev)
		event_free(s->wev);
	if (s->linger)
		event_free(s->linger);
	if (s->fd >= 0)
		close(s->fd);
	buf_free(&s->rx);
	buf_free(&s->tx);
	free(s);
}

static size_t tx_len(const struct tcp_sock *s)
{
	return s->tx.len - s->tx_off;
}

/* Shutdown: one last non-blocking attempt to send what is queued (a GoAway),
 * then FIN, then close. */
void tcp_set_free(struct tcp_set *set)
{
	if (!set)
		return;
	while (set->head) {
		struct tcp_sock *s = set->head;
		if (!s->connecting && !s->failed) {
			if (tx_len(s) > 0) {
				ssize_t n = send(s->fd, s->tx.data + s->tx_off, tx_len(s),
				                 MSG_NOSIGNAL);
				(void)n;
			}
			shutdown(s->fd, SHUT_WR);
		}
		sock_free(s);
	}
	free(set);
}

/* ---- shutdown: a bounded, blocking drain of every socket ---- */

/* Stop the events: from here on poll() drives the sockets. Those that never
 * connected or already failed have nothing to say and go at once. */
static void shutdown_detach_all(struct tcp_set *set)
{
	struct tcp_sock *next;
	for (struct tcp_sock *s = set->head; s; s = next) {
		next = s->next;
		event_del(s->rev);
		event_del(s->wev);
		event_del(s->linger);
		s->ops = NULL;
		s->ctx = NULL;
		s->closing = true;
		if (s->connecting || s->failed)
			sock_free(s);
	}
}

/* Read and discard what the peer still sends (at most a bounded amount per
 * wakeup, so one fast sender cannot hold the others up). */
static bool shutdown_read(struct tcp_sock *s)
{
	uint8_t scratch[16384];
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(s->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == 0) {
			s->eof = true;
			return true;
		}
		if (errno == EINTR)
			continue;
		return errno == EAGAIN; /* false: reset or another error */
	}
	return true;
}

/* One poll() result for s: true when s is finished (free it). */
static bool shutdown_step(struct tcp_sock *s, short revents)
{
	if ((revents & POLLOUT) && flush_tx(s) < 0)
		return true;
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !shutdown_read(s))
		return true;
	return s->eof && tx_len(s) == 0;
}

/* Build the poll set; FIN where everything was sent. Returns its size. */
static size_t shutdown_poll_set(struct tcp_set *set, struct pollfd *pfd, struct tcp_sock **socks)
{
	size_t n = 0;
	for (struct tcp_sock *s = set->head; s; s = s->next) {
		if (tx_len(s) == 0 && !s->shut_wr) {
			shutdown(s->fd, SHUT_WR);
			s->shut_wr = true;
		}
		pfd[n] = (struct pollfd){.fd = s->fd, .events = POLLIN | (tx_len(s) ? POLLOUT : 0)};
		socks[n++] = s;
	}
	return n;
}

void tcp_set_shutdown(struct tcp_set *set, uint32_t linger_ms)
{
	shutdown_detach_all(set);
	size_t cap = set->count;
	struct pollfd *pfd = calloc(cap ? cap : 1, sizeof(*pfd));
	struct tcp_sock **socks = calloc(cap ? cap : 1, sizeof(*socks));
	uint64_t deadline = mono_ms() + linger_ms;
	while (pfd && socks && set->head) {
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		size_t n = shutdown_poll_set(set, pfd, socks);
		int r = poll(pfd, n, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			break;
		for (size_t i = 0; r > 0 && i < n; i++)
			if (pfd[i].revents && shutdown_step(socks[i], pfd[i].revents))
				sock_free(socks[i]);
	}
	free(pfd);
	free(socks);
	/* Out of time (or memory): the last attempt tcp_set_free() makes. */
	while (set->head) {
		struct tcp_sock *s = set->head;
		if (tx_len(s) > 0) {
			ssize_t n = send(s->fd, s->tx.data + s->tx_off, tx_len(s),
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)n;
		}
		shutdown(s->fd, SHUT_WR);
		sock_free(s);
	}
}

size_t tcp_set_count(const struct tcp_set *set)
{
	return set->count;
}

static int sock_new(struct tcp_set *set, int fd, const struct tcp_sock_ops *ops, void *ctx,
                    struct tcp_sock **ret)
{
	struct tcp_sock *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->set = set;
	s->fd = fd;
	s->ops = ops;
	s->ctx = ctx;
	s->rx_cap = TCP_RX_INITIAL;
	s->next = set->head;
	if (set->head)
		set->head->prev = s;
	set->head = s;
	set->count++;
	s->rev = event_new(set->base, fd, EV_READ | EV_PERSIST, read_cb, s);
	s->wev = event_new(set->base, fd, EV_WRITE, write_cb, s);
	s->linger = evtimer_new(set->base, linger_cb, s);
	if (!s->rev || !s->wev || !s->linger) {
		sock_free(s);
		return -ENOMEM;
	}
	/* Our flush already batches a whole loop iteration's output; Nagle would
	 * only delay pings and small request/response messages. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*ret = s;
	return 0;
}

static void fetch_names(struct tcp_sock *s)
{
	socklen_t len = sizeof(s->local);
	getsockname(s->fd, (struct sockaddr *)&s->local, &len);
	len = sizeof(s->remote);
	getpeername(s->fd, (struct sockaddr *)&s->remote, &len);
}

/* ---- arming events ---- */

static bool want_read(const struct tcp_sock *s)
{
	if (s->connecting || s->eof || s->failed)
		return false;
	/* A lingering socket reads (and discards) until the peer's FIN, so our
	 * close is not turned into a RST by unread data. */
	if (s->closing)
		return true;
	return !s->paused && s->rx.len - s->rx_off < TCP_RX_MAX;
}

static void update_read(struct tcp_sock *s)
{
	bool pending = event_pending(s->rev, EV_READ, NULL);
	if (want_read(s) && !pending)
		event_add(s->rev, NULL);
	else if (!want_read(s) && pending)
		event_del(s->rev);
}

static void arm_write(struct tcp_sock *s)
{
	struct timeval tv = {s->stall_ms / 1000, (s->stall_ms % 1000) * 1000};
	event_add(s->wev, s->stall_ms && !s->closing ? &tv : NULL);
}

/* Stop I/O and report once. Callers return right after. */
static void sock_fail(struct tcp_sock *s, int err, const char *what)
{
	if (s->failed)
		return;
	s->failed = true;
	event_del(s->rev);
	event_del(s->wev);
	if (s->closing) {
		sock_free(s);
		return;
	}
	s->ops->on_error(s->ctx, err, what);
}

/* ---- reading ---- */

static int rx_make_room(struct tcp_sock *s)
{
	size_t have = s->rx.len - s->rx_off;
	if (s->rx_off > 0 && (have == 0 || s->rx.len == s->rx_cap)) {
		memmove(s->rx.data, s->rx.data + s->rx_off, have);
		s->rx.len = have;
		s->rx_off = 0;
	}
	/* Reading is armed only below TCP_RX_MAX unconsumed, so growing the
	 * target always makes room. */
	if (s->rx.len >= s->rx_cap)
		s->rx_cap = s->rx_cap * 2 < TCP_RX_MAX ? s->rx_cap * 2 : TCP_RX_MAX;
	if (s->rx.cap < s->rx_cap && buf_reserve(&s->rx, s->rx_cap - s->rx.len) < 0)
		return -ENOMEM;
	return s->rx.len < s->rx_cap ? 0 : -ENOBUFS;
}

/* Closing: discard what the peer still sends until its FIN. */
static void linger_read(struct tcp_sock *s)
{
	uint8_t scratch[4096];
	ssize_t n = recv(s->fd, scratch, sizeof(scratch), 0);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	if (n < 0) {
		sock_free(s);
		return;
	}
	s->eof = true;
	update_read(s);
	if (tx_len(s) == 0)
		sock_free(s);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_sock *s = arg;
	if (s->closing) {
		linger_read(s);
		return;
	}
	int r = rx_make_room(s);
	if (r < 0) {
		sock_fail(s, r, "receive buffer");
		return;
	}
	size_t room = s->rx_cap - s->rx.len;
	ssize_t n = recv(fd, s->rx.data + s->rx.len, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		sock_fail(s, -errno, "recv");
		return;
	}
	if (n == 0) {
		s->eof = true;
		update_read(s);
		s->ops->on_error(s->ctx, 0, "peer closed the connection");
		return;
	}
	s->rx.len += (size_t)n;
	s->bytes_in += (uint64_t)n;
	/* The read filled all the room: the peer is fast, read bigger. */
	if ((size_t)n == room && s->rx_cap < TCP_RX_MAX)
		s->rx_cap *= 2;
	update_read(s);
	s->ops->on_readable(s->ctx);
}

void tcp_sock_peek(const struct tcp_sock *s, const uint8_t **ret_ptr, size_t *ret_len)
{
	*ret_len = s->rx.len - s->rx_off;
	*ret_ptr = *ret_len ? s->rx.data + s->rx_off : NULL;
}

void tcp_sock_consume(struct tcp_sock *s, size_t n)
{
	size_t have = s->rx.len - s->rx_off;
	s->rx_off += n < have ? n : have;
	if (s->rx_off == s->rx.len) {
		s->rx.len = 0;
		s->rx_off = 0;
	}
	update_read(s);
}

void tcp_sock_pause(struct tcp_sock *s)
{
	s->paused = true;
	update_read(s);
}

void tcp_sock_resume(struct tcp_sock *s)
{
	s->paused = false;
	update_read(s);
}

/* ---- writing ---- */

static void tx_compact(struct tcp_sock *s)
{
	if (s->tx_off == s->tx.len) {
		/* Keep a modest buffer; a burst's big one goes back. */
		if (s->tx.cap > 1024 * 1024)
			buf_free(&s->tx);
		buf_reset(&s->tx);
		s->tx_off = 0;
	} else if (s->tx_off >= 256 * 1024 && s->tx_off >= s->tx.len / 2) {
		buf_consume(&s->tx, s->tx_off);
		s->tx_off = 0;
	}
}

/* Write what the kernel takes; returns bytes written, or -errno. */
static long flush_tx(struct tcp_sock *s)
{
	size_t total = 0;
	while (tx_len(s) > 0) {
		ssize_t n = send(s->fd, s->tx.data + s->tx_off, tx_len(s), MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		s->tx_off += (size_t)n;
		s->bytes_out += (uint64_t)n;
		total += (size_t)n;
	}
	tx_compact(s);
	return (long)total;
}

/* Closing and everything is sent: FIN, then wait (reading and discarding)
 * for the peer's FIN, bounded by the linger timer. */
static void linger_write_done(struct tcp_sock *s)
{
	if (!s->shut_wr) {
		shutdown(s->fd, SHUT_WR);
		s->shut_wr = true;
	}
	if (s->eof)
		event_active(s->linger, EV_TIMEOUT, 0);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	sock_free(arg);
}

static void connect_done(struct tcp_sock *s)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr) {
		sock_fail(s, -soerr, "connect");
		return;
	}
	s->connecting = false;
	fetch_names(s);
	update_read(s);
	if (tx_len(s) > 0)
		arm_write(s);
	s->ops->on_connected(s->ctx);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_sock *s = arg;
	if (s->connecting) {
		connect_done(s);
		return;
	}
	long n = flush_tx(s);
	if (n < 0) {
		sock_fail(s, (int)n, "send");
		return;
	}
	if (n == 0 && (what & EV_TIMEOUT) && tx_len(s) > 0) {
		sock_fail(s, -ETIMEDOUT, "send queue stalled: the peer stopped reading");
		return;
	}
	if (tx_len(s) > 0) {
		arm_write(s);
	} else if (s->closing) {
		linger_write_done(s);
		return;
	}
	if (!s->closing && tx_len(s) <= TCP_TX_LOW_WATER)
		s->ops->on_drained(s->ctx);
}

int tcp_sock_write(struct tcp_sock *s, const void *data, size_t len)
{
	if (s->failed || s->closing)
		return -EPIPE;
	if (len == 0)
		return 0;
	bool idle = tx_len(s) == 0;
	if (buf_append(&s->tx, data, len) < 0)
		return -ENOMEM;
	/* Arm the write event only: sending from the loop lets every layer add
	 * its bytes first, and on_drained never runs inside this call. */
	if (idle && !s->connecting)
		arm_write(s);
	return 0;
}

int tcp_sock_write_fill(struct tcp_sock *s, tcp_fill_fn fill, void *arg)
{
	if (s->failed || s->closing)
		return -EPIPE;
	bool idle = tx_len(s) == 0;
	size_t before = s->tx.len;
	int r = fill(&s->tx, arg);
	if (r < 0) {
		s->tx.len = before;
		return r;
	}
	if (idle && s->tx.len > before && !s->connecting)
		arm_write(s);
	return 0;
}

size_t tcp_sock_tx_pending(const struct tcp_sock *s)
{
	return tx_len(s);
}

void tcp_sock_set_stall_timeout(struct tcp_sock *s, uint32_t ms)
{
	s->stall_ms = ms;
}

/* ---- lifecycle ---- */

static int fill_sockaddr(int family, const uint8_t *addr, uint16_t port,
                         struct sockaddr_storage *sa, socklen_t *len)
{
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr, 4);
		*len = sizeof(*in);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, addr, 16);
		*len = sizeof(*in6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int tcp_connect(struct tcp_set *set, int family, const uint8_t *addr, uint16_t port,
                const struct tcp_sock_ops *ops, void *ctx, struct tcp_sock **ret,
                struct errmsg *err)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	if (fill_sockaddr(family, addr, port, &sa, &salen) < 0)
		return errmsg_set(err, -EAFNOSUPPORT, "tcp: address family %d not supported",
		                  family);
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "tcp: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return errmsg_set(err, -e, "tcp: connect: %s", strerror(e));
	}
	struct tcp_sock *s;
	int r = sock_new(set, fd, ops, ctx, &s);
	if (r < 0)
		return errmsg_set(err, r, "tcp: out of memory");
	s->connecting = true;
	s->remote = sa;
	/* Completion (or failure) of the connect shows as writability. */
	event_add(s->wev, NULL);
	*ret = s;
	return 0;
}

int tcp_adopt(struct tcp_set *set, int fd, const struct tcp_sock_ops *ops, void *ctx,
              struct tcp_sock **ret)
{
	struct tcp_sock *s;
	int r = sock_new(set, fd, ops, ctx, &s);
	if (r < 0)
		return r;
	fetch_names(s);
	update_read(s);
	*ret = s;
	return 0;
}

void tcp_sock_close(struct tcp_sock *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->ops = NULL;
	s->ctx = NULL;
	if (s->failed || s->connecting) {
		/* Nothing to flush; free from the loop, not inside the caller. */
		event_del(s->rev);
		event_del(s->wev);
		event_active(s->linger, EV_TIMEOUT, 0);
		return;
	}
	struct timeval tv = {TCP_LINGER_MS / 1000, (TCP_LINGER_MS % 1000) * 1000};
	evtimer_add(s->linger, &tv);
	update_read(s);
	event_del(s->wev);
	if (tx_len(s) > 0)
		arm_write(s);
	else
		linger_write_done(s);
}

int tcp_sock_local_addr(const struct tcp_sock *s, struct multiaddr *ret)
{
	return tcp_sockaddr_to_multiaddr(&s->local, ret);
}

int tcp_sock_remote_addr(const struct tcp_sock *s, struct multiaddr *ret)
{
	return tcp_sockaddr_to_multiaddr(&s->remote, ret);
}

const struct sockaddr_storage *tcp_sock_remote_sockaddr(const struct tcp_sock *s)
{
	return &s->remote;
}

uint64_t tcp_sock_bytes_in(const struct tcp_sock *s)
{
	return s->bytes_in;
}

uint64_t tcp_sock_bytes_out(const struct tcp_sock *s)
{
	return s->bytes_out;
}

int tcp_sockaddr_fill(int family, const uint8_t *addr, uint16_t port, struct sockaddr_storage *sa,
                      socklen_t *len)
{
	return fill_sockaddr(family, addr, port, sa, len);
}
