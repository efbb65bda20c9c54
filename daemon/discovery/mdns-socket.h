/* The mDNS UDP sockets: one per address family, bound to port 5353 on the
 * wildcard address and shared by every interface's engine. The group is
 * joined per interface; each received datagram says which interface it came
 * in on (IP_PKTINFO), and each multicast send picks its interface, so one
 * socket serves many links without one engine hearing another's.
 *
 * Options, and why:
 *   SO_REUSEADDR, SO_REUSEPORT  other responders (Avahi, a js node) share 5353
 *   IP_MULTICAST_ALL off        only the groups this socket joined
 *   IP_MULTICAST_LOOP on        we hear our own query, and answer it, so
 *                               passive listeners learn about us (the spec)
 *   IP_MULTICAST_TTL 255        RFC 6762 section 11
 * and the IPv6 equivalents. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "errmsg.h"

struct mdns_sock {
	int fd; /* -1: not open */
	int family;
};

/* Where a datagram came from. */
struct mdns_src {
	struct sockaddr_storage sa;
	socklen_t len;
	uint16_t port;
	unsigned ifindex; /* 0: unknown (no pktinfo) */
};

/* Open and bind to MDNS_PORT. -errno with err naming the step. */
int mdns_sock_open(int family, struct mdns_sock *ret, struct errmsg *err);
void mdns_sock_close(struct mdns_sock *s);
/* Join (or leave) the mDNS group on one interface. -errno. */
int mdns_sock_membership(const struct mdns_sock *s, unsigned ifindex, bool join);
/* Multicast one datagram to the group, out of one interface. -errno. */
int mdns_sock_send_group(const struct mdns_sock *s, unsigned ifindex, const uint8_t *data,
                         size_t len);
/* Unicast one datagram back to a source. -errno. */
int mdns_sock_send_to(const struct mdns_sock *s, const struct mdns_src *to, const uint8_t *data,
                      size_t len);
/* Take one datagram: its length, -EAGAIN when none is waiting, -EMSGSIZE
 * when it was longer than cap (dropped), other -errno. */
int mdns_sock_recv(const struct mdns_sock *s, uint8_t *buf, size_t cap, struct mdns_src *ret);
