/* mDNS sockets (see mdns-socket.h). */
#include "mdns-socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "mdns.h"

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif

static int opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int setup(int fd, int family, struct errmsg *err)
{
	const char *what = NULL;
	int r = opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r < 0)
		what = "SO_REUSEADDR";
	/* Not every responder sets it; SO_REUSEADDR alone lets us share. */
	(void)opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (family == AF_INET) {
		if (r == 0 && (r = opt(fd, IPPROTO_IP, IP_PKTINFO, 1)) < 0)
			what = "IP_PKTINFO";
		if (r == 0 && (r = opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, 255)) < 0)
			what = "IP_MULTICAST_TTL";
		if (r == 0 && (r = opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1)) < 0)
			what = "IP_MULTICAST_LOOP";
		if (r == 0)
			(void)opt(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0); /* Linux 2.6.31+ */
	} else {
		if (r == 0 && (r = opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0)
			what = "IPV6_V6ONLY";
		if (r == 0 && (r = opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)) < 0)
			what = "IPV6_RECVPKTINFO";
		if (r == 0 && (r = opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255)) < 0)
			what = "IPV6_MULTICAST_HOPS";
		if (r == 0 && (r = opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1)) < 0)
			what = "IPV6_MULTICAST_LOOP";
		if (r == 0)
			(void)opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0); /* Linux 4.20+ */
	}
	if (r < 0)
		return errmsg_set(err, r, "mDNS socket: %s: %s", what, strerror(-r));
	return 0;
}

int mdns_sock_open(int family, struct mdns_sock *ret, struct errmsg *err)
{
	*ret = (struct mdns_sock){.fd = -1, .family = family};
	const uint16_t port = MDNS_PORT;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "mDNS socket (%s): %s",
		                  family == AF_INET ? "IPv4" : "IPv6", strerror(errno));
	int r = setup(fd, family, err);
	if (r == 0) {
		struct sockaddr_storage ss = {0};
		socklen_t len;
		if (family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
			len = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			sin6->sin6_addr = in6addr_any;
			len = sizeof(*sin6);
		}
		if (bind(fd, (struct sockaddr *)&ss, len) < 0)
			r = errmsg_set(err, -errno,
			               "mDNS: cannot bind UDP port %u (%s): %s; is another mDNS "
			               "responder holding it without SO_REUSEADDR?",
			               port, family == AF_INET ? "IPv4" : "IPv6", strerror(errno));
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	ret->fd = fd;
	return 0;
}

void mdns_sock_close(struct mdns_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int mdns_sock_membership(const struct mdns_sock *s, unsigned ifindex, bool join)
{
	int r;
	if (s->family == AF_INET) {
		struct ip_mreqn mr = {.imr_ifindex = (int)ifindex};
		inet_pton(AF_INET, MDNS_GROUP_V4, &mr.imr_multiaddr);
		r = setsockopt(s->fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
		               &mr, sizeof(mr));
	} else {
		struct ipv6_mreq mr = {.ipv6mr_interface = ifindex};
		inet_pton(AF_INET6, MDNS_GROUP_V6, &mr.ipv6mr_multiaddr);
		r = setsockopt(s->fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mr,
		               sizeof(mr));
	}
	return r < 0 ? -errno : 0;
}

static int send_all(int fd, const uint8_t *data, size_t len, const struct sockaddr *to,
                    socklen_t tolen)
{
	ssize_t n;
	do {
		n = sendto(fd, data, len, MSG_NOSIGNAL, to, tolen);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int mdns_sock_send_group(const struct mdns_sock *s, unsigned ifindex, const uint8_t *data,
                         size_t len)
{
	const uint16_t port = MDNS_PORT;
	/* The outgoing interface is a socket option; one thread, so setting it
	 * before each send is safe. */
	if (s->family == AF_INET) {
		struct ip_mreqn mr = {.imr_ifindex = (int)ifindex};
		if (setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) < 0)
			return -errno;
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
		inet_pton(AF_INET, MDNS_GROUP_V4, &to.sin_addr);
		return send_all(s->fd, data, len, (struct sockaddr *)&to, sizeof(to));
	}
	int idx = (int)ifindex;
	if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)) < 0)
		return -errno;
	struct sockaddr_in6 to = {
	        .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_scope_id = ifindex};
	inet_pton(AF_INET6, MDNS_GROUP_V6, &to.sin6_addr);
	return send_all(s->fd, data, len, (struct sockaddr *)&to, sizeof(to));
}

int mdns_sock_send_to(const struct mdns_sock *s, const struct mdns_src *to, const uint8_t *data,
                      size_t len)
{
	return send_all(s->fd, data, len, (const struct sockaddr *)&to->sa, to->len);
}

static void take_pktinfo(struct msghdr *mh, struct mdns_src *ret)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			ret->ifindex = (unsigned)pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			ret->ifindex = pi.ipi6_ifindex;
		}
	}
}

int mdns_sock_recv(const struct mdns_sock *s, uint8_t *buf, size_t cap, struct mdns_src *ret)
{
	*ret = (struct mdns_src){0};
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 64];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_name = &ret->sa,
	                    .msg_namelen = sizeof(ret->sa),
	                    .msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.b,
	                    .msg_controllen = sizeof(ctl.b)};
	ssize_t n;
	do {
		n = recvmsg(s->fd, &mh, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	ret->len = mh.msg_namelen;
	if (ret->sa.ss_family == AF_INET)
		ret->port = ntohs(((struct sockaddr_in *)&ret->sa)->sin_port);
	else if (ret->sa.ss_family == AF_INET6)
		ret->port = ntohs(((struct sockaddr_in6 *)&ret->sa)->sin6_port);
	take_pktinfo(&mh, ret);
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return (int)n;
}
