/* Inbox records (inboxrec.h): a fixed header and length-prefixed messages
 * read through a bounded cursor, every length checked against its cap
 * before use, every message decoded before it is believed. */
#include "inboxrec.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"

#define INBOX_MAGIC "SDMI"

int msgrec_inbox_encode(const struct msgrec_inbox_entry *e, size_t n, struct buf *out)
{
	if (n == 0 || n > MSGREC_INBOX_ENTRIES)
		return -EINVAL;
	size_t total = MSGREC_INBOX_HEADER;
	for (size_t i = 0; i < n; i++) {
		if (e[i].len == 0 || e[i].len > DEVMSG_MAX_SIZE)
			return -EINVAL;
		total += msgrec_inbox_entry_size(e[i].len);
	}
	if (total > MSGREC_INBOX_MAX_BYTES)
		return -EINVAL;
	size_t before = out->len;
	int r = buf_reserve(out, total);
	if (r == 0)
		r = buf_append(out, INBOX_MAGIC, 4);
	if (r == 0)
		r = buf_append_u8(out, MSGREC_INBOX_VERSION);
	if (r == 0)
		r = buf_append(out, "\0\0\0", 3);
	if (r == 0)
		r = buf_append_u32be(out, (uint32_t)n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = buf_append_u32be(out, (uint32_t)e[i].len);
		if (r == 0)
			r = buf_append(out, e[i].msg, e[i].len);
	}
	if (r < 0)
		out->len = before;
	return r;
}

/* The message must decode and be durable; its id goes to ret. */
static int check_entry(size_t i, const uint8_t *msg, size_t len, uint8_t id[DEVMSG_ID_LEN],
                       struct errmsg *err)
{
	devmsg_pb *m = NULL;
	struct errmsg e;
	if (devmsg_decode(msg, len, &m, NULL, &e) < 0)
		return errmsg_set(err, -EBADMSG, "inbox record: entry %zu: %s", i, e.text);
	bool durable = m->has_durable && m->durable;
	if (durable)
		memcpy(id, m->id.data, DEVMSG_ID_LEN);
	devmsg_free(m);
	if (!durable)
		return errmsg_set(err, -EBADMSG, "inbox record: entry %zu is not a durable message",
		                  i);
	return 0;
}

int msgrec_inbox_decode(const uint8_t *data, size_t len, struct msgrec_inbox_entry *ret,
                        size_t *ret_n, struct errmsg *err)
{
	if (len > MSGREC_INBOX_MAX_BYTES)
		return errmsg_set(err, -EBADMSG, "inbox record: %zu bytes, over the %zu-byte cap",
		                  len, MSGREC_INBOX_MAX_BYTES);
	struct cursor c;
	cur_init(&c, data, len);
	const uint8_t *magic, *zero;
	uint8_t version;
	uint32_t n;
	if (cur_get_bytes(&c, 4, &magic) < 0 || memcmp(magic, INBOX_MAGIC, 4) != 0)
		return errmsg_set(err, -EBADMSG, "inbox record: not an SDMI record (bad magic)");
	if (cur_get_u8(&c, &version) < 0 || cur_get_bytes(&c, 3, &zero) < 0 ||
	    cur_get_u32be(&c, &n) < 0)
		return errmsg_set(err, -EBADMSG, "inbox record: truncated header");
	if (version > MSGREC_INBOX_VERSION)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "inbox record: version %u is newer than this daemon's (%u)",
		                  version, MSGREC_INBOX_VERSION);
	if (version == 0)
		return errmsg_set(err, -EBADMSG, "inbox record: version 0");
	if (zero[0] || zero[1] || zero[2])
		return errmsg_set(err, -EBADMSG, "inbox record: reserved bytes are not zero");
	if (n == 0 || n > MSGREC_INBOX_ENTRIES)
		return errmsg_set(err, -EBADMSG, "inbox record: %u entries (1-%d)", (unsigned)n,
		                  MSGREC_INBOX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		uint32_t m;
		const uint8_t *msg;
		if (cur_get_u32be(&c, &m) < 0)
			return errmsg_set(err, -EBADMSG,
			                  "inbox record: entry %zu: truncated length", i);
		if (m == 0 || m > DEVMSG_MAX_SIZE || cur_get_bytes(&c, m, &msg) < 0)
			return errmsg_set(err, -EBADMSG,
			                  "inbox record: entry %zu: length %u does not fit the %zu "
			                  "bytes left (1 to %d)",
			                  i, (unsigned)m, cur_remaining(&c), DEVMSG_MAX_SIZE);
		int r = check_entry(i, msg, m, ret[i].id, err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (memcmp(ret[j].id, ret[i].id, DEVMSG_ID_LEN) == 0)
				return errmsg_set(
				        err, -EBADMSG,
				        "inbox record: entries %zu and %zu have the same id", j, i);
		ret[i].msg = msg;
		ret[i].len = m;
	}
	if (cur_remaining(&c))
		return errmsg_set(err, -EBADMSG, "inbox record: %zu bytes after the last entry",
		                  cur_remaining(&c));
	*ret_n = n;
	return 0;
}
