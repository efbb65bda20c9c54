/* DeviceMessage codec: decode with caps and validation, encode with the
 * same rules, and Error replies so that nothing a peer sends is met with
 * silence. See devmsg.h for the rules and devmsg-scan.c for the caps. */
#include "devmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devmsg-internal.h"
#include "varint.h"

#define CODE(x) DEVMSG_PB__ERROR__CODE__ERROR_##x
#define BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_##x

static void fault_init(struct devmsg_fault *f)
{
	memset(f, 0, sizeof(*f));
	f->code = CODE(INTERNAL);
	f->reply = true;
}

devmsg_pb *devmsg_free(devmsg_pb *m)
{
	if (m)
		devmsg_pb__device_message__free_unpacked(m, NULL);
	return NULL;
}

static const ProtobufCFieldDescriptor *body_field(DevmsgPb__DeviceMessage__BodyCase body)
{
	if (body < DEVMSG_FIRST_BODY_FIELD)
		return NULL;
	return protobuf_c_message_descriptor_get_field(&devmsg_pb__device_message__descriptor,
	                                               (unsigned)body);
}

static int invalid(struct devmsg_fault *f, struct errmsg *e, const char *what)
{
	f->code = CODE(INVALID);
	return errmsg_set(e, -EINVAL, "DeviceMessage: %s", what);
}

static int check_ack(const DevmsgPb__Ack *a, struct devmsg_fault *f, struct errmsg *e)
{
	if (a->n_ids == 0)
		return invalid(f, e, "Ack without ids");
	for (size_t i = 0; i < a->n_ids; i++)
		if (a->ids[i].len != DEVMSG_ID_LEN) {
			f->code = CODE(INVALID);
			return errmsg_set(e, -EINVAL,
			                  "DeviceMessage: Ack id %zu is %zu bytes, not %d", i,
			                  a->ids[i].len, DEVMSG_ID_LEN);
		}
	return 0;
}

/* Rules no generic cap expresses. */
static int check_body(const devmsg_pb *m, struct devmsg_fault *f, struct errmsg *e)
{
	switch (m->body_case) {
	case BODY(ACK):
		return check_ack(m->ack, f, e);
	case BODY(ERROR):
		if (m->error->has_in_reply_to && m->error->in_reply_to.len != DEVMSG_ID_LEN)
			return invalid(f, e, "Error.in_reply_to must be 16 bytes");
		return 0;
	default:
		return 0;
	}
}

static int check_envelope(const devmsg_pb *m, struct devmsg_fault *f, struct errmsg *e)
{
	if (!m->has_id)
		return invalid(f, e, "id is missing");
	if (m->id.len != DEVMSG_ID_LEN) {
		f->code = CODE(INVALID);
		return errmsg_set(e, -EINVAL, "DeviceMessage: id is %zu bytes, not %d", m->id.len,
		                  DEVMSG_ID_LEN);
	}
	memcpy(f->id, m->id.data, DEVMSG_ID_LEN);
	f->has_id = true;
	if (m->has_in_reply_to && m->in_reply_to.len != DEVMSG_ID_LEN)
		return invalid(f, e, "in_reply_to must be 16 bytes");
	if (m->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY__NOT_SET)
		return invalid(f, e, "no body, exactly one is required");
	if (m->body_case == BODY(ERROR))
		f->reply = false;
	if (!body_field(m->body_case)) {
		f->code = CODE(UNKNOWN_BODY);
		f->body_field = (uint32_t)m->body_case;
		return errmsg_set(e, -EPROTONOSUPPORT, "DeviceMessage: body field %u is unknown",
		                  (unsigned)m->body_case);
	}
	/* Every body member of the union is a message pointer. */
	if (!m->keepalive)
		return invalid(f, e, "body is set but empty");
	return 0;
}

int devmsg_validate(const devmsg_pb *m, struct devmsg_fault *fault, struct errmsg *e)
{
	struct devmsg_fault local;
	struct devmsg_fault *f = fault ? fault : &local;
	fault_init(f);
	int r = check_envelope(m, f, e);
	if (r < 0)
		return r;
	r = devmsg_check_tree(&m->base, e);
	if (r < 0) {
		f->code = r == -EMSGSIZE ? CODE(TOO_LARGE) : CODE(INVALID);
		return r;
	}
	return check_body(m, f, e);
}

