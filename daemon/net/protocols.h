/* Protocol registry: protocol ID -> handler, table-dispatched.
 *
 * Inbound streams are negotiated with multistream-select against the IDs
 * registered here; the matching handler's on_stream() then owns the stream
 * (it sets callbacks and eventually closes or resets it). Outbound streams
 * are opened with host_open_stream() (daemon/net/host.h), which negotiates
 * one protocol and hands the stream to the caller's completion callback.
 *
 * A module registers a table of rows ending with {0}:
 *   static const struct protocol_handler ping_handlers[] = {
 *           {"/ipfs/ping/1.0.0", ping_on_stream, .max_inbound_per_peer = 2},
 *           {0},
 *   };
 *   protocols_register(reg, ping_handlers, ping_ctx);
 */
#pragma once

#include <stddef.h>

#include "stream.h"

struct protocols;

/* Most protocols one registry holds: the multistream-select listener offers
 * them all on every inbound stream and cannot take more (MSS_MAX_PROTOCOLS). */
#define PROTOCOLS_MAX 64
/* Inbound streams of one protocol one peer may hold open when the row says 0:
 * above the 100 concurrent streams the interop suite opens, well under the
 * per-connection stream cap (HOST_DEFAULT_MAX_STREAMS_PER_CONN). */
#define PROTOCOLS_DEFAULT_MAX_INBOUND_PER_PEER 128

struct protocol_handler {
	const char *id;
	/* ctx is the pointer given to protocols_register(). */
	void (*on_stream)(struct stream *s, void *ctx);
	/* Inbound streams of this protocol one peer may hold open at once;
	 * 0 means the registry default. Extra ones are reset. */
	unsigned max_inbound_per_peer;
};

struct protocols *protocols_new(void);
void protocols_free(struct protocols *r);
/* -EEXIST when an ID is already registered, -EINVAL for a bad ID (empty,
 * longer than a multistream-select message allows, "na"/"ls", or not
 * printable ASCII) or a row without on_stream, -ENOSPC past PROTOCOLS_MAX,
 * -ENOMEM. All or nothing: on error no row of the table is registered. Rows
 * are copied. */
int protocols_register(struct protocols *r, const struct protocol_handler *table, void *ctx);
/* Remove the rows with the IDs of table's rows (a module freed before the
 * host). Inbound streams still negotiating one of them are then refused.
 * Returns how many rows were removed. */
size_t protocols_unregister(struct protocols *r, const struct protocol_handler *table);
/* The IDs in registration order (for multistream-select and identify). */
size_t protocols_ids(const struct protocols *r, const char *const **ret);
/* The row for id, or NULL; *ret_ctx gets its ctx. */
const struct protocol_handler *protocols_find(const struct protocols *r, const char *id,
                                              void **ret_ctx);
/* The row's inbound-streams-per-peer cap with the default applied. */
unsigned protocols_max_inbound(const struct protocol_handler *row);
