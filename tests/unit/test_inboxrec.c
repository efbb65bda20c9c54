/* The receiver's inbox records (daemon/messages/inboxrec.h) and their
 * place in the secure store (msgstore.h): a batch of durable messages is
 * one record, byte for byte as documented; damage anywhere is refused with
 * a message naming the field; the encoder refuses what the decoder would;
 * records come back per device in number order after a "restart", and
 * msgstore_purge_device() deletes one device's queue/, dedup/ and inbox/
 * records and nothing else. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "devmsg.h"
#include "messages/inboxrec.h"
#include "messages/msgq.h"
#include "messages/msgrec.h"
#include "messages/msgstore.h"
#include "securestore.h"

#define DEV_A "0a1b2c3d-0000-4000-8000-000000000001"
#define DEV_B "7f000000-0000-4000-8000-000000000003"

static void mkid(uint8_t id[DEVMSG_ID_LEN], unsigned n)
{
	memset(id, 0x5a, DEVMSG_ID_LEN);
	id[0] = (uint8_t)(n >> 8);
	id[1] = (uint8_t)n;
}

/* A packed Custom message with id n; durable as asked. */
static struct buf packed(unsigned n, const char *payload, bool durable)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, n);
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = "test/inbox";
	c.has_payload = 1;
	c.payload.data = (uint8_t *)payload;
	c.payload.len = strlen(payload);
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1000 + n, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.has_durable = 1;
	m.durable = durable;
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	m.custom = &c;
	struct buf b = BUF_INIT;
	assert_int_equal(devmsg_pack(&m, &b, NULL), 0);
	return b;
}

/* ---- format ------------------------------------------------------------------- */

static void test_layout(void **state)
{
	struct buf a = packed(1, "one", true), b = packed(2, "second", true);
	struct msgrec_inbox_entry in[2] = {{.msg = a.data, .len = a.len},
	                                   {.msg = b.data, .len = b.len}};
	struct buf rec = BUF_INIT;
	assert_int_equal(msgrec_inbox_encode(in, 2, &rec), 0);
	assert_int_equal(rec.len, MSGREC_INBOX_HEADER + 4 + a.len + 4 + b.len);
	assert_int_equal(rec.len, MSGREC_INBOX_HEADER + msgrec_inbox_entry_size(a.len) +
	                                  msgrec_inbox_entry_size(b.len));
	/* Header: magic "SDMI", version 1, three zero bytes, 2 entries; then
	 * each entry's length (big-endian) and bytes. */
	th_assert_hex(rec.data, MSGREC_INBOX_HEADER,
	              "53444d49"
	              "01"
	              "000000"
	              "00000002");
	char hex[9];
	snprintf(hex, sizeof(hex), "%08zx", a.len);
	th_assert_hex(rec.data + MSGREC_INBOX_HEADER, 4, hex);
	assert_memory_equal(rec.data + MSGREC_INBOX_HEADER + 4, a.data, a.len);
	snprintf(hex, sizeof(hex), "%08zx", b.len);
	th_assert_hex(rec.data + MSGREC_INBOX_HEADER + 4 + a.len, 4, hex);
	assert_memory_equal(rec.data + rec.len - b.len, b.data, b.len);

	struct msgrec_inbox_entry out[MSGREC_INBOX_ENTRIES];
	size_t n = 0;
	struct errmsg err;
	assert_int_equal(msgrec_inbox_decode(rec.data, rec.len, out, &n, &err), 0);
	assert_int_equal(n, 2);
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 1);
	assert_memory_equal(out[0].id, id, DEVMSG_ID_LEN);
	mkid(id, 2);
	assert_memory_equal(out[1].id, id, DEVMSG_ID_LEN);
	assert_int_equal(out[0].len, a.len);
	assert_memory_equal(out[0].msg, a.data, a.len);
	assert_int_equal(out[1].len, b.len);
	assert_memory_equal(out[1].msg, b.data, b.len);
	buf_free(&rec);
	buf_free(&a);
	buf_free(&b);
}

