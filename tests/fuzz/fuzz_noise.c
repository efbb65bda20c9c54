/* Fuzz the Noise session. Byte 0 picks the mode (bit 0: our role is the
 * responder when set) and byte 1 the chunk size for feeding:
 *   mode 0: the rest is raw bytes from the peer: handshake messages first,
 *           then (if a handshake ever completed) transport frames;
 *   mode 1: a well-behaved Noise peer (struct noise_hs) sends the rest as the
 *           libp2p payload of its message 2 or 3, so the fuzzer reaches the
 *           protobuf, key, signature and muxer checks behind the AEAD;
 *   mode 2: after an honest handshake, the rest is a program that makes the
 *           peer encrypt data, injects raw bytes, and delivers the wire in
 *           chunks. While nothing raw was injected, every byte sent must
 *           arrive intact; after an error the session must stay failed.
 * Keys are fixed so every run is reproducible. Invariants: feeding takes at
 * most what it is given, buffered input never exceeds one maximal frame,
 * errors always carry a reason, and output is untouched by a failed call. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "noise-handshake.h"
#include "noise-payload.h"
#include "noise.h"

static const char *const muxers[] = {"/yamux/1.0.0", "/mplex/6.7.0"};

struct input {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* assert() on a call's result without putting the call inside assert(). */
static void must(int r)
{
	assert(r == 0);
	(void)r;
}

static uint8_t next_byte(struct input *in)
{
	return in->off < in->len ? in->p[in->off++] : 0;
}

static void key_bytes(uint8_t *out, uint8_t v)
{
	memset(out, v, 32);
}

static struct noise *session(enum noise_role role, uint8_t tag, struct privkey *id)
{
	uint8_t seed[32], s[32], e[32];
	key_bytes(seed, tag);
	key_bytes(s, tag + 1);
	key_bytes(e, tag + 2);
	int r = privkey_from_seed(seed, id);
	assert(r == 0);
	struct noise_config cfg = {
	        .role = role,
	        .identity = id,
	        .muxers = muxers,
	        .n_muxers = tag & 1 ? 2 : 1,
	        .static_key = s,
	        .test_ephemeral_key = e,
	};
	struct noise *n;
	r = noise_new(&cfg, &n);
	assert(r == 0);
	return n;
}

static void check(const struct noise *n, long r)
{
	assert(noise_input_pending(n) <= 2 + NOISE_MAX_FRAME);
	if (r < 0) {
		assert(noise_state(n) == NOISE_FAILED);
		assert(noise_error(n)[0] != '\0');
	}
	if (noise_state(n) == NOISE_DONE) {
		assert(noise_remote_peer(n) != NULL);
		assert(noise_handshake_hash(n) != NULL);
	}
}

static int decrypt(struct noise *n, const uint8_t *p, size_t len, struct buf *out)
{
	size_t before = out->len, held = noise_input_pending(n);
	int r = noise_decrypt(n, p, len, out);
	assert(r <= 0);
	assert(r == 0 || out->len == before);
	/* Plaintext comes only from what was held plus what was given. */
	assert(out->len - before <= held + len);
	check(n, r);
	return r;
}

