/* File transfer: the whole state machine between a sender and a receiver
 * wired back to back in memory (offer, accept, data in odd chunk sizes,
 * hashes, verification), resume at an offset after interruptions and a
 * receiver restart, reject, cancel and pause, every lie a peer can tell,
 * progress with injected time, and the receiver's naming rules. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "devmsg.h"
#include "lpmsg.h"
#include "xfer.h"

#define MAXF 8
#define BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_##x

static void test_rand(uint8_t *out, size_t len, void *ctx)
{
	uint64_t *c = ctx;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(*c * 131 + i * 7);
	(*c)++;
}

static uint64_t rand_counter;
static const struct xfer_config cfg = {test_rand, &rand_counter};
static const uint8_t TID[XFER_ID_LEN] = "transfer-id-0001";

struct rig {
	struct xfer *s, *r;
	struct buf s_out, r_out, data;
	size_t data_off; /* receiver's read position in data */
	size_t n;
	uint8_t *content[MAXF];
	uint64_t size[MAXF];
	uint8_t *recv[MAXF];
	uint64_t now;
	uint64_t sent_payload; /* data bytes the sender wrote */
};

static void rig_add(struct rig *g, const char *name, uint64_t size, uint8_t seed)
{
	size_t i = g->n++;
	g->size[i] = size;
	g->content[i] = malloc(size + 1);
	g->recv[i] = calloc(1, size + 1);
	for (uint64_t k = 0; k < size; k++)
		g->content[i][k] = (uint8_t)(seed + k * 13 + (k >> 8));
	struct xfer_part part = {(const uint8_t *)name, strlen(name)};
	struct xfer_file_info info = {
	        .size = size, .mtime_sec = 1700000000 + (int64_t)i, .mtime_nsec = 5, .mode = 04755};
	assert_int_equal(xfer_add_file(g->s, &part, 1, &info), 0);
}

static void rig_init(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(xfer_new(&g->s, XFER_SENDER, TID, &cfg), 0);
	assert_int_equal(xfer_new(&g->r, XFER_RECEIVER, TID, &cfg), 0);
	g->now = 1000;
}

static void rig_free(struct rig *g)
{
	xfer_free(g->s);
	xfer_free(g->r);
	buf_free(&g->s_out);
	buf_free(&g->r_out);
	buf_free(&g->data);
	for (size_t i = 0; i < g->n; i++) {
		free(g->content[i]);
		free(g->recv[i]);
	}
}

/* Hand every control frame in *from to x; replies go to *reply. Returns
 * the last event, or the first error. */
static int deliver(struct buf *from, struct xfer *x, struct buf *reply, uint64_t now,
                   struct errmsg *e)
{
	int last = XFER_EV_NONE;
	while (from->len > 0) {
		const uint8_t *msg;
		size_t len;
		long n = lpmsg_next(from->data, from->len, DEVMSG_MAX_SIZE, &msg, &len);
		assert_true(n > 0);
		devmsg_pb *m = NULL;
		assert_int_equal(devmsg_decode(msg, len, &m, NULL, NULL), 0);
		int r = xfer_handle(x, m, now, reply, e);
		devmsg_free(m);
		buf_consume(from, (size_t)n);
		if (r < 0)
			return r;
		last = r;
	}
	return last;
}

static void set_sender_hash(struct rig *g, size_t i)
{
	uint8_t sha[32];
	assert_int_equal(crypto_sha256(g->content[i], g->size[i], sha), 0);
	assert_int_equal(xfer_set_sha256(g->s, i, sha, NULL), 0);
}

/* Sender: write up to `budget` payload bytes to the data stream in spans
 * of at most `window`; hashes as each file ends. */
static void pump(struct rig *g, uint64_t window, uint64_t budget)
{
	while (budget > 0) {
		struct xfer_span sp;
		uint64_t w = window < budget ? window : budget;
		assert_int_equal(xfer_send_span(g->s, w, &g->data, &sp), 0);
		if (sp.done)
			break;
		assert_true(sp.len > 0 && sp.len <= w);
		assert_int_equal(buf_append(&g->data, g->content[sp.file] + sp.offset, sp.len), 0);
		g->now += 1;
		assert_int_equal(xfer_sent(g->s, sp.len, g->now), 0);
		g->sent_payload += sp.len;
		budget -= sp.len;
		if (sp.offset + sp.len == g->size[sp.file])
			set_sender_hash(g, sp.file);
	}
}

/* Receiver: consume the data stream `chunk` bytes at a time. */
static long drain(struct rig *g, size_t chunk, struct errmsg *e)
{
	size_t avail = g->data_off;
	while (g->data_off < g->data.len) {
		avail = avail + chunk < g->data.len ? avail + chunk : g->data.len;
		while (g->data_off < avail) {
			struct xfer_span sp;
			long n = xfer_data_feed(g->r, g->data.data + g->data_off,
			                        avail - g->data_off, g->now, &sp, &g->r_out, e);
			if (n < 0)
				return n;
			if (n == 0 && avail == g->data.len)
				return -ENODATA; /* a header cut short */
			if (n == 0)
				break;
			if (sp.len) {
				assert_ptr_equal(sp.data, g->data.data + g->data_off);
				memcpy(g->recv[sp.file] + sp.offset, sp.data, sp.len);
			}
			g->data_off += (size_t)n;
		}
	}
	return 0;
}

/* Receiver: hash every ready file and report it. */
static int verify_ready(struct rig *g, struct errmsg *e)
{
	size_t i;
	int worst = 0;
	while (xfer_next_ready(g->r, &i) == 0) {
		uint8_t sha[32];
		crypto_sha256(g->recv[i], g->size[i], sha);
		int r = xfer_verified(g->r, i, sha, g->now, &g->r_out, e);
		if (r < 0)
			worst = r;
	}
	return worst;
}

static void offer_and_accept(struct rig *g)
{
	assert_int_equal(xfer_offer(g->s, g->now, &g->s_out), 0);
	assert_int_equal(xfer_state(g->s), XFER_ST_OFFERED);
	assert_int_equal(deliver(&g->s_out, g->r, &g->r_out, g->now, NULL), XFER_EV_OFFER);
	assert_int_equal(xfer_accept(g->r, g->now, &g->r_out), 0);
	assert_int_equal(deliver(&g->r_out, g->s, &g->s_out, g->now, NULL), XFER_EV_ACCEPTED);
}