/* A full batch is one record; one more entry is refused by both sides. */
static void test_batch_bounds(void **state)
{
	static struct buf msgs[MSGREC_INBOX_ENTRIES + 1];
	static struct msgrec_inbox_entry in[MSGREC_INBOX_ENTRIES + 1];
	for (unsigned i = 0; i <= MSGREC_INBOX_ENTRIES; i++) {
		msgs[i] = packed(i, "x", true);
		in[i] = (struct msgrec_inbox_entry){.msg = msgs[i].data, .len = msgs[i].len};
	}
	struct buf rec = BUF_INIT;
	assert_int_equal(msgrec_inbox_encode(in, MSGREC_INBOX_ENTRIES, &rec), 0);
	static struct msgrec_inbox_entry out[MSGREC_INBOX_ENTRIES];
	size_t n = 0;
	assert_int_equal(msgrec_inbox_decode(rec.data, rec.len, out, &n, NULL), 0);
	assert_int_equal(n, MSGREC_INBOX_ENTRIES);
	for (unsigned i = 0; i < MSGREC_INBOX_ENTRIES; i++)
		assert_memory_equal(out[i].msg, msgs[i].data, msgs[i].len);
	/* 257 entries: the encoder refuses, and a hand-made record too. */
	size_t before = rec.len;
	assert_int_equal(msgrec_inbox_encode(in, MSGREC_INBOX_ENTRIES + 1, &rec), -EINVAL);
	assert_int_equal(msgrec_inbox_encode(in, 0, &rec), -EINVAL);
	assert_int_equal(rec.len, before);
	buf_append_u32be(&rec, (uint32_t)msgs[MSGREC_INBOX_ENTRIES].len);
	buf_append(&rec, msgs[MSGREC_INBOX_ENTRIES].data, msgs[MSGREC_INBOX_ENTRIES].len);
	rec.data[11] = 1; /* n = 257 (0x00000101) */
	rec.data[10] = 1;
	struct errmsg err;
	assert_int_equal(msgrec_inbox_decode(rec.data, rec.len, out, &n, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "257 entries"));
	buf_free(&rec);
	for (unsigned i = 0; i <= MSGREC_INBOX_ENTRIES; i++)
		buf_free(&msgs[i]);
}

/* Eight messages at the 1 MiB cap do not fit one record: the encoder says
 * so (the inbox splits such a batch). An empty or oversized entry too. */
static void test_byte_cap(void **state)
{
	static uint8_t big[DEVMSG_MAX_SIZE];
	struct msgrec_inbox_entry in[8];
	for (int i = 0; i < 8; i++)
		in[i] = (struct msgrec_inbox_entry){.msg = big, .len = sizeof(big)};
	struct buf rec = BUF_INIT;
	assert_int_equal(msgrec_inbox_encode(in, 8, &rec), -EINVAL);
	in[0].len = 0;
	assert_int_equal(msgrec_inbox_encode(in, 1, &rec), -EINVAL);
	in[0].len = DEVMSG_MAX_SIZE + 1;
	assert_int_equal(msgrec_inbox_encode(in, 1, &rec), -EINVAL);
	assert_int_equal(rec.len, 0);
	/* A record over the cap is refused before it is walked. */
	struct msgrec_inbox_entry out[MSGREC_INBOX_ENTRIES];
	size_t n;
	struct errmsg err;
	uint8_t *huge = calloc(1, MSGREC_INBOX_MAX_BYTES + 1);
	assert_non_null(huge);
	memcpy(huge, "SDMI\x01\0\0\0\0\0\0\x01", MSGREC_INBOX_HEADER);
	assert_int_equal(msgrec_inbox_decode(huge, MSGREC_INBOX_MAX_BYTES + 1, out, &n, &err),
	                 -EBADMSG);
	assert_non_null(strstr(err.text, "cap"));
	free(huge);
	buf_free(&rec);
}

