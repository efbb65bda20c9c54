/* handlers.* and messages.* (rpc-messages.h): local apps as DeviceMessage
 * handlers, and sending with the reply as the call's answer.
 *
 * Per connected app there is one record: the protocols it registered, the
 * requests it was shown that still wait for its messages.reply (its
 * inbox), and its messages.send calls waiting for replies. One close hook
 * per record undoes all of it when the app goes.
 *
 * Errors carry data {reason, detail} like pairing's: reason is a stable
 * word ("not_found", "ambiguous", "revoked", "queue_full", "busy",
 * "timeout", "connection_lost", "no_handler", "denied", "peer_error",
 * "conflict", "stopping", "failed"), detail the sentence alone. */
#include "rpc-messages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "base64.h"
#include "core/node-messages.h"
#include "core/node-pairing.h"
#include "core/node.h"
#include "devices/devices.h"
#include "hex.h"
#include "log.h"
#include "messages/messages.h"
#include "messages/msgstore.h"
#include "net/clock.h"

/* Metadata entries accepted per message (each key and value is capped by
 * DEVMSG_MAX_STRING on the wire). */
#define MAX_METADATA 64

struct msgrpc_client;

/* A messages.send waiting for its reply. */
struct msgrpc_send {
	LIST_ENTRY(msgrpc_send) link;
	struct msgrpc_client *cl;
	struct rpc_call *call;
	uint8_t id[DEVMSG_ID_LEN];
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
	uint64_t t0_us;
};

/* A request shown to the app that waits for its messages.reply. */
struct inbox_entry {
	uint8_t id[DEVMSG_ID_LEN];
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
	char protocol[MESSAGES_PROTOCOL_NAME_MAX + 1];
	uint64_t expires_ms;
};

struct msgrpc_client {
	LIST_ENTRY(msgrpc_client) link;
	struct node *n;
	struct rpc_client *c;
	char protocols[MSGRPC_MAX_PROTOCOLS][MESSAGES_PROTOCOL_NAME_MAX + 1];
	size_t nprotocols;
	struct inbox_entry *inbox; /* MSGRPC_MAX_INBOX slots once needed */
	size_t ninbox;
	LIST_HEAD(, msgrpc_send) sends;
};

/* A messages.ack answered once the inbox is written (acks_answer). */
struct ack_wait {
	struct rpc_call *call;
	char hex[2 * DEVMSG_ID_LEN + 1];
	char device_id[MSGSTORE_DEVICE_ID_MAX + 1];
};

struct msgrpc {
	LIST_HEAD(, msgrpc_client) clients;
	/* Acks taken this loop turn: one inbox write per record for all. */
	struct ack_wait *acks;
	size_t nacks, acks_cap;
	struct event *ack_ev;
};

/* ---- helpers ----------------------------------------------------------------- */

static struct messages *service(struct node *n, struct rpc_call *call)
{
	if (n->state == NODE_RUNNING && n->messages && n->messages->svc)
		return n->messages->svc;
	rpc_call_errorf(call, JSONRPC_NOT_READY, "%s: the daemon is %s; retry in a moment",
	                jsonrpc_code_message(JSONRPC_NOT_READY), node_state_name(n->state));
	return NULL;
}

static void answer_error(struct rpc_call *call, int code, const char *reason, const char *detail)
{
	char msg[600];
	snprintf(msg, sizeof(msg), "%s: %s", jsonrpc_code_message(code), detail);
	rpc_call_error(call, code, msg,
	               json_pack("{s:s, s:s}", "reason", reason, "detail", detail));
}

static void id_hex(const uint8_t id[DEVMSG_ID_LEN], char out[2 * DEVMSG_ID_LEN + 1])
{
	hex_encode(id, DEVMSG_ID_LEN, out);
}

static bool parse_id(const char *text, uint8_t id[DEVMSG_ID_LEN])
{
	if (!text || strlen(text) != 2 * DEVMSG_ID_LEN)
		return false;
	struct buf b = BUF_INIT;
	bool ok = hex_decode(text, 2 * DEVMSG_ID_LEN, &b) == 0 && b.len == DEVMSG_ID_LEN;
	if (ok)
		memcpy(id, b.data, DEVMSG_ID_LEN);
	buf_free(&b);
	return ok;
}

