/* Fuzz the text codecs under peer IDs and /certhash: multibase decoding of
 * arbitrary text (base16/32/36/58/64 in every variant) must fail with a
 * message or return bytes that re-encode to the same text (up to letter
 * case for the case-insensitive bases); and base58 / base32 / base64 of
 * arbitrary bytes must decode back exactly. */
#include <assert.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"
#include "base58.h"
#include "base64.h"
#include "fuzz.h"
#include "multibase.h"

static void decode_reencode(const char *text, size_t len)
{
	struct buf out = BUF_INIT;
	struct errmsg err = {{0}};
	enum multibase base;
	if (multibase_decode(text, len, &out, &base, &err) < 0) {
		assert(err.text[0] != '\0' && out.len == 0);
		buf_free(&out);
		return;
	}
	size_t cap = multibase_encoded_max(base, out.len) + 1;
	char *again = malloc(cap);
	assert(again);
	int n = multibase_encode(base, out.data, out.len, again, cap);
	assert(n >= 0 && (size_t)n == len);
	bool anycase = strchr("fFbBcCkK", base) != NULL;
	for (size_t i = 0; i < len; i++)
		assert(anycase ? tolower((unsigned char)again[i]) == tolower((unsigned char)text[i])
		               : again[i] == text[i]);
	free(again);
	buf_free(&out);
}

static void encode_decode(const uint8_t *data, size_t size)
{
	char *text = malloc(2 * size + 16);
	assert(text);
	struct buf back = BUF_INIT;
	if (size <= BASEX_MAX_BYTES) {
		int n = base58_encode(data, size, text, 2 * size + 16);
		assert(n >= 0 && base58_decode(text, (size_t)n, &back, NULL) == 0);
		assert(back.len == size && (size == 0 || memcmp(back.data, data, size) == 0));
		buf_reset(&back);
	}
	int flags = size ? data[0] & 7 : 0;
	int n = base32_encode(data, size, flags & ~BASE32_ANYCASE, text, 2 * size + 16);
	assert(n >= 0 && base32_decode(text, (size_t)n, flags, &back, NULL) == 0);
	assert(back.len == size && (size == 0 || memcmp(back.data, data, size) == 0));
	buf_reset(&back);
	n = base64_encode(data, size, flags & 3, text, 2 * size + 16);
	assert(n >= 0 && base64_decode(text, (size_t)n, flags & 3, &back, NULL) == 0);
	assert(back.len == size && (size == 0 || memcmp(back.data, data, size) == 0));
	buf_free(&back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_reencode((const char *)data, size);
	encode_decode(data, size);
	return 0;
}