static void test_damage(void **state)
{
	struct buf a = packed(1, "one", true), b = packed(2, "two", true);
	struct msgrec_inbox_entry in[2] = {{.msg = a.data, .len = a.len},
	                                   {.msg = b.data, .len = b.len}};
	struct buf rec = BUF_INIT;
	assert_int_equal(msgrec_inbox_encode(in, 2, &rec), 0);
	struct msgrec_inbox_entry out[MSGREC_INBOX_ENTRIES];
	size_t n;
	struct errmsg err;
	struct {
		size_t off;
		uint8_t val;
		int err;
		const char *text;
	} bad[] = {
	        {0, 'X', -EBADMSG, "magic"},
	        {4, 2, -EPROTONOSUPPORT, "newer"},
	        {4, 0, -EBADMSG, "version 0"},
	        {6, 1, -EBADMSG, "reserved"},
	        {11, 0, -EBADMSG, "0 entries"},
	        {11, 3, -EBADMSG, "entry 2: truncated length"},
	        {11, 1, -EBADMSG, "after the last entry"},
	        {15, 0, -EBADMSG, "entry 0: length 0"},
	        {15, 0xff, -EBADMSG, "entry 0: length"},
	        {MSGREC_INBOX_HEADER + 4, 0xff, -EBADMSG, "entry 0"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf copy = BUF_INIT;
		buf_append(&copy, rec.data, rec.len);
		copy.data[bad[i].off] = bad[i].val;
		memset(&err, 0, sizeof(err));
		assert_int_equal(msgrec_inbox_decode(copy.data, copy.len, out, &n, &err),
		                 bad[i].err);
		if (!strstr(err.text, bad[i].text))
			fail_msg("case %zu: '%s' does not mention '%s'", i, err.text, bad[i].text);
		buf_free(&copy);
	}
	/* Truncated anywhere, or with a byte too many. */
	for (size_t k = 0; k < rec.len; k++)
		assert_int_equal(msgrec_inbox_decode(rec.data, k, out, &n, NULL), -EBADMSG);
	buf_append_u8(&rec, 0);
	assert_int_equal(msgrec_inbox_decode(rec.data, rec.len, out, &n, NULL), -EBADMSG);
	buf_free(&rec);

	/* Not durable, or the same id twice: not an inbox's. */
	struct buf plain = packed(3, "p", false);
	in[1] = (struct msgrec_inbox_entry){.msg = plain.data, .len = plain.len};
	assert_int_equal(msgrec_inbox_encode(in, 2, &rec), 0);
	assert_int_equal(msgrec_inbox_decode(rec.data, rec.len, out, &n, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "entry 1 is not a durable message"));
	buf_reset(&rec);
	in[1] = in[0];
	assert_int_equal(msgrec_inbox_encode(in, 2, &rec), 0);
	assert_int_equal(msgrec_inbox_decode(rec.data, rec.len, out, &n, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "same id"));
	buf_free(&rec);
	buf_free(&plain);
	buf_free(&a);
	buf_free(&b);
}

/* ---- in the store ------------------------------------------------------------------ */

static struct securestore *open_store(const char *dir)
{
	struct securestore *s;
	struct errmsg err;
	static const struct securestore_opts opts = {0};
	if (securestore_open(dir, &opts, &s, &err) < 0)
		fail_msg("securestore_open: %s", err.text);
	return s;
}

struct seen {
	char dev[8][MSGSTORE_DEVICE_ID_MAX + 1];
	uint64_t seq[8];
	size_t n[8];
	size_t count, unreadable;
};

static int visit(void *ctx, const char *device_id, uint64_t seq, const uint8_t *data, size_t len,
                 const char *text)
{
	struct seen *s = ctx;
	if (!data) {
		assert_non_null(text);
		s->unreadable++;
		return 0;
	}
	assert_true(s->count < 8);
	struct msgrec_inbox_entry out[MSGREC_INBOX_ENTRIES];
	assert_int_equal(msgrec_inbox_decode(data, len, out, &s->n[s->count], NULL), 0);
	snprintf(s->dev[s->count], sizeof(s->dev[0]), "%s", device_id);
	s->seq[s->count++] = seq;
	return 0;
}

static size_t files(const char *dir, const char *ns)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, ns);
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void put(struct securestore *s, const char *dev, uint64_t seq, unsigned first, size_t n)
{
	struct buf msgs[4];
	struct msgrec_inbox_entry in[4];
	for (size_t i = 0; i < n; i++) {
		msgs[i] = packed(first + (unsigned)i, "m", true);
		in[i] = (struct msgrec_inbox_entry){.msg = msgs[i].data, .len = msgs[i].len};
	}
	struct buf rec = BUF_INIT;
	assert_int_equal(msgrec_inbox_encode(in, n, &rec), 0);
	struct errmsg err;
	if (msgstore_inbox_put(s, dev, seq, rec.data, rec.len, &err) < 0)
		fail_msg("put: %s", err.text);
	buf_free(&rec);
	for (size_t i = 0; i < n; i++)
		buf_free(&msgs[i]);
}

