/* DeviceMessage: wire vectors, round trips of every body, every cap on both
 * the encode and the decode path, validation, Error replies to unknown and
 * broken messages, request correlation with injected time, dedup window. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devmsg.h"
#include "lpmsg.h"
#include "varint.h"

#define BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_##x
#define CODE(x) DEVMSG_PB__ERROR__CODE__ERROR_##x

static void mkid(uint8_t id[DEVMSG_ID_LEN], unsigned n)
{
	for (unsigned i = 0; i < DEVMSG_ID_LEN; i++)
		id[i] = (uint8_t)(n * 31 + i);
}

/* Pack without validation: how a hostile or newer peer could send it. */
static struct buf raw_pack(const devmsg_pb *m)
{
	struct buf b = BUF_INIT;
	size_t n = devmsg_pb__device_message__get_packed_size(m);
	devmsg_pb__device_message__pack(m, buf_extend(&b, n ? n : 1));
	b.len = n;
	return b;
}

/* Unframe one encoded message and decode it; the frame must be whole. */
static int decode_framed(const struct buf *b, devmsg_pb **ret, struct devmsg_fault *f,
                         struct errmsg *e)
{
	const uint8_t *msg;
	size_t len;
	long n = lpmsg_next(b->data, b->len, DEVMSG_MAX_SIZE, &msg, &len);
	assert_int_equal(n, (long)b->len);
	return devmsg_decode(msg, len, ret, f, e);
}

static devmsg_pb keepalive_msg(const uint8_t *id, DevmsgPb__Keepalive *ka)
{
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(KEEPALIVE);
	m.keepalive = ka;
	return m;
}

static void test_keepalive_wire_vector(void **state)
{
	/* Protobuf encoding by hand: field 1 (id, LEN 16), field 4 (created_ms
	 * varint 1), field 8 (keepalive, LEN 0), priority NORMAL omitted. */
	uint8_t id[DEVMSG_ID_LEN];
	for (unsigned i = 0; i < DEVMSG_ID_LEN; i++)
		id[i] = (uint8_t)i;
	DevmsgPb__Keepalive ka = DEVMSG_PB__KEEPALIVE__INIT;
	devmsg_pb m = keepalive_msg(id, &ka);
	struct buf out = BUF_INIT;
	assert_int_equal(devmsg_encode(&m, &out, NULL), 0);
	th_assert_hex(out.data, out.len,
	              "16"
	              "0a10000102030405060708090a0b0c0d0e0f"
	              "2001"
	              "4200");
	devmsg_pb *d = NULL;
	assert_int_equal(decode_framed(&out, &d, NULL, NULL), 0);
	assert_int_equal(d->body_case, BODY(KEEPALIVE));
	assert_int_equal(devmsg_priority(d), DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	assert_memory_equal(d->id.data, id, DEVMSG_ID_LEN);
	devmsg_free(d);
	buf_free(&out);
}

static void test_custom_round_trip(void **state)
{
	uint8_t id[DEVMSG_ID_LEN], req[DEVMSG_ID_LEN];
	mkid(id, 1);
	mkid(req, 2);
	DevmsgPb__KeyValue kv1 = DEVMSG_PB__KEY_VALUE__INIT, kv2 = DEVMSG_PB__KEY_VALUE__INIT;
	kv1.key = "content-type";
	kv1.value = "application/json";
	kv2.key = "trace";
	kv2.value = "";
	DevmsgPb__KeyValue *md[] = {&kv1, &kv2};
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = "my-protocol";
	c.has_version = 1;
	c.version = 3;
	c.has_payload = 1;
	c.payload.data = (uint8_t *)"\x00\x01\xff";
	c.payload.len = 3;
	c.n_metadata = 2;
	c.metadata = md;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1700000000123ull, DEVMSG_PB__PRIORITY__PRIORITY_LOW);
	devmsg_set_reply_to(&m, req);
	m.body_case = BODY(CUSTOM);
	m.custom = &c;

	struct buf out = BUF_INIT;
	assert_int_equal(devmsg_encode(&m, &out, NULL), 0);
	/* Custom is field 15: a one-byte tag (15 << 3 | 2). */
	struct buf raw = BUF_INIT;
	assert_int_equal(devmsg_pack(&m, &raw, NULL), 0);
	assert_int_equal(out.len, raw.len + 1);
	assert_memory_equal(out.data + 1, raw.data, raw.len);
	assert_non_null(memchr(raw.data, 0x7a, raw.len));

	devmsg_pb *d = NULL;
	assert_int_equal(decode_framed(&out, &d, NULL, NULL), 0);
	assert_int_equal(d->body_case, BODY(CUSTOM));
	assert_int_equal(devmsg_priority(d), DEVMSG_PB__PRIORITY__PRIORITY_LOW);
	assert_int_equal(d->created_ms, 1700000000123ull);
	assert_true(d->has_in_reply_to);
	assert_memory_equal(d->in_reply_to.data, req, DEVMSG_ID_LEN);
	assert_string_equal(d->custom->protocol, "my-protocol");
	assert_int_equal(d->custom->version, 3);
	assert_int_equal(d->custom->payload.len, 3);
	assert_memory_equal(d->custom->payload.data, "\x00\x01\xff", 3);
	assert_int_equal(d->custom->n_metadata, 2);
	assert_string_equal(d->custom->metadata[0]->key, "content-type");
	assert_string_equal(d->custom->metadata[1]->value, "");
	devmsg_free(d);
	buf_free(&out);
	buf_free(&raw);
}

