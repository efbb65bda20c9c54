/* TCP listeners, and the sockaddr <-> multiaddr conversions the transport
 * needs. A listener accepts in bounded batches and hands each socket to its
 * callback; admission (limits) is the caller's business. When the process
 * runs out of descriptors it stops accepting for TCP_ACCEPT_RETRY_MS instead
 * of spinning on a readable listen socket it cannot serve. */
#include "tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tcp_listener {
	int fd;
	struct event *ev;
	struct event *retry;
	tcp_accept_cb cb;
	void *ctx;
	struct multiaddr addr;
};

int tcp_sockaddr_to_multiaddr(const struct sockaddr_storage *sa, struct multiaddr *ret)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return multiaddr_from_ip(AF_INET, &in->sin_addr, ntohs(in->sin_port), false, ret);
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return multiaddr_from_ip(AF_INET, &in6->sin6_addr.s6_addr[12],
			                         ntohs(in6->sin6_port), false, ret);
		return multiaddr_from_ip(AF_INET6, &in6->sin6_addr, ntohs(in6->sin6_port), false,
		                         ret);
	}
	return -EAFNOSUPPORT;
}

/* The IP as 4 or 16 bytes (IPv4-mapped IPv6 counts as IPv4). */
static size_t ip_bytes(const struct sockaddr_storage *sa, const uint8_t **ret)
{
	if (sa->ss_family == AF_INET) {
		*ret = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		return 4;
	}
	if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*ret = &a->s6_addr[12];
			return 4;
		}
		*ret = a->s6_addr;
		return 16;
	}
	*ret = NULL;
	return 0;
}

bool tcp_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const uint8_t *pa, *pb;
	size_t la = ip_bytes(a, &pa), lb = ip_bytes(b, &pb);
	return la > 0 && la == lb && memcmp(pa, pb, la) == 0;
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_listener *l = arg;
	for (int i = 0; i < TCP_ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int c = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0) {
			l->cb(c, &sa, l->ctx);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			struct timeval tv = {TCP_ACCEPT_RETRY_MS / 1000,
			                     (TCP_ACCEPT_RETRY_MS % 1000) * 1000};
			event_del(l->ev);
			evtimer_add(l->retry, &tv);
		}
		/* EAGAIN, or a connection that died in the queue: nothing to do. */
		return;
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_listener *l = arg;
	event_add(l->ev, NULL);
}

static int bind_listen(int family, const uint8_t *addr, uint16_t port, struct errmsg *err)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	tcp_sockaddr_fill(family, addr, port, &sa, &salen);
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, TCP_LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		return errmsg_set(err, -e, "%s", strerror(e));
	}
	return fd;
}

static int resolve_addr(int fd, struct multiaddr *ret)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	return tcp_sockaddr_to_multiaddr(&sa, ret);
}

int tcp_listen(struct event_base *base, const struct multiaddr *ma, tcp_accept_cb cb, void *ctx,
               struct tcp_listener **ret, struct errmsg *err)
{
	char text[MULTIADDR_TEXT_MAX];
	if (multiaddr_to_string(ma, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "(unprintable address)");
	int family;
	const uint8_t *addr;
	uint16_t port;
	if (multiaddr_as_tcp(ma, &family, &addr, &port) < 0)
		return errmsg_set(err, -EAFNOSUPPORT,
		                  "listen %s: not an /ip4|ip6/<addr>/tcp/<port> address", text);
	struct tcp_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return errmsg_set(err, -ENOMEM, "listen %s: out of memory", text);
	l->cb = cb;
	l->ctx = ctx;
	l->fd = bind_listen(family, addr, port, err);
	if (l->fd < 0) {
		int r = l->fd;
		free(l);
		char what[MULTIADDR_TEXT_MAX + 8];
		snprintf(what, sizeof(what), "listen %s", text);
		errmsg_prefix(err, what);
		return r;
	}
	l->ev = event_new(base, l->fd, EV_READ | EV_PERSIST, accept_cb, l);
	l->retry = evtimer_new(base, retry_cb, l);
	if (!l->ev || !l->retry || resolve_addr(l->fd, &l->addr) < 0 ||
	    event_add(l->ev, NULL) < 0) {
		tcp_listener_free(l);
		return errmsg_set(err, -ENOMEM, "listen %s: out of memory", text);
	}
	*ret = l;
	return 0;
}

const struct multiaddr *tcp_listener_addr(const struct tcp_listener *l)
{
	return &l->addr;
}

void tcp_listener_free(struct tcp_listener *l)
{
	if (!l)
		return;
	if (l->ev)
		event_free(l->ev);
	if (l->retry)
		event_free(l->retry);
	close(l->fd);
	multiaddr_free(&l->addr);
	free(l);
}
