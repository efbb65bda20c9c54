/* Queue records and dedup chunks (msgrec.h): fixed headers read through a
 * bounded cursor, every length checked against its cap before use. */
#include "msgrec.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "msgq.h"

#define QUEUE_MAGIC "SDMQ"
#define DEDUP_MAGIC "SDMD"

int msgrec_queue_encode(unsigned prio, uint64_t seq, const uint8_t *msg, size_t msg_len,
                        struct buf *out)
{
	if (prio >= MSGQ_NPRIO || msg_len == 0 || msg_len > DEVMSG_MAX_SIZE)
		return -EINVAL;
	size_t before = out->len;
	int r = buf_append(out, QUEUE_MAGIC, 4);
	if (r == 0)
		r = buf_append_u8(out, MSGREC_VERSION);
	if (r == 0)
		r = buf_append_u8(out, (uint8_t)prio);
	if (r == 0)
		r = buf_append_u16be(out, 0);
	if (r == 0)
		r = buf_append_u64be(out, seq);
	if (r == 0)
		r = buf_append_u32be(out, (uint32_t)msg_len);
	if (r == 0)
		r = buf_append(out, msg, msg_len);
	if (r < 0)
		out->len = before;
	return r;
}

static int header(struct cursor *c, const char *magic, const char *what, struct errmsg *err)
{
	const uint8_t *m;
	uint8_t version;
	if (cur_get_bytes(c, 4, &m) < 0 || memcmp(m, magic, 4) != 0)
		return errmsg_set(err, -EBADMSG, "%s: not a %s record (bad magic)", what, magic);
	if (cur_get_u8(c, &version) < 0)
		return errmsg_set(err, -EBADMSG, "%s: truncated header", what);
	if (version > MSGREC_VERSION)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "%s: record version %u is newer than this daemon's (%u)", what,
		                  version, MSGREC_VERSION);
	if (version == 0)
		return errmsg_set(err, -EBADMSG, "%s: record version 0", what);
	return 0;
}

static int check_message(const uint8_t *msg, size_t len, struct msgrec_queue *ret,
                         struct errmsg *err)
{
	devmsg_pb *m = NULL;
	struct errmsg e;
	if (devmsg_decode(msg, len, &m, NULL, &e) < 0)
		return errmsg_set(err, -EBADMSG, "queue record: %s", e.text);
	bool durable = m->has_durable && m->durable;
	if (durable)
		memcpy(ret->id, m->id.data, DEVMSG_ID_LEN);
	devmsg_free(m);
	if (!durable)
		return errmsg_set(err, -EBADMSG, "queue record: the message is not durable");
	return 0;
}

int msgrec_queue_decode(const uint8_t *data, size_t len, struct msgrec_queue *ret,
                        struct errmsg *err)
{
	struct cursor c;
	cur_init(&c, data, len);
	int r = header(&c, QUEUE_MAGIC, "queue record", err);
	if (r < 0)
		return r;
	uint8_t prio;
	uint16_t flags;
	uint64_t seq;
	uint32_t n;
	if (cur_get_u8(&c, &prio) < 0 || cur_get_u16be(&c, &flags) < 0 ||
	    cur_get_u64be(&c, &seq) < 0 || cur_get_u32be(&c, &n) < 0)
		return errmsg_set(err, -EBADMSG, "queue record: truncated header");
	if (prio >= MSGQ_NPRIO)
		return errmsg_set(err, -EBADMSG, "queue record: priority %u is unknown", prio);
	if (flags)
		return errmsg_set(err, -EBADMSG, "queue record: unknown flags 0x%04x", flags);
	if (n == 0 || n > DEVMSG_MAX_SIZE || n != cur_remaining(&c))
		return errmsg_set(err, -EBADMSG,
		                  "queue record: message length %u does not match the %zu bytes "
		                  "that follow",
		                  (unsigned)n, cur_remaining(&c));
	struct msgrec_queue q = {.prio = prio, .seq = seq, .msg_len = n};
	if (cur_get_bytes(&c, n, &q.msg) < 0)
		return errmsg_set(err, -EBADMSG, "queue record: truncated message");
	r = check_message(q.msg, n, &q, err);
	if (r < 0)
		return r;
	*ret = q;
	return 0;
}

int msgrec_dedup_encode(const uint8_t *ids, size_t n, struct buf *out)
{
	if (n == 0 || n > MSGREC_CHUNK_IDS)
		return -EINVAL;
	size_t before = out->len;
	int r = buf_append(out, DEDUP_MAGIC, 4);
	if (r == 0)
		r = buf_append_u8(out, MSGREC_VERSION);
	if (r == 0)
		r = buf_append(out, "\0\0\0", 3);
	if (r == 0)
		r = buf_append_u32be(out, (uint32_t)n);
	if (r == 0)
		r = buf_append(out, ids, n * DEVMSG_ID_LEN);
	if (r < 0)
		out->len = before;
	return r;
}

int msgrec_dedup_decode(const uint8_t *data, size_t len, const uint8_t **ret_ids, size_t *ret_n,
                        struct errmsg *err)
{
	struct cursor c;
	cur_init(&c, data, len);
	int r = header(&c, DEDUP_MAGIC, "dedup chunk", err);
	if (r < 0)
		return r;
	const uint8_t *zero;
	uint32_t n;
	if (cur_get_bytes(&c, 3, &zero) < 0 || cur_get_u32be(&c, &n) < 0)
		return errmsg_set(err, -EBADMSG, "dedup chunk: truncated header");
	if (zero[0] || zero[1] || zero[2])
		return errmsg_set(err, -EBADMSG, "dedup chunk: reserved bytes are not zero");
	if (n == 0 || n > MSGREC_CHUNK_IDS || (size_t)n * DEVMSG_ID_LEN != cur_remaining(&c))
		return errmsg_set(err, -EBADMSG,
		                  "dedup chunk: %u ids do not match the %zu bytes that follow "
		                  "(1-%d ids of %d bytes)",
		                  (unsigned)n, cur_remaining(&c), MSGREC_CHUNK_IDS, DEVMSG_ID_LEN);
	const uint8_t *ids;
	if (cur_get_bytes(&c, (size_t)n * DEVMSG_ID_LEN, &ids) < 0)
		return errmsg_set(err, -EBADMSG, "dedup chunk: truncated ids");
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}
