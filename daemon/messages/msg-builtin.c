/* Built-in handlers of the message service, registered like any other:
 * Ping is answered with a Pong carrying its timestamp and payload back;
 * Keepalive needs no answer (its arrival is the point). Session refresh
 * belongs to the persist service, which registers its own body handler. */
#include "messages-internal.h"

static int on_ping(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	const DevmsgPb__Ping *ping = in->msg->ping;
	DevmsgPb__Pong pong = DEVMSG_PB__PONG__INIT;
	pong.has_ping_timestamp_ms = ping->has_timestamp_ms;
	pong.ping_timestamp_ms = ping->timestamp_ms;
	pong.has_timestamp_ms = 1;
	pong.timestamp_ms = msg_wall_ms();
	pong.has_payload = ping->has_payload;
	pong.payload = ping->payload;
	devmsg_pb reply = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	reply.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_PONG;
	reply.pong = &pong;
	return messages_respond(m, in, &reply);
}

static int on_keepalive(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	return 0;
}

int msg_builtin_register(struct messages *m)
{
	int r = messages_register_body(m, DEVMSG_PB__DEVICE_MESSAGE__BODY_PING, on_ping, NULL);
	if (r == 0)
		r = messages_register_body(m, DEVMSG_PB__DEVICE_MESSAGE__BODY_KEEPALIVE,
		                           on_keepalive, NULL);
	return r;
}