/* The running service and the message_id parameter of messages.reply and
 * messages.ack, or NULL after answering the call with the error. */
static struct messages *service_and_id(struct node *n, struct rpc_call *call, json_t *params,
                                       const char **ret_hex, uint8_t id[DEVMSG_ID_LEN])
{
	struct messages *svc = service(n, call);
	if (!svc)
		return NULL;
	*ret_hex = json_string_value(json_object_get(params, "message_id"));
	if (!parse_id(*ret_hex, id)) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS,
		                "Invalid params: message_id must be 32 hex digits, as in "
		                "message.received");
		return NULL;
	}
	return svc;
}

/* New string reference with the base64 of data (NULL on ENOMEM). */
static json_t *b64_json(const uint8_t *data, size_t len)
{
	size_t n = base64_encoded_len(len, BASE64_PAD) + 1;
	char *s = malloc(n);
	if (!s)
		return NULL;
	base64_encode(data, len, BASE64_PAD, s, n);
	json_t *v = json_string(s);
	free(s);
	return v;
}

static const char *prio_name(DevmsgPb__Priority p)
{
	return p == DEVMSG_PB__PRIORITY__PRIORITY_HIGH  ? "high"
	       : p == DEVMSG_PB__PRIORITY__PRIORITY_LOW ? "low"
	                                                : "normal";
}

static json_t *metadata_json(const DevmsgPb__Custom *c)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < c->n_metadata; i++) {
		const DevmsgPb__KeyValue *kv = c->metadata[i];
		json_object_set_new(o, kv->key ? kv->key : "",
		                    json_string(kv->value ? kv->value : ""));
	}
	return o;
}

static const char *device_name(struct node *n, const char *device_id)
{
	const struct device *d = n->pairing && n->pairing->devices
	                                 ? devices_find_id(n->pairing->devices, device_id)
	                                 : NULL;
	return d ? d->info.name : NULL;
}

/* ---- client records -------------------------------------------------------------- */

static void client_gone(void *userdata, struct rpc_client *c);

static struct msgrpc_client *find_client(struct node *n, struct rpc_client *c)
{
	struct msgrpc_client *cl;
	LIST_FOREACH(cl, &n->messages->rpc->clients, link)
	if (cl->c == c)
		return cl;
	return NULL;
}