static void finish(struct rig *g, size_t chunk)
{
	pump(g, 4096, UINT64_MAX);
	assert_int_equal(xfer_send_hashes(g->s, g->now, &g->s_out), 0);
	assert_int_equal(xfer_state(g->s), XFER_ST_VERIFYING);
	assert_int_equal(drain(g, chunk, NULL), 0);
	deliver(&g->s_out, g->r, &g->r_out, g->now, NULL);
	assert_int_equal(verify_ready(g, NULL), 0);
	assert_int_equal(xfer_state(g->r), XFER_ST_DONE);
	assert_int_equal(deliver(&g->r_out, g->s, &g->s_out, g->now, NULL), XFER_EV_DONE);
	assert_int_equal(xfer_state(g->s), XFER_ST_DONE);
	for (size_t i = 0; i < g->n; i++)
		assert_memory_equal(g->recv[i], g->content[i], g->size[i]);
}

static void test_full_transfer(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "empty.txt", 0, 1);
	rig_add(&g, "big.bin", 100000, 2);
	rig_add(&g, "../../etc/passwd", 5, 3);
	struct xfer_part dir[] = {{(const uint8_t *)"photos", 6}, {(const uint8_t *)"2024", 4}};
	struct xfer_file_info dinfo = {.is_dir = true, .mode = 0700, .size = 99};
	assert_int_equal(xfer_add_file(g.s, dir, 2, &dinfo), 0);
	set_sender_hash(&g, 0); /* the empty file's hash is known at once */

	offer_and_accept(&g);
	assert_int_equal(xfer_file_count(g.r), 4);
	const struct xfer_file *f = xfer_file(g.r, 2);
	assert_string_equal(f->path, ".._.._etc_passwd");
	assert_int_equal(f->mode, 0755); /* setuid bit dropped */
	assert_int_equal(f->mtime_sec, 1700000002);
	assert_int_equal(f->mtime_nsec, 5);
	assert_string_equal(xfer_file(g.r, 3)->path, "photos/2024");
	assert_true(xfer_file(g.r, 3)->is_dir);
	assert_int_equal(xfer_file(g.r, 3)->size, 0); /* directories have no size */
	assert_true(xfer_file(g.r, 3)->verified);     /* created on acceptance */
	assert_null(xfer_file(g.r, 4));

	/* Odd chunk sizes split headers and data everywhere. */
	finish(&g, 777);
	assert_int_equal(g.sent_payload, 100005);
	struct xfer_progress p;
	xfer_progress(g.r, g.now, &p);
	assert_int_equal(p.bytes_total, 100005);
	assert_int_equal(p.bytes_done, 100005);
	assert_int_equal(p.bytes_durable, 100005);
	assert_int_equal(p.files_done, 4);
	assert_int_equal(p.eta_ms, 0);
	rig_free(&g);
}

static void test_one_byte_chunks(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "a", 300, 9);
	rig_add(&g, "b", 1, 10);
	offer_and_accept(&g);
	finish(&g, 1);
	rig_free(&g);
}

/* Kill the receiver near the middle: it restarts with nothing but its
 * state record (durable offset 4096 of the first file) and the sender
 * resends only what is missing. */
static void test_resume_after_receiver_restart(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "video.mkv", 10000, 4);
	rig_add(&g, "notes.txt", 3000, 5);
	offer_and_accept(&g);
	pump(&g, 1000, 6000);
	assert_int_equal(drain(&g, 512, NULL), 0);
	assert_int_equal(xfer_file(g.r, 0)->pos, 6000);
	assert_int_equal(xfer_durable(g.r, 0, 6001), -ERANGE);
	assert_int_equal(xfer_durable(g.r, 0, 4096), 0);
	assert_int_equal(xfer_durable(g.r, 0, 4000), -EINVAL);

	/* Both daemons see the connection die; the receiver process dies. */
	xfer_interrupt(g.s);
	assert_int_equal(xfer_state(g.s), XFER_ST_INTERRUPTED);
	g.r = xfer_free(g.r);
	assert_int_equal(xfer_new(&g.r, XFER_RECEIVER, TID, &cfg), 0);
	buf_reset(&g.data);
	g.data_off = 0;
	g.sent_payload = 0;

	/* Resuming, the sender hashes ahead; the re-offer carries it. */
	set_sender_hash(&g, 0);
	assert_int_equal(xfer_offer(g.s, g.now, &g.s_out), 0);
	uint8_t changed[32] = {0};
	assert_int_equal(xfer_set_sha256(g.s, 0, changed, NULL), -ESTALE);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_OFFER);
	assert_true(xfer_file(g.r, 0)->has_offer_sha);
	assert_int_equal(xfer_set_resume(g.r, 0, 10001, false), -ERANGE);
	assert_int_equal(xfer_set_resume(g.r, 0, 4096, true), -EINVAL);
	assert_int_equal(xfer_set_resume(g.r, 0, 4096, false), 0);
	assert_int_equal(xfer_accept(g.r, g.now, &g.r_out), 0);
	assert_int_equal(xfer_file(g.r, 0)->start, 4096);
	assert_int_equal(deliver(&g.r_out, g.s, &g.s_out, g.now, NULL), XFER_EV_ACCEPTED);
	assert_int_equal(xfer_file(g.s, 0)->start, 4096);

	/* The "part file" keeps the first 4096 bytes from before the crash. */
	memset(g.recv[0] + 4096, 0, 10000 - 4096);
	struct xfer_span sp;
	struct buf hdr = BUF_INIT;
	assert_int_equal(xfer_send_span(g.s, 100, &hdr, &sp), 0);
	assert_int_equal(sp.file, 0);
	assert_int_equal(sp.offset, 4096);
	assert_true(hdr.len > 0);
	buf_append(&g.data, hdr.data, hdr.len);
	buf_free(&hdr);
	buf_append(&g.data, g.content[0] + 4096, 100);
	assert_int_equal(xfer_sent(g.s, 100, g.now), 0);
	assert_int_equal(xfer_sent(g.s, 10000, g.now), -EINVAL); /* beyond the span */
	g.sent_payload = 100;
	finish(&g, 333);
	/* Byte counters prove the resume: only the missing bytes moved. */
	assert_int_equal(g.sent_payload, (10000 - 4096) + 3000);
	struct xfer_progress p;
	xfer_progress(g.s, g.now, &p);
	assert_int_equal(p.bytes_resumed, 4096);
	assert_int_equal(p.bytes_done, 13000);
	rig_free(&g);
}

/* Same, with both objects surviving (link cut then restored): the
 * receiver resumes from its own durable offsets, not from what it got. */
