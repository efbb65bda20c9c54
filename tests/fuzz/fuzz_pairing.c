/* Fuzz the pairing protocol (/spacedrive/pairing/1.0.0). Byte 0 picks the
 * mode, byte 1 the chunk size for feeding; the rest is the peer's bytes:
 *   mode 0: fed to an initiator's exchange (Hello, then Proof, ...);
 *   mode 1: fed to a joiner's exchange after its Hello (Challenge, Result);
 *   mode 2: an honest joiner's Hello reaches the initiator first, so the
 *           rest meets an exchange waiting for a Proof;
 *   mode 3: an honest pairing runs up to the joiner's Proof, so the rest
 *           meets a joiner waiting for the Result.
 * The same bytes also go to the message and DeviceInfo decoders directly.
 * Time advances with every chunk, so expiry and exchange timeouts happen.
 * Invariants: a failed call leaves the exchange final with a reason; our
 * own output always decodes; a decoded DeviceInfo re-encodes to a record
 * that decodes the same; and no input ever pairs in modes 0-2 (the fuzzer
 * does not hold the code, so it cannot make a valid proof). */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "keys.h"
#include "lpmsg.h"
#include "pairing.h"

#define T0 1000000
#define STEP_MS 997

static const uint8_t code[PAIRING_ENTROPY_LEN] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                  8, 9, 10, 11, 12, 13, 14, 15};

static struct pairing_device_info make_device(uint8_t v, const char *name)
{
	uint8_t seed[ED25519_SEED_LEN];
	memset(seed, v, sizeof(seed));
	struct privkey k;
	struct buf pub = BUF_INIT;
	int r = privkey_from_seed(seed, &k);
	if (r == 0)
		r = privkey_encode_public(&k, &pub);
	struct pairing_device_info d;
	memset(&d, 0, sizeof(d));
	if (r == 0)
		r = peerid_from_canonical_pubkey(pub.data, pub.len, &d.peer_id);
	assert(r == 0);
	buf_free(&pub);
	strcpy(d.device_id, "01234567-89ab-4cde-8f01-23456789abcd");
	d.device_id[0] = (char)('0' + v % 10);
	strcpy(d.name, name);
	strcpy(d.os, "Linux");
	d.protocol_version = 1;
	return d;
}

static void check_output(const struct pairing_exchange *x)
{
	const uint8_t *p;
	size_t len;
	pairing_exchange_pending_output(x, &p, &len);
	while (len) {
		const uint8_t *msg;
		size_t msg_len;
		long n = lpmsg_next(p, len, PAIRING_MAX_MESSAGE, &msg, &msg_len);
		assert(n > 0);
		struct pairing_msg m;
		int r = pairing_msg_decode(msg, msg_len, &m, NULL);
		assert(r == 0);
		(void)r;
		p += n;
		len -= (size_t)n;
	}
}

static void pass(struct pairing_exchange *from, struct pairing_exchange *to, uint64_t now)
{
	const uint8_t *p;
	size_t len;
	pairing_exchange_pending_output(from, &p, &len);
	int r = pairing_exchange_feed(to, p, len, now);
	assert(r == 0);
	(void)r;
	pairing_exchange_output_consumed(from, len);
}

static void feed(struct pairing_exchange *x, const uint8_t *data, size_t size, size_t chunk,
                 uint64_t now)
{
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		now += STEP_MS;
		int r = pairing_exchange_feed(x, data + off, n, now);
		enum pairing_state st = pairing_exchange_state(x);
		if (r < 0 && r != -EALREADY) {
			assert(pairing_state_is_final(st));
			assert(pairing_exchange_error(x)[0] != '\0');
			assert(pairing_exchange_errno(x) == r);
		}
		check_output(x);
		/* Drain like a daemon would. */
		const uint8_t *p;
		size_t len;
		pairing_exchange_pending_output(x, &p, &len);
		pairing_exchange_output_consumed(x, len);
	}
	(void)pairing_exchange_eof(x, now);
	assert(pairing_state_is_final(pairing_exchange_state(x)));
}

static void decoders(const uint8_t *data, size_t size)
{
	struct pairing_msg m;
	(void)pairing_msg_decode(data, size, &m, NULL);
	struct pairing_device_info d, again;
	if (pairing_device_info_decode(data, size, &d, NULL) < 0)
		return;
	struct buf enc = BUF_INIT;
	int r = pairing_device_info_encode(&d, &enc);
	assert(r == 0);
	r = pairing_device_info_decode(enc.data, enc.len, &again, NULL);
	assert(r == 0);
	assert(memcmp(&d, &again, sizeof(d)) == 0);
	(void)r;
	buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pairing_device_info di, dj;
	static int ready;
	if (!ready) {
		di = make_device(1, "alice");
		dj = make_device(2, "bob");
		ready = 1;
	}
	if (size < 2)
		return 0;
	unsigned mode = data[0] & 3;
	size_t chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	decoders(data, size);

	struct pairing_params pi = {.entropy = code, .info = &di, .now_ms = T0};
	struct pairing_params pj = {.entropy = code, .info = &dj, .now_ms = T0};
	struct pairing_session *si = NULL, *sj = NULL;
	struct pairing_exchange *xi = NULL, *xj = NULL;
	int r = pairing_initiator_new(&pi, &si, NULL);
	assert(r == 0);
	r = pairing_joiner_new(&pj, &sj, NULL);
	assert(r == 0);
	(void)r;
	if (pairing_exchange_new(si, &dj.peer_id, T0, &xi) < 0 ||
	    pairing_exchange_new(sj, &di.peer_id, T0, &xj) < 0)
		assert(0);
	if (mode >= 2)
		pass(xj, xi, T0);
	if (mode == 3)
		pass(xi, xj, T0);
	if (mode == 1) {
		const uint8_t *p;
		size_t len;
		pairing_exchange_pending_output(xj, &p, &len);
		pairing_exchange_output_consumed(xj, len);
	}
	struct pairing_exchange *target = mode == 0 || mode == 2 ? xi : xj;
	feed(target, data, size, chunk, T0);
	if (mode != 3) {
		assert(pairing_session_result(si) == NULL);
		assert(pairing_session_result(sj) == NULL);
	}
	pairing_session_tick(si, T0 + PAIRING_DEFAULT_LIFETIME_MS);
	assert(pairing_state_is_final(pairing_session_state(si)));
	pairing_exchange_free(xi);
	pairing_session_free(si);
	pairing_session_free(sj);
	pairing_exchange_free(xj);
	return 0;
}
