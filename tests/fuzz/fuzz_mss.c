/* Fuzz multistream-select: arbitrary bytes to a listener or an initiator
 * (plain or optimistic), fed in input-chosen chunks. Whatever happens, the
 * state machine ends in a defined state, its output stays bounded by the
 * rounds it may answer, and leftover bytes are a suffix of the input. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "mss.h"

/* Every message we send is at most this long on the wire. */
#define WIRE_MAX (MSS_MAX_VARINT_BYTES + MSS_MAX_MESSAGE)

static struct mss *make(uint8_t mode)
{
	static const char *const protos[] = {"/noise", "/yamux/1.0.0", "/ipfs/id/1.0.0"};
	struct mss *m = NULL;
	int r;
	if (mode & 1)
		r = mss_listener_new(protos, 3, &m);
	else if (mode & 2)
		r = mss_initiator_new(protos, 1, true, &m);
	else
		r = mss_initiator_new(protos, 3, false, &m);
	assert(r == 0);
	return m;
}

static void check_output(struct mss *m, size_t *sent)
{
	const uint8_t *p;
	size_t len;
	mss_pending_output(m, &p, &len);
	*sent += len;
	/* Header and answer to each of at most MSS_MAX_ROUNDS messages. */
	assert(*sent <= (MSS_MAX_ROUNDS + 2) * (size_t)WIRE_MAX);
	mss_output_consumed(m, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct mss *m = make(data[0]);
	size_t chunk = data[1] ? data[1] : size;
	size_t off = 2, sent = 0, accepted = 2;
	int r = 0;
	while (off < size && r == 0) {
		size_t n = size - off < chunk ? size - off : chunk;
		r = mss_feed(m, data + off, n);
		off += n;
		if (r == 0)
			accepted = off;
		check_output(m, &sent);
	}
	enum mss_state st = mss_state(m);
	if (r < 0 && r != -EALREADY) {
		assert(st == MSS_FAILED);
		assert(mss_error(m)[0] != '\0');
		assert(mss_selected(m) == NULL);
	}
	if (st == MSS_DONE) {
		const uint8_t *left;
		size_t len;
		mss_leftover(m, &left, &len);
		assert(mss_selected(m) != NULL);
		assert(len <= accepted - 2);
		assert(len == 0 || memcmp(left, data + accepted - len, len) == 0);
	}
	mss_free(m);
	return 0;
}
