/* Fuzz the file-transfer state machine with hostile control messages and
 * data-stream bytes, in either role, and the name sanitiser with hostile
 * components. Whatever arrives, the machine never crashes, never places a
 * byte outside an offered file, and sanitised names never climb out.
 *
 * Input: [flags][ctl_len u16 BE][ctl: length-prefixed DeviceMessages][data]
 *   flags bit 0: 0 receiver, 1 sender (offering two files first);
 *   bits 1-3: data chunk size selector; bit 4: receiver reports matching
 *   hashes (else mismatching ones). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devmsg.h"
#include "fuzz.h"
#include "lpmsg.h"
#include "xfer.h"

static const uint8_t TID[XFER_ID_LEN] = "transfer-id-0001";

static void fake_rand(uint8_t *out, size_t len, void *ctx)
{
	memset(out, 0x42, len);
}

static void check_name(const uint8_t *data, size_t size)
{
	struct xfer_part parts[64];
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n < 64; i++)
		if (i == size || data[i] == '/') {
			parts[n++] = (struct xfer_part){data + start, i - start};
			start = i + 1;
		}
	char *out = NULL;
	int r = xfer_sanitize_name(parts, n, &out, NULL);
	if (r < 0) {
		assert(r == -ENAMETOOLONG || r == -ENOMEM);
		return;
	}
	size_t len = strlen(out);
	assert(len > 0 && len <= XFER_PATH_MAX && out[0] != '/');
	assert(strcmp(out, "..") != 0 && strncmp(out, "../", 3) != 0);
	assert(strstr(out, "/../") == NULL && strstr(out, "//") == NULL);
	for (size_t i = 0; i < len; i++)
		assert((uint8_t)out[i] >= 0x20 && out[i] != 0x7f);
	char *c = NULL;
	if (xfer_collision_name(out, 3, &c) == 0)
		assert(strlen(c) <= len + 4);
	free(c);
	free(out);
}

static void receiver_settle(struct xfer *x, int ev, bool good, struct buf *out)
{
	if (ev == XFER_EV_OFFER) {
		if (xfer_file_count(x) > 0 && xfer_file(x, 0)->size > 1)
			assert(xfer_set_resume(x, 0, 1, false) == 0);
		assert(xfer_accept(x, 1, out) == 0);
	}
	size_t i;
	while (xfer_state(x) == XFER_ST_TRANSFERRING && xfer_next_ready(x, &i) == 0) {
		uint8_t sha[XFER_SHA256_LEN] = {0};
		if (good)
			memcpy(sha, xfer_file(x, i)->sha, sizeof(sha));
		int r = xfer_verified(x, i, sha, 1, out, NULL);
		assert(r == 0 || r == -EBADMSG);
	}
}

static void sender_settle(struct xfer *x, struct buf *out)
{
	static const uint8_t zero[XFER_SHA256_LEN];
	for (int rounds = 0; rounds < 64 && xfer_state(x) == XFER_ST_TRANSFERRING; rounds++) {
		struct xfer_span sp;
		assert(xfer_send_span(x, 7, out, &sp) == 0);
		if (sp.done)
			break;
		const struct xfer_file *f = xfer_file(x, sp.file);
		assert(f && sp.offset + sp.len <= f->size);
		assert(xfer_sent(x, sp.len, 1) == 0);
	}
	for (size_t i = 0; i < xfer_file_count(x); i++)
		(void)xfer_set_sha256(x, i, zero, NULL);
	if (xfer_state(x) == XFER_ST_TRANSFERRING)
		assert(xfer_send_hashes(x, 1, out) == 0);
}

static void run_control(struct xfer *x, const uint8_t *ctl, size_t len, bool good, struct buf *out)
{
	while (len > 0) {
		const uint8_t *msg;
		size_t mlen;
		long n = lpmsg_next(ctl, len, DEVMSG_MAX_SIZE, &msg, &mlen);
		if (n <= 0)
			return;
		devmsg_pb *m = NULL;
		if (devmsg_decode(msg, mlen, &m, NULL, NULL) == 0) {
			int ev = xfer_handle(x, m, 1, out, NULL);
			assert(ev >= XFER_EV_NONE || ev == -EPROTO || ev == -EMSGSIZE ||
			       ev == -ENOMEM);
			if (xfer_role(x) == XFER_RECEIVER)
				receiver_settle(x, ev, good, out);
			else
				sender_settle(x, out);
			devmsg_free(m);
		}
		ctl += n;
		len -= (size_t)n;
	}
}

static void run_data(struct xfer *x, const uint8_t *data, size_t len, size_t chunk, bool good,
                     struct buf *out)
{
	size_t off = 0, avail = 0;
	while (off < len && xfer_state(x) == XFER_ST_TRANSFERRING) {
		avail = avail + chunk < len ? avail + chunk : len;
		struct xfer_span sp;
		long n = xfer_data_feed(x, data + off, avail - off, 1, &sp, out, NULL);
		/* An error, or a header cut short by the end of the input. */
		if (n < 0 || (n == 0 && avail == len))
			break;
		if (sp.len) {
			const struct xfer_file *f = xfer_file(x, sp.file);
			assert(f && !f->is_dir && sp.offset + sp.len <= f->size);
			assert(sp.data == data + off && sp.len == (uint64_t)n);
			(void)xfer_durable(x, sp.file, sp.offset + sp.len);
		}
		off += (size_t)n;
		receiver_settle(x, XFER_EV_NONE, good, out);
	}
}

static struct xfer *make_sender(const struct xfer_config *cfg, struct buf *out)
{
	struct xfer *x;
	assert(xfer_new(&x, XFER_SENDER, TID, cfg) == 0);
	struct xfer_part a = {(const uint8_t *)"a.txt", 5}, b = {(const uint8_t *)"b", 1};
	struct xfer_file_info ia = {.size = 10}, ib = {.size = 0};
	assert(xfer_add_file(x, &a, 1, &ia) == 0);
	assert(xfer_add_file(x, &b, 1, &ib) == 0);
	assert(xfer_offer(x, 1, out) == 0);
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_name(data, size);
	if (size < 3)
		return 0;
	uint8_t flags = data[0];
	size_t ctl_len = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	if (ctl_len > size)
		ctl_len = size;
	static const size_t chunks[] = {1, 2, 3, 7, 16, 100, 4096, 65536};
	bool good = flags & 0x10;
	struct xfer_config cfg = {fake_rand, NULL};
	struct buf out = BUF_INIT;
	struct xfer *x;
	if (flags & 1) {
		x = make_sender(&cfg, &out);
	} else {
		assert(xfer_new(&x, XFER_RECEIVER, TID, &cfg) == 0);
	}
	run_control(x, data, ctl_len, good, &out);
	if (xfer_role(x) == XFER_RECEIVER)
		run_data(x, data + ctl_len, size - ctl_len, chunks[(flags >> 1) & 7], good, &out);
	struct xfer_progress p;
	xfer_progress(x, 2, &p);
	assert(p.bytes_done <= p.bytes_total || p.bytes_total == 0);
	assert(p.files_done + p.files_failed <= p.files_total);
	xfer_interrupt(x);
	xfer_free(x);
	buf_free(&out);
	return 0;
}