static int get_client(struct node *n, struct rpc_client *c, struct msgrpc_client **ret)
{
	struct msgrpc_client *cl = find_client(n, c);
	if (cl) {
		*ret = cl;
		return 0;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	int r = rpc_client_on_close(c, client_gone, cl);
	if (r < 0) {
		free(cl);
		return r;
	}
	cl->n = n;
	cl->c = c;
	LIST_INIT(&cl->sends);
	LIST_INSERT_HEAD(&n->messages->rpc->clients, cl, link);
	*ret = cl;
	return 0;
}

static void send_finish(struct msgrpc_send *s)
{
	LIST_REMOVE(s, link);
	free(s);
}

/* Undo everything the client set up; answer its waiting sends with code. */
static void client_release(struct msgrpc_client *cl, int code, const char *why)
{
	struct messages *svc = cl->n->messages->svc;
	for (size_t i = 0; i < cl->nprotocols; i++)
		messages_unregister(svc, cl->protocols[i]);
	cl->nprotocols = 0;
	struct msgrpc_send *s;
	while ((s = LIST_FIRST(&cl->sends))) {
		messages_cancel(svc, s->id);
		answer_error(s->call, code, code == JSONRPC_NOT_READY ? "stopping" : "failed", why);
		send_finish(s);
	}
	free(cl->inbox);
	LIST_REMOVE(cl, link);
	free(cl);
}

static void client_gone(void *userdata, struct rpc_client *c)
{
	client_release(userdata, JSONRPC_INTERNAL_ERROR, "client gone");
}

struct msgrpc *msgrpc_new(void)
{
	struct msgrpc *r = calloc(1, sizeof(*r));
	if (r)
		LIST_INIT(&r->clients);
	return r;
}

static void acks_answer(struct node *n);

void msgrpc_free(struct msgrpc *r, struct node *n)
{
	if (!r)
		return;
	acks_answer(n); /* the service is still there */
	free(r->acks);
	if (r->ack_ev)
		event_free(r->ack_ev);
	struct msgrpc_client *cl;
	while ((cl = LIST_FIRST(&r->clients))) {
		rpc_client_off_close(cl->c, client_gone, cl);
		client_release(cl, JSONRPC_NOT_READY, "the daemon is stopping");
	}
	free(r);
}

/* ---- the handler side: message.received ---------------------------------------- */

static void inbox_expire(struct msgrpc_client *cl, uint64_t now)
{
	for (size_t i = 0; i < cl->ninbox;)
		if (cl->inbox[i].expires_ms <= now)
			cl->inbox[i] = cl->inbox[--cl->ninbox];
		else
			i++;
}

static int inbox_add(struct msgrpc_client *cl, const struct messages_incoming *in)
{
	if (!cl->inbox && !(cl->inbox = calloc(MSGRPC_MAX_INBOX, sizeof(*cl->inbox))))
		return -ENOMEM;
	uint64_t now = mono_ms();
	inbox_expire(cl, now);
	if (cl->ninbox >= MSGRPC_MAX_INBOX)
		return -ENOBUFS;
	struct inbox_entry *e = &cl->inbox[cl->ninbox++];
	memcpy(e->id, in->msg->id.data, DEVMSG_ID_LEN);
	snprintf(e->device_id, sizeof(e->device_id), "%s", in->device_id);
	snprintf(e->protocol, sizeof(e->protocol), "%s", in->msg->custom->protocol);
	/* No sender waits longer than this. */
	e->expires_ms = now + MESSAGES_MAX_TIMEOUT_MS;
	return 0;
}

static struct inbox_entry *inbox_find(struct msgrpc_client *cl, const uint8_t id[DEVMSG_ID_LEN])
{
	inbox_expire(cl, mono_ms());
	for (size_t i = 0; i < cl->ninbox; i++)
		if (memcmp(cl->inbox[i].id, id, DEVMSG_ID_LEN) == 0)
			return &cl->inbox[i];
	return NULL;
}

static json_t *received_json(struct node *n, const struct messages_incoming *in)
{
	const DevmsgPb__Custom *c = in->msg->custom;
	char id[2 * DEVMSG_ID_LEN + 1];
	id_hex(in->msg->id.data, id);
	const char *name = device_name(n, in->device_id);
	return json_pack("{s:s, s:s, s:s?, s:s, s:o, s:o, s:b, s:b, s:b, s:s}", "message_id", id,
	                 "device_id", in->device_id, "device_name", name, "protocol", c->protocol,
	                 "payload", b64_json(c->payload.data, c->payload.len), "metadata",
	                 metadata_json(c), "needs_reply", in->needs_reply, "durable", in->durable,
	                 "redelivered", in->redelivered, "priority",
	                 prio_name(devmsg_priority(in->msg)));
}

static int on_message(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	struct msgrpc_client *cl = ctx;
	if (in->needs_reply) {
		int r = inbox_add(cl, in);
		if (r < 0)
			return r;
	}
	json_t *data = received_json(cl->n, in);
	int r = data ? rpc_client_notify(cl->c, "message.received", data) : -ENOMEM;
	json_decref(data);
	if (r < 0 && in->needs_reply)
		cl->ninbox--; /* it was the last one added */
	/* An app that cannot take the event is as good as gone. */
	if (r < 0)
		return r == -ENOMEM ? r : -ENOENT;
	/* A durable message stays in the daemon's inbox until the app says
	 * it is done with it: messages.ack, or messages.reply. */
	return in->durable ? MESSAGES_LATER : 0;
}

/* ---- handlers.register / handlers.unregister ------------------------------------- */

static int run_register(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	struct messages *svc = service(n, call);
	if (!svc)
		return 0;
	const char *proto = json_string_value(json_object_get(params, "protocol"));
	struct msgrpc_client *cl = NULL;
	int r = get_client(n, rpc_call_client(call), &cl);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cl->nprotocols; i++)
		if (strcmp(cl->protocols[i], proto) == 0)
			goto done; /* already this client's */
	if (cl->nprotocols >= MSGRPC_MAX_PROTOCOLS) {
		answer_error(call, JSONRPC_BUSY, "busy",
		             "this connection registered the most protocols it may (32)");
		return 0;
	}
	r = messages_register(svc, proto, on_message, cl);
	if (r == -EINVAL) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS,
		                "Invalid params: protocol must be 1 to %d printable characters "
		                "without spaces",
		                MESSAGES_PROTOCOL_NAME_MAX);
		return 0;
	}
	if (r == -EEXIST) {
		char why[300];
		snprintf(why, sizeof(why), "protocol '%s' already has a handler", proto);
		answer_error(call, JSONRPC_CONFLICT, "conflict", why);
		return 0;
	}
	if (r < 0) {
		answer_error(call, JSONRPC_BUSY, "busy",
		             "the daemon has the most handlers it keeps");
		return 0;
	}
	snprintf(cl->protocols[cl->nprotocols++], sizeof(cl->protocols[0]), "%s", proto);
