/* Fuzz the identity record decoder: any bytes decode or fail cleanly;
 * what decodes encodes and decodes again to the same identity. */
#include <assert.h>
#include <string.h>

#include "core/identity.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity a, b;
	if (identity_decode(data, size, &a, NULL) < 0)
		return 0;
	struct buf rec = BUF_INIT;
	assert(identity_encode(&a, &rec) == 0);
	assert(identity_decode(rec.data, rec.len, &b, NULL) == 0);
	assert(strcmp(a.peer_id, b.peer_id) == 0);
	assert(strcmp(a.device_id, b.device_id) == 0);
	assert(strcmp(a.device_name, b.device_name) == 0);
	assert(memcmp(a.key.seed, b.key.seed, sizeof(a.key.seed)) == 0);
	buf_wipe_free(&rec);
	identity_wipe(&a);
	identity_wipe(&b);
	return 0;
}
