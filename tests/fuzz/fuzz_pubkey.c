/* Fuzz the key decoders and signature verification over peer-supplied bytes.
 *
 * Input: u16be key length, key bytes, u16be signature length, signature
 * bytes, then the message. The whole input is also fed to both decoders, so
 * raw protobuf seeds work. Invariants: whatever decodes re-encodes
 * canonically to bytes that decode again to the same encoding, and verify
 * never crashes whatever the key type and signature. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "keys.h"

static void check_pubkey(const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len,
                         const uint8_t *msg, size_t msg_len)
{
	struct pubkey *k = NULL;
	if (pubkey_decode(data, len, &k) < 0) {
		assert(k == NULL);
		return;
	}
	struct buf enc = BUF_INIT, again = BUF_INIT;
	int r = pubkey_encode(k, &enc);
	assert(r == 0);
	struct pubkey *k2 = NULL;
	r = pubkey_decode(enc.data, enc.len, &k2);
	assert(r == 0);
	assert(pubkey_type(k2) == pubkey_type(k));
	r = pubkey_encode(k2, &again);
	assert(r == 0);
	assert(again.len == enc.len && memcmp(again.data, enc.data, enc.len) == 0);
	r = pubkey_verify(k, msg, msg_len, sig, sig_len);
	assert(r == 0 || r == -EKEYREJECTED);
	pubkey_free(k);
	pubkey_free(k2);
	buf_free(&enc);
	buf_free(&again);
}

static void check_privkey(const uint8_t *data, size_t len)
{
	struct privkey k;
	if (privkey_decode(data, len, &k) < 0)
		return;
	struct buf enc = BUF_INIT;
	int r = privkey_encode(&k, &enc);
	assert(r == 0);
	struct privkey k2;
	r = privkey_decode(enc.data, enc.len, &k2);
	assert(r == 0);
	assert(memcmp(&k, &k2, sizeof(k)) == 0);
	privkey_wipe(&k);
	privkey_wipe(&k2);
	buf_wipe_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_pubkey(data, size, NULL, 0, NULL, 0);
	check_privkey(data, size);
	if (size < 2)
		return 0;
	size_t klen = (size_t)data[0] << 8 | data[1];
	if (klen > size - 2)
		return 0;
	const uint8_t *key = data + 2, *p = key + klen;
	size_t rest = size - 2 - klen;
	if (rest < 2)
		return 0;
	size_t slen = (size_t)p[0] << 8 | p[1];
	if (slen > rest - 2)
		return 0;
	const uint8_t *sig = p + 2, *msg = sig + slen;
	check_pubkey(key, klen, slen ? sig : NULL, slen, msg, rest - 2 - slen);
	check_privkey(key, klen);
	return 0;
}
