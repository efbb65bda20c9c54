/* Where a pairing joiner finds the initiator holding its code.
 *
 * The pairing service publishes only the 32-byte rendezvous identifier
 * (docs/pairing.md) through every registered rendezvous backend, and a
 * joiner asks the backends to find it. mDNS is the first backend (the
 * pairing advertisement on the LAN); the DHT rendezvous of a later issue
 * plugs in as another one, so the pairing code never changes for it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "multiaddr.h"
#include "peerid.h"

#define RENDEZVOUS_ID_LEN 32

/* A candidate initiator: its peer ID and the addresses it announced. The
 * callback may fire several times (several backends, re-announcements);
 * the joiner dials each new candidate and the pairing proof decides. */
typedef void (*rendezvous_found_cb)(const struct peerid *peer, const struct multiaddr *addrs,
                                    size_t n_addrs, void *ctx);

struct rendezvous_backend {
	const char *name; /* "mdns", later "dht" */
	/* Start answering for id (initiator side) until withdraw. */
	int (*advertise)(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN]);
	void (*withdraw)(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN]);
	/* Look for id (joiner side): query now and report matches until stop. */
	int (*lookup)(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN], rendezvous_found_cb cb,
	              void *ctx);
	void (*lookup_stop)(void *impl, const uint8_t id[RENDEZVOUS_ID_LEN]);
	void *impl;
};

struct rendezvous;

struct rendezvous *rendezvous_new(void);
void rendezvous_free(struct rendezvous *r);
/* Backends are borrowed; remove before freeing them. */
int rendezvous_add_backend(struct rendezvous *r, const struct rendezvous_backend *b);
void rendezvous_remove_backend(struct rendezvous *r, const struct rendezvous_backend *b);
/* Fan out to every backend; succeed if at least one took it (or none exist:
 * then only `pair join --peer` can work, and the caller says so). */
int rendezvous_advertise(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN]);
void rendezvous_withdraw(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN]);
int rendezvous_lookup(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN],
                      rendezvous_found_cb cb, void *ctx);
void rendezvous_lookup_stop(struct rendezvous *r, const uint8_t id[RENDEZVOUS_ID_LEN]);
size_t rendezvous_backend_count(const struct rendezvous *r);
