/* Which of our listen addresses mDNS announces on one interface.
 *
 * The host listens on configured multiaddrs; a LAN peer can only dial the
 * ones that live on the link it heard us on. So per interface:
 *   - an unspecified listen address (0.0.0.0, ::) stands for every address
 *     of that family on the interface, with the listener's port;
 *   - a specific address counts only on the interface that holds it;
 *   - loopback, unspecified and IPv6 link-local addresses never go out
 *     (mdns_addr_usable; a multiaddr cannot carry an IPv6 zone).
 * Pure, so tests feed it hand-made interfaces. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "discovery/netif.h"
#include "multiaddr.h"

/* Fills a fresh array (free each with multiaddr_free, then the array; n 0
 * leaves *ret NULL) with at most MDNS_MAX_ADDRS distinct addresses, in
 * listen order. -ENOMEM. */
int mdns_iface_addrs(const struct multiaddr *listen, size_t n_listen, const struct netif *nif,
                     bool allow_loopback, struct multiaddr **ret, size_t *ret_n);
void mdns_addrs_free(struct multiaddr *v, size_t n);
