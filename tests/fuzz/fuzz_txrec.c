/* Fuzz the file-transfer record decoders (daemon/transfer/txrec.h), which
 * read state the daemon left on disk: any bytes decode or fail cleanly
 * with a reason; a receiver record that decodes has only safe relative
 * final names and durable offsets within sizes, and encodes and decodes
 * again to the same record; the sender record and index decoders never
 * crash either. The first byte picks the decoder. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "transfer/txrec.h"

static void check_in(const uint8_t *data, size_t size)
{
	struct txrec a = {0}, b = {0};
	struct errmsg e = {{0}};
	if (txrec_decode_in(data, size, &a, &e) < 0) {
		assert(e.text[0] != '\0');
		return;
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < a.n_files; i++) {
		assert(txrec_safe_relpath(a.files[i].final));
		assert(a.files[i].durable <= a.files[i].size);
		sum += a.files[i].size;
	}
	assert(sum == a.total_bytes);
	struct buf rec = BUF_INIT;
	assert(txrec_encode_in(&a, &rec) == 0);
	assert(txrec_decode_in(rec.data, rec.len, &b, NULL) == 0);
	assert(a.n_files == b.n_files && a.total_bytes == b.total_bytes);
	for (size_t i = 0; i < a.n_files; i++) {
		assert(strcmp(a.files[i].final, b.files[i].final) == 0);
		assert(strcmp(a.files[i].path, b.files[i].path) == 0);
		assert(a.files[i].durable == b.files[i].durable);
		assert(a.files[i].verified == b.files[i].verified);
	}
	buf_free(&rec);
	txrec_clear(&a);
	txrec_clear(&b);
}

static void check_out(const uint8_t *data, size_t size)
{
	struct txrec a = {0};
	struct errmsg e = {{0}};
	if (txrec_decode_out(data, size, &a, &e) < 0) {
		assert(e.text[0] != '\0');
		return;
	}
	for (size_t i = 0; i < a.n_files; i++)
		assert(a.files[i].src[0] == '/');
	struct buf rec = BUF_INIT;
	assert(txrec_encode_out(&a, &rec) == 0);
	buf_free(&rec);
	txrec_clear(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *dest = NULL;
	switch (data[0] % 3) {
	case 0:
		check_in(data + 1, size - 1);
		break;
	case 1:
		check_out(data + 1, size - 1);
		break;
	default:
		if (txrec_decode_index(data + 1, size - 1, &dest, NULL) == 0)
			assert(dest[0] == '/');
		free(dest);
		break;
	}
	return 0;
}