/* Every body of the schema survives a round trip empty, under its name. */
static void test_every_body_round_trips(void **state)
{
	const ProtobufCMessageDescriptor *dd = &devmsg_pb__device_message__descriptor;
	unsigned bodies = 0;
	for (unsigned i = 0; i < dd->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &dd->fields[i];
		if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		bodies++;
		assert_true(fd->id >= DEVMSG_FIRST_BODY_FIELD);
		const ProtobufCMessageDescriptor *bd = fd->descriptor;
		ProtobufCMessage *body = calloc(1, bd->sizeof_message);
		protobuf_c_message_init(bd, body);
		/* Ack is the one body that is invalid empty. */
		ProtobufCBinaryData ackid = {DEVMSG_ID_LEN, (uint8_t *)"0123456789abcdef"};
		if (fd->id == BODY(ACK)) {
			((DevmsgPb__Ack *)body)->n_ids = 1;
			((DevmsgPb__Ack *)body)->ids = &ackid;
		}
		uint8_t id[DEVMSG_ID_LEN];
		mkid(id, fd->id);
		devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
		devmsg_header(&m, id, fd->id, DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
		m.body_case = fd->id;
		m.keepalive = (DevmsgPb__Keepalive *)body;
		struct buf out = BUF_INIT;
		assert_int_equal(devmsg_encode(&m, &out, NULL), 0);
		devmsg_pb *d = NULL;
		assert_int_equal(decode_framed(&out, &d, NULL, NULL), 0);
		assert_int_equal(d->body_case, fd->id);
		assert_int_equal(devmsg_priority(d), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
		assert_string_equal(devmsg_body_name(d->body_case), fd->name);
		devmsg_free(d);
		buf_free(&out);
		free(body);
	}
	/* The families of issue 6, plus Ack, Error and the file-transfer set. */
	assert_int_equal(bodies, 26);
	assert_string_equal(devmsg_body_name(DEVMSG_PB__DEVICE_MESSAGE__BODY__NOT_SET), "none");
	assert_string_equal(devmsg_body_name((DevmsgPb__DeviceMessage__BodyCase)14), "unknown");
}

static void test_offer_round_trip(void **state)
{
	uint8_t id[DEVMSG_ID_LEN], tid[DEVMSG_ID_LEN], sha[32];
	mkid(id, 5);
	mkid(tid, 6);
	memset(sha, 0xab, sizeof(sha));
	ProtobufCBinaryData parts[2] = {{3, (uint8_t *)"dir"}, {7, (uint8_t *)"a\0b.txt"}};
	DevmsgPb__FileEntry fe = DEVMSG_PB__FILE_ENTRY__INIT;
	fe.n_path = 2;
	fe.path = parts;
	fe.has_size = fe.has_mtime_sec = fe.has_mode = fe.has_sha256 = 1;
	fe.size = 1ull << 40;
	fe.mtime_sec = -5; /* before 1970: sint64 */
	fe.mode = 0644;
	fe.sha256.data = sha;
	fe.sha256.len = 32;
	DevmsgPb__FileEntry *files[] = {&fe};
	DevmsgPb__FileTransferRequest o = DEVMSG_PB__FILE_TRANSFER_REQUEST__INIT;
	o.has_transfer_id = 1;
	o.transfer_id.data = tid;
	o.transfer_id.len = DEVMSG_ID_LEN;
	o.n_files = 1;
	o.files = files;
	o.has_total_files = o.has_total_bytes = 1;
	o.total_files = 1;
	o.total_bytes = fe.size;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 9, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(FILE_TRANSFER_REQUEST);
	m.file_transfer_request = &o;
	struct buf out = BUF_INIT;
	assert_int_equal(devmsg_encode(&m, &out, NULL), 0);
	devmsg_pb *d = NULL;
	assert_int_equal(decode_framed(&out, &d, NULL, NULL), 0);
	const DevmsgPb__FileEntry *g = d->file_transfer_request->files[0];
	assert_int_equal(g->n_path, 2);
	/* Path components are bytes: an embedded NUL survives for the
	 * sanitiser to see. */
	assert_int_equal(g->path[1].len, 7);
	assert_memory_equal(g->path[1].data, "a\0b.txt", 7);
	assert_int_equal(g->size, 1ull << 40);
	assert_int_equal(g->mtime_sec, -5);
	assert_int_equal(g->mode, 0644);
	assert_memory_equal(g->sha256.data, sha, 32);
	devmsg_free(d);
	buf_free(&out);
}

/* A Custom message with the given field sizes, checked on both paths. */
static void check_custom_cap(size_t protocol_len, size_t payload_len, size_t n_meta, int want)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 7);
	char *proto = malloc(protocol_len + 1);
	memset(proto, 'p', protocol_len);
	proto[protocol_len] = '\0';
	uint8_t *payload = calloc(1, payload_len + 1);
	DevmsgPb__KeyValue kv = DEVMSG_PB__KEY_VALUE__INIT;
	kv.key = "k";
	DevmsgPb__KeyValue **md = calloc(n_meta + 1, sizeof(*md));
	for (size_t i = 0; i < n_meta; i++)
		md[i] = &kv;
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = proto;
	c.has_payload = 1;
	c.payload.data = payload;
	c.payload.len = payload_len;
	c.n_metadata = n_meta;
	c.metadata = md;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(CUSTOM);
	m.custom = &c;

	struct buf out = BUF_INIT;
	struct errmsg e = {{0}};
	assert_int_equal(devmsg_encode(&m, &out, &e), want);
	assert_int_equal(out.len == 0, want != 0);
	struct buf raw = raw_pack(&m);
	devmsg_pb *d = NULL;
	struct devmsg_fault f;
	assert_int_equal(devmsg_decode(raw.data, raw.len, &d, &f, &e), want);
	if (want) {
		assert_int_equal(f.code, CODE(TOO_LARGE));
		assert_true(f.has_id && f.reply);
		assert_memory_equal(f.id, id, DEVMSG_ID_LEN);
		assert_non_null(strstr(e.text, "Custom."));
	}
	devmsg_free(d);
	buf_free(&out);
	buf_free(&raw);
	free(proto);
	free(payload);
	free(md);
}