static void raw_mode(const uint8_t *data, size_t size)
{
	struct privkey id;
	struct noise *n = session(data[0] & 1 ? NOISE_RESPONDER : NOISE_INITIATOR, 0x30, &id);
	size_t chunk = data[1] ? data[1] : size;
	struct buf out = BUF_INIT;
	for (size_t off = 2; off < size;) {
		size_t len = size - off < chunk ? size - off : chunk;
		long r;
		if (noise_state(n) == NOISE_HANDSHAKING) {
			r = noise_feed(n, data + off, len);
			assert(r < 0 || (size_t)r <= len);
			check(n, r);
			const uint8_t *p;
			size_t plen;
			noise_pending_output(n, &p, &plen);
			noise_output_consumed(n, plen);
		} else {
			r = decrypt(n, data + off, len, &out);
			r = r < 0 ? r : (long)len;
		}
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	buf_free(&out);
	noise_free(n);
	privkey_wipe(&id);
}

static void frame(struct buf *wire, const struct buf *msg)
{
	int r = buf_append_u16be(wire, (uint16_t)msg->len);
	assert(r == 0);
	r = buf_append(wire, msg->data, msg->len);
	assert(r == 0);
}

/* Drive the victim to the message that carries the peer's payload. */
static void payload_mode(const uint8_t *data, size_t size)
{
	bool victim_responds = data[0] & 1;
	size_t pl_len = size - 2 > NOISE_MAX_FRAME - 100 ? NOISE_MAX_FRAME - 100 : size - 2;
	struct privkey id;
	struct noise *n =
	        session(victim_responds ? NOISE_RESPONDER : NOISE_INITIATOR, data[1] & 1, &id);
	struct noise_hs hs;
	uint8_t s[32];
	key_bytes(s, 0x77);
	int r = noise_hs_init(&hs, victim_responds, s, s);
	assert(r == 0);
	struct buf msg = BUF_INIT, wire = BUF_INIT, pl = BUF_INIT;
	const uint8_t *p;
	size_t len;
	if (victim_responds) { /* our rogue initiator: -> e, then -> s, se */
		r = noise_hs_write(&hs, NULL, 0, &msg);
		assert(r == 0);
		frame(&wire, &msg);
		long f = noise_feed(n, wire.data, wire.len);
		assert(f == (long)wire.len);
	}
	noise_pending_output(n, &p, &len);
	r = noise_hs_read(&hs, p + 2, len - 2, &pl);
	assert(r == 0);
	noise_output_consumed(n, len);
	buf_reset(&msg);
	buf_reset(&wire);
	r = noise_hs_write(&hs, data + 2, pl_len, &msg);
	assert(r == 0);
	frame(&wire, &msg);
	long f = noise_feed(n, wire.data, wire.len);
	assert(f < 0 || f == (long)wire.len);
	check(n, f);
	noise_hs_wipe(&hs);
	buf_free(&msg);
	buf_free(&wire);
	buf_free(&pl);
	noise_free(n);
	privkey_wipe(&id);
}

/* An honest handshake between two of our sessions. */
static void pair(struct noise **a, struct noise **b, struct privkey ids[2])
{
	*a = session(NOISE_INITIATOR, 0x40, &ids[0]);
	*b = session(NOISE_RESPONDER, 0x50, &ids[1]);
	struct noise *from[3] = {*a, *b, *a}, *to[3] = {*b, *a, *b};
	for (int m = 0; m < 3; m++) {
		const uint8_t *p;
		size_t len;
		noise_pending_output(from[m], &p, &len);
		long r = noise_feed(to[m], p, len);
		assert(r == (long)len);
		noise_output_consumed(from[m], len);
	}
	assert(noise_state(*a) == NOISE_DONE && noise_state(*b) == NOISE_DONE);
}

static void transport_mode(const uint8_t *data, size_t size)
{
	struct privkey ids[2];
	struct noise *a, *b;
	pair(&a, &b, ids);
	/* The victim receives; the other side encrypts. */
	struct noise *rx = data[0] & 1 ? b : a, *tx = data[0] & 1 ? a : b;
	struct input in = {data + 2, size - 2, 0};
	struct buf wire = BUF_INIT, sent = BUF_INIT, got = BUF_INIT;
	size_t wire_off = 0;
	bool clean = true, failed = false;
	static uint8_t big[3 * NOISE_MAX_PLAINTEXT];
	while (in.off < in.len && !failed) {
		uint8_t op = next_byte(&in);
		size_t n = (size_t)next_byte(&in) << (op >> 6 ? 8 : 0);
		switch (op & 3) {
		case 0: /* the peer encrypts n bytes of the input (or a big block) */
			if (op & 4) {
				memset(big, op, sizeof(big));
				n = n * 3 % sizeof(big);
				must(noise_encrypt(tx, big, n, &wire));
				must(buf_append(&sent, big, n));
			} else {
				n = n < in.len - in.off ? n : in.len - in.off;
				must(noise_encrypt(tx, in.p + in.off, n, &wire));
				must(buf_append(&sent, in.p + in.off, n));
				in.off += n;
			}
			break;
		case 1: /* raw bytes on the wire */
			n = n < in.len - in.off ? n : in.len - in.off;
			must(buf_append(&wire, in.p + in.off, n));
			in.off += n;
			clean = clean && n == 0;
			break;
		case 2: /* flip one bit of what is on the wire */
			if (wire.len > wire_off) {
				wire.data[wire_off + n % (wire.len - wire_off)] ^= 1u
				                                                   << (op >> 5 & 7);
				clean = false;
			}
			break;
		default: /* deliver up to n + 1 bytes */
			n = n + 1 < wire.len - wire_off ? n + 1 : wire.len - wire_off;
			if (n)
				failed = decrypt(rx, wire.data + wire_off, n, &got) < 0;
			wire_off += n;
			break;
		}
	}
	if (!failed && wire_off < wire.len)
		failed = decrypt(rx, wire.data + wire_off, wire.len - wire_off, &got) < 0;
	if (clean) {
		assert(!failed);
		assert(got.len == sent.len && noise_input_pending(rx) == 0);
		assert(got.len == 0 || memcmp(got.data, sent.data, got.len) == 0);
	}
	if (failed) {
		struct buf again = BUF_INIT;
		int r = noise_decrypt(rx, wire.data, wire.len, &again);
		assert(r < 0 && again.len == 0);
		buf_free(&again);
	}
	buf_free(&wire);
	buf_free(&sent);
	buf_free(&got);
	noise_free(a);
	noise_free(b);
	privkey_wipe(&ids[0]);
	privkey_wipe(&ids[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	switch ((data[0] >> 1) % 3) {
	case 0:
		raw_mode(data, size);
		break;
	case 1:
		payload_mode(data, size);
		break;
	default:
		transport_mode(data, size);
		break;
	}
	return 0;
}
