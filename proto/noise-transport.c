/* Transport frames: u16 big-endian length || ChaChaPoly ciphertext with empty
 * associated data. Decryption is streaming: a frame that lies whole inside
 * the fed chunk is decrypted straight from it into the caller's buffer, and
 * only a frame cut by a chunk boundary is collected (at most one frame,
 * NOISE_MAX_FRAME bytes), so memory stays bounded whatever the peer sends. */
#include "noise-transport.h"

#include <errno.h>
#include <string.h>

#include "cursor.h"
#include "noise.h"

/* Transport messages have no associated data. */
static const uint8_t no_ad[1];

void noise_transport_init(struct noise_transport *t, struct noise_cipher *send,
                          struct noise_cipher *recv)
{
	memset(t, 0, sizeof(*t));
	t->send = *send;
	t->recv = *recv;
	send->aead = NULL;
	recv->aead = NULL;
}

void noise_transport_wipe(struct noise_transport *t)
{
	buf_wipe_free(&t->frame);
	noise_cipher_wipe(&t->send);
	noise_cipher_wipe(&t->recv);
	crypto_wipe(t, sizeof(*t));
}

/* Room for len bytes at the end of b; never NULL for len 0 (see extend() in
 * noise-handshake.c). */
static uint8_t *extend(struct buf *b, size_t len)
{
	if (buf_reserve(b, len + 1) < 0)
		return NULL;
	return buf_extend(b, len);
}

static int seal_frame(struct noise_transport *t, const uint8_t *pt, size_t len, struct buf *out)
{
	if (buf_append_u16be(out, (uint16_t)(len + NOISE_TAG_LEN)) < 0)
		return -ENOMEM;
	uint8_t *p = extend(out, len + NOISE_TAG_LEN);
	if (!p)
		return -ENOMEM;
	return noise_cipher_encrypt(&t->send, no_ad, 0, pt, len, p);
}

int noise_transport_encrypt(struct noise_transport *t, const uint8_t *pt, size_t len,
                            struct buf *out)
{
	size_t start = out->len;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < NOISE_MAX_PLAINTEXT ? len - off : NOISE_MAX_PLAINTEXT;
		int r = seal_frame(t, pt + off, n, out);
		if (r < 0) {
			out->len = start;
			return r;
		}
		off += n;
	}
	return 0;
}

static int open_frame(struct noise_transport *t, const uint8_t *ct, size_t ct_len, struct buf *out)
{
	uint8_t *p = extend(out, ct_len - NOISE_TAG_LEN);
	if (!p)
		return -ENOMEM;
	int r = noise_cipher_decrypt(&t->recv, no_ad, 0, ct, ct_len, p);
	if (r < 0)
		out->len -= ct_len - NOISE_TAG_LEN;
	return r;
}

/* Collect the length prefix; 1 once complete, 0 when the chunk ran out. */
static int take_header(struct noise_transport *t, struct cursor *c)
{
	while (t->hdr_len < 2 && cur_get_u8(c, &t->hdr[t->hdr_len]) == 0)
		t->hdr_len++;
	if (t->hdr_len < 2)
		return 0;
	t->frame_len = (size_t)t->hdr[0] << 8 | t->hdr[1];
	return t->frame_len < NOISE_TAG_LEN ? -EPROTO : 1;
}

/* Decrypt the next frame if the chunk completes it: 1 done, 0 need more. */
static int next_frame(struct noise_transport *t, struct cursor *c, struct buf *out)
{
	int r = take_header(t, c);
	if (r <= 0)
		return r;
	const uint8_t *p;
	if (t->frame.len == 0 && cur_get_bytes(c, t->frame_len, &p) == 0) {
		r = open_frame(t, p, t->frame_len, out);
	} else {
		size_t want = t->frame_len - t->frame.len;
		size_t n = cur_remaining(c) < want ? cur_remaining(c) : want;
		if (n && (cur_get_bytes(c, n, &p) < 0 || buf_append(&t->frame, p, n) < 0))
			return -ENOMEM;
		if (t->frame.len < t->frame_len)
			return 0;
		r = open_frame(t, t->frame.data, t->frame_len, out);
		buf_reset(&t->frame);
	}
	t->hdr_len = 0;
	return r < 0 ? r : 1;
}

int noise_transport_decrypt(struct noise_transport *t, const uint8_t *data, size_t len,
                            struct buf *out)
{
	struct cursor c;
	cur_init(&c, data, len);
	size_t start = out->len;
	int r;
	while ((r = next_frame(t, &c, out)) > 0)
		;
	if (r < 0)
		out->len = start;
	return r;
}

size_t noise_transport_pending(const struct noise_transport *t)
{
	return t->hdr_len + t->frame.len;
}
