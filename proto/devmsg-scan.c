/* Generic cap checks for DeviceMessage, driven by the protobuf-c
 * descriptors so every body, present and future, gets the same limits
 * without a hand-written checker per message.
 *
 * devmsg_scan_wire() runs on untrusted bytes before protobuf-c sees them:
 * protobuf-c allocates for every string, bytes field and list item it
 * finds, so lengths and counts are checked first, on the wire. It walks the
 * raw fields with a bounded cursor and its own protobuf varint reader (the
 * common varint is the multiformats one: minimal and 9 bytes at most, while
 * protobuf allows 10 and non-minimal forms).
 *
 * devmsg_check_tree() checks a decoded or hand-built message: the same caps,
 * plus enum values, which protobuf-c stores without checking. */
#include "devmsg-internal.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"

#define PB_VARINT_MAX 10
#define PB_MAX_FIELD_NUMBER 536870911u
/* The schema's messages have fewer fields; a descriptor with more is a
 * schema change that must raise this. */
#define SCAN_MAX_FIELDS 64

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

struct scan {
	struct devmsg_fault *f;
	struct errmsg *e;
	unsigned bodies;
	uint32_t body_field;
	bool body_known;
};

static int pb_varint(struct cursor *c, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < PB_VARINT_MAX; i++) {
		uint8_t b;
		if (cur_get_u8(c, &b) < 0)
			return -EBADMSG;
		/* The tenth byte may only carry bit 63. */
		if (i == PB_VARINT_MAX - 1 && b > 1)
			return -EBADMSG;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static bool is_varint_type(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_BOOL:
	case PROTOBUF_C_TYPE_ENUM:
		return true;
	default:
		return false;
	}
}

/* Items in a packed repeated scalar field (an upper bound is enough). */
static uint64_t packed_count(ProtobufCType t, const uint8_t *p, size_t len)
{
	if (is_varint_type(t)) {
		uint64_t n = 0;
		for (size_t i = 0; i < len; i++)
			n += !(p[i] & 0x80);
		return n;
	}
	switch (t) {
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return len / 4;
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return len / 8;
	default:
		return 1; /* strings, bytes, messages: one item per occurrence */
	}
}

static int too_large(struct scan *s, const ProtobufCMessageDescriptor *d,
                     const ProtobufCFieldDescriptor *fd, size_t got, unsigned cap)
{
	s->f->code = DEVMSG_PB__ERROR__CODE__ERROR_TOO_LARGE;
	return errmsg_set(s->e, -EMSGSIZE, "DeviceMessage: %s.%s is %zu bytes, the cap is %u",
	                  d->short_name, fd->name, got, cap);
}

static int malformed(struct scan *s, const char *what)
{
	s->f->code = DEVMSG_PB__ERROR__CODE__ERROR_MALFORMED;
	return errmsg_set(s->e, -EBADMSG, "DeviceMessage: not a valid protobuf (%s)", what);
}

static int scan_message(struct scan *s, const uint8_t *data, size_t len,
                        const ProtobufCMessageDescriptor *d, unsigned depth);

/* A length-delimited value of a known field. */
static int scan_len_field(struct scan *s, const ProtobufCMessageDescriptor *d,
                          const ProtobufCFieldDescriptor *fd, const uint8_t *p, size_t n,
                          unsigned depth)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING:
		if (n > DEVMSG_MAX_STRING)
			return too_large(s, d, fd, n, DEVMSG_MAX_STRING);
		return 0;
	case PROTOBUF_C_TYPE_BYTES:
		if (n > DEVMSG_MAX_BYTES)
			return too_large(s, d, fd, n, DEVMSG_MAX_BYTES);
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return scan_message(s, p, n, fd->descriptor, depth + 1);
	default:
		return 0; /* packed scalars: counted by the caller */
	}
}