static void test_string_cap(void **state)
{
	check_custom_cap(DEVMSG_MAX_STRING, 0, 0, 0);
	check_custom_cap(DEVMSG_MAX_STRING + 1, 0, 0, -EMSGSIZE);
}

static void test_bytes_cap(void **state)
{
	check_custom_cap(1, DEVMSG_MAX_BYTES, 0, 0);
	check_custom_cap(1, DEVMSG_MAX_BYTES + 1, 0, -EMSGSIZE);
}

static void test_list_cap(void **state)
{
	check_custom_cap(1, 0, DEVMSG_MAX_LIST, 0);
	check_custom_cap(1, 0, DEVMSG_MAX_LIST + 1, -EMSGSIZE);
}

static void test_overall_cap(void **state)
{
	/* Each field within its cap, the whole over 1 MiB: 1024 metadata
	 * values of 4000 bytes. */
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 8);
	char *v = malloc(4001);
	memset(v, 'v', 4000);
	v[4000] = '\0';
	DevmsgPb__KeyValue kv = DEVMSG_PB__KEY_VALUE__INIT;
	kv.key = "k";
	kv.value = v;
	DevmsgPb__KeyValue **md = calloc(DEVMSG_MAX_LIST, sizeof(*md));
	for (size_t i = 0; i < DEVMSG_MAX_LIST; i++)
		md[i] = &kv;
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.n_metadata = DEVMSG_MAX_LIST;
	c.metadata = md;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(CUSTOM);
	m.custom = &c;
	struct buf out = BUF_INIT;
	struct errmsg e = {{0}};
	assert_int_equal(devmsg_encode(&m, &out, &e), -EMSGSIZE);
	assert_int_equal(out.len, 0);
	struct buf raw = raw_pack(&m);
	assert_true(raw.len > DEVMSG_MAX_SIZE);
	devmsg_pb *d = NULL;
	struct devmsg_fault f;
	assert_int_equal(devmsg_decode(raw.data, raw.len, &d, &f, &e), -EMSGSIZE);
	assert_int_equal(f.code, CODE(TOO_LARGE));
	/* A frame announcing more than the cap is refused on its prefix. */
	const uint8_t *msg;
	size_t len;
	struct buf framed = BUF_INIT;
	assert_int_equal(lpmsg_append(&framed, raw.data, raw.len, 0), 0);
	assert_int_equal(lpmsg_next(framed.data, 8, DEVMSG_MAX_SIZE, &msg, &len), -EMSGSIZE);
	devmsg_fault_too_large(&f);
	struct buf reply = BUF_INIT;
	uint8_t rid[DEVMSG_ID_LEN];
	mkid(rid, 9);
	assert_int_equal(devmsg_error_reply(&f, NULL, rid, 5, &reply), 0);
	assert_int_equal(decode_framed(&reply, &d, NULL, NULL), 0);
	assert_int_equal(d->error->code, CODE(TOO_LARGE));
	assert_false(d->has_in_reply_to);
	assert_string_equal(d->error->message, "ERROR_TOO_LARGE");
	devmsg_free(d);
	buf_free(&reply);
	buf_free(&framed);
	buf_free(&raw);
	free(md);
	free(v);
}