static void test_store_and_purge(void **state)
{
	const char *dir = *state;
	struct securestore *s = open_store(dir);
	put(s, DEV_B, 0x11, 10, 1);
	put(s, DEV_A, 0x100, 1, 3);
	put(s, DEV_A, 0x2, 4, 2);
	struct errmsg err;
	/* Not ours: another device's queue and dedup records stay. */
	struct buf q = packed(50, "q", true), chunk = BUF_INIT;
	assert_int_equal(msgstore_put(s, DEV_A, 1, MSGQ_NORMAL, q.data, q.len, &err), 0);
	assert_int_equal(msgstore_put(s, DEV_B, 1, MSGQ_NORMAL, q.data, q.len, &err), 0);
	uint8_t ids[2][DEVMSG_ID_LEN];
	mkid(ids[0], 1);
	mkid(ids[1], 2);
	assert_int_equal(msgrec_dedup_encode(&ids[0][0], 2, &chunk), 0);
	assert_int_equal(
	        securestore_put(s, "dedup", DEV_A ".0000000000000000", chunk.data, chunk.len, &err),
	        0);
	assert_int_equal(
	        securestore_put(s, "dedup", DEV_B ".0000000000000000", chunk.data, chunk.len, &err),
	        0);
	/* Encrypted on disk: the payload is not in the file. */
	char path[256];
	snprintf(path, sizeof(path), "%s/inbox/%s.0000000000000100", dir, DEV_A);
	struct buf raw = th_read_file(path);
	assert_null(memmem(raw.data, raw.len, "test/inbox", 10));
	buf_free(&raw);
	securestore_close(s);

	/* After a restart: ordered by device, then number. */
	s = open_store(dir);
	struct seen seen = {0};
	assert_int_equal(msgstore_inbox_load(s, visit, &seen, &err), 0);
	assert_int_equal(seen.count, 3);
	assert_string_equal(seen.dev[0], DEV_A);
	assert_int_equal(seen.seq[0], 0x2);
	assert_int_equal(seen.n[0], 2);
	assert_string_equal(seen.dev[1], DEV_A);
	assert_int_equal(seen.seq[1], 0x100);
	assert_int_equal(seen.n[1], 3);
	assert_string_equal(seen.dev[2], DEV_B);
	assert_int_equal(seen.unreadable, 0);
	/* A damaged record is handed over as unreadable, not dropped. */
	snprintf(path, sizeof(path), "%s/inbox/%s.0000000000000011", dir, DEV_B);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 30, SEEK_SET);
	fputc(0x77, f);
	fclose(f);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(msgstore_inbox_load(s, visit, &seen, &err), 0);
	assert_int_equal(seen.count, 2);
	assert_int_equal(seen.unreadable, 1);

	/* Deleting one is idempotent. */
	assert_int_equal(msgstore_inbox_delete(s, DEV_A, 0x2, &err), 0);
	assert_int_equal(msgstore_inbox_delete(s, DEV_A, 0x2, &err), 0);
	assert_int_equal(files(dir, "inbox"), 2);

	/* Forgetting DEV_A: its queue, dedup and inbox records go, DEV_B's stay. */
	assert_int_equal(files(dir, "queue"), 2);
	assert_int_equal(files(dir, "dedup"), 2);
	assert_int_equal(msgstore_purge_device(s, DEV_A, &err), 0);
	assert_int_equal(files(dir, "queue"), 1);
	assert_int_equal(files(dir, "dedup"), 1);
	assert_int_equal(files(dir, "inbox"), 1);
	snprintf(path, sizeof(path), "%s/inbox/%s.0000000000000011", dir, DEV_B);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(msgstore_purge_device(s, "bad/id", &err), -EINVAL);
	securestore_close(s);
	buf_free(&q);
	buf_free(&chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_layout),
	        cmocka_unit_test(test_batch_bounds),
	        cmocka_unit_test(test_byte_cap),
	        cmocka_unit_test(test_damage),
	        cmocka_unit_test_setup_teardown(test_store_and_purge, th_setup_tmpdir,
	                                        th_teardown_tmpdir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
