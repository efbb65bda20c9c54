/* The live mDNS service (daemon/discovery/mdns-service.h) end to end in one
 * process: two hosts, two services, real sockets on port 5353, inside a
 * private network namespace this test makes (unshare) whose only interface
 * is its own loopback, so nothing reaches any real network. Loopback gets
 * the multicast flag there and the services run with allow_loopback.
 *
 * Shown: each service finds the other's host at its listen address on
 * "lo" (observer events); a clean free says goodbye, so the other side
 * drops the peer at once; the rendezvous backend puts the newest pairing
 * advertisement on the air, brings the previous one back when the newest
 * is withdrawn, and finds nothing once all are withdrawn.
 *
 * Needs root (unshare(CLONE_NEWNET)); skipped otherwise. */
#include "nettest.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "discovery/mdns-service.h"
#include "discovery/rendezvous.h"

static bool in_netns;

/* A private network namespace with loopback up and multicast-capable. */
static int make_netns(void **state)
{
	(void)state;
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return 0; /* tests skip */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_MULTICAST;
	int r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	if (r < 0)
		return -1;
	in_netns = true;
	nt_base = event_base_new();
	return nt_base ? 0 : -1;
}

static int free_base(void **state)
{
	(void)state;
	if (nt_base)
		event_base_free(nt_base);
	return 0;
}

#define MAX_SEEN 16

struct seen {
	struct mdns_peer_event ev[MAX_SEEN];
	struct peerid ids[MAX_SEEN];
	char addr0[MAX_SEEN][MULTIADDR_TEXT_MAX];
	char ifname[MAX_SEEN][IF_NAMESIZE];
	size_t n;
};

static void on_peer(const struct mdns_peer_event *ev, void *ctx)
{
	struct seen *s = ctx;
	if (s->n == MAX_SEEN)
		return;
	s->ev[s->n] = *ev;
	s->ids[s->n] = *ev->id;
	s->addr0[s->n][0] = '\0';
	if (ev->n_addrs)
		multiaddr_to_string(&ev->addrs[0], s->addr0[s->n], MULTIADDR_TEXT_MAX);
	snprintf(s->ifname[s->n], IF_NAMESIZE, "%s", ev->ifname);
	s->n++;
}

struct want {
	struct seen *seen;
	enum mdns_event_type type;
	const struct peerid *id;
};

static ssize_t find_seen(const struct want *w)
{
	for (size_t i = 0; i < w->seen->n; i++)
		if (w->seen->ev[i].type == w->type && peerid_equal(&w->seen->ids[i], w->id))
			return (ssize_t)i;
	return -1;
}

static bool seen_cond(void *arg)
{
	return find_seen(arg) >= 0;
}

static struct mdns_svc *svc_new(struct host *h)
{
	char *names[] = {"lo"};
	struct mdns_service_config cfg = {.base = nt_base,
	                                  .host = h,
	                                  .interfaces = names,
	                                  .n_interfaces = 1,
	                                  .allow_loopback = true};
	struct mdns_svc *svc;
	struct errmsg err = {{0}};
	if (mdns_service_new(&cfg, &svc, &err) < 0)
		fail_msg("mdns_service_new: %s", err.text);
	assert_int_equal(mdns_service_iface_count(svc), 1);
	assert_string_equal(mdns_service_iface_name(svc, 0), "lo");
	assert_true(mdns_service_has_addrs(svc));
	return svc;
}

static void listen_text(struct host *h, char out[MULTIADDR_TEXT_MAX])
{
	const struct multiaddr *la;
	assert_int_equal(host_listen_addrs(h, &la), 1);
	assert_true(multiaddr_to_string(&la[0], out, MULTIADDR_TEXT_MAX) > 0);
}

static void test_discovery_and_goodbye(void **state)
{
	(void)state;
	if (!in_netns)
		skip();
	struct host *ha = nt_host_new("a"), *hb = nt_host_new("b");
	struct mdns_svc *a = svc_new(ha), *b = svc_new(hb);
	struct seen sa = {0}, sb = {0};
	struct mdns_observer oa = {on_peer, &sa}, ob = {on_peer, &sb};
	assert_int_equal(mdns_service_add_observer(a, &oa), 0);
	assert_int_equal(mdns_service_add_observer(b, &ob), 0);

	struct want wa = {&sa, MDNS_EV_PEER_FOUND, host_peer_id(hb)};
	struct want wb = {&sb, MDNS_EV_PEER_FOUND, host_peer_id(ha)};
	assert_true(nt_run_until(seen_cond, &wa));
	assert_true(nt_run_until(seen_cond, &wb));
	char want_addr[MULTIADDR_TEXT_MAX];
	listen_text(hb, want_addr);
	size_t k = (size_t)find_seen(&wa);
	assert_string_equal(sa.addr0[k], want_addr);
	assert_string_equal(sa.ifname[k], "lo");
	assert_int_equal(sa.ev[k].n_addrs, 1);
	/* Each found only the other: never itself. */
	for (size_t i = 0; i < sa.n; i++)
		assert_false(peerid_equal(&sa.ids[i], host_peer_id(ha)));

	/* Freeing a says goodbye: b drops it in about a second, not after
	 * the 120 s TTL. */
	mdns_service_free(a);
	struct want gone = {&sb, MDNS_EV_PEER_EXPIRED, host_peer_id(ha)};
	assert_true(nt_run_until_ms(seen_cond, &gone, 5000));

	mdns_service_remove_observer(b, &ob);
	mdns_service_free(b);
	host_free(ha);
	host_free(hb);
}

