/* The interface rules behind live mDNS (daemon/discovery/netif.h and
 * mdns-addrs.h), on hand-made interfaces: which interfaces mDNS runs on
 * (up, carrier, multicast; loopback only when named; only the named ones
 * when --mdns-interface is given), how a getifaddrs() listing folds into
 * interfaces (alias labels, duplicates, the cap), and which listen
 * addresses are announced on which link (wildcards expanded to the link's
 * addresses, specific addresses only where they live, loopback and IPv6
 * link-local never, no duplicates, at most MDNS_MAX_ADDRS). */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "discovery/mdns-addrs.h"
#include "discovery/netif.h"
#include "mdns.h"

#define UP_FLAGS (IFF_UP | IFF_RUNNING | IFF_MULTICAST)

static void add_ip(struct netif_list *l, const char *name, unsigned index, unsigned flags,
                   const char *ip)
{
	uint8_t a[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(family, ip, a), 1);
	assert_int_equal(netif_list_add(l, name, index, flags, family, a), 0);
}

static void test_wanted(void **state)
{
	(void)state;
	struct netif eth = {.name = "eth0", .index = 2, .flags = UP_FLAGS | IFF_BROADCAST};
	struct netif lo = {.name = "lo", .index = 1, .flags = UP_FLAGS | IFF_LOOPBACK};
	char *names_eth[] = {"eth0"};
	char *names_lo[] = {"wlan0", "lo"};

	/* No names: every up multicast link with a carrier, not loopback. */
	assert_true(netif_wanted(&eth, NULL, 0));
	assert_false(netif_wanted(&lo, NULL, 0));
	/* Named: only those, loopback included when asked for. */
	assert_true(netif_wanted(&eth, names_eth, 1));
	assert_false(netif_wanted(&eth, names_lo, 2));
	assert_true(netif_wanted(&lo, names_lo, 2));
	/* Down, no carrier (a veth whose peer is down), no multicast, no
	 * index: never, named or not. */
	const unsigned missing[] = {IFF_UP, IFF_RUNNING, IFF_MULTICAST};
	for (size_t i = 0; i < 3; i++) {
		struct netif n = eth;
		n.flags &= ~missing[i];
		assert_false(netif_wanted(&n, NULL, 0));
		assert_false(netif_wanted(&n, names_eth, 1));
	}
	struct netif n = eth;
	n.index = 0;
	assert_false(netif_wanted(&n, names_eth, 1));
}

static void test_list_folding(void **state)
{
	(void)state;
	struct netif_list l = {0};
	/* getifaddrs(): an AF_PACKET entry (no IP), addresses, an alias label
	 * whose entry must not change the link's flags, a duplicate. */
	assert_int_equal(netif_list_add(&l, "veth0", 7, UP_FLAGS, AF_PACKET, NULL), 0);
	add_ip(&l, "veth0", 0, UP_FLAGS, "10.0.0.1");
	add_ip(&l, "veth0:1", 0, IFF_UP, "10.0.0.2");
	add_ip(&l, "veth0", 0, UP_FLAGS, "10.0.0.1");
	add_ip(&l, "veth0", 0, UP_FLAGS, "fd00::1");
	assert_int_equal(netif_list_add(&l, "dummy1", 9, IFF_UP, AF_PACKET, NULL), 0);
	/* Not interface names: ignored. */
	assert_int_equal(netif_list_add(&l, ":0", 3, UP_FLAGS, AF_PACKET, NULL), 0);
	assert_int_equal(netif_list_add(&l, "a-name-far-too-long", 3, UP_FLAGS, AF_PACKET, NULL),
	                 0);

	assert_int_equal(l.n, 2);
	const struct netif *v = netif_find(&l, "veth0");
	assert_non_null(v);
	assert_ptr_equal(netif_find_index(&l, 7), v);
	assert_null(netif_find(&l, "veth0:1"));
	assert_null(netif_find_index(&l, 0));
	assert_int_equal(v->flags, UP_FLAGS);
	assert_int_equal(v->n_addrs, 3);
	uint8_t a[16];
	inet_pton(AF_INET, "10.0.0.2", a);
	assert_true(netif_has_addr(v, AF_INET, a));
	inet_pton(AF_INET6, "fd00::1", a);
	assert_true(netif_has_addr(v, AF_INET6, a));
	assert_false(netif_has_addr(netif_find(&l, "dummy1"), AF_INET6, a));
	netif_list_free(&l);
	assert_null(l.v);
}

static void test_list_cap(void **state)
{
	(void)state;
	struct netif_list l = {0};
	char name[IF_NAMESIZE];
	for (unsigned i = 0; i < NETIF_MAX; i++) {
		snprintf(name, sizeof(name), "if%u", i);
		assert_int_equal(netif_list_add(&l, name, i + 1, UP_FLAGS, AF_PACKET, NULL), 0);
	}
	assert_int_equal(netif_list_add(&l, "one-more", 999, UP_FLAGS, AF_PACKET, NULL), -ENOSPC);
	/* Known interfaces still take addresses; each up to its own cap. */
	for (unsigned i = 0; i < NETIF_MAX_ADDRS + 3; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.%u.%u", i / 200, i % 200 + 1);
		add_ip(&l, "if0", 0, UP_FLAGS, ip);
	}
	assert_int_equal(l.n, NETIF_MAX);
	assert_int_equal(netif_find(&l, "if0")->n_addrs, NETIF_MAX_ADDRS);
	netif_list_free(&l);
}

