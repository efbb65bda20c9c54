/* The machine's network interfaces as mDNS needs them: name, index, flags
 * and IP addresses, read in one getifaddrs() snapshot, plus the rules that
 * pick the interfaces mDNS runs on. Pure data once read, so the rules are
 * unit-tested on hand-made lists. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

/* Interfaces and addresses kept from one snapshot; a machine with more is
 * unusual, and mDNS on the first ones still works. */
#define NETIF_MAX 64
#define NETIF_MAX_ADDRS 32

struct netif_addr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 or 16 bytes used */
};

struct netif {
	char name[IF_NAMESIZE];
	unsigned index;
	unsigned flags; /* IFF_* */
	struct netif_addr addrs[NETIF_MAX_ADDRS];
	size_t n_addrs;
};

struct netif_list {
	struct netif *v;
	size_t n;
};

/* Read every interface (also those without an address). -ENOMEM, or the
 * getifaddrs() error with err saying so. Free with netif_list_free. */
int netif_list_get(struct netif_list *ret, struct errmsg *err);
void netif_list_free(struct netif_list *l);

/* Add one getifaddrs()-style entry (name, flags, optional address) to a
 * list: the reader's building block, public for tests. An IPv4 alias label
 * ("eth0:1") counts as its interface ("eth0"). index 0: look it up by
 * name. -ENOMEM, -ENOSPC (NETIF_MAX interfaces). */
int netif_list_add(struct netif_list *l, const char *name, unsigned index, unsigned flags,
                   int family, const void *addr);

const struct netif *netif_find(const struct netif_list *l, const char *name);
const struct netif *netif_find_index(const struct netif_list *l, unsigned index);
bool netif_has_addr(const struct netif *nif, int family, const void *addr);

/* Whether mDNS runs on nif: it must be up, have a carrier and do multicast.
 * With names (--mdns-interface) only the named ones count; with none,
 * every such interface but loopback. */
bool netif_wanted(const struct netif *nif, char *const *names, size_t n_names);
