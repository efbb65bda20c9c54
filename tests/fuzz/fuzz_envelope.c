/* Fuzz envelope opening and peer record decoding over peer-supplied bytes.
 *
 * Invariants: a peer record that decodes re-encodes to bytes that decode to
 * the same record; an opened envelope owns copies (freed here) and failures
 * leave nothing allocated. */
#include <assert.h>
#include <string.h>

#include "envelope.h"
#include "fuzz.h"

static void check_record(const uint8_t *data, size_t size)
{
	struct peer_record r;
	if (peer_record_decode(data, size, &r, NULL) < 0) {
		assert(r.n_addrs == 0 && r.addrs == NULL);
		return;
	}
	struct buf enc = BUF_INIT;
	int rc = peer_record_encode(&r, &enc);
	assert(rc == 0);
	struct peer_record back;
	rc = peer_record_decode(enc.data, enc.len, &back, NULL);
	assert(rc == 0);
	assert(back.seq == r.seq && back.n_addrs == r.n_addrs);
	assert(peerid_equal(&back.id, &r.id));
	for (size_t i = 0; i < r.n_addrs; i++)
		assert(back.addrs[i].len == r.addrs[i].len &&
		       memcmp(back.addrs[i].data, r.addrs[i].data, r.addrs[i].len) == 0);
	peer_record_free(&back);
	peer_record_free(&r);
	buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e;
	struct errmsg err;
	if (envelope_open(data, size, PEER_RECORD_DOMAIN, NULL, 0, &e, &err) == 0) {
		assert(e.key != NULL);
		check_record(e.payload.data, e.payload.len);
		envelope_free(&e);
	} else {
		assert(e.key == NULL && e.payload.data == NULL);
	}
	struct peer_record r;
	struct pubkey *key = NULL;
	if (peer_record_open(data, size, &r, &key, &err) == 0) {
		assert(key != NULL);
		pubkey_free(key);
		peer_record_free(&r);
	} else {
		assert(key == NULL && r.addrs == NULL);
	}
	check_record(data, size);
	return 0;
}