done:
	rpc_call_reply(call, json_pack("{s:s, s:b}", "protocol", proto, "registered", 1));
	return 0;
}

static int run_unregister(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	struct messages *svc = service(n, call);
	if (!svc)
		return 0;
	const char *proto = json_string_value(json_object_get(params, "protocol"));
	struct msgrpc_client *cl = find_client(n, rpc_call_client(call));
	for (size_t i = 0; cl && i < cl->nprotocols; i++) {
		if (strcmp(cl->protocols[i], proto) != 0)
			continue;
		messages_unregister(svc, proto);
		memcpy(cl->protocols[i], cl->protocols[--cl->nprotocols], sizeof(cl->protocols[0]));
		rpc_call_reply(call, json_pack("{s:s, s:b}", "protocol", proto, "registered", 0));
		return 0;
	}
	char why[300];
	snprintf(why, sizeof(why), "this connection has no handler for protocol '%s'", proto);
	answer_error(call, JSONRPC_NOT_FOUND, "not_found", why);
	return 0;
}

/* ---- building a Custom message from params --------------------------------------- */

struct custom_buf {
	DevmsgPb__Custom c;
	DevmsgPb__KeyValue kv[MAX_METADATA];
	DevmsgPb__KeyValue *kvp[MAX_METADATA];
	struct buf payload;
	devmsg_pb m;
};

/* 0, or answers -32602 naming the parameter and returns -1. */
static int build_custom(struct rpc_call *call, json_t *params, const char *protocol,
                        struct custom_buf *b)
{
	*b = (struct custom_buf){.c = DEVMSG_PB__CUSTOM__INIT,
	                         .m = DEVMSG_PB__DEVICE_MESSAGE__INIT};
	const char *p64 = json_string_value(json_object_get(params, "payload"));
	struct errmsg e;
	if (base64_decode(p64, strlen(p64), BASE64_PAD, &b->payload, &e) < 0) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS,
		                "Invalid params: payload must be standard base64 with padding (%s)",
		                e.text);
		return -1;
	}
	json_t *md = json_object_get(params, "metadata");
	const char *k;
	json_t *v;
	json_object_foreach(md, k, v)
	{
		if (!json_is_string(v) || b->c.n_metadata >= MAX_METADATA) {
			rpc_call_errorf(call, JSONRPC_INVALID_PARAMS,
			                "Invalid params: metadata must be an object of at most %d "
			                "string values",
			                MAX_METADATA);
			return -1;
		}
		DevmsgPb__KeyValue *kv = &b->kv[b->c.n_metadata];
		*kv = (DevmsgPb__KeyValue)DEVMSG_PB__KEY_VALUE__INIT;
		kv->key = (char *)k;
		kv->value = (char *)json_string_value(v);
		b->kvp[b->c.n_metadata++] = kv;
	}
	b->c.metadata = b->kvp;
	b->c.protocol = (char *)protocol;
	b->c.has_payload = 1;
	b->c.payload = (ProtobufCBinaryData){b->payload.len, b->payload.data};
	b->m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	b->m.custom = &b->c;
	return 0;
}