static void test_ack_ids_cap_and_packed_list_cap(void **state)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 10);
	ProtobufCBinaryData *ids = calloc(DEVMSG_MAX_LIST + 1, sizeof(*ids));
	for (size_t i = 0; i <= DEVMSG_MAX_LIST; i++) {
		ids[i].data = id;
		ids[i].len = DEVMSG_ID_LEN;
	}
	DevmsgPb__Ack ack = DEVMSG_PB__ACK__INIT;
	ack.n_ids = DEVMSG_MAX_LIST + 1;
	ack.ids = ids;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(ACK);
	m.ack = &ack;
	struct buf out = BUF_INIT;
	assert_int_equal(devmsg_encode(&m, &out, NULL), -EMSGSIZE);
	ack.n_ids = DEVMSG_MAX_LIST;
	assert_int_equal(devmsg_encode(&m, &out, NULL), 0);
	buf_free(&out);
	free(ids);

	/* A packed repeated uint32 counts its items, not its occurrences:
	 * FileTransferVerify.failed (field 3) with 1025 one-byte varints. */
	struct buf body = BUF_INIT;
	buf_append_u8(&body, 0x1a);
	buf_append_u8(&body, 0x81); /* length 1025 = 0x81 0x08 */
	buf_append_u8(&body, 0x08);
	for (unsigned i = 0; i <= DEVMSG_MAX_LIST; i++)
		buf_append_u8(&body, 1);
	struct buf wire = BUF_INIT;
	buf_append(&wire, "\x0a\x10", 2);
	buf_append(&wire, id, DEVMSG_ID_LEN);
	buf_append_u8(&wire, 0xa2); /* field 20, LEN: 20 << 3 | 2 = 0xa2 0x01 */
	buf_append_u8(&wire, 0x01);
	buf_append_u8(&wire, 0x84); /* body length 1028 = 0x84 0x08 */
	buf_append_u8(&wire, 0x08);
	buf_append(&wire, body.data, body.len);
	devmsg_pb *d = NULL;
	struct devmsg_fault f;
	struct errmsg e = {{0}};
	assert_int_equal(devmsg_decode(wire.data, wire.len, &d, &f, &e), -EMSGSIZE);
	assert_non_null(strstr(e.text, "FileTransferVerify.failed"));
	/* One item fewer passes. */
	wire.data[20] = 0x83;
	body.data[1] = 0x80;
	memcpy(wire.data + 22, body.data, body.len - 1);
	wire.len--;
	assert_int_equal(devmsg_decode(wire.data, wire.len, &d, &f, &e), 0);
	assert_int_equal(d->file_transfer_verify->n_failed, DEVMSG_MAX_LIST);
	devmsg_free(d);
	buf_free(&wire);
	buf_free(&body);
}

static void test_unknown_fields_cap(void **state)
{
	/* Unknown fields in a body are skipped (a newer peer's additions),
	 * up to DEVMSG_MAX_UNKNOWN. Keepalive with N varint fields number 9. */
	for (unsigned extra = DEVMSG_MAX_UNKNOWN; extra <= DEVMSG_MAX_UNKNOWN + 1; extra++) {
		uint8_t id[DEVMSG_ID_LEN];
		mkid(id, 11);
		struct buf wire = BUF_INIT;
		buf_append(&wire, "\x0a\x10", 2);
		buf_append(&wire, id, DEVMSG_ID_LEN);
		buf_append_u8(&wire, 0x42);
		buf_append_varint(&wire, extra * 2);
		for (unsigned i = 0; i < extra; i++)
			buf_append(&wire, "\x48\x01", 2);
		devmsg_pb *d = NULL;
		int r = devmsg_decode(wire.data, wire.len, &d, NULL, NULL);
		assert_int_equal(r, extra > DEVMSG_MAX_UNKNOWN ? -EMSGSIZE : 0);
		devmsg_free(d);
		buf_free(&wire);
	}
}

static void expect_invalid(const struct buf *wire, int want, DevmsgPb__Error__Code code,
                           const char *text)
{
	devmsg_pb *d = NULL;
	struct devmsg_fault f;
	struct errmsg e = {{0}};
	assert_int_equal(devmsg_decode(wire->data, wire->len, &d, &f, &e), want);
	assert_null(d);
	assert_int_equal(f.code, code);
	if (text && !strstr(e.text, text))
		fail_msg("'%s' not in '%s'", text, e.text);
}

