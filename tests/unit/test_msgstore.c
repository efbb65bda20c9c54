/* What the message service keeps on disk (daemon/messages/msgrec.h,
 * msgstore.h): queue records and dedup chunks round-trip and refuse
 * damage with a message naming the field; durable messages stored in the
 * secure store come back in sequence order per device after a "restart"
 * (a new store handle), encrypted on disk, and are gone once deleted; the
 * dedup window written by msgdedup_flush() is the same window after a
 * reopen, across chunk boundaries, with chunks that left the window
 * deleted. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "devmsg.h"
#include "messages/msgq.h"
#include "messages/msgrec.h"
#include "messages/msgstore.h"
#include "securestore.h"

#define DEV_A "0a1b2c3d-0000-4000-8000-000000000001"
#define DEV_B "7f000000-0000-4000-8000-000000000003"

static struct securestore *open_store(const char *dir)
{
	struct securestore *s;
	struct errmsg err;
	static const struct securestore_opts opts = {0};
	if (securestore_open(dir, &opts, &s, &err) < 0)
		fail_msg("securestore_open: %s", err.text);
	return s;
}

static void mkid(uint8_t id[DEVMSG_ID_LEN], unsigned n)
{
	memset(id, 0xa5, DEVMSG_ID_LEN);
	id[0] = (uint8_t)(n >> 8);
	id[1] = (uint8_t)n;
}

/* A packed durable Custom message with id n and the given payload. */
static struct buf durable_msg(unsigned n, const char *payload, bool durable)
{
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, n);
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = "test/proto";
	c.has_payload = 1;
	c.payload.data = (uint8_t *)payload;
	c.payload.len = strlen(payload);
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, id, 1000 + n, DEVMSG_PB__PRIORITY__PRIORITY_LOW);
	m.has_durable = 1;
	m.durable = durable;
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	m.custom = &c;
	struct buf b = BUF_INIT;
	assert_int_equal(devmsg_pack(&m, &b, NULL), 0);
	return b;
}

/* ---- record formats -------------------------------------------------------- */