static void test_resume_in_place_uses_durable_offset(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "a.bin", 8192, 6);
	rig_add(&g, "b.bin", 2048, 7);
	offer_and_accept(&g);
	pump(&g, 4096, 9000);
	set_sender_hash(&g, 1);
	assert_int_equal(drain(&g, 4096, NULL), 0);
	assert_int_equal(xfer_send_hashes(g.s, g.now, &g.s_out), 0);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_HASHES);
	/* File 0 is complete and verified; file 1 got 808 bytes, 500 durable. */
	assert_int_equal(verify_ready(&g, NULL), 0);
	assert_true(xfer_file(g.r, 0)->verified);
	assert_int_equal(xfer_file(g.r, 1)->pos, 808);
	assert_int_equal(xfer_durable(g.r, 1, 500), 0);

	xfer_interrupt(g.s);
	xfer_interrupt(g.r);
	buf_reset(&g.data);
	g.data_off = 0;
	g.sent_payload = 0;
	assert_int_equal(xfer_offer(g.s, g.now, &g.s_out), 0);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_OFFER);
	assert_true(xfer_file(g.r, 0)->verified);
	assert_int_equal(xfer_file(g.r, 1)->start, 500);
	assert_int_equal(xfer_accept(g.r, g.now, &g.r_out), 0);
	assert_int_equal(deliver(&g.r_out, g.s, &g.s_out, g.now, NULL), XFER_EV_ACCEPTED);
	assert_true(xfer_file(g.s, 0)->verified);
	finish(&g, 100);
	assert_int_equal(g.sent_payload, 2048 - 500);
	rig_free(&g);
}

static void test_reject(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "x", 10, 1);
	assert_int_equal(xfer_offer(g.s, g.now, &g.s_out), 0);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_OFFER);
	assert_int_equal(xfer_accept(g.s, g.now, &g.s_out), -EINVAL); /* wrong role */
	assert_int_equal(
	        xfer_reject(g.r, DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_EXPIRED,
	                    "nobody answered within 60 s", g.now, &g.r_out),
	        0);
	assert_int_equal(xfer_state(g.r), XFER_ST_REJECTED);
	assert_int_equal(deliver(&g.r_out, g.s, &g.s_out, g.now, NULL), XFER_EV_REJECTED);
	assert_int_equal(xfer_state(g.s), XFER_ST_REJECTED);
	const char *text;
	assert_int_equal(xfer_reject_reason(g.s, &text),
	                 DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_EXPIRED);
	assert_string_equal(text, "nobody answered within 60 s");
	rig_free(&g);
}

static void test_cancel_and_pause(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "x", 50000, 1);
	offer_and_accept(&g);
	pump(&g, 1000, 3000);
	assert_int_equal(drain(&g, 1000, NULL), 0);
	/* The receiver's disk is full: pause, keeping the partial file. */
	assert_int_equal(xfer_cancel(g.r, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_DISK_FULL,
	                             "no space left on /home", true, g.now, &g.r_out),
	                 0);
	assert_int_equal(xfer_state(g.r), XFER_ST_INTERRUPTED);
	assert_int_equal(deliver(&g.r_out, g.s, &g.s_out, g.now, NULL), XFER_EV_PAUSED);
	assert_int_equal(xfer_state(g.s), XFER_ST_INTERRUPTED);
	const char *text;
	assert_int_equal(xfer_reject_reason(g.s, &text),
	                 DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_DISK_FULL);
	assert_string_equal(text, "no space left on /home");
	/* Space is back: the sender re-offers, then the user cancels. */
	assert_int_equal(xfer_durable(g.r, 0, 3000), 0);
	assert_int_equal(xfer_offer(g.s, g.now, &g.s_out), 0);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_OFFER);
	assert_int_equal(xfer_file(g.r, 0)->start, 3000);
	assert_int_equal(xfer_accept(g.r, g.now, &g.r_out), 0);
	assert_int_equal(deliver(&g.r_out, g.s, &g.s_out, g.now, NULL), XFER_EV_ACCEPTED);
	assert_int_equal(xfer_cancel(g.s, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_USER,
	                             "cancelled by the user", false, g.now, &g.s_out),
	                 0);
	assert_int_equal(xfer_state(g.s), XFER_ST_CANCELLED);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_CANCELLED);
	assert_int_equal(xfer_state(g.r), XFER_ST_CANCELLED);
	assert_int_equal(xfer_cancel(g.r, DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_USER, "x",
	                             false, g.now, &g.r_out),
	                 -EALREADY);
	/* Terminal: later messages change nothing. */
	assert_int_equal(xfer_offer(g.s, g.now, &g.s_out), -EINVAL);
	rig_free(&g);
}

/* ---- lies ------------------------------------------------------------------- */

/* Encode a data-stream segment header. */
static void segment(struct buf *out, const uint8_t *tid, uint32_t file, uint64_t off, uint64_t len)
{
	uint8_t mid[DEVMSG_ID_LEN] = {1};
	DevmsgPb__FileTransferData d = DEVMSG_PB__FILE_TRANSFER_DATA__INIT;
	d.has_transfer_id = d.has_file_index = d.has_offset = d.has_length = 1;
	d.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)tid};
	d.file_index = file;
	d.offset = off;
	d.length = len;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, mid, 0, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(FILE_TRANSFER_DATA);
	m.file_transfer_data = &d;
	assert_int_equal(devmsg_encode(&m, out, NULL), 0);
}

/* The receiver's answer to a lie: FAILED and a Cancel{PROTOCOL_ERROR}. */
static void assert_failed_with_cancel(struct rig *g, const struct errmsg *e, const char *text)
{
	assert_int_equal(xfer_state(g->r), XFER_ST_FAILED);
	if (!strstr(e->text, text))
		fail_msg("'%s' not in '%s'", text, e->text);
	assert_string_equal(xfer_error(g->r), e->text);
	assert_int_equal(deliver(&g->r_out, g->s, &g->s_out, g->now, NULL), XFER_EV_CANCELLED);
	const char *why;
	assert_int_equal(xfer_reject_reason(g->s, &why),
	                 DEVMSG_PB__FILE_TRANSFER_CANCEL__REASON__CANCEL_PROTOCOL_ERROR);
	assert_string_equal(why, e->text);
}

static void lie_on_data_stream(uint32_t file, uint64_t off, uint64_t len, const char *text)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "a", 100, 1);
	rig_add(&g, "b", 100, 2);
	offer_and_accept(&g);
	segment(&g.data, TID, file, off, len);
	buf_append(&g.data, g.content[0], 100);
	struct errmsg e = {{0}};
	assert_int_equal(drain(&g, 1000, &e), -EPROTO);
	assert_failed_with_cancel(&g, &e, text);
	rig_free(&g);
}

