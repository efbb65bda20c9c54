/* Fuzz the length-prefix framer: it never reads past the input, never
 * reports a message larger than the cap, and agrees with re-framing. */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "lpmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max = size ? (size_t)data[0] * 32 : 0;
	const uint8_t *in = size ? data + 1 : data;
	size_t len = size ? size - 1 : 0;
	while (len > 0) {
		const uint8_t *m;
		size_t n;
		long r = lpmsg_next(in, len, max, &m, &n);
		if (r <= 0)
			break;
		assert((size_t)r <= len && n <= max);
		assert(m >= in && m + n == in + r);
		struct buf again = BUF_INIT;
		assert(lpmsg_append(&again, m, n, max) == 0);
		assert(again.len == (size_t)r && memcmp(again.data, in, again.len) == 0);
		buf_free(&again);
		in += r;
		len -= (size_t)r;
	}
	return 0;
}