int devmsg_decode(const uint8_t *data, size_t len, devmsg_pb **ret, struct devmsg_fault *fault,
                  struct errmsg *e)
{
	struct devmsg_fault local;
	struct devmsg_fault *f = fault ? fault : &local;
	fault_init(f);
	if (len > DEVMSG_MAX_SIZE) {
		f->code = CODE(TOO_LARGE);
		return errmsg_set(e, -EMSGSIZE, "DeviceMessage: %zu bytes, the cap is %u", len,
		                  DEVMSG_MAX_SIZE);
	}
	int r = devmsg_scan_wire(data, len, f, e);
	if (r < 0)
		return r;
	devmsg_pb *m = devmsg_pb__device_message__unpack(NULL, len, data);
	if (!m) {
		/* The scan accepted the framing, so a field has the wrong wire
		 * type for its declared type (or memory ran out). */
		f->code = CODE(MALFORMED);
		return errmsg_set(e, -EBADMSG, "DeviceMessage: a field has the wrong wire type");
	}
	r = devmsg_validate(m, f, e);
	if (r < 0) {
		devmsg_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

int devmsg_pack(const devmsg_pb *m, struct buf *out, struct errmsg *e)
{
	int r = devmsg_validate(m, NULL, e);
	if (r < 0)
		return r;
	size_t n = devmsg_pb__device_message__get_packed_size(m);
	if (n > DEVMSG_MAX_SIZE)
		return errmsg_set(e, -EMSGSIZE, "DeviceMessage: %zu bytes, the cap is %u", n,
		                  DEVMSG_MAX_SIZE);
	uint8_t *p = buf_extend(out, n);
	if (!p)
		return -ENOMEM;
	devmsg_pb__device_message__pack(m, p);
	return 0;
}

int devmsg_encode(const devmsg_pb *m, struct buf *out, struct errmsg *e)
{
	size_t before = out->len;
	/* Pack first (the size is only final after validation), then slide
	 * the message right to make room for its length prefix. */
	int r = devmsg_pack(m, out, e);
	if (r < 0)
		return r;
	size_t n = out->len - before;
	uint8_t pre[VARINT_MAX_BYTES];
	int pn = varint_encode(n, pre);
	if (!buf_extend(out, (size_t)pn)) {
		out->len = before;
		return -ENOMEM;
	}
	memmove(out->data + before + pn, out->data + before, n);
	memcpy(out->data + before, pre, (size_t)pn);
	return 0;
}

void devmsg_header(devmsg_pb *m, const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms,
                   DevmsgPb__Priority priority)
{
	m->has_id = 1;
	m->id.data = (uint8_t *)id;
	m->id.len = DEVMSG_ID_LEN;
	m->has_created_ms = 1;
	m->created_ms = now_ms;
	m->has_priority = priority != DEVMSG_PB__PRIORITY__PRIORITY_NORMAL;
	m->priority = priority;
}

void devmsg_set_reply_to(devmsg_pb *m, const uint8_t request_id[DEVMSG_ID_LEN])
{
	m->has_in_reply_to = 1;
	m->in_reply_to.data = (uint8_t *)request_id;
	m->in_reply_to.len = DEVMSG_ID_LEN;
}

DevmsgPb__Priority devmsg_priority(const devmsg_pb *m)
{
	return m->has_priority ? m->priority : DEVMSG_PB__PRIORITY__PRIORITY_NORMAL;
}

void devmsg_fault_too_large(struct devmsg_fault *f)
{
	fault_init(f);
	f->code = CODE(TOO_LARGE);
}

static const char *default_text(DevmsgPb__Error__Code code)
{
	const ProtobufCEnumValue *v =
	        protobuf_c_enum_descriptor_get_value(&devmsg_pb__error__code__descriptor, code);
	return v ? v->name : "ERROR";
}

static int send_error(DevmsgPb__Error__Code code, uint32_t field, const uint8_t *reply_to,
                      const char *text, const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms,
                      struct buf *out)
{
	char cut[DEVMSG_MAX_STRING + 1];
	if (!text)
		text = default_text(code);
	if (strlen(text) > DEVMSG_MAX_STRING) {
		memcpy(cut, text, DEVMSG_MAX_STRING);
		cut[DEVMSG_MAX_STRING] = '\0';
		text = cut;
	}
	DevmsgPb__Error err = DEVMSG_PB__ERROR__INIT;
	err.has_code = 1;
	err.code = code;
	err.message = (char *)text;
	err.has_body_field = field != 0;
	err.body_field = field;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, now_ms, DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	if (reply_to) {
		err.has_in_reply_to = 1;
		err.in_reply_to.data = (uint8_t *)reply_to;
		err.in_reply_to.len = DEVMSG_ID_LEN;
		devmsg_set_reply_to(&m, reply_to);
	}
	m.body_case = BODY(ERROR);
	m.error = &err;
	return devmsg_encode(&m, out, NULL);
}

int devmsg_error_reply(const struct devmsg_fault *f, const char *text,
                       const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms, struct buf *out)
{
	if (!f->reply)
		return 0;
	return send_error(f->code, f->code == CODE(UNKNOWN_BODY) ? f->body_field : 0,
	                  f->has_id ? f->id : NULL, text, id, now_ms, out);
}

int devmsg_error_to(const devmsg_pb *request, DevmsgPb__Error__Code code, const char *text,
                    const uint8_t id[DEVMSG_ID_LEN], uint64_t now_ms, struct buf *out)
{
	const uint8_t *reply_to = NULL;
	if (request) {
		if (request->body_case == BODY(ERROR))
			return 0;
		if (request->has_id && request->id.len == DEVMSG_ID_LEN)
			reply_to = request->id.data;
	}
	return send_error(code, 0, reply_to, text, id, now_ms, out);
}

const char *devmsg_body_name(DevmsgPb__DeviceMessage__BodyCase body)
{
	if (body == DEVMSG_PB__DEVICE_MESSAGE__BODY__NOT_SET)
		return "none";
	const ProtobufCFieldDescriptor *fd = body_field(body);
	return fd ? fd->name : "unknown";
}

bool devmsg_expects_reply(const devmsg_pb *m)
{
	switch (m->body_case) {
	case BODY(PING):
	case BODY(SPACEDROP_REQUEST):
	case BODY(LIBRARY_ACCESS_REQUEST):
	case BODY(SEARCH_REQUEST):
		return true;
	case BODY(SESSION_REFRESH):
		return m->session_refresh->phase !=
		       DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_COMMIT;
	case BODY(NOTIFICATION):
		return m->notification->n_actions > 0;
	case BODY(CUSTOM):
		return m->custom->has_expects_reply && m->custom->expects_reply;
	default:
		return false;
	}
}