static void test_lies_on_the_data_stream(void **state)
{
	lie_on_data_stream(2, 0, 10, "unknown file 2");
	lie_on_data_stream(0, 101, 1, "beyond file 0's size 100");
	lie_on_data_stream(0, 50, 10, "offset 50, expected 0");
	lie_on_data_stream(0, 0, 101, "101 bytes at 0 exceed file 0's size 100");
	lie_on_data_stream(0, 0, 0, "0 bytes at 0");

	/* A segment for another transfer. */
	struct rig g;
	rig_init(&g);
	rig_add(&g, "a", 100, 1);
	offer_and_accept(&g);
	segment(&g.data, (const uint8_t *)"another-transfer", 0, 0, 100);
	struct errmsg e = {{0}};
	assert_int_equal(drain(&g, 1000, &e), -EPROTO);
	assert_failed_with_cancel(&g, &e, "another transfer");
	rig_free(&g);

	/* More bytes than the file holds: the excess is read as a header. */
	rig_init(&g);
	rig_add(&g, "a", 100, 1);
	offer_and_accept(&g);
	segment(&g.data, TID, 0, 0, 100);
	buf_append(&g.data, g.content[0], 100);
	buf_append(&g.data, "\x05garbage", 8);
	assert_int_equal(drain(&g, 1000, &e), -EPROTO);
	assert_failed_with_cancel(&g, &e, "bad segment header");
	rig_free(&g);

	/* A header frame longer than any header. */
	rig_init(&g);
	rig_add(&g, "a", 100, 1);
	offer_and_accept(&g);
	buf_append(&g.data, "\xff\x7f", 2);
	assert_int_equal(drain(&g, 1000, &e), -EPROTO);
	assert_failed_with_cancel(&g, &e, "segment header of at most 256");
	rig_free(&g);
}

static void test_hash_lies_and_mismatch(void **state)
{
	/* The content differs from the hash: never verified, reported back. */
	struct rig g;
	rig_init(&g);
	rig_add(&g, "a", 1000, 1);
	rig_add(&g, "b", 10, 2);
	offer_and_accept(&g);
	pump(&g, 4096, UINT64_MAX);
	assert_int_equal(drain(&g, 4096, NULL), 0);
	g.recv[0][500] ^= 1; /* corrupted on the way (or a lying sender) */
	assert_int_equal(xfer_send_hashes(g.s, g.now, &g.s_out), 0);
	assert_int_equal(deliver(&g.s_out, g.r, &g.r_out, g.now, NULL), XFER_EV_HASHES);
	struct errmsg e = {{0}};
	assert_int_equal(verify_ready(&g, &e), -EBADMSG);
	assert_non_null(strstr(e.text, "file 0 (a)"));
	assert_true(xfer_file(g.r, 0)->failed);
	assert_false(xfer_file(g.r, 0)->verified);
	assert_true(xfer_file(g.r, 1)->verified);
	assert_int_equal(xfer_state(g.r), XFER_ST_FAILED);
	assert_int_equal(deliver(&g.r_out, g.s, &g.s_out, g.now, NULL), XFER_EV_FAILED);
	assert_int_equal(xfer_state(g.s), XFER_ST_FAILED);
	assert_true(xfer_file(g.s, 0)->failed);
	assert_non_null(strstr(xfer_error(g.s), "1 file(s) failed"));
	rig_free(&g);

	/* A Complete whose hash differs from the offered one is a lie. */
	rig_init(&g);
	uint8_t sha[32];
	memset(sha, 0x11, 32);
	struct xfer_part part = {(const uint8_t *)"c", 1};
	struct xfer_file_info info = {.size = 3, .sha256 = sha};
	assert_int_equal(xfer_add_file(g.s, &part, 1, &info), 0);
	offer_and_accept(&g);
	uint8_t other[32];
	memset(other, 0x22, 32);
	/* The sender side refuses to announce a hash that changed... */
	assert_int_equal(xfer_set_sha256(g.s, 0, other, &e), -ESTALE);
	assert_non_null(strstr(e.text, "changed since it was offered"));
	/* ...and a lying sender is caught by the receiver. */
	DevmsgPb__FileHash h = DEVMSG_PB__FILE_HASH__INIT;
	h.has_index = h.has_sha256 = 1;
	h.sha256 = (ProtobufCBinaryData){32, other};
	DevmsgPb__FileHash *hp[] = {&h};
	DevmsgPb__FileTransferComplete c = DEVMSG_PB__FILE_TRANSFER_COMPLETE__INIT;
	c.has_transfer_id = 1;
	c.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)TID};
	c.n_hashes = 1;
	c.hashes = hp;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = BODY(FILE_TRANSFER_COMPLETE);
	m.file_transfer_complete = &c;
	assert_int_equal(xfer_handle(g.r, &m, g.now, &g.r_out, &e), -EPROTO);
	assert_failed_with_cancel(&g, &e, "differs from the one offered");
	rig_free(&g);

	/* A hash for a file that is not in the offer. */
	rig_init(&g);
	rig_add(&g, "a", 1, 1);
	offer_and_accept(&g);
	h.index = 7;
	assert_int_equal(xfer_handle(g.r, &m, g.now, &g.r_out, &e), -EPROTO);
	assert_failed_with_cancel(&g, &e, "Complete names file 7, the offer has 1");
	rig_free(&g);
}

/* A hand-made Offer with one entry per size. */
static int hand_offer(struct xfer *r, uint32_t first, uint32_t total_files, uint64_t total_bytes,
                      const uint64_t *sizes, size_t n, struct buf *out, struct errmsg *e)
{
	DevmsgPb__FileEntry fe[4], *fp[4];
	ProtobufCBinaryData name = {4, (uint8_t *)"file"};
	for (size_t i = 0; i < n; i++) {
		fe[i] = (DevmsgPb__FileEntry)DEVMSG_PB__FILE_ENTRY__INIT;
		fe[i].n_path = 1;
		fe[i].path = &name;
		fe[i].has_size = 1;
		fe[i].size = sizes[i];
		fp[i] = &fe[i];
	}
	DevmsgPb__FileTransferRequest o = DEVMSG_PB__FILE_TRANSFER_REQUEST__INIT;
	o.has_transfer_id = o.has_first_index = o.has_total_files = o.has_total_bytes = 1;
	o.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)TID};
	o.first_index = first;
	o.n_files = n;
	o.files = fp;
	o.total_files = total_files;
	o.total_bytes = total_bytes;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = BODY(FILE_TRANSFER_REQUEST);
	m.file_transfer_request = &o;
	return xfer_handle(r, &m, 1, out, e);
}

static void expect_offer_rejected(int got, int want, struct xfer *r, struct buf *out,
                                  DevmsgPb__FileTransferResponse__RejectReason reason,
                                  const char *text)
{
	assert_int_equal(got, want);
	assert_int_equal(xfer_state(r), XFER_ST_REJECTED);
	const uint8_t *msg;
	size_t len;
	assert_true(lpmsg_next(out->data, out->len, DEVMSG_MAX_SIZE, &msg, &len) > 0);
	devmsg_pb *m = NULL;
	assert_int_equal(devmsg_decode(msg, len, &m, NULL, NULL), 0);
	assert_int_equal(m->body_case, BODY(FILE_TRANSFER_RESPONSE));
	assert_false(m->file_transfer_response->accepted);
	assert_int_equal(m->file_transfer_response->reason, reason);
	if (!strstr(m->file_transfer_response->message, text))
		fail_msg("'%s' not in '%s'", text, m->file_transfer_response->message);
	devmsg_free(m);
}

