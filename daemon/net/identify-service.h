/* identify on every connection (daemon side of proto/identify.h).
 *
 * We answer /ipfs/id/1.0.0 with our agent version, public key, listen
 * addresses, the protocols we accept inbound, the address we see the peer
 * at, and our signed peer record; we ask every new connection the same and
 * keep the verified answer on the connection (CONN_SLOT_IDENTIFY). We accept
 * /ipfs/id/push/1.0.0 updates and push ours to every peer when our addresses
 * or protocols change. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "multiaddr.h"

/* What a peer told us, checked: the public key matched the connection's
 * peer ID, addresses parsed, the peer record (if any) verified. */
struct identify_result {
	char *agent_version;
	char *protocol_version;
	char **protocols;
	size_t n_protocols;
	struct multiaddr *listen_addrs;
	size_t n_listen_addrs;
	struct multiaddr observed_addr; /* how the peer sees us; len 0 if absent */
	bool has_record;                /* a signed peer record that verified */
	uint64_t record_seq;
	size_t dropped; /* entries ignored: over caps or malformed */
	bool from_push; /* this update came on /ipfs/id/push/1.0.0 */
};

struct identify_service;

/* Called when a connection's identify completes (first answer or a push). */
typedef void (*identify_done_cb)(struct conn *c, const struct identify_result *r, void *ctx);

/* Register the two protocols on h and ask every new connection. Errors
 * from protocols_register() (-EEXIST when registered twice), -ENOMEM. */
int identify_service_new(struct host *h, const char *agent_version, struct identify_service **ret);
/* Stop asking and pushing. The protocol rows stay registered with svc as
 * their ctx (the registry has no removal), so free the host right after,
 * on the same loop turn: host_free() then finishes what was in flight.
 * NULL-safe. */
void identify_service_free(struct identify_service *svc);
void identify_service_set_callback(struct identify_service *svc, identify_done_cb cb, void *ctx);
/* Our addresses or protocols changed: push to every connected peer that
 * speaks identify push (or whose identify we do not know yet). */
void identify_service_push_all(struct identify_service *svc);
/* The verified identify of c, or NULL when it has not completed. */
const struct identify_result *identify_get(const struct conn *c);
/* True when c's identify lists protocol (false while it is unknown). */
bool identify_speaks(const struct conn *c, const char *protocol);
/* host_open_stream() for protocol on c, optimistic (host_open_stream_lazy():
 * the first bytes ride behind the proposal, a round trip sooner) when c's
 * identify lists protocol. Same callback and return values; a refusal after
 * all shows as on_closed(-ENOPROTOOPT) instead of cb's err. */
int identify_open_stream(struct host *h, struct conn *c, const char *protocol, host_stream_cb cb,
                         void *ctx);
