/* handlers.* and messages.*: the glue between the control API and the
 * DeviceMessage service (daemon/messages/messages.h). The server's ctx is
 * the struct node; the service is n->messages->svc (core/node-messages.h).
 *
 * A local app registers a Custom protocol with handlers.register; messages
 * for it arrive on that app's connection alone as message.received events
 * {message_id, device_id, device_name, protocol, payload (base64),
 * metadata, needs_reply, durable, redelivered, priority}; it answers with
 * messages.reply. A durable message stays in the daemon's inbox until the
 * app calls messages.ack (or messages.reply) for it; if the app goes first,
 * or the daemon restarts, it is shown again (redelivered: true, the same
 * message_id) to the next app that registers the protocol.
 * messages.send waits for the reply (or returns once the
 * message is queued, for durable and fire-and-forget ones). When the app's
 * connection closes, its protocols are unregistered and its waiting sends
 * cancelled. Results, errors and events follow proto/openrpc.json. */
#pragma once

#include <stdint.h>

#include "devmsg.h"
#include "rpc.h"

struct node;
struct msgrpc;

/* Per-client requests awaiting messages.reply, per client (older ones are
 * refused with QUEUE_FULL to their sender). */
#define MSGRPC_MAX_INBOX 1024
/* Protocols one client may register. */
#define MSGRPC_MAX_PROTOCOLS 32

/* handlers.register, handlers.unregister, messages.send, messages.reply,
 * messages.ack, messages.status. */
extern const struct rpc_method rpc_messages_methods[];

/* The per-client state (registrations, inboxes, waiting sends). */
struct msgrpc *msgrpc_new(void);
/* Shutdown, before the service is freed: waiting sends are answered
 * "stopping", registrations dropped, close hooks removed. NULL-safe. */
void msgrpc_free(struct msgrpc *r, struct node *n);

/* The service's durable outcomes as events: message.delivered
 * {message_id, device_id} and message.failed {message_id, device_id,
 * reason}. */
void msgrpc_outcome(struct node *n, const char *device_id, const uint8_t id[DEVMSG_ID_LEN], int err,
                    const char *text);