static void test_offer_lies_and_caps(void **state)
{
	const DevmsgPb__FileTransferResponse__RejectReason invalid =
	        DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_INVALID_OFFER;
	const DevmsgPb__FileTransferResponse__RejectReason too_large =
	        DEVMSG_PB__FILE_TRANSFER_RESPONSE__REJECT_REASON__REJECT_TOO_LARGE;
	struct {
		uint32_t first, total_files;
		uint64_t total_bytes;
		uint64_t sizes[2];
		size_t n;
		int want;
		DevmsgPb__FileTransferResponse__RejectReason reason;
		const char *text;
	} cases[] = {
	        {0,
	         1,
	         99,
	         {10},
	         1,
	         -EPROTO,
	         invalid,
	         "total_bytes says 99, the files add up to 10"},
	        {0, 0, 0, {0}, 1, -EPROTO, invalid, "no files announced"},
	        {0, XFER_MAX_FILES + 1, 0, {0}, 1, -EMSGSIZE, too_large, "100001 files"},
	        {3, 5, 0, {0}, 1, -EPROTO, invalid, "starts at file 3, expected 0"},
	        {0, 1, 0, {0, 0}, 2, -EPROTO, invalid, "batch of 2 files"},
	        {0, 1, 0, {XFER_MAX_FILE_SIZE + 1}, 1, -EMSGSIZE, too_large, "1 PiB"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct xfer *r;
		assert_int_equal(xfer_new(&r, XFER_RECEIVER, TID, &cfg), 0);
		struct buf out = BUF_INIT;
		struct errmsg e = {{0}};
		int got = hand_offer(r, cases[k].first, cases[k].total_files, cases[k].total_bytes,
		                     cases[k].sizes, cases[k].n, &out, &e);
		expect_offer_rejected(got, cases[k].want, r, &out, cases[k].reason, cases[k].text);
		buf_free(&out);
		xfer_free(r);
	}
	/* Batches: two arrive in order; totals must agree. */
	struct xfer *r;
	assert_int_equal(xfer_new(&r, XFER_RECEIVER, TID, &cfg), 0);
	struct buf out = BUF_INIT;
	uint64_t s1[] = {1}, s2[] = {2};
	assert_int_equal(hand_offer(r, 0, 2, 3, s1, 1, &out, NULL), XFER_EV_NONE);
	assert_int_equal(hand_offer(r, 1, 2, 4, s2, 1, &out, NULL), -EPROTO);
	xfer_free(r);
	buf_free(&out);
	assert_int_equal(xfer_new(&r, XFER_RECEIVER, TID, &cfg), 0);
	assert_int_equal(hand_offer(r, 0, 2, 3, s1, 1, &out, NULL), XFER_EV_NONE);
	assert_int_equal(hand_offer(r, 1, 2, 3, s2, 1, &out, NULL), XFER_EV_OFFER);
	assert_int_equal(out.len, 0);
	/* An Offer once the offer is complete is out of order. */
	struct errmsg e = {{0}};
	assert_int_equal(hand_offer(r, 0, 2, 3, s1, 1, &out, &e), -EPROTO);
	assert_non_null(strstr(e.text, "file_transfer_request is not expected by the receiver"));
	xfer_free(r);
	buf_free(&out);
}

static devmsg_pb accept_msg(DevmsgPb__FileTransferResponse *resp, DevmsgPb__FileOffset *off,
                            DevmsgPb__FileOffset **offp)
{
	*resp = (DevmsgPb__FileTransferResponse)DEVMSG_PB__FILE_TRANSFER_RESPONSE__INIT;
	resp->has_transfer_id = resp->has_accepted = 1;
	resp->transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)TID};
	resp->accepted = 1;
	*offp = off;
	resp->n_resume = 1;
	resp->resume = offp;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = BODY(FILE_TRANSFER_RESPONSE);
	m.file_transfer_response = resp;
	return m;
}

static void test_sender_catches_lies(void **state)
{
	struct {
		uint32_t index;
		uint64_t offset;
		bool verified;
		uint32_t files_done;
		const char *text;
	} cases[] = {
	        {5, 0, false, 0, "resumes file 5, the offer has 2"},
	        {0, 11, false, 0, "at 11, beyond its size 10"},
	        {0, 5, true, 0, "verified at 5 of 10"},
	        {0, 5, false, 1, "names file 0 twice"},
	        {0, 0, false, 3, "3 files are done"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct rig g;
		rig_init(&g);
		rig_add(&g, "a", 10, 1);
		rig_add(&g, "b", 10, 2);
		assert_int_equal(xfer_offer(g.s, g.now, &g.s_out), 0);
		DevmsgPb__FileTransferResponse resp;
		DevmsgPb__FileOffset off = DEVMSG_PB__FILE_OFFSET__INIT, *offp;
		off.has_index = off.has_offset = 1;
		off.index = cases[k].index;
		off.offset = cases[k].offset;
		off.has_verified = cases[k].verified;
		off.verified = cases[k].verified;
		devmsg_pb m = accept_msg(&resp, &off, &offp);
		resp.has_files_done = 1;
		resp.files_done = cases[k].files_done;
		struct errmsg e = {{0}};
		buf_reset(&g.s_out);
		assert_int_equal(xfer_handle(g.s, &m, g.now, &g.s_out, &e), -EPROTO);
		assert_int_equal(xfer_state(g.s), XFER_ST_FAILED);
		if (!strstr(e.text, cases[k].text))
			fail_msg("'%s' not in '%s'", cases[k].text, e.text);
		assert_true(g.s_out.len > 0); /* the Cancel for the receiver */
		rig_free(&g);
	}
	/* Verify before everything was sent; a message for another transfer. */
	struct rig g;
	rig_init(&g);
	rig_add(&g, "a", 10, 1);
	offer_and_accept(&g);
	DevmsgPb__FileTransferVerify v = DEVMSG_PB__FILE_TRANSFER_VERIFY__INIT;
	v.has_transfer_id = v.has_ok = 1;
	v.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)TID};
	v.ok = 1;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = BODY(FILE_TRANSFER_VERIFY);
	m.file_transfer_verify = &v;
	struct errmsg e = {{0}};
	assert_int_equal(xfer_handle(g.s, &m, g.now, &g.s_out, &e), -EPROTO);
	assert_non_null(strstr(e.text, "in state transferring"));
	rig_free(&g);

	rig_init(&g);
	rig_add(&g, "a", 10, 1);
	offer_and_accept(&g);
	v.transfer_id.data = (uint8_t *)"another-transfer";
	assert_int_equal(xfer_handle(g.s, &m, g.now, &g.s_out, &e), -EPROTO);
	assert_non_null(strstr(e.text, "for another transfer"));
	/* Not a file-transfer message at all. */
	uint8_t tid[XFER_ID_LEN];
	DevmsgPb__Keepalive ka = DEVMSG_PB__KEEPALIVE__INIT;
	m.body_case = BODY(KEEPALIVE);
	m.keepalive = &ka;
	assert_int_equal(xfer_msg_transfer_id(&m, tid), -ENOENT);
	rig_free(&g);
}

