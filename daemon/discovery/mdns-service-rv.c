/* The mDNS rendezvous backend (rendezvous.h): the pairing service's
 * advertise/lookup become the engines' _sdpair._udp.local advertisement and
 * query. Each side keeps a stack: the newest id is on the air (a user who
 * abandons a code and generates another wants the new one found), and when
 * it ends the previous one still running is put back. */
#include "mdns-service-internal.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"

static ssize_t find(const struct mdns_rv *v, size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(v[i].id, id, RENDEZVOUS_ID_LEN) == 0)
			return (ssize_t)i;
	return -1;
}

static int push(struct mdns_rv *v, size_t *n, const uint8_t *id, rendezvous_found_cb cb, void *ctx)
{
	if (find(v, *n, id) >= 0)
		return -EEXIST;
	if (*n == MDNS_SVC_MAX_RV)
		return -ENOSPC;
	memcpy(v[*n].id, id, RENDEZVOUS_ID_LEN);
	v[*n].cb = cb;
	v[*n].ctx = ctx;
	(*n)++;
	return 0;
}

static bool pop(struct mdns_rv *v, size_t *n, const uint8_t *id)
{
	ssize_t k = find(v, *n, id);
	if (k < 0)
		return false;
	memmove(&v[k], &v[k + 1], (*n - (size_t)k - 1) * sizeof(v[0]));
	(*n)--;
	return true;
}

static int rv_advertise(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	struct mdns_svc *svc = impl;
	int r = push(svc->adverts, &svc->n_adverts, id, NULL, NULL);
	if (r < 0)
		return r;
	/* Accepted even with nothing to announce yet: a link or an address
	 * may come up while the code is valid. Say why nobody may find it. */
	if (svc->n_ifaces == 0)
		log_warning("pairing: no interface runs mDNS right now, so joiners on the LAN "
		            "cannot find this code until one comes up (or they use --peer)");
	else if (!mdns_service_has_addrs(svc))
		log_warning("pairing: mDNS has no address to announce (the daemon listens only on "
		            "loopback?); start sdnetd with --listen /ip4/0.0.0.0/tcp/0, or join "
		            "with --peer");
	mdns_svc_apply_pairing(svc);
	return 0;
}

static void rv_withdraw(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	struct mdns_svc *svc = impl;
	if (pop(svc->adverts, &svc->n_adverts, id))
		mdns_svc_apply_pairing(svc);
}

static int rv_lookup(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN], rendezvous_found_cb cb,
                     void *ctx)
{
	struct mdns_svc *svc = impl;
	if (!cb)
		return -EINVAL;
	int r = push(svc->lookups, &svc->n_lookups, id, cb, ctx);
	if (r < 0)
		return r;
	if (svc->n_ifaces == 0)
		log_warning("pairing: no interface runs mDNS right now; looking for the initiator "
		            "once one comes up");
	mdns_svc_apply_pairing(svc);
	return 0;
}

static void rv_lookup_stop(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN])
{
	struct mdns_svc *svc = impl;
	if (pop(svc->lookups, &svc->n_lookups, id))
		mdns_svc_apply_pairing(svc);
}

void mdns_svc_backend_init(struct mdns_svc *svc)
{
	svc->backend = (struct rendezvous_backend){
	        .name = "mdns",
	        .advertise = rv_advertise,
	        .withdraw = rv_withdraw,
	        .lookup = rv_lookup,
	        .lookup_stop = rv_lookup_stop,
	        .impl = svc,
	};
}