static struct multiaddr ma(const char *text)
{
	struct multiaddr m;
	assert_int_equal(multiaddr_parse(text, &m, NULL), 0);
	return m;
}

/* The announced set as one string "a b c". */
static void check_addrs(const struct multiaddr *listen, size_t n, const struct netif *nif,
                        bool allow_loopback, const char *want)
{
	struct multiaddr *v;
	size_t k;
	assert_int_equal(mdns_iface_addrs(listen, n, nif, allow_loopback, &v, &k), 0);
	char got[4096] = "";
	for (size_t i = 0; i < k; i++) {
		char text[MULTIADDR_TEXT_MAX];
		assert_true(multiaddr_to_string(&v[i], text, sizeof(text)) > 0);
		if (i)
			strcat(got, " ");
		strcat(got, text);
	}
	assert_string_equal(got, want);
	if (k == 0)
		assert_null(v);
	mdns_addrs_free(v, k);
}

static void test_addrs_per_link(void **state)
{
	(void)state;
	struct netif_list l = {0};
	add_ip(&l, "eth0", 2, UP_FLAGS, "192.168.1.2");
	add_ip(&l, "eth0", 2, UP_FLAGS, "192.168.1.3");
	add_ip(&l, "eth0", 2, UP_FLAGS, "fe80::1");
	add_ip(&l, "eth0", 2, UP_FLAGS, "2001:db8::5");
	add_ip(&l, "eth1", 3, UP_FLAGS, "10.0.0.5");
	add_ip(&l, "lo", 1, UP_FLAGS | IFF_LOOPBACK, "127.0.0.1");
	add_ip(&l, "lo", 1, UP_FLAGS | IFF_LOOPBACK, "::1");
	struct multiaddr listen[] = {
	        ma("/ip4/0.0.0.0/tcp/4001"),
	        ma("/ip6/::/tcp/4002"),
	        ma("/ip4/10.0.0.5/tcp/4003"),
	        ma("/ip4/192.168.1.2/tcp/4001"), /* already covered by 0.0.0.0 */
	        ma("/ip4/127.0.0.1/tcp/4004"),
	        ma("/ip4/0.0.0.0/udp/4005/quic-v1"),
	        ma("/ip4/0.0.0.0/udp/4006"), /* no transport a peer could dial */
	};
	size_t n = sizeof(listen) / sizeof(listen[0]);
	check_addrs(listen, n, netif_find(&l, "eth0"), false,
	            "/ip4/192.168.1.2/tcp/4001 /ip4/192.168.1.3/tcp/4001 /ip6/2001:db8::5/tcp/4002 "
	            "/ip4/192.168.1.2/udp/4005/quic-v1 /ip4/192.168.1.3/udp/4005/quic-v1");
	check_addrs(listen, n, netif_find(&l, "eth1"), false,
	            "/ip4/10.0.0.5/tcp/4001 /ip4/10.0.0.5/tcp/4003 /ip4/10.0.0.5/udp/4005/quic-v1");
	check_addrs(listen, n, netif_find(&l, "lo"), false, "");
	check_addrs(listen, n, netif_find(&l, "lo"), true,
	            "/ip4/127.0.0.1/tcp/4001 /ip6/::1/tcp/4002 /ip4/127.0.0.1/tcp/4004 "
	            "/ip4/127.0.0.1/udp/4005/quic-v1");
	/* The daemon's default, loopback only: nothing to announce anywhere. */
	check_addrs(&listen[4], 1, netif_find(&l, "eth0"), false, "");
	for (size_t i = 0; i < n; i++)
		multiaddr_free(&listen[i]);
	netif_list_free(&l);
}

static void test_addrs_cap(void **state)
{
	(void)state;
	struct netif_list l = {0};
	for (unsigned i = 0; i < NETIF_MAX_ADDRS; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.9.0.%u", i + 1);
		add_ip(&l, "eth0", 2, UP_FLAGS, ip);
	}
	struct multiaddr listen[] = {ma("/ip4/0.0.0.0/tcp/1"), ma("/ip4/0.0.0.0/tcp/2")};
	struct multiaddr *v;
	size_t k;
	assert_int_equal(mdns_iface_addrs(listen, 2, &l.v[0], false, &v, &k), 0);
	assert_int_equal(k, MDNS_MAX_ADDRS);
	/* Listen order first: every address of port 1 before any of port 2. */
	char text[MULTIADDR_TEXT_MAX];
	multiaddr_to_string(&v[NETIF_MAX_ADDRS - 1], text, sizeof(text));
	assert_string_equal(text, "/ip4/10.9.0.32/tcp/1");
	mdns_addrs_free(v, k);
	for (size_t i = 0; i < 2; i++)
		multiaddr_free(&listen[i]);
	netif_list_free(&l);
}

static void test_snapshot(void **state)
{
	(void)state;
	/* The real reader: whatever this machine has, lo is there, is
	 * loopback and is never picked without being named. */
	struct netif_list l;
	struct errmsg err = {{0}};
	assert_int_equal(netif_list_get(&l, &err), 0);
	const struct netif *lo = netif_find(&l, "lo");
	assert_non_null(lo);
	assert_true(lo->flags & IFF_LOOPBACK);
	assert_int_equal(lo->index, if_nametoindex("lo"));
	assert_false(netif_wanted(lo, NULL, 0));
	netif_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_wanted),    cmocka_unit_test(test_list_folding),
	        cmocka_unit_test(test_list_cap),  cmocka_unit_test(test_addrs_per_link),
	        cmocka_unit_test(test_addrs_cap), cmocka_unit_test(test_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