/* 3,000 files: the offer goes in three batches; a resume with the first
 * 2,000 verified is one short Accept and skips them. */
static void test_large_offer_batches_and_prefix_resume(void **state)
{
	enum { N = 3000 };
	struct xfer *s, *r;
	assert_int_equal(xfer_new(&s, XFER_SENDER, TID, &cfg), 0);
	assert_int_equal(xfer_new(&r, XFER_RECEIVER, TID, &cfg), 0);
	for (unsigned i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%04u.txt", i);
		struct xfer_part part = {(const uint8_t *)name, strlen(name)};
		struct xfer_file_info info = {.size = 1};
		assert_int_equal(xfer_add_file(s, &part, 1, &info), 0);
	}
	struct buf out = BUF_INIT, back = BUF_INIT;
	assert_int_equal(xfer_offer(s, 1, &out), 0);
	unsigned frames = 0, offers = 0;
	int ev = XFER_EV_NONE;
	while (out.len) {
		const uint8_t *msg;
		size_t len;
		long n = lpmsg_next(out.data, out.len, DEVMSG_MAX_SIZE, &msg, &len);
		devmsg_pb *m = NULL;
		assert_int_equal(devmsg_decode(msg, len, &m, NULL, NULL), 0);
		ev = xfer_handle(r, m, 1, &back, NULL);
		offers += ev == XFER_EV_OFFER;
		devmsg_free(m);
		buf_consume(&out, (size_t)n);
		frames++;
	}
	assert_int_equal(frames, 3);
	assert_int_equal(offers, 1);
	assert_string_equal(xfer_file(r, 2999)->path, "f2999.txt");
	for (unsigned i = 0; i < 2000; i++)
		assert_int_equal(xfer_set_resume(r, i, 1, true), 0);
	assert_int_equal(xfer_accept(r, 1, &back), 0);
	assert_true(back.len < 200);
	assert_int_equal(deliver(&back, s, &out, 1, NULL), XFER_EV_ACCEPTED);
	struct xfer_span sp;
	struct buf hdr = BUF_INIT;
	assert_int_equal(xfer_send_span(s, 10, &hdr, &sp), 0);
	assert_int_equal(sp.file, 2000);
	struct xfer_progress p;
	xfer_progress(s, 1, &p);
	assert_int_equal(p.files_done, 2000);
	assert_int_equal(p.bytes_resumed, 2000);
	buf_free(&hdr);
	buf_free(&out);
	buf_free(&back);
	xfer_free(s);
	xfer_free(r);
}

static void test_progress_rate_and_eta(void **state)
{
	struct rig g;
	rig_init(&g);
	rig_add(&g, "big", 10000000, 1);
	g.now = 0;
	offer_and_accept(&g);
	struct xfer_progress p;
	xfer_progress(g.s, 0, &p);
	assert_int_equal(p.rate_bps, 0);
	assert_int_equal(p.eta_ms, UINT64_MAX);
	struct xfer_span sp;
	assert_int_equal(xfer_send_span(g.s, 1000000, &g.data, &sp), 0);
	assert_int_equal(xfer_sent(g.s, 1000000, 1000), 0);
	xfer_progress(g.s, 1000, &p);
	assert_int_equal(p.bytes_done, 1000000);
	assert_int_equal(p.rate_bps, 1000000);
	assert_int_equal(p.eta_ms, 9000);
	/* Faster for the next second: the rate averages both. */
	assert_int_equal(xfer_send_span(g.s, 3000000, &g.data, &sp), 0);
	assert_int_equal(xfer_sent(g.s, 3000000, 2000), 0);
	xfer_progress(g.s, 2000, &p);
	assert_int_equal(p.rate_bps, 2000000);
	assert_int_equal(p.eta_ms, 3000);
	/* A stall: after the window nothing recent remains, the rate is 0. */
	xfer_progress(g.s, 2000 + XFER_RATE_WINDOW_MS + 1, &p);
	assert_int_equal(p.rate_bps, 0);
	assert_int_equal(p.eta_ms, UINT64_MAX);
	assert_int_equal(p.state, XFER_ST_TRANSFERRING);
	rig_free(&g);
}