static void test_validation(void **state)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 12);
	DevmsgPb__Keepalive ka = DEVMSG_PB__KEEPALIVE__INIT;
	devmsg_pb m = keepalive_msg(id, &ka);
	struct buf b;

	m.has_id = 0;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "id is missing");
	buf_free(&b);
	m.has_id = 1;
	m.id.len = 15;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "15 bytes");
	buf_free(&b);
	m.id.len = DEVMSG_ID_LEN;
	m.has_in_reply_to = 1;
	m.in_reply_to.data = id;
	m.in_reply_to.len = 3;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "in_reply_to");
	buf_free(&b);
	m.has_in_reply_to = 0;
	m.has_priority = 1;
	m.priority = (DevmsgPb__Priority)7;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "priority has unknown value 7");
	assert_int_equal(devmsg_encode(&m, &b, NULL), -EINVAL);
	buf_free(&b);
	m.has_priority = 0;
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY__NOT_SET;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "0 bodies");
	buf_free(&b);

	/* Two bodies on the wire (protobuf would keep the last one). */
	m.body_case = BODY(KEEPALIVE);
	b = raw_pack(&m);
	buf_append(&b, "\x4a\x00", 2); /* ping, field 9 */
	expect_invalid(&b, -EINVAL, CODE(INVALID), "2 bodies");
	buf_free(&b);

	/* An Ack without ids, and with a short id. */
	DevmsgPb__Ack ack = DEVMSG_PB__ACK__INIT;
	m.body_case = BODY(ACK);
	m.ack = &ack;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "Ack without ids");
	buf_free(&b);
	ProtobufCBinaryData shortid = {4, id};
	ack.n_ids = 1;
	ack.ids = &shortid;
	b = raw_pack(&m);
	expect_invalid(&b, -EINVAL, CODE(INVALID), "Ack id 0 is 4 bytes");
	buf_free(&b);

	/* Not protobuf at all; a truncated field; a known field with the wrong
	 * wire type (id as a varint). */
	b = th_hex("0a10aabb");
	expect_invalid(&b, -EBADMSG, CODE(MALFORMED), NULL);
	buf_free(&b);
	b = th_hex("ff");
	expect_invalid(&b, -EBADMSG, CODE(MALFORMED), NULL);
	buf_free(&b);
	b = th_hex("08014200");
	expect_invalid(&b, -EBADMSG, CODE(MALFORMED), "wire type");
	buf_free(&b);
	/* A message built with an empty body pointer is refused, not packed. */
	m.body_case = BODY(PING);
	m.ping = NULL;
	b = BUF_INIT;
	assert_int_equal(devmsg_encode(&m, &b, NULL), -EINVAL);
	assert_int_equal(b.len, 0);
}

static void test_unknown_body_gets_error_reply(void **state)
{
	/* A newer peer sends body field 200 with some content; an unknown
	 * envelope field 6 alone would be ignored. */
	uint8_t id[DEVMSG_ID_LEN], rid[DEVMSG_ID_LEN];
	mkid(id, 13);
	mkid(rid, 14);
	struct buf wire = BUF_INIT;
	buf_append(&wire, "\x0a\x10", 2);
	buf_append(&wire, id, DEVMSG_ID_LEN);
	buf_append(&wire, "\x30\x05", 2);                 /* field 6 varint: ignorable */
	buf_append(&wire, "\xc2\x0c\x03\x08\x01\x02", 6); /* field 200, LEN 3 */
	devmsg_pb *d = NULL;
	struct devmsg_fault f;
	struct errmsg e = {{0}};
	assert_int_equal(devmsg_decode(wire.data, wire.len, &d, &f, &e), -EPROTONOSUPPORT);
	assert_int_equal(f.code, CODE(UNKNOWN_BODY));
	assert_int_equal(f.body_field, 200);
	assert_true(f.has_id && f.reply);
	assert_memory_equal(f.id, id, DEVMSG_ID_LEN);
	assert_non_null(strstr(e.text, "200"));

	struct buf reply = BUF_INIT;
	assert_int_equal(devmsg_error_reply(&f, e.text, rid, 77, &reply), 0);
	assert_int_equal(decode_framed(&reply, &d, NULL, NULL), 0);
	assert_int_equal(d->body_case, BODY(ERROR));
	assert_memory_equal(d->id.data, rid, DEVMSG_ID_LEN);
	assert_memory_equal(d->in_reply_to.data, id, DEVMSG_ID_LEN);
	assert_memory_equal(d->error->in_reply_to.data, id, DEVMSG_ID_LEN);
	assert_int_equal(d->error->code, CODE(UNKNOWN_BODY));
	assert_int_equal(d->error->body_field, 200);
	assert_string_equal(d->error->message, e.text);
	assert_int_equal(d->created_ms, 77);
	devmsg_free(d);
	buf_free(&reply);

	/* Without the unknown body the same bytes are a valid-but-bodiless
	 * message; with a Keepalive instead, field 6 is skipped. */
	wire.len -= 6;
	buf_append(&wire, "\x42\x00", 2);
	assert_int_equal(devmsg_decode(wire.data, wire.len, &d, &f, &e), 0);
	assert_int_equal(d->body_case, BODY(KEEPALIVE));
	devmsg_free(d);
	buf_free(&wire);
}