/* Top-level bookkeeping: the id (kept for the Error reply) and bodies. */
static void note_top_level(struct scan *s, uint32_t field, const ProtobufCFieldDescriptor *fd,
                           unsigned wt, const uint8_t *p, size_t n)
{
	if (field == 1 && wt == WT_LEN && n == DEVMSG_ID_LEN) {
		memcpy(s->f->id, p, DEVMSG_ID_LEN);
		s->f->has_id = true;
	}
	if (field < DEVMSG_FIRST_BODY_FIELD)
		return;
	s->bodies++;
	s->body_field = field;
	s->body_known = fd != NULL;
	/* Never answer an Error with an Error: two broken peers would bounce
	 * them forever. */
	if (field == DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR)
		s->f->reply = false;
}

static int read_value(struct cursor *c, unsigned wt, const uint8_t **ret_p, size_t *ret_n)
{
	uint64_t v;
	*ret_p = NULL;
	*ret_n = 0;
	switch (wt) {
	case WT_VARINT:
		return pb_varint(c, &v);
	case WT_I64:
		return cur_skip(c, 8) < 0 ? -EBADMSG : 0;
	case WT_I32:
		return cur_skip(c, 4) < 0 ? -EBADMSG : 0;
	case WT_LEN:
		if (pb_varint(c, &v) < 0 || v > cur_remaining(c))
			return -EBADMSG;
		*ret_n = (size_t)v;
		return cur_get_bytes(c, *ret_n, ret_p) < 0 ? -EBADMSG : 0;
	default:
		return -EBADMSG; /* groups (3, 4) are not used by proto2 messages we read */
	}
}

static int scan_message(struct scan *s, const uint8_t *data, size_t len,
                        const ProtobufCMessageDescriptor *d, unsigned depth)
{
	if (depth > DEVMSG_MAX_DEPTH) {
		s->f->code = DEVMSG_PB__ERROR__CODE__ERROR_TOO_LARGE;
		return errmsg_set(s->e, -EMSGSIZE, "DeviceMessage: nested deeper than %d at %s",
		                  DEVMSG_MAX_DEPTH, d->short_name);
	}
	if (d->n_fields > SCAN_MAX_FIELDS)
		return errmsg_set(s->e, -EINVAL, "DeviceMessage: %s has too many fields to scan",
		                  d->short_name);
	uint64_t counts[SCAN_MAX_FIELDS] = {0};
	unsigned unknown = 0;
	struct cursor c;
	cur_init(&c, data, len);
	while (!cur_eof(&c)) {
		uint64_t tag;
		const uint8_t *p;
		size_t n;
		if (pb_varint(&c, &tag) < 0)
			return malformed(s, "bad tag");
		uint64_t field = tag >> 3;
		unsigned wt = (unsigned)(tag & 7);
		if (field == 0 || field > PB_MAX_FIELD_NUMBER)
			return malformed(s, "bad field number");
		if (read_value(&c, wt, &p, &n) < 0)
			return malformed(s, "truncated or unsupported field");
		const ProtobufCFieldDescriptor *fd =
		        protobuf_c_message_descriptor_get_field(d, (unsigned)field);
		if (depth == 0)
			note_top_level(s, (uint32_t)field, fd, wt, p, n);
		if (!fd) {
			if (++unknown > DEVMSG_MAX_UNKNOWN) {
				s->f->code = DEVMSG_PB__ERROR__CODE__ERROR_TOO_LARGE;
				return errmsg_set(
				        s->e, -EMSGSIZE,
				        "DeviceMessage: %s has more than %d unknown fields",
				        d->short_name, DEVMSG_MAX_UNKNOWN);
			}
			continue;
		}
		size_t idx = (size_t)(fd - d->fields);
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			counts[idx] += wt == WT_LEN ? packed_count(fd->type, p, n) : 1;
			if (counts[idx] > DEVMSG_MAX_LIST) {
				s->f->code = DEVMSG_PB__ERROR__CODE__ERROR_TOO_LARGE;
				return errmsg_set(s->e, -EMSGSIZE,
				                  "DeviceMessage: %s.%s has more than %d items",
				                  d->short_name, fd->name, DEVMSG_MAX_LIST);
			}
		}
		if (wt == WT_LEN) {
			int r = scan_len_field(s, d, fd, p, n, depth);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int devmsg_scan_wire(const uint8_t *data, size_t len, struct devmsg_fault *f, struct errmsg *e)
{
	struct scan s = {.f = f, .e = e};
	int r = scan_message(&s, data, len, &devmsg_pb__device_message__descriptor, 0);
	if (r < 0)
		return r;
	if (s.bodies != 1) {
		f->code = DEVMSG_PB__ERROR__CODE__ERROR_INVALID;
		return errmsg_set(e, -EINVAL, "DeviceMessage: %u bodies, exactly one is required",
		                  s.bodies);
	}
	if (!s.body_known) {
		f->code = DEVMSG_PB__ERROR__CODE__ERROR_UNKNOWN_BODY;
		f->body_field = s.body_field;
		return errmsg_set(e, -EPROTONOSUPPORT,
		                  "DeviceMessage: body field %u is not known to this device",
		                  s.body_field);
	}
	return 0;
}

/* ---- in-memory tree ------------------------------------------------------- */

static int check_message(const ProtobufCMessage *m, unsigned depth, struct errmsg *e);

static int check_value(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *fd,
                       const void *v, unsigned depth, struct errmsg *e)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *str = *(char *const *)v;
		size_t n = str ? strnlen(str, DEVMSG_MAX_STRING + 1) : 0;
		if (n > DEVMSG_MAX_STRING)
			return errmsg_set(e, -EMSGSIZE,
			                  "DeviceMessage: %s.%s is longer than %d bytes",
			                  d->short_name, fd->name, DEVMSG_MAX_STRING);
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = v;
		if (b->len > DEVMSG_MAX_BYTES)
			return errmsg_set(e, -EMSGSIZE,
			                  "DeviceMessage: %s.%s is %zu bytes, the cap is %u",
			                  d->short_name, fd->name, b->len, DEVMSG_MAX_BYTES);
		return 0;
	}
	case PROTOBUF_C_TYPE_ENUM: {
		int ev = *(const int *)v;
		if (!protobuf_c_enum_descriptor_get_value(fd->descriptor, ev))
			return errmsg_set(e, -EINVAL, "DeviceMessage: %s.%s has unknown value %d",
			                  d->short_name, fd->name, ev);
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)v;
		return sub ? check_message(sub, depth + 1, e) : 0;
	}
	default:
		return 0;
	}
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	default:
		return 0; /* nothing to check in other scalars */
	}
}

