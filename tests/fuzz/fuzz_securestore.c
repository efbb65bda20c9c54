/* Fuzz the securestore record file parser (storefile.c) with arbitrary file
 * contents: it parses or fails with -EBADMSG and a message; what parses has
 * a header that re-encodes to the same bytes, and decrypting with a fixed
 * key either authenticates (seeds are sealed with that key and the label
 * "devices/fuzz") or fails cleanly with nothing appended. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "storefile.h"

static const uint8_t fuzz_key[STOREFILE_KEY_LEN] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                                    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
                                                    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                                    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct storefile f;
	struct errmsg err = {{0}};
	int r = storefile_parse(data, size, &f, &err);
	if (r < 0) {
		assert(r == -EBADMSG);
		assert(err.text[0] != '\0');
		return 0;
	}
	assert(f.header == data);
	assert(f.header_len + f.ct_len == size);
	assert(f.ct_len >= STOREFILE_TAG_LEN);
	assert(f.kdf.iterations <= STOREFILE_MAX_ITERATIONS);

	struct buf hdr = BUF_INIT;
	assert(storefile_encode_header(&f.kdf, f.nonce, &hdr) == 0);
	assert(hdr.len == f.header_len && memcmp(hdr.data, data, hdr.len) == 0);
	buf_free(&hdr);

	struct buf out = BUF_INIT;
	r = storefile_open(&f, fuzz_key, "devices/fuzz", &out);
	if (r == 0)
		assert(out.len == f.ct_len - STOREFILE_TAG_LEN);
	else
		assert(r == -EBADMSG && out.len == 0);
	buf_wipe_free(&out);
	return 0;
}
