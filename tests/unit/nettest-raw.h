/* Raw-socket helpers for unit tests that poke the libp2p host from outside:
 * plain TCP clients and listeners on loopback, whole-buffer sends, reading
 * what a socket has now, and the host facts such tests ask for (its port,
 * its counters). Header-only (static inline), like nettest.h. */
#pragma once

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "buf.h"
#include "net/host.h"

/* A TCP connection to 127.0.0.1:port (blocking connect: loopback). */
static inline int nt_raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons(port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* A listener on 127.0.0.1 with a kernel-chosen port. */
static inline int nt_raw_listener(uint16_t *ret_port)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return l;
}

static inline void nt_send_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Append what fd has now; false on EOF or error. */
static inline bool nt_pull(int fd, struct buf *in)
{
	uint8_t tmp[65536];
	ssize_t n;
	while ((n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		assert_int_equal(buf_append(in, tmp, (size_t)n), 0);
	return !(n == 0 || (n < 0 && errno != EAGAIN));
}

/* The TCP port of h's only listen address. */
static inline uint16_t nt_port_of(struct host *h)
{
	const struct multiaddr *v;
	assert_int_equal(host_listen_addrs(h, &v), 1);
	int family;
	const uint8_t *addr;
	uint16_t port;
	assert_int_equal(multiaddr_as_tcp(&v[0], &family, &addr, &port), 0);
	return port;
}

static inline struct host_stats nt_stats(struct host *h)
{
	struct host_stats st;
	host_get_stats(h, &st);
	return st;
}