static int check_repeated(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                          unsigned depth, struct errmsg *e)
{
	const char *base = (const char *)m;
	size_t n = *(const size_t *)(base + fd->quantifier_offset);
	if (n > DEVMSG_MAX_LIST)
		return errmsg_set(e, -EMSGSIZE, "DeviceMessage: %s.%s has %zu items, the cap is %d",
		                  m->descriptor->short_name, fd->name, n, DEVMSG_MAX_LIST);
	size_t sz = elem_size(fd->type);
	const char *arr = *(char *const *)(base + fd->offset);
	for (size_t i = 0; sz && i < n; i++) {
		int r = check_value(m->descriptor, fd, arr + i * sz, depth, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)m;
	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + fd->offset) != NULL;
	if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
}

static int check_message(const ProtobufCMessage *m, unsigned depth, struct errmsg *e)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > DEVMSG_MAX_DEPTH)
		return errmsg_set(e, -EMSGSIZE, "DeviceMessage: nested deeper than %d at %s",
		                  DEVMSG_MAX_DEPTH, d->short_name);
	if (m->n_unknown_fields > DEVMSG_MAX_UNKNOWN)
		return errmsg_set(e, -EMSGSIZE, "DeviceMessage: %s has more than %d unknown fields",
		                  d->short_name, DEVMSG_MAX_UNKNOWN);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		int r = 0;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED)
			r = check_repeated(m, fd, depth, e);
		else if (present(m, fd))
			r = check_value(d, fd, (const char *)m + fd->offset, depth, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int devmsg_check_tree(const ProtobufCMessage *m, struct errmsg *e)
{
	return check_message(m, 0, e);
}
