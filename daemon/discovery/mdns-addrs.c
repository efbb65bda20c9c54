/* Per-interface announce addresses (see mdns-addrs.h). */
#include "mdns-addrs.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mdns.h"

static bool is_unspecified(int family, const uint8_t *addr)
{
	static const uint8_t zero[16];
	return memcmp(addr, zero, family == AF_INET ? 4 : 16) == 0;
}

/* Append /ipX/<addr>/tcp|udp.../<port> unless already there or full.
 * 0 or -ENOMEM. */
static int add(struct multiaddr *v, size_t *n, int family, const uint8_t *addr, uint16_t port,
               bool quic, bool allow_loopback)
{
	if (*n == MDNS_MAX_ADDRS)
		return 0;
	struct multiaddr ma;
	if (multiaddr_from_ip(family, addr, port, quic, &ma) < 0)
		return -ENOMEM;
	bool keep = mdns_addr_usable(&ma, allow_loopback);
	for (size_t i = 0; keep && i < *n; i++)
		if (multiaddr_equal(&v[i], &ma))
			keep = false;
	if (!keep) {
		multiaddr_free(&ma);
		return 0;
	}
	v[(*n)++] = ma;
	return 0;
}

static int add_listen(struct multiaddr *v, size_t *n, const struct multiaddr *la,
                      const struct netif *nif, bool allow_loopback)
{
	int family;
	const uint8_t *addr;
	uint16_t port;
	bool quic = false;
	if (multiaddr_as_tcp(la, &family, &addr, &port) < 0) {
		if (multiaddr_as_quic(la, &family, &addr, &port) < 0)
			return 0; /* a transport mDNS peers could not dial */
		quic = true;
	}
	if (!is_unspecified(family, addr))
		return netif_has_addr(nif, family, addr)
		               ? add(v, n, family, addr, port, quic, allow_loopback)
		               : 0;
	for (size_t i = 0; i < nif->n_addrs; i++) {
		if (nif->addrs[i].family != family)
			continue;
		int r = add(v, n, family, nif->addrs[i].addr, port, quic, allow_loopback);
		if (r < 0)
			return r;
	}
	return 0;
}

int mdns_iface_addrs(const struct multiaddr *listen, size_t n_listen, const struct netif *nif,
                     bool allow_loopback, struct multiaddr **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	struct multiaddr *v = calloc(MDNS_MAX_ADDRS, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < n_listen; i++) {
		int r = add_listen(v, &n, &listen[i], nif, allow_loopback);
		if (r < 0) {
			mdns_addrs_free(v, n);
			return r;
		}
	}
	if (n == 0) {
		free(v);
		return 0;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void mdns_addrs_free(struct multiaddr *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		multiaddr_free(&v[i]);
	free(v);
}
