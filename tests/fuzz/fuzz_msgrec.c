/* Fuzz the message service's stored records (daemon/messages/msgrec.h):
 * the first byte picks the parser (even: queue record, odd: dedup chunk),
 * the rest is the record. Whatever decodes must re-encode to the same
 * bytes; whatever does not must fail with -EBADMSG or -EPROTONOSUPPORT. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "messages/msgrec.h"

static void queue_record(const uint8_t *data, size_t size)
{
	struct msgrec_queue q;
	int r = msgrec_queue_decode(data, size, &q, NULL);
	if (r < 0) {
		assert(r == -EBADMSG || r == -EPROTONOSUPPORT);
		return;
	}
	assert(q.msg_len > 0 && q.msg_len <= DEVMSG_MAX_SIZE);
	struct buf again = BUF_INIT;
	assert(msgrec_queue_encode(q.prio, q.seq, q.msg, q.msg_len, &again) == 0);
	assert(again.len == size && memcmp(again.data, data, size) == 0);
	buf_free(&again);
}

static void dedup_chunk(const uint8_t *data, size_t size)
{
	const uint8_t *ids;
	size_t n;
	int r = msgrec_dedup_decode(data, size, &ids, &n, NULL);
	if (r < 0) {
		assert(r == -EBADMSG || r == -EPROTONOSUPPORT);
		return;
	}
	assert(n >= 1 && n <= MSGREC_CHUNK_IDS);
	struct buf again = BUF_INIT;
	assert(msgrec_dedup_encode(ids, n, &again) == 0);
	assert(again.len == size && memcmp(again.data, data, size) == 0);
	buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		dedup_chunk(data + 1, size - 1);
	else
		queue_record(data + 1, size - 1);
	return 0;
}