static void test_broken_error_is_not_answered(void **state)
{
	uint8_t id[DEVMSG_ID_LEN], rid[DEVMSG_ID_LEN];
	mkid(id, 15);
	mkid(rid, 16);
	DevmsgPb__Error err = DEVMSG_PB__ERROR__INIT;
	err.has_code = 1;
	err.code = (DevmsgPb__Error__Code)99;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(ERROR);
	m.error = &err;
	struct buf b = raw_pack(&m);
	devmsg_pb *d = NULL;
	struct devmsg_fault f;
	assert_int_equal(devmsg_decode(b.data, b.len, &d, &f, NULL), -EINVAL);
	assert_false(f.reply);
	struct buf reply = BUF_INIT;
	assert_int_equal(devmsg_error_reply(&f, "x", rid, 1, &reply), 0);
	assert_int_equal(reply.len, 0);
	/* A valid Error is not answered either by devmsg_error_to. */
	err.code = CODE(TIMEOUT);
	assert_int_equal(devmsg_error_to(&m, CODE(NO_HANDLER), "x", rid, 1, &reply), 0);
	assert_int_equal(reply.len, 0);
	buf_free(&b);
}

static void test_error_to_after_decoding(void **state)
{
	uint8_t id[DEVMSG_ID_LEN], rid[DEVMSG_ID_LEN];
	mkid(id, 17);
	mkid(rid, 18);
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = "nobody-listens";
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(CUSTOM);
	m.custom = &c;
	struct buf reply = BUF_INIT;
	char longtext[DEVMSG_MAX_STRING + 100];
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	assert_int_equal(devmsg_error_to(&m, CODE(NO_HANDLER), longtext, rid, 3, &reply), 0);
	devmsg_pb *d = NULL;
	assert_int_equal(decode_framed(&reply, &d, NULL, NULL), 0);
	assert_int_equal(d->error->code, CODE(NO_HANDLER));
	assert_memory_equal(d->in_reply_to.data, id, DEVMSG_ID_LEN);
	assert_int_equal(strlen(d->error->message), DEVMSG_MAX_STRING);
	assert_int_equal(devmsg_priority(d), DEVMSG_PB__PRIORITY__PRIORITY_HIGH);
	devmsg_free(d);
	buf_free(&reply);
	/* No request (its id was unreadable): no in_reply_to. */
	assert_int_equal(devmsg_error_to(NULL, CODE(MALFORMED), NULL, rid, 3, &reply), 0);
	assert_int_equal(decode_framed(&reply, &d, NULL, NULL), 0);
	assert_false(d->has_in_reply_to);
	devmsg_free(d);
	buf_free(&reply);
}

static void test_expects_reply(void **state)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 19);
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	DevmsgPb__Ping ping = DEVMSG_PB__PING__INIT;
	DevmsgPb__Keepalive ka = DEVMSG_PB__KEEPALIVE__INIT;
	DevmsgPb__SessionRefresh sr = DEVMSG_PB__SESSION_REFRESH__INIT;
	DevmsgPb__Notification n = DEVMSG_PB__NOTIFICATION__INIT;
	DevmsgPb__NotificationAction act = DEVMSG_PB__NOTIFICATION_ACTION__INIT;
	DevmsgPb__NotificationAction *acts[] = {&act};
	m.body_case = BODY(PING);
	m.ping = &ping;
	assert_true(devmsg_expects_reply(&m));
	m.body_case = BODY(KEEPALIVE);
	m.keepalive = &ka;
	assert_false(devmsg_expects_reply(&m));
	m.body_case = BODY(SESSION_REFRESH);
	m.session_refresh = &sr;
	assert_true(devmsg_expects_reply(&m));
	sr.phase = DEVMSG_PB__SESSION_REFRESH__PHASE__REFRESH_COMMIT;
	assert_false(devmsg_expects_reply(&m));
	m.body_case = BODY(NOTIFICATION);
	m.notification = &n;
	assert_false(devmsg_expects_reply(&m));
	n.n_actions = 1;
	n.actions = acts;
	assert_true(devmsg_expects_reply(&m));
}

/* ---- correlation ----------------------------------------------------------- */