/* ---- messages.send ------------------------------------------------------------------ */

static int parse_prio(json_t *params, enum msgq_prio *ret)
{
	const char *p = json_string_value(json_object_get(params, "priority"));
	if (!p || strcmp(p, "normal") == 0)
		*ret = MSGQ_NORMAL;
	else if (strcmp(p, "high") == 0)
		*ret = MSGQ_HIGH;
	else if (strcmp(p, "low") == 0)
		*ret = MSGQ_LOW;
	else
		return -EINVAL;
	return 0;
}

/* The paired device named by params.device, or answers and NULL. */
static const struct device *find_device(struct node *n, struct rpc_call *call, json_t *params)
{
	const char *q = json_string_value(json_object_get(params, "device"));
	const struct device *d = NULL;
	struct errmsg e;
	int r = n->pairing && n->pairing->devices ? devices_lookup(n->pairing->devices, q, &d, &e)
	                                          : errmsg_set(&e, -ENOENT, "no paired devices");
	if (r == -ENOTUNIQ) {
		answer_error(call, JSONRPC_INVALID_PARAMS, "ambiguous", e.text);
		return NULL;
	}
	if (r < 0) {
		answer_error(call, JSONRPC_NOT_FOUND, "not_found", e.text);
		return NULL;
	}
	if (d->trust == DEVICE_REVOKED || d->trust == DEVICE_EXPIRED) {
		char why[300];
		snprintf(why, sizeof(why), "device '%s' is %s: messages are not sent to it%s",
		         d->info.name, device_trust_name(d->trust),
		         d->trust == DEVICE_EXPIRED ? "; pair it again" : "");
		answer_error(call, JSONRPC_CONFLICT, "revoked", why);
		return NULL;
	}
	return d;
}

static void send_failed(struct rpc_call *call, int r, const char *text)
{
	if (r == -EINVAL)
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS, "Invalid params: %s", text);
	else if (r == -ENOBUFS)
		answer_error(call, JSONRPC_BUSY, "queue_full", text);
	else if (r == -EBUSY)
		answer_error(call, JSONRPC_BUSY, "busy", text);
	else
		answer_error(call, JSONRPC_INTERNAL_ERROR, "failed", text);
}

static const char *peer_reason(DevmsgPb__Error__Code code)
{
	switch (code) {
	case DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER:
		return "no_handler";
	case DEVMSG_PB__ERROR__CODE__ERROR_DENIED:
		return "denied";
	case DEVMSG_PB__ERROR__CODE__ERROR_QUEUE_FULL:
		return "queue_full";
	default:
		return "peer_error";
	}
}

static void reply_ok(struct msgrpc_send *s, const devmsg_pb *reply)
{
	char id[2 * DEVMSG_ID_LEN + 1], rid[2 * DEVMSG_ID_LEN + 1];
	id_hex(s->id, id);
	id_hex(reply->id.data, rid);
	bool custom = reply->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	const ProtobufCBinaryData empty = {0, NULL};
	const ProtobufCBinaryData *p = custom ? &reply->custom->payload : &empty;
	json_t *res = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I}", "message_id", id, "device_id",
	                        s->device_id, "reply_id", rid, "payload", b64_json(p->data, p->len),
	                        "metadata", custom ? metadata_json(reply->custom) : json_object(),
	                        "rtt_us", (json_int_t)(mono_us() - s->t0_us));
	rpc_call_reply(s->call, res);
}

static void send_done(void *ctx, int err, const devmsg_pb *reply, const char *text)
{
	struct msgrpc_send *s = ctx;
	char why[600];
	if (err == 0) {
		reply_ok(s, reply);
	} else if (err == -EREMOTEIO) {
		const DevmsgPb__Error *e = reply->error;
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		        &devmsg_pb__error__code__descriptor, e->code);
		snprintf(why, sizeof(why), "device %s answered %s: %s", s->device_id,
		         v ? v->name : "an error", text);
		answer_error(s->call, JSONRPC_PEER_ERROR, peer_reason(e->code), why);
	} else if (err == -ETIMEDOUT) {
		answer_error(s->call, JSONRPC_TIMEOUT, "timeout", text);
	} else if (err == -ECONNABORTED) {
		answer_error(s->call, JSONRPC_PEER_ERROR, "connection_lost", text);
	} else if (err == -ECANCELED) {
		answer_error(s->call, JSONRPC_NOT_READY, "stopping", "the daemon is stopping");
	} else {
		answer_error(s->call, JSONRPC_INTERNAL_ERROR, "failed", text);
	}
	send_finish(s);
}

