/* Fuzz the varint decoder: any input decodes or fails cleanly, and whatever
 * decodes re-encodes to the same bytes (minimality makes it canonical). */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "varint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t v;
	size_t cap = size ? (size_t)(data[0] % 10) : 0;
	int n = varint_decode(size ? data + 1 : data, size ? size - 1 : 0, cap, &v);
	if (n > 0) {
		uint8_t out[VARINT_MAX_BYTES];
		int m = varint_encode(v, out);
		assert(m == n);
		assert(memcmp(out, data + 1, (size_t)n) == 0);
	}
	return 0;
}
