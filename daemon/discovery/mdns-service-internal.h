/* Inside the mDNS service: the per-interface engines and the state the
 * service's files share (mdns-service.c: sockets, interfaces, engines;
 * mdns-service-rv.c: the rendezvous backend). */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "discovery/mdns-service.h"
#include "discovery/mdns-socket.h"
#include "discovery/netwatch.h"

struct mdns_iface {
	struct mdns_svc *svc;
	char name[IF_NAMESIZE];
	unsigned index;
	struct mdns *m;
	struct event *timer;
	bool joined4, joined6;
	bool send_failing4, send_failing6; /* logged once until a send works */
	size_t n_addrs;                    /* announced now */
	/* The pairing advertisement and lookup this engine carries. */
	bool adv_on, seek_on;
	uint8_t adv_id[RENDEZVOUS_ID_LEN];
	uint8_t seek_id[RENDEZVOUS_ID_LEN];
};

struct mdns_rv {
	uint8_t id[RENDEZVOUS_ID_LEN];
	rendezvous_found_cb cb; /* lookups only */
	void *ctx;
};

/* What was last said about a --mdns-interface name, to log changes only. */
enum mdns_name_state { NAME_UNSEEN, NAME_ACTIVE, NAME_MISSING, NAME_DOWN };

struct mdns_svc {
	struct event_base *base;
	struct host *host;
	char **names;
	enum mdns_name_state *name_state;
	size_t n_names;
	bool dial_found, allow_loopback;
	char device_name[MDNS_DEVICE_NAME_MAX + 1]; /* advertised; "": none */
	struct mdns_sock s4, s6;
	struct event *ev4, *ev6;
	struct event *refresh_ev;
	struct netwatch *watch;
	uint8_t *rxbuf;
	struct mdns_iface *ifaces[MDNS_SVC_MAX_IFACES];
	size_t n_ifaces;
	bool warned_full; /* MDNS_SVC_MAX_IFACES reached, said once */
	const struct mdns_observer *obs[MDNS_SVC_MAX_OBSERVERS];
	size_t n_obs;
	struct rendezvous_backend backend;
	/* Newest last; the last one of each is on the air. */
	struct mdns_rv adverts[MDNS_SVC_MAX_RV];
	size_t n_adverts;
	struct mdns_rv lookups[MDNS_SVC_MAX_RV];
	size_t n_lookups;
};

/* Bring every engine's pairing advertisement and lookup in line with the
 * newest of each, and send what that produces. */
void mdns_svc_apply_pairing(struct mdns_svc *svc);
/* Fill svc->backend (mdns-service-rv.c). */
void mdns_svc_backend_init(struct mdns_svc *svc);