/* A send that does not wait: answered now. */
static void reply_queued(struct rpc_call *call, const uint8_t id[DEVMSG_ID_LEN],
                         const char *device_id, bool durable)
{
	char hex[2 * DEVMSG_ID_LEN + 1];
	id_hex(id, hex);
	rpc_call_reply(call, json_pack("{s:s, s:s, s:b, s:b}", "message_id", hex, "device_id",
	                               device_id, "durable", durable, "queued", 1));
}

static int run_send(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	struct messages *svc = service(n, call);
	if (!svc)
		return 0;
	const struct device *dev = find_device(n, call, params);
	if (!dev)
		return 0;
	struct messages_send_opts o = {0};
	json_t *t = json_object_get(params, "timeout_ms");
	if (parse_prio(params, &o.prio) < 0 ||
	    (t && (json_integer_value(t) < 1 || json_integer_value(t) > MESSAGES_MAX_TIMEOUT_MS))) {
		rpc_call_errorf(call, JSONRPC_INVALID_PARAMS,
		                "Invalid params: priority must be high, normal or low and "
		                "timeout_ms 1 to %u",
		                MESSAGES_MAX_TIMEOUT_MS);
		return 0;
	}
	o.timeout_ms = t ? (uint32_t)json_integer_value(t) : 0;
	o.durable = json_is_true(json_object_get(params, "durable"));
	json_t *er = json_object_get(params, "expect_reply");
	o.expect_reply = er ? json_is_true(er) : !o.durable;
	struct custom_buf b;
	const char *proto = json_string_value(json_object_get(params, "protocol"));
	if (build_custom(call, params, proto, &b) < 0) {
		buf_free(&b.payload);
		return 0;
	}
	struct msgrpc_send *s = NULL;
	struct msgrpc_client *cl = NULL;
	int r = o.expect_reply ? get_client(n, rpc_call_client(call), &cl) : 0;
	if (r == 0 && o.expect_reply && !(s = calloc(1, sizeof(*s))))
		r = -ENOMEM;
	if (r < 0) {
		buf_free(&b.payload);
		return r;
	}
	uint8_t id[DEVMSG_ID_LEN];
	struct errmsg e = {{0}};
	r = messages_send(svc, dev->info.device_id, &b.m, &o, s ? send_done : NULL, s, id, &e);
	buf_free(&b.payload);
	if (r < 0) {
		free(s);
		send_failed(call, r, e.text);
		return 0;
	}
	if (!s) {
		reply_queued(call, id, dev->info.device_id, o.durable);
		return 0;
	}
	s->cl = cl;
	s->call = call;
	memcpy(s->id, id, DEVMSG_ID_LEN);
	snprintf(s->device_id, sizeof(s->device_id), "%s", dev->info.device_id);
	s->t0_us = mono_us();
	LIST_INSERT_HEAD(&cl->sends, s, link);
	return 0;
}

/* ---- messages.reply ------------------------------------------------------------------ */

static int run_reply(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	const char *hex;
	uint8_t id[DEVMSG_ID_LEN];
	struct messages *svc = service_and_id(n, call, params, &hex, id);
	if (!svc)
		return 0;
	struct msgrpc_client *cl = find_client(n, rpc_call_client(call));
	struct inbox_entry *ent = cl ? inbox_find(cl, id) : NULL;
	if (!ent) {
		answer_error(call, JSONRPC_NOT_FOUND, "not_found",
		             "no message with that id waits for a reply from this connection "
		             "(already answered, expired, or not a request)");
		return 0;
	}
	struct custom_buf b;
	if (build_custom(call, params, ent->protocol, &b) < 0) {
		buf_free(&b.payload);
		return 0;
	}
	struct inbox_entry copy = *ent;
	*ent = cl->inbox[--cl->ninbox]; /* answered once */
	struct errmsg e = {{0}};
	int r = messages_reply(svc, copy.device_id, copy.id, &b.m, &e);
	buf_free(&b.payload);
	if (r < 0) {
		send_failed(call, r, e.text);
		return 0;
	}
	/* A durable request is finished by its reply too. */
	r = messages_complete(svc, copy.device_id, copy.id, &e);
	if (r < 0 && r != -ENOENT)
		log_warning("device %s: %s", copy.device_id, e.text);
	rpc_call_reply(call, json_pack("{s:s, s:b}", "message_id", hex, "replied", 1));
	return 0;
}

