/* Fuzz the receiver's inbox records (daemon/messages/inboxrec.h): whatever
 * decodes must re-encode to the same bytes, with every entry a durable
 * message whose id is the one reported; whatever does not must fail with
 * -EBADMSG or -EPROTONOSUPPORT. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "messages/inboxrec.h"

static struct msgrec_inbox_entry ents[MSGREC_INBOX_ENTRIES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = 0;
	int r = msgrec_inbox_decode(data, size, ents, &n, NULL);
	if (r < 0) {
		assert(r == -EBADMSG || r == -EPROTONOSUPPORT);
		return 0;
	}
	assert(n >= 1 && n <= MSGREC_INBOX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		assert(ents[i].len >= 1 && ents[i].len <= DEVMSG_MAX_SIZE);
		assert(ents[i].msg >= data && ents[i].msg + ents[i].len <= data + size);
		devmsg_pb *m = NULL;
		assert(devmsg_decode(ents[i].msg, ents[i].len, &m, NULL, NULL) == 0);
		assert(m->has_durable && m->durable);
		assert(memcmp(m->id.data, ents[i].id, DEVMSG_ID_LEN) == 0);
		devmsg_free(m);
	}
	struct buf again = BUF_INIT;
	assert(msgrec_inbox_encode(ents, n, &again) == 0);
	assert(again.len == size && memcmp(again.data, data, size) == 0);
	buf_free(&again);
	return 0;
}
