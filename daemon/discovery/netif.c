/* Interface snapshots for mDNS (see netif.h). */
#include "netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int find_or_add(struct netif_list *l, const char *name, unsigned index, struct netif **ret)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, name) == 0) {
			*ret = &l->v[i];
			return 0;
		}
	}
	if (l->n == NETIF_MAX)
		return -ENOSPC;
	struct netif *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	struct netif *nif = &v[l->n++];
	memset(nif, 0, sizeof(*nif));
	memcpy(nif->name, name, strlen(name) + 1);
	nif->index = index ? index : if_nametoindex(name);
	*ret = nif;
	return 0;
}

int netif_list_add(struct netif_list *l, const char *name, unsigned index, unsigned flags,
                   int family, const void *addr)
{
	char base[IF_NAMESIZE];
	size_t len = strcspn(name, ":"); /* "eth0:1" is an alias label of eth0 */
	if (len == 0 || len >= sizeof(base))
		return 0; /* not a name the kernel gives; ignore it */
	memcpy(base, name, len);
	base[len] = '\0';
	struct netif *nif;
	int r = find_or_add(l, base, index, &nif);
	if (r < 0)
		return r;
	if (len == strlen(name))
		nif->flags = flags; /* an alias's flags are its parent's anyway */
	if (index && !nif->index)
		nif->index = index;
	if ((family != AF_INET && family != AF_INET6) || !addr)
		return 0;
	if (netif_has_addr(nif, family, addr) || nif->n_addrs == NETIF_MAX_ADDRS)
		return 0;
	struct netif_addr *a = &nif->addrs[nif->n_addrs++];
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	return 0;
}

int netif_list_get(struct netif_list *ret, struct errmsg *err)
{
	*ret = (struct netif_list){0};
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) < 0)
		return errmsg_set(err, -errno, "cannot list the network interfaces: %s",
		                  strerror(errno));
	int r = 0;
	for (struct ifaddrs *p = ifa; p && r == 0; p = p->ifa_next) {
		if (!p->ifa_name)
			continue;
		int family = p->ifa_addr ? p->ifa_addr->sa_family : AF_UNSPEC;
		const void *addr = NULL;
		unsigned index = 0;
		if (family == AF_INET)
			addr = &((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr;
		else if (family == AF_INET6)
			addr = &((const struct sockaddr_in6 *)(const void *)p->ifa_addr)->sin6_addr;
		else if (family == AF_PACKET)
			index = (unsigned)((const struct sockaddr_ll *)(const void *)p->ifa_addr)
			                ->sll_ifindex;
		r = netif_list_add(ret, p->ifa_name, index, p->ifa_flags, family, addr);
		if (r == -ENOSPC)
			r = 0; /* the first NETIF_MAX interfaces still get mDNS */
	}
	freeifaddrs(ifa);
	if (r < 0) {
		netif_list_free(ret);
		return errmsg_set(err, r, "cannot list the network interfaces: out of memory");
	}
	return 0;
}

void netif_list_free(struct netif_list *l)
{
	free(l->v);
	*l = (struct netif_list){0};
}

const struct netif *netif_find(const struct netif_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

const struct netif *netif_find_index(const struct netif_list *l, unsigned index)
{
	for (size_t i = 0; index && i < l->n; i++)
		if (l->v[i].index == index)
			return &l->v[i];
	return NULL;
}

bool netif_has_addr(const struct netif *nif, int family, const void *addr)
{
	size_t len = family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < nif->n_addrs; i++)
		if (nif->addrs[i].family == family && memcmp(nif->addrs[i].addr, addr, len) == 0)
			return true;
	return false;
}

bool netif_wanted(const struct netif *nif, char *const *names, size_t n_names)
{
	const unsigned need = IFF_UP | IFF_RUNNING | IFF_MULTICAST;
	if ((nif->flags & need) != need || nif->index == 0)
		return false;
	if (n_names == 0)
		return !(nif->flags & IFF_LOOPBACK);
	for (size_t i = 0; i < n_names; i++)
		if (strcmp(names[i], nif->name) == 0)
			return true;
	return false;
}