static void test_argument_checks(void **state)
{
	struct xfer *x;
	struct xfer_config nocb = {NULL, NULL};
	assert_int_equal(xfer_new(&x, XFER_SENDER, TID, &nocb), -EINVAL);
	assert_int_equal(xfer_new(&x, XFER_SENDER, TID, &cfg), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(xfer_offer(x, 1, &out), -EINVAL); /* no files */
	struct xfer_part empty = {(const uint8_t *)"", 0};
	struct xfer_file_info info = {.size = 1};
	assert_int_equal(xfer_add_file(x, &empty, 1, &info), -EINVAL);
	struct xfer_part ok = {(const uint8_t *)"a", 1};
	assert_int_equal(xfer_add_file(x, &ok, 0, &info), -EINVAL);
	info.mtime_nsec = 1000000000;
	assert_int_equal(xfer_add_file(x, &ok, 1, &info), -EINVAL);
	info.mtime_nsec = 0;
	info.size = XFER_MAX_FILE_SIZE + 1;
	assert_int_equal(xfer_add_file(x, &ok, 1, &info), -EMSGSIZE);
	struct xfer_span sp;
	assert_int_equal(xfer_send_span(x, 1, &out, &sp), -EINVAL);
	assert_string_equal(xfer_state_name(xfer_state(x)), "new");
	assert_int_equal(xfer_role(x), XFER_SENDER);
	assert_memory_equal(xfer_id(x), TID, XFER_ID_LEN);
	assert_null(xfer_free(x));
	assert_null(xfer_free(NULL));
}

/* ---- names ------------------------------------------------------------------ */

static char *sanitize(const char *const *parts, size_t n)
{
	struct xfer_part p[16];
	for (size_t i = 0; i < n; i++)
		p[i] = (struct xfer_part){(const uint8_t *)parts[i], strlen(parts[i])};
	char *out = NULL;
	assert_int_equal(xfer_sanitize_name(p, n, &out, NULL), 0);
	return out;
}

static void expect_name(const char *const *parts, size_t n, const char *want)
{
	char *got = sanitize(parts, n);
	assert_string_equal(got, want);
	free(got);
}

#define NAME(want, ...)                                                                            \
	do {                                                                                       \
		const char *const p_[] = {__VA_ARGS__};                                            \
		expect_name(p_, sizeof(p_) / sizeof(p_[0]), want);                                 \
	} while (0)

static void test_hostile_names(void **state)
{
	NAME("etc/passwd", "..", "..", "etc", "passwd");
	NAME(".._.._etc_passwd", "../../etc/passwd");
	NAME("_abs", "/abs");
	NAME("abs/x", "", "abs", "x");
	NAME("unnamed", "..");
	NAME("unnamed", ".");
	NAME("unnamed", "");
	NAME("unnamed", "", ".", "..");
	NAME("a/b", "a", ".", "b", "..");
	NAME("a_b_c", "a\x01"
	              "b\nc");
	NAME("_", "\x7f");
	NAME("bell_", "bell\a");
	NAME("a_b_c_d_e_f_g_h_i", "a<b>c:d\"e|f?g*h\\i");
	NAME("name", "name. . ");
	NAME("_", "...");
	NAME("_", "   ");
	NAME(".hidden", ".hidden");
	NAME("_CON", "CON");
	NAME("_con.txt", "con.txt");
	NAME("_COM1", "COM1");
	NAME("_lpt9.log", "lpt9.log");
	NAME("COM0", "COM0");
	NAME("CONSOLE", "CONSOLE");
	/* Invalid UTF-8: a stray byte, an overlong '/', a surrogate. */
	NAME("__", "\xff\xfe");
	NAME("__", "\xc0\xaf");
	NAME("___", "\xed\xa0\x80");
	/* C1 control and a right-to-left override. */
	NAME("a_b", "a\xc2\x85"
	            "b");
	NAME("evil_txt.exe", "evil\xe2\x80\xae"
	                     "txt.exe");
	/* Unicode is kept as it is. */
	NAME("Fotos/\xc3\x89t\xc3\xa9 2024/\xe6\x97\xa5\xe6\x9c\xac.jpg", "Fotos",
	     "\xc3\x89t\xc3\xa9 2024", "\xe6\x97\xa5\xe6\x9c\xac.jpg");
	NAME("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");

	/* NUL inside a component (components are bytes on the wire). */
	struct xfer_part nul = {(const uint8_t *)"a\0b", 3};
	char *out;
	assert_int_equal(xfer_sanitize_name(&nul, 1, &out, NULL), 0);
	assert_string_equal(out, "a_b");
	free(out);
	assert_int_equal(xfer_sanitize_name(NULL, 0, &out, NULL), 0);
	assert_string_equal(out, "unnamed");
	free(out);
}

static bool valid_utf8(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static void test_long_names(void **state)
{
	/* 10,000 characters with an extension: cut to 255 bytes, ext kept. */
	char *longname = malloc(10001);
	memset(longname, 'x', 9996);
	memcpy(longname + 9996, ".txt", 5);
	char *out = sanitize((const char *const[]){longname}, 1);
	assert_int_equal(strlen(out), XFER_NAME_MAX);
	assert_string_equal(out + XFER_NAME_MAX - 4, ".txt");
	assert_int_equal(out[0], 'x');
	free(out);
	free(longname);

	/* 10,000 two-byte characters: cut on a character boundary. */
	char *wide = malloc(20005);
	for (size_t i = 0; i < 10000; i++)
		memcpy(wide + 2 * i, "\xc3\xa9", 2);
	memcpy(wide + 20000, ".jpg", 5);
	out = sanitize((const char *const[]){wide}, 1);
	assert_true(strlen(out) <= XFER_NAME_MAX);
	assert_int_equal(strlen(out), 250 + 4);
	assert_string_equal(out + 250, ".jpg");
	assert_true(valid_utf8(out));
	free(out);
	free(wide);

	/* An "extension" longer than XFER_EXT_MAX is not one. */
	char odd[400];
	memset(odd, 'a', 300);
	odd[300] = '.';
	memset(odd + 301, 'b', 20);
	odd[321] = '\0';
	out = sanitize((const char *const[]){odd}, 1);
	assert_int_equal(strlen(out), XFER_NAME_MAX);
	assert_int_equal(strspn(out, "a"), XFER_NAME_MAX);
	free(out);

	/* Whole path: 16 components of 255 bytes make 4095: allowed; 17 not. */
	char comp[256];
	memset(comp, 'c', 255);
	comp[255] = '\0';
	struct xfer_part parts[17];
	for (size_t i = 0; i < 17; i++)
		parts[i] = (struct xfer_part){(const uint8_t *)comp, 255};
	assert_int_equal(xfer_sanitize_name(parts, 16, &out, NULL), 0);
	assert_int_equal(strlen(out), XFER_PATH_MAX);
	free(out);
	struct errmsg e = {{0}};
	assert_int_equal(xfer_sanitize_name(parts, 17, &out, &e), -ENAMETOOLONG);
	assert_non_null(strstr(e.text, "4095"));

	/* An offer naming such a path is refused with that reason. */
	struct xfer *r;
	assert_int_equal(xfer_new(&r, XFER_RECEIVER, TID, &cfg), 0);
	ProtobufCBinaryData pb_parts[17];
	for (size_t i = 0; i < 17; i++)
		pb_parts[i] = (ProtobufCBinaryData){255, (uint8_t *)comp};
	DevmsgPb__FileEntry fe = DEVMSG_PB__FILE_ENTRY__INIT, *fp = &fe;
	fe.n_path = 17;
	fe.path = pb_parts;
	DevmsgPb__FileTransferRequest o = DEVMSG_PB__FILE_TRANSFER_REQUEST__INIT;
	o.has_transfer_id = o.has_total_files = 1;
	o.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)TID};
	o.n_files = 1;
	o.files = &fp;
	o.total_files = 1;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = BODY(FILE_TRANSFER_REQUEST);
	m.file_transfer_request = &o;
	struct buf b = BUF_INIT;
	assert_int_equal(xfer_handle(r, &m, 1, &b, &e), -EPROTO);
	assert_non_null(strstr(e.text, "file 0: path is longer than 4095"));
	assert_int_equal(xfer_state(r), XFER_ST_REJECTED);
	buf_free(&b);
	xfer_free(r);
}