struct found {
	struct peerid peer;
	char addr0[MULTIADDR_TEXT_MAX];
	int calls;
};

static void on_found(const struct peerid *peer, const struct multiaddr *addrs, size_t n, void *ctx)
{
	struct found *f = ctx;
	f->peer = *peer;
	f->addr0[0] = '\0';
	if (n)
		multiaddr_to_string(&addrs[0], f->addr0, sizeof(f->addr0));
	f->calls++;
}

static bool found_cond(void *arg)
{
	return ((struct found *)arg)->calls > 0;
}

static void test_pairing_stack(void **state)
{
	(void)state;
	if (!in_netns)
		skip();
	struct host *ha = nt_host_new("a"), *hb = nt_host_new("b");
	struct mdns_svc *a = svc_new(ha), *b = svc_new(hb);
	struct rendezvous *ra = rendezvous_new(), *rb = rendezvous_new();
	assert_int_equal(rendezvous_add_backend(ra, mdns_service_backend(a)), 0);
	assert_int_equal(rendezvous_add_backend(rb, mdns_service_backend(b)), 0);
	assert_string_equal(mdns_service_backend(a)->name, "mdns");
	uint8_t id1[RENDEZVOUS_ID_LEN], id2[RENDEZVOUS_ID_LEN], id3[RENDEZVOUS_ID_LEN];
	memset(id1, 0x11, sizeof(id1));
	memset(id2, 0x22, sizeof(id2));
	memset(id3, 0x33, sizeof(id3));

	/* Two codes generated: the newer one is on the air. */
	assert_int_equal(rendezvous_advertise(ra, id1), 0);
	assert_int_equal(rendezvous_advertise(ra, id2), 0);
	struct found f2 = {0};
	assert_int_equal(rendezvous_lookup(rb, id2, on_found, &f2), 0);
	assert_true(nt_run_until(found_cond, &f2));
	assert_true(peerid_equal(&f2.peer, host_peer_id(ha)));
	char want_addr[MULTIADDR_TEXT_MAX];
	listen_text(ha, want_addr);
	assert_string_equal(f2.addr0, want_addr);
	rendezvous_lookup_stop(rb, id2);

	/* The newer code ends: the older one is back. */
	rendezvous_withdraw(ra, id2);
	struct found f1 = {0};
	assert_int_equal(rendezvous_lookup(rb, id1, on_found, &f1), 0);
	assert_true(nt_run_until(found_cond, &f1));
	assert_true(peerid_equal(&f1.peer, host_peer_id(ha)));
	rendezvous_lookup_stop(rb, id1);

	/* A code nobody advertises is never found (b queries at once and
	 * again after a second; a answers only for its own code). */
	struct found f3 = {0};
	assert_int_equal(rendezvous_lookup(rb, id3, on_found, &f3), 0);
	nt_run_for(1500);
	assert_int_equal(f3.calls, 0);
	rendezvous_lookup_stop(rb, id3);
	assert_int_equal(f2.calls, 1);

	/* Backend bookkeeping: a duplicate is refused by the fan-out. */
	assert_int_equal(rendezvous_advertise(ra, id1), -EEXIST);
	rendezvous_withdraw(ra, id1);

	rendezvous_remove_backend(ra, mdns_service_backend(a));
	rendezvous_remove_backend(rb, mdns_service_backend(b));
	rendezvous_free(ra);
	rendezvous_free(rb);
	mdns_service_free(a);
	mdns_service_free(b);
	host_free(ha);
	host_free(hb);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct mdns_svc *svc = (struct mdns_svc *)1;
	struct errmsg err = {{0}};
	struct mdns_service_config cfg = {0};
	assert_int_equal(mdns_service_new(&cfg, &svc, &err), -EINVAL);
	assert_null(svc);
	assert_non_null(strstr(err.text, "host"));
	mdns_service_free(NULL);
	assert_int_equal(mdns_service_iface_count(NULL), 0);
	assert_null(mdns_service_backend(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_config),
	        cmocka_unit_test(test_discovery_and_goodbye),
	        cmocka_unit_test(test_pairing_stack),
	};
	return cmocka_run_group_tests(tests, make_netns, free_base);
}