static void test_corr_basic_and_timeouts(void **state)
{
	struct devmsg_corr t;
	assert_int_equal(devmsg_corr_init(&t, 0), -EINVAL);
	assert_int_equal(devmsg_corr_init(&t, DEVMSG_TRACK_MAX + 1), -EINVAL);
	assert_int_equal(devmsg_corr_init(&t, 4), 0);
	assert_int_equal(devmsg_corr_next_deadline(&t), UINT64_MAX);
	uint8_t id[6][DEVMSG_ID_LEN];
	for (unsigned i = 0; i < 6; i++)
		mkid(id[i], 100 + i);
	/* Requests at t=0 with 30 s, 10 s, 20 s, 40 s deadlines. */
	assert_int_equal(devmsg_corr_add(&t, id[0], 30000, 1), 0);
	assert_int_equal(devmsg_corr_add(&t, id[1], 10000, 2), 0);
	assert_int_equal(devmsg_corr_add(&t, id[2], 20000, 3), 0);
	assert_int_equal(devmsg_corr_add(&t, id[2], 50000, 9), -EEXIST);
	assert_int_equal(devmsg_corr_add(&t, id[3], 40000, 4), 0);
	assert_int_equal(devmsg_corr_add(&t, id[4], 40000, 5), -ENOSPC);
	assert_int_equal(devmsg_corr_count(&t), 4);
	assert_int_equal(devmsg_corr_next_deadline(&t), 10000);

	/* The answer to id[0] in time. */
	uint64_t cookie = 0;
	assert_int_equal(devmsg_corr_match(&t, id[0], 5000, &cookie), 0);
	assert_int_equal(cookie, 1);
	assert_int_equal(devmsg_corr_match(&t, id[0], 5000, &cookie), -ENOENT);
	assert_int_equal(devmsg_corr_match(&t, id[5], 5000, &cookie), -ENOENT);

	/* At 9.999 s nothing has expired; at 10 s id[1] has. */
	struct devmsg_expired ex[4];
	assert_int_equal(devmsg_corr_expire(&t, 9999, ex, 4), 0);
	assert_int_equal(devmsg_corr_expire(&t, 10000, ex, 4), 1);
	assert_memory_equal(ex[0].id, id[1], DEVMSG_ID_LEN);
	assert_int_equal(ex[0].cookie, 2);
	assert_int_equal(devmsg_corr_next_deadline(&t), 20000);
	/* A late answer to an expired request is not ours any more. */
	assert_int_equal(devmsg_corr_match(&t, id[1], 10001, &cookie), -ENOENT);
	/* An answer after the deadline but before the timer ran: timeout. */
	cookie = 0;
	assert_int_equal(devmsg_corr_match(&t, id[2], 20000, &cookie), -ETIMEDOUT);
	assert_int_equal(cookie, 3);
	/* Room again. */
	assert_int_equal(devmsg_corr_add(&t, id[4], 25000, 5), 0);
	assert_int_equal(devmsg_corr_cancel(&t, id[4], &cookie), 0);
	assert_int_equal(cookie, 5);
	assert_int_equal(devmsg_corr_cancel(&t, id[4], &cookie), -ENOENT);
	/* Batched expiry: max 1 at a time. */
	assert_int_equal(devmsg_corr_add(&t, id[5], 35000, 6), 0);
	assert_int_equal(devmsg_corr_expire(&t, 100000, ex, 1), 1);
	assert_int_equal(devmsg_corr_expire(&t, 100000, ex, 1), 1);
	assert_int_equal(devmsg_corr_expire(&t, 100000, ex, 1), 0);
	assert_int_equal(devmsg_corr_count(&t), 0);
	assert_int_equal(devmsg_corr_next_deadline(&t), UINT64_MAX);
	devmsg_corr_free(&t);
}

static uint64_t rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 17;
}

/* Churn against a reference: deletions must keep every other id findable
 * (a wrong backward shift loses entries). Ids share their first 14 bytes so
 * many land in the same chains. */
static void test_corr_churn_matches_reference(void **state)
{
	enum { MAX = 64, ROUNDS = 20000 };
	struct devmsg_corr t;
	assert_int_equal(devmsg_corr_init(&t, MAX), 0);
	uint8_t ids[MAX][DEVMSG_ID_LEN];
	bool live[MAX] = {false};
	uint64_t s = 42;
	for (unsigned i = 0; i < MAX; i++) {
		memset(ids[i], 0x5a, DEVMSG_ID_LEN);
		ids[i][14] = (uint8_t)i;
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned i = (unsigned)(rng_next(&s) % MAX);
		uint64_t cookie;
		if (live[i]) {
			assert_int_equal(devmsg_corr_match(&t, ids[i], 0, &cookie), 0);
			assert_int_equal(cookie, i);
		} else {
			assert_int_equal(devmsg_corr_add(&t, ids[i], 1, i), 0);
		}
		live[i] = !live[i];
		if (r % 1000 == 0) {
			size_t n = 0;
			for (unsigned k = 0; k < MAX; k++) {
				n += live[k];
				uint64_t c;
				int want = live[k] ? 0 : -ENOENT;
				if (live[k]) {
					assert_int_equal(devmsg_corr_cancel(&t, ids[k], &c), want);
					assert_int_equal(devmsg_corr_add(&t, ids[k], 1, k), 0);
				} else {
					assert_int_equal(devmsg_corr_cancel(&t, ids[k], &c), want);
				}
			}
			assert_int_equal(devmsg_corr_count(&t), n);
		}
	}
	devmsg_corr_free(&t);
}