/* Random components of hostile bytes: the invariants hold every time. */
/* The same names arriving in a real Offer from a hostile sender. */
static void test_hostile_offer_names(void **state)
{
	char *longname = malloc(10005);
	memset(longname, 'x', 10000);
	memcpy(longname + 10000, ".txt", 5);
	ProtobufCBinaryData names[5][3] = {
	        {{2, (uint8_t *)".."}, {2, (uint8_t *)".."}, {3, (uint8_t *)"etc"}},
	        {{0, (uint8_t *)""}, {3, (uint8_t *)"abs"}},
	        {{6, (uint8_t *)"a\x01\nb\0c"}},
	        {{10004, (uint8_t *)longname}},
	        {{1, (uint8_t *)"."}},
	};
	size_t counts[5] = {3, 2, 1, 1, 1};
	const char *want[5] = {"etc", "abs", "a__b_c", NULL, "unnamed"};
	DevmsgPb__FileEntry fe[5], *fp[5];
	for (size_t i = 0; i < 5; i++) {
		fe[i] = (DevmsgPb__FileEntry)DEVMSG_PB__FILE_ENTRY__INIT;
		fe[i].n_path = counts[i];
		fe[i].path = names[i];
		fp[i] = &fe[i];
	}
	DevmsgPb__FileTransferRequest o = DEVMSG_PB__FILE_TRANSFER_REQUEST__INIT;
	o.has_transfer_id = o.has_total_files = 1;
	o.transfer_id = (ProtobufCBinaryData){XFER_ID_LEN, (uint8_t *)TID};
	o.n_files = 5;
	o.files = fp;
	o.total_files = 5;
	uint8_t mid[DEVMSG_ID_LEN] = {3};
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	devmsg_header(&m, mid, 1, DEVMSG_PB__PRIORITY__PRIORITY_NORMAL);
	m.body_case = BODY(FILE_TRANSFER_REQUEST);
	m.file_transfer_request = &o;
	/* Through the wire and the DeviceMessage caps, as a peer would send it. */
	struct buf wire = BUF_INIT;
	assert_int_equal(devmsg_encode(&m, &wire, NULL), 0);
	struct xfer *r;
	assert_int_equal(xfer_new(&r, XFER_RECEIVER, TID, &cfg), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(deliver(&wire, r, &out, 1, NULL), XFER_EV_OFFER);
	for (size_t i = 0; i < 5; i++)
		if (want[i])
			assert_string_equal(xfer_file(r, i)->path, want[i]);
	const char *p = xfer_file(r, 3)->path;
	assert_int_equal(strlen(p), XFER_NAME_MAX);
	assert_string_equal(p + XFER_NAME_MAX - 4, ".txt");
	assert_int_equal(out.len, 0);
	buf_free(&wire);
	buf_free(&out);
	xfer_free(r);
	free(longname);
}

static void test_sanitize_invariants(void **state)
{
	static const uint8_t alphabet[] = {'.',  '/',  '\\', 0,    ' ', 'a', 0xc3, 0xa9, 0xe2,
	                                   0x80, 0xae, 0xff, '\n', ':', 'C', 'O',  'N'};
	uint64_t s = 7;
	for (unsigned round = 0; round < 5000; round++) {
		uint8_t bytes[8][40];
		struct xfer_part parts[8];
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = (s >> 33) % 8;
		for (size_t i = 0; i < n; i++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			size_t len = (s >> 33) % 40;
			for (size_t k = 0; k < len; k++) {
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				bytes[i][k] = alphabet[(s >> 33) % sizeof(alphabet)];
			}
			parts[i] = (struct xfer_part){bytes[i], len};
		}
		char *out;
		assert_int_equal(xfer_sanitize_name(parts, n, &out, NULL), 0);
		size_t len = strlen(out);
		assert_true(len > 0 && len <= XFER_PATH_MAX);
		assert_true(out[0] != '/' && out[len - 1] != '/');
		assert_true(valid_utf8(out));
		char *save, *copy = strdup(out);
		for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
			assert_true(strcmp(c, ".") != 0 && strcmp(c, "..") != 0);
			assert_true(strlen(c) <= XFER_NAME_MAX);
			assert_true(c[strlen(c) - 1] != '.' && c[strlen(c) - 1] != ' ');
		}
		assert_null(strstr(out, "//"));
		for (size_t i = 0; i < len; i++)
			assert_true((uint8_t)out[i] >= 0x20 && out[i] != 0x7f && out[i] != '\\');
		free(copy);
		free(out);
	}
}

static void expect_collision(const char *path, unsigned n, const char *want)
{
	char *got = NULL;
	assert_int_equal(xfer_collision_name(path, n, &got), 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_collision_names(void **state)
{
	expect_collision("name.ext", 1, "name (1).ext");
	expect_collision("name.ext", 2, "name (2).ext");
	expect_collision("dir/sub/photo.jpeg", 12, "dir/sub/photo (12).jpeg");
	expect_collision("README", 3, "README (3)");
	expect_collision(".bashrc", 1, ".bashrc (1)");
	expect_collision("archive.tar.gz", 1, "archive.tar (1).gz");
	expect_collision("a.b/c", 1, "a.b/c (1)");
	char *got;
	assert_int_equal(xfer_collision_name("x", 0, &got), -EINVAL);

	/* A 255-byte name stays within 255 with its extension and suffix. */
	char name[300] = "dir/";
	memset(name + 4, 'n', 251);
	memcpy(name + 255, ".txt", 5);
	assert_int_equal(xfer_collision_name(name, 4294967295u, &got), 0);
	const char *last = strrchr(got, '/') + 1;
	assert_int_equal(strlen(last), XFER_NAME_MAX);
	assert_non_null(strstr(last, " (4294967295).txt"));
	assert_string_equal(last + XFER_NAME_MAX - 4, ".txt");
	free(got);
	/* Cutting a multi-byte stem keeps whole characters. */
	char wide[300];
	for (size_t i = 0; i < 125; i++)
		memcpy(wide + 2 * i, "\xc3\xa9", 2);
	memcpy(wide + 250, ".md", 4);
	assert_int_equal(xfer_collision_name(wide, 1, &got), 0);
	assert_true(strlen(got) <= XFER_NAME_MAX);
	assert_true(valid_utf8(got));
	assert_string_equal(got + strlen(got) - 7, " (1).md");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full_transfer),
	        cmocka_unit_test(test_one_byte_chunks),
	        cmocka_unit_test(test_resume_after_receiver_restart),
	        cmocka_unit_test(test_resume_in_place_uses_durable_offset),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_cancel_and_pause),
	        cmocka_unit_test(test_lies_on_the_data_stream),
	        cmocka_unit_test(test_hash_lies_and_mismatch),
	        cmocka_unit_test(test_offer_lies_and_caps),
	        cmocka_unit_test(test_sender_catches_lies),
	        cmocka_unit_test(test_large_offer_batches_and_prefix_resume),
	        cmocka_unit_test(test_progress_rate_and_eta),
	        cmocka_unit_test(test_argument_checks),
	        cmocka_unit_test(test_hostile_names),
	        cmocka_unit_test(test_long_names),
	        cmocka_unit_test(test_hostile_offer_names),
	        cmocka_unit_test(test_sanitize_invariants),
	        cmocka_unit_test(test_collision_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