static void test_queue_record(void **state)
{
	struct buf msg = durable_msg(7, "hello", true);
	struct buf rec = BUF_INIT;
	assert_int_equal(
	        msgrec_queue_encode(MSGQ_LOW, 0x0102030405060708ull, msg.data, msg.len, &rec), 0);
	assert_int_equal(rec.len, MSGREC_QUEUE_HEADER + msg.len);
	/* The header, byte for byte (msgrec.h): magic, version, priority,
	 * flags, sequence, length. */
	char hex[2 * MSGREC_QUEUE_HEADER + 1];
	snprintf(hex, sizeof(hex),
	         "53444d51"
	         "01"
	         "02"
	         "0000"
	         "0102030405060708"
	         "%08zx",
	         msg.len);
	th_assert_hex(rec.data, MSGREC_QUEUE_HEADER, hex);
	struct msgrec_queue q;
	struct errmsg err;
	assert_int_equal(msgrec_queue_decode(rec.data, rec.len, &q, &err), 0);
	assert_int_equal(q.prio, MSGQ_LOW);
	assert_int_equal(q.seq, 0x0102030405060708ull);
	assert_int_equal(q.msg_len, msg.len);
	assert_memory_equal(q.msg, msg.data, msg.len);
	uint8_t id[DEVMSG_ID_LEN];
	mkid(id, 7);
	assert_memory_equal(q.id, id, DEVMSG_ID_LEN);

	struct {
		size_t off;
		uint8_t val;
		int err;
		const char *text;
	} bad[] = {
	        {0, 'X', -EBADMSG, "magic"},
	        {4, 2, -EPROTONOSUPPORT, "newer"},
	        {4, 0, -EBADMSG, "version 0"},
	        {5, 3, -EBADMSG, "priority 3"},
	        {7, 1, -EBADMSG, "flags"},
	        {19, 0, -EBADMSG, "message length"},
	        {MSGREC_QUEUE_HEADER, 0xff, -EBADMSG, "queue record"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf copy = BUF_INIT;
		buf_append(&copy, rec.data, rec.len);
		copy.data[bad[i].off] = bad[i].val;
		memset(&err, 0, sizeof(err));
		assert_int_equal(msgrec_queue_decode(copy.data, copy.len, &q, &err), bad[i].err);
		if (!strstr(err.text, bad[i].text))
			fail_msg("case %zu: '%s' does not mention '%s'", i, err.text, bad[i].text);
		buf_free(&copy);
	}
	/* Truncated anywhere, or with a byte too many. */
	for (size_t n = 0; n < rec.len; n++)
		assert_int_equal(msgrec_queue_decode(rec.data, n, &q, NULL), -EBADMSG);
	buf_append_u8(&rec, 0);
	assert_int_equal(msgrec_queue_decode(rec.data, rec.len, &q, NULL), -EBADMSG);
	buf_free(&rec);

	/* A message that is not marked durable does not belong in the queue. */
	struct buf plain = durable_msg(8, "x", false);
	assert_int_equal(msgrec_queue_encode(MSGQ_HIGH, 1, plain.data, plain.len, &rec), 0);
	assert_int_equal(msgrec_queue_decode(rec.data, rec.len, &q, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "not durable"));
	buf_free(&rec);
	buf_free(&plain);
	/* Encoder refusals leave out unchanged. */
	assert_int_equal(msgrec_queue_encode(3, 1, msg.data, msg.len, &rec), -EINVAL);
	assert_int_equal(msgrec_queue_encode(0, 1, msg.data, 0, &rec), -EINVAL);
	assert_int_equal(rec.len, 0);
	buf_free(&msg);
}

static void test_dedup_record(void **state)
{
	uint8_t ids[3][DEVMSG_ID_LEN];
	for (unsigned i = 0; i < 3; i++)
		mkid(ids[i], i);
	struct buf rec = BUF_INIT;
	assert_int_equal(msgrec_dedup_encode(&ids[0][0], 3, &rec), 0);
	assert_int_equal(rec.len, MSGREC_DEDUP_HEADER + 3 * DEVMSG_ID_LEN);
	th_assert_hex(rec.data, MSGREC_DEDUP_HEADER,
	              "53444d4401000000"
	              "00000003");
	const uint8_t *got;
	size_t n;
	struct errmsg err;
	assert_int_equal(msgrec_dedup_decode(rec.data, rec.len, &got, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(got, ids, sizeof(ids));
	/* Count and length must agree; reserved bytes are zero. */
	rec.data[11] = 4;
	assert_int_equal(msgrec_dedup_decode(rec.data, rec.len, &got, &n, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "4 ids"));
	rec.data[11] = 3;
	rec.data[6] = 1;
	assert_int_equal(msgrec_dedup_decode(rec.data, rec.len, &got, &n, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "reserved"));
	rec.data[6] = 0;
	rec.data[0] = 'Q';
	assert_int_equal(msgrec_dedup_decode(rec.data, rec.len, &got, &n, NULL), -EBADMSG);
	buf_free(&rec);
	assert_int_equal(msgrec_dedup_encode(&ids[0][0], 0, &rec), -EINVAL);
	assert_int_equal(msgrec_dedup_encode(&ids[0][0], MSGREC_CHUNK_IDS + 1, &rec), -EINVAL);
	/* Zero ids, or more than a chunk holds, are refused on read too. */
	assert_int_equal(
	        msgrec_dedup_decode((const uint8_t *)"SDMD\x01\0\0\0\0\0\0\0", 12, &got, &n, NULL),
	        -EBADMSG);
}

/* ---- the durable queue on disk --------------------------------------------- */

struct loaded {
	char dev[8][MSGSTORE_DEVICE_ID_MAX + 1];
	uint64_t seq[8];
	unsigned prio[8];
	unsigned idn[8];
	size_t n;
};

static int visit(void *ctx, const char *device_id, uint64_t seq, unsigned prio,
                 const uint8_t id[DEVMSG_ID_LEN], const uint8_t *msg, size_t msg_len)
{
	struct loaded *l = ctx;
	assert_true(l->n < 8);
	devmsg_pb *m = NULL;
	assert_int_equal(devmsg_decode(msg, msg_len, &m, NULL, NULL), 0);
	assert_memory_equal(m->id.data, id, DEVMSG_ID_LEN);
	devmsg_free(m);
	snprintf(l->dev[l->n], sizeof(l->dev[0]), "%s", device_id);
	l->seq[l->n] = seq;
	l->prio[l->n] = prio;
	l->idn[l->n] = (unsigned)id[0] << 8 | id[1];
	l->n++;
	return 0;
}

static bool file_contains(const char *path, const char *needle)
{
	struct buf b = th_read_file(path);
	bool found = memmem(b.data, b.len, needle, strlen(needle)) != NULL;
	buf_free(&b);
	return found;
}

static void put(struct securestore *s, const char *dev, uint64_t seq, unsigned prio, unsigned n,
                const char *payload)
{
	struct buf m = durable_msg(n, payload, true);
	struct errmsg err;
	if (msgstore_put(s, dev, seq, prio, m.data, m.len, &err) < 0)
		fail_msg("msgstore_put: %s", err.text);
	buf_free(&m);
}

static void test_store_round_trip(void **state)
{
	const char *dir = *state;
	struct securestore *s = open_store(dir);
	/* Sequence numbers past 9 and 15 check the name's ordering. */
	put(s, DEV_B, 3, MSGQ_HIGH, 30, "b-three");
	put(s, DEV_A, 16, MSGQ_LOW, 16, "a-sixteen");
	put(s, DEV_A, 2, MSGQ_NORMAL, 2, "a-two secret payload");
	put(s, DEV_A, 10, MSGQ_HIGH, 10, "a-ten");
	struct errmsg err;
	assert_int_equal(msgstore_put(s, "bad/id", 1, 0, (const uint8_t *)"x", 1, &err), -EINVAL);
	securestore_close(s);

	/* Encrypted at rest: the payload is not in the file. */
	char path[512];
	snprintf(path, sizeof(path), "%s/queue/%s.0000000000000002", dir, DEV_A);
	assert_false(file_contains(path, "secret payload"));

	/* A restart: a new handle loads everything back in order. */
	s = open_store(dir);
	struct loaded l = {0};
	size_t skipped = 99;
	assert_int_equal(msgstore_load(s, visit, &l, &skipped, &err), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(l.n, 4);
	const uint64_t want_seq[] = {2, 10, 16, 3};
	const unsigned want_prio[] = {MSGQ_NORMAL, MSGQ_HIGH, MSGQ_LOW, MSGQ_HIGH};
	const unsigned want_id[] = {2, 10, 16, 30};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(l.dev[i], i < 3 ? DEV_A : DEV_B);
		assert_int_equal(l.seq[i], want_seq[i]);
		assert_int_equal(l.prio[i], want_prio[i]);
		assert_int_equal(l.idn[i], want_id[i]);
	}
	/* Acknowledged: deleted, and deleting again is fine. */
	assert_int_equal(msgstore_delete(s, DEV_A, 10, &err), 0);
	assert_int_equal(msgstore_delete(s, DEV_A, 10, &err), 0);
	/* A damaged record is skipped, reported, and left in place. */
	snprintf(path, sizeof(path), "%s/queue/%s.0000000000000003", dir, DEV_B);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 50, SEEK_SET);
	fputc(0x5a, f);
	fclose(f);
	memset(&l, 0, sizeof(l));
	assert_int_equal(msgstore_load(s, visit, &l, &skipped, &err), 0);
	assert_int_equal(skipped, 1);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.seq[0], 2);
	assert_int_equal(l.seq[1], 16);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	securestore_close(s);
}

/* ---- the dedup window on disk ------------------------------------------------ */

static size_t count_chunks(const char *dir, const char *dev)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/dedup", dir);
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, dev, strlen(dev)) == 0;
	closedir(d);
	return n;
}

