/* Fuzz the paired-device record decoder: any bytes decode or fail cleanly
 * with a reason; what decodes encodes and decodes again to the same
 * device (the codec is its own inverse on everything it accepts). */
#include <assert.h>
#include <string.h>

#include "devices/device.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct device a, b;
	struct errmsg e = {{0}};
	if (device_record_decode(data, size, &a, &e) < 0) {
		assert(e.text[0] != '\0');
		return 0;
	}
	struct buf rec = BUF_INIT;
	assert(device_record_encode(&a, &rec) == 0);
	assert(device_record_decode(rec.data, rec.len, &b, NULL) == 0);
	assert(strcmp(a.info.device_id, b.info.device_id) == 0);
	assert(strcmp(a.info.name, b.info.name) == 0);
	assert(strcmp(a.info.os, b.info.os) == 0);
	assert(peerid_equal(&a.info.peer_id, &b.info.peer_id));
	assert(a.trust == b.trust && a.paired_at == b.paired_at && a.last_seen == b.last_seen);
	assert(a.n_addrs == b.n_addrs);
	for (size_t i = 0; i < a.n_addrs; i++)
		assert(strcmp(a.addrs[i], b.addrs[i]) == 0);
	assert(memcmp(&a.keys, &b.keys, sizeof(a.keys)) == 0);
	assert(memcmp(a.pairing_id, b.pairing_id, sizeof(a.pairing_id)) == 0);
	buf_wipe_free(&rec);
	device_wipe(&a);
	device_wipe(&b);
	return 0;
}