/* ---- messages.ack ------------------------------------------------------------------ */

static bool client_has(const struct msgrpc_client *cl, const char *protocol)
{
	for (size_t i = 0; cl && i < cl->nprotocols; i++)
		if (strcmp(cl->protocols[i], protocol) == 0)
			return true;
	return false;
}

/* Write the inbox once for every ack taken since the last time, then answer
 * them all: an answered ack is on disk. */
static void acks_answer(struct node *n)
{
	struct msgrpc *r = n->messages ? n->messages->rpc : NULL;
	if (!r || !r->nacks)
		return;
	struct errmsg e = {{0}};
	int err = n->messages->svc ? messages_inbox_flush(n->messages->svc, &e) : 0;
	for (size_t i = 0; i < r->nacks; i++) {
		struct ack_wait *a = &r->acks[i];
		if (err < 0)
			answer_error(a->call, JSONRPC_INTERNAL_ERROR, "failed", e.text);
		else
			rpc_call_reply(a->call, json_pack("{s:s, s:s, s:b}", "message_id", a->hex,
			                                  "device_id", a->device_id, "acked", 1));
	}
	r->nacks = 0;
}

static void acks_cb(evutil_socket_t fd, short what, void *arg)
{
	acks_answer(arg);
}

static int ack_later(struct node *n, struct rpc_call *call, const char *hex, const char *device_id)
{
	struct msgrpc *r = n->messages->rpc;
	if (!r->ack_ev && !(r->ack_ev = event_new(n->base, -1, 0, acks_cb, n)))
		return -ENOMEM;
	if (r->nacks == r->acks_cap) {
		size_t cap = r->acks_cap ? 2 * r->acks_cap : 64;
		struct ack_wait *a = realloc(r->acks, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		r->acks = a;
		r->acks_cap = cap;
	}
	struct ack_wait *a = &r->acks[r->nacks++];
	a->call = call;
	snprintf(a->hex, sizeof(a->hex), "%s", hex);
	snprintf(a->device_id, sizeof(a->device_id), "%s", device_id);
	if (!event_pending(r->ack_ev, EV_TIMEOUT, NULL))
		event_active(r->ack_ev, EV_TIMEOUT, 0);
	return 0;
}

/* The app is done with a durable message: it leaves the daemon's inbox (on
 * disk before the answer) and is never shown again. Acks that arrive
 * together are written together, once this loop turn is over. */
static int run_ack(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	const char *hex;
	uint8_t id[DEVMSG_ID_LEN];
	struct messages *svc = service_and_id(n, call, params, &hex, id);
	if (!svc)
		return 0;
	const char *dev = NULL, *key = NULL;
	struct msgrpc_client *cl = find_client(n, rpc_call_client(call));
	if (messages_inbox_find(svc, id, &dev, &key) < 0 || !client_has(cl, key)) {
		answer_error(call, JSONRPC_NOT_FOUND, "not_found",
		             "no durable message with that id waits for an ack from a protocol "
		             "this connection handles (already acknowledged, or not durable)");
		return 0;
	}
	char device_id[MSGSTORE_DEVICE_ID_MAX + 1];
	snprintf(device_id, sizeof(device_id), "%s", dev);
	struct errmsg e = {{0}};
	int r = ack_later(n, call, hex, device_id);
	if (r < 0)
		return r;
	if (messages_complete_later(svc, device_id, id, &e) < 0) {
		n->messages->rpc->nacks--; /* found above: cannot happen */
		answer_error(call, JSONRPC_INTERNAL_ERROR, "failed", e.text);
	}
	return 0;
}

/* ---- messages.status ------------------------------------------------------------------ */

static json_t *device_json(struct node *n, struct messages *svc, const char *id)
{
	struct messages_device_stats st;
	if (messages_device_stats(svc, id, &st) < 0)
		return NULL;
	return json_pack("{s:s, s:s?, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                 "device_id", id, "device_name", device_name(n, id), "connected",
	                 st.connected, "stream_open", st.stream_open, "queued",
	                 (json_int_t)st.queued, "unsent", (json_int_t)st.unsent, "queued_bytes",
	                 (json_int_t)st.queued_bytes, "durable", (json_int_t)st.durable, "inbox",
	                 (json_int_t)st.inbox, "sent", (json_int_t)st.sent, "received",
	                 (json_int_t)st.received, "acked", (json_int_t)st.acked, "refused",
	                 (json_int_t)st.refused, "duplicates", (json_int_t)st.duplicates);
}

static int run_status(void *ctx, struct rpc_call *call, json_t *params)
{
	struct node *n = ctx;
	struct messages *svc = service(n, call);
	if (!svc)
		return 0;
	json_t *devs = json_array(), *handlers = json_array();
	for (size_t i = 0; devs && i < messages_device_count(svc); i++)
		json_array_append_new(devs, device_json(n, svc, messages_device_at(svc, i)));
	struct msgrpc_client *cl;
	LIST_FOREACH(cl, &n->messages->rpc->clients, link)
	for (size_t i = 0; handlers && i < cl->nprotocols; i++)
		json_array_append_new(handlers, json_string(cl->protocols[i]));
	json_t *res = json_pack("{s:o, s:o, s:I}", "devices", devs, "handlers", handlers,
	                        "outstanding", (json_int_t)messages_outstanding(svc));
	if (!res)
		return -ENOMEM;
	rpc_call_reply(call, res);
	return 0;
}

/* ---- outcomes of durable messages ------------------------------------------------------ */

void msgrpc_outcome(struct node *n, const char *device_id, const uint8_t id[DEVMSG_ID_LEN], int err,
                    const char *text)
{
	if (!n->rpc)
		return;
	char hex[2 * DEVMSG_ID_LEN + 1];
	id_hex(id, hex);
	json_t *data = err ? json_pack("{s:s, s:s, s:s}", "message_id", hex, "device_id", device_id,
	                               "reason", text ? text : "refused")
	                   : json_pack("{s:s, s:s}", "message_id", hex, "device_id", device_id);
	rpc_server_emit(n->rpc, err ? "message.failed" : "message.delivered", data);
	json_decref(data);
}

/* ---- the table --------------------------------------------------------------------------- */

static const struct rpc_param protocol_params[] = {
        {"protocol", RPC_PARAM_STRING, true},
        {0},
};

static const struct rpc_param send_params[] = {
        {"device", RPC_PARAM_STRING, true},
        {"protocol", RPC_PARAM_STRING, true},
        {"payload", RPC_PARAM_STRING, true},
        {"priority", RPC_PARAM_STRING, false},
        {"durable", RPC_PARAM_BOOL, false},
        {"timeout_ms", RPC_PARAM_INT, false},
        {"expect_reply", RPC_PARAM_BOOL, false},
        {"metadata", RPC_PARAM_OBJECT, false},
        {0},
};

static const struct rpc_param ack_params[] = {
        {"message_id", RPC_PARAM_STRING, true},
        {0},
};

static const struct rpc_param reply_params[] = {
        {"message_id", RPC_PARAM_STRING, true},
        {"payload", RPC_PARAM_STRING, true},
        {"metadata", RPC_PARAM_OBJECT, false},
        {0},
};

const struct rpc_method rpc_messages_methods[] = {
        {"handlers.register", protocol_params, run_register},
        {"handlers.unregister", protocol_params, run_unregister},
        {"messages.send", send_params, run_send},
        {"messages.reply", reply_params, run_reply},
        {"messages.ack", ack_params, run_ack},
        {"messages.status", NULL, run_status},
        {0},
};