static void test_dedup_persisted(void **state)
{
	const char *dir = *state;
	struct securestore *s = open_store(dir);
	struct msgdedup d;
	struct errmsg err;
	const size_t window = 2 * MSGREC_CHUNK_IDS;
	assert_int_equal(msgdedup_open(&d, s, DEV_A, window, 42, &err), 0);
	assert_int_equal(devmsg_dedup_count(&d.win), 0);
	assert_false(msgdedup_dirty(&d));
	uint8_t id[DEVMSG_ID_LEN];
	/* 300 ids: a full chunk and part of the next, in two flushes. */
	for (unsigned i = 0; i < 300; i++) {
		mkid(id, i);
		assert_int_equal(msgdedup_add(&d, id), 0);
		if (i == 100)
			assert_int_equal(msgdedup_flush(&d, s, &err), 0);
	}
	assert_int_equal(msgdedup_add(&d, id), -EEXIST);
	assert_true(msgdedup_dirty(&d));
	assert_int_equal(msgdedup_flush(&d, s, &err), 0);
	assert_false(msgdedup_dirty(&d));
	assert_int_equal(count_chunks(dir, DEV_A), 2);
	msgdedup_free(&d);
	securestore_close(s);

	/* After a restart (another device's window is separate). */
	s = open_store(dir);
	struct msgdedup other;
	assert_int_equal(msgdedup_open(&other, s, DEV_B, window, 7, &err), 0);
	mkid(id, 5);
	assert_false(msgdedup_contains(&other, id));
	msgdedup_free(&other);
	assert_int_equal(msgdedup_open(&d, s, DEV_A, window, 43, &err), 0);
	assert_int_equal(devmsg_dedup_count(&d.win), 300);
	for (unsigned i = 0; i < 300; i++) {
		mkid(id, i);
		assert_true(msgdedup_contains(&d, id));
	}
	mkid(id, 300);
	assert_false(msgdedup_contains(&d, id));
	/* 600 more: the window keeps the last 512, chunks wholly out of it
	 * are deleted (chunk 0 holds ids 0-255, 1 holds 256-511...). */
	for (unsigned i = 300; i < 900; i++) {
		mkid(id, i);
		assert_int_equal(msgdedup_add(&d, id), 0);
		if (i % 100 == 0)
			assert_int_equal(msgdedup_flush(&d, s, &err), 0);
	}
	assert_int_equal(msgdedup_flush(&d, s, &err), 0);
	assert_int_equal(devmsg_dedup_count(&d.win), window);
	msgdedup_free(&d);
	/* Ids 388-899 are in the window: chunks 1 (256-511), 2, 3 (768-899). */
	assert_int_equal(count_chunks(dir, DEV_A), 3);
	assert_int_equal(msgdedup_open(&d, s, DEV_A, window, 44, &err), 0);
	assert_int_equal(devmsg_dedup_count(&d.win), window);
	for (unsigned i = 0; i < 900; i++) {
		mkid(id, i);
		if (msgdedup_contains(&d, id) != (i >= 900 - window))
			fail_msg("id %u: in window %d after reload", i, msgdedup_contains(&d, id));
	}
	msgdedup_free(&d);
	assert_int_equal(msgdedup_open(&d, s, "bad/id", window, 1, &err), -EINVAL);
	securestore_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_queue_record),
	        cmocka_unit_test(test_dedup_record),
	        cmocka_unit_test_setup_teardown(test_store_round_trip, th_setup_tmpdir,
	                                        th_teardown_tmpdir),
	        cmocka_unit_test_setup_teardown(test_dedup_persisted, th_setup_tmpdir,
	                                        th_teardown_tmpdir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
