/* Fuzz the identify reader with arbitrary stream bytes in arbitrary chunks;
 * whatever it accepts respects the caps and re-encodes. */
#include <assert.h>

#include "fuzz.h"
#include "identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	struct identify_reader r;
	identify_reader_init(&r);
	int e = 0;
	for (size_t off = 1; off < size && e == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		e = identify_reader_feed(&r, data + off, n);
	}
	struct identify_info info;
	if (e == 0 && identify_reader_finish(&r, &info) == 0) {
		assert(info.n_listen_addrs <= IDENTIFY_MAX_ADDRS);
		assert(info.n_protocols <= IDENTIFY_MAX_PROTOCOLS);
		struct buf out = BUF_INIT;
		(void)identify_encode(&info, &out, NULL);
		buf_free(&out);
		identify_info_free(&info);
	}
	identify_reader_free(&r);
	return 0;
}