/* ---- dedup ---------------------------------------------------------------- */

static void test_dedup_window_bounds(void **state)
{
	struct devmsg_dedup d;
	assert_int_equal(devmsg_dedup_init(&d, 0, 1), -EINVAL);
	assert_int_equal(devmsg_dedup_init(&d, 3, 0x1234), 0);
	uint8_t id[5][DEVMSG_ID_LEN], got[DEVMSG_ID_LEN];
	for (unsigned i = 0; i < 5; i++)
		mkid(id[i], 200 + i);
	assert_false(devmsg_dedup_contains(&d, id[0]));
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(devmsg_dedup_add(&d, id[i]), 0);
	assert_int_equal(devmsg_dedup_add(&d, id[1]), -EEXIST);
	assert_int_equal(devmsg_dedup_count(&d), 3);
	/* The fourth id pushes out the oldest. */
	assert_int_equal(devmsg_dedup_add(&d, id[3]), 0);
	assert_int_equal(devmsg_dedup_count(&d), 3);
	assert_int_equal(d.evicted, 1);
	assert_false(devmsg_dedup_contains(&d, id[0]));
	for (unsigned i = 1; i < 4; i++) {
		assert_true(devmsg_dedup_contains(&d, id[i]));
		assert_int_equal(devmsg_dedup_get(&d, i - 1, got), 0);
		assert_memory_equal(got, id[i], DEVMSG_ID_LEN);
	}
	assert_int_equal(devmsg_dedup_get(&d, 3, got), -ERANGE);

	/* Persist and reload: same contents, same eviction order. */
	struct devmsg_dedup r;
	assert_int_equal(devmsg_dedup_init(&r, 3, 0x9999), 0);
	for (size_t i = 0; i < devmsg_dedup_count(&d); i++) {
		assert_int_equal(devmsg_dedup_get(&d, i, got), 0);
		assert_int_equal(devmsg_dedup_add(&r, got), 0);
	}
	assert_int_equal(devmsg_dedup_add(&r, id[4]), 0);
	assert_false(devmsg_dedup_contains(&r, id[1]));
	assert_true(devmsg_dedup_contains(&r, id[2]));
	assert_true(devmsg_dedup_contains(&r, id[4]));
	devmsg_dedup_free(&r);
	devmsg_dedup_free(&d);
}

static void test_dedup_large_window(void **state)
{
	enum { WINDOW = 1000, TOTAL = 5000 };
	struct devmsg_dedup d;
	assert_int_equal(devmsg_dedup_init(&d, WINDOW, 77), 0);
	uint8_t id[DEVMSG_ID_LEN];
	for (unsigned i = 0; i < TOTAL; i++) {
		memset(id, 0, sizeof(id));
		memcpy(id, &i, sizeof(i));
		assert_int_equal(devmsg_dedup_add(&d, id), 0);
	}
	assert_int_equal(devmsg_dedup_count(&d), WINDOW);
	assert_int_equal(d.evicted, TOTAL - WINDOW);
	for (unsigned i = 0; i < TOTAL; i++) {
		memset(id, 0, sizeof(id));
		memcpy(id, &i, sizeof(i));
		assert_int_equal(devmsg_dedup_contains(&d, id), i >= TOTAL - WINDOW);
	}
	devmsg_dedup_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keepalive_wire_vector),
	        cmocka_unit_test(test_custom_round_trip),
	        cmocka_unit_test(test_every_body_round_trips),
	        cmocka_unit_test(test_offer_round_trip),
	        cmocka_unit_test(test_string_cap),
	        cmocka_unit_test(test_bytes_cap),
	        cmocka_unit_test(test_list_cap),
	        cmocka_unit_test(test_overall_cap),
	        cmocka_unit_test(test_ack_ids_cap_and_packed_list_cap),
	        cmocka_unit_test(test_unknown_fields_cap),
	        cmocka_unit_test(test_validation),
	        cmocka_unit_test(test_unknown_body_gets_error_reply),
	        cmocka_unit_test(test_broken_error_is_not_answered),
	        cmocka_unit_test(test_error_to_after_decoding),
	        cmocka_unit_test(test_expects_reply),
	        cmocka_unit_test(test_corr_basic_and_timeouts),
	        cmocka_unit_test(test_corr_churn_matches_reference),
	        cmocka_unit_test(test_dedup_window_bounds),
	        cmocka_unit_test(test_dedup_large_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
