/* Securestore record files: header parsing and AES-256-GCM sealing. Kept
 * apart from securestore.c (directories, keys, policy) so the parser of
 * on-disk bytes can be fuzzed alone. */
#include "storefile.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "cursor.h"

static int parse_kdf(struct cursor *c, struct storefile_kdf *kdf, struct errmsg *err)
{
	uint8_t flags;
	if (cur_get_u8(c, &kdf->id) < 0 || cur_get_u8(c, &kdf->salt_len) < 0 ||
	    cur_get_u8(c, &flags) < 0 || cur_get_u32be(c, &kdf->iterations) < 0)
		return errmsg_set(err, -EBADMSG, "truncated header");
	if (flags != 0)
		return errmsg_set(err, -EBADMSG, "unknown flags 0x%02x", flags);
	switch (kdf->id) {
	case STOREFILE_KDF_NONE:
		if (kdf->salt_len != 0 || kdf->iterations != 0)
			return errmsg_set(err, -EBADMSG, "key-file record with KDF parameters");
		return 0;
	case STOREFILE_KDF_PBKDF2_SHA256:
		if (kdf->salt_len != STOREFILE_SALT_LEN)
			return errmsg_set(err, -EBADMSG, "PBKDF2 salt of %u bytes, expected %u",
			                  kdf->salt_len, STOREFILE_SALT_LEN);
		if (kdf->iterations == 0 || kdf->iterations > STOREFILE_MAX_ITERATIONS)
			return errmsg_set(err, -EBADMSG, "PBKDF2 iteration count %u out of range",
			                  kdf->iterations);
		if (cur_copy(c, kdf->salt, kdf->salt_len) < 0)
			return errmsg_set(err, -EBADMSG, "truncated header");
		return 0;
	default:
		return errmsg_set(err, -EBADMSG, "unknown KDF id %u", kdf->id);
	}
}

int storefile_parse(const uint8_t *data, size_t len, struct storefile *ret, struct errmsg *err)
{
	struct cursor c;
	cur_init(&c, data, len);
	const uint8_t *magic;
	uint8_t version;
	if (len == 0)
		return errmsg_set(err, -EBADMSG, "empty file");
	if (cur_get_bytes(&c, 4, &magic) < 0 || memcmp(magic, STOREFILE_MAGIC, 4) != 0)
		return errmsg_set(err, -EBADMSG, "not a securestore file (bad magic)");
	if (cur_get_u8(&c, &version) < 0)
		return errmsg_set(err, -EBADMSG, "truncated header");
	if (version != STOREFILE_VERSION)
		return errmsg_set(err, -EBADMSG,
		                  "format version %u is not supported (written by a newer sdnetd?)",
		                  version);
	struct storefile f = {0};
	int r = parse_kdf(&c, &f.kdf, err);
	if (r < 0)
		return r;
	if (cur_get_bytes(&c, STOREFILE_NONCE_LEN, &f.nonce) < 0)
		return errmsg_set(err, -EBADMSG, "truncated header");
	f.header = data;
	f.header_len = c.off;
	if (cur_remaining(&c) < STOREFILE_TAG_LEN)
		return errmsg_set(err, -EBADMSG,
		                  "truncated: %zu bytes, shorter than a header and tag", len);
	f.ct = cur_ptr(&c);
	f.ct_len = cur_remaining(&c);
	*ret = f;
	return 0;
}

int storefile_encode_header(const struct storefile_kdf *kdf,
                            const uint8_t nonce[STOREFILE_NONCE_LEN], struct buf *out)
{
	size_t start = out->len;
	int r = buf_append(out, STOREFILE_MAGIC, 4);
	if (r == 0)
		r = buf_append_u8(out, STOREFILE_VERSION);
	if (r == 0)
		r = buf_append_u8(out, kdf->id);
	if (r == 0)
		r = buf_append_u8(out, kdf->salt_len);
	if (r == 0)
		r = buf_append_u8(out, 0);
	if (r == 0)
		r = buf_append_u32be(out, kdf->iterations);
	if (r == 0)
		r = buf_append(out, kdf->salt, kdf->salt_len);
	if (r == 0)
		r = buf_append(out, nonce, STOREFILE_NONCE_LEN);
	if (r < 0)
		out->len = start;
	return r;
}

/* AAD = header bytes followed by the label. */
static int make_aad(const uint8_t *header, size_t header_len, const char *label, struct buf *aad)
{
	int r = buf_append(aad, header, header_len);
	if (r == 0)
		r = buf_append_str(aad, label);
	return r;
}

int storefile_seal(const struct storefile_kdf *kdf, const uint8_t key[STOREFILE_KEY_LEN],
                   const char *label, const void *pt, size_t pt_len, struct buf *out)
{
	if (pt_len > BUF_MAX_SIZE - STOREFILE_HEADER_MAX - STOREFILE_TAG_LEN)
		return -EFBIG;
	uint8_t nonce[STOREFILE_NONCE_LEN];
	int r = crypto_random(nonce, sizeof(nonce));
	if (r < 0)
		return r;
	size_t start = out->len;
	r = storefile_encode_header(kdf, nonce, out);
	if (r < 0)
		return r;
	struct buf aad = BUF_INIT;
	size_t header_len = out->len - start;
	r = make_aad(out->data + start, header_len, label, &aad);
	uint8_t *ct = r == 0 ? buf_extend(out, pt_len + STOREFILE_TAG_LEN) : NULL;
	if (!ct)
		r = -ENOMEM;
	else
		r = aesgcm_seal(key, nonce, aad.data, aad.len, pt, pt_len, ct);
	buf_free(&aad);
	if (r < 0)
		out->len = start;
	return r;
}

int storefile_open(const struct storefile *f, const uint8_t key[STOREFILE_KEY_LEN],
                   const char *label, struct buf *out)
{
	struct buf aad = BUF_INIT;
	int r = make_aad(f->header, f->header_len, label, &aad);
	size_t start = out->len, pt_len = f->ct_len - STOREFILE_TAG_LEN;
	uint8_t *pt = NULL;
	if (r == 0) {
		/* At least one byte so an empty payload still has somewhere to go. */
		if (buf_reserve(out, pt_len + 1) < 0)
			r = -ENOMEM;
		else
			pt = out->data + out->len;
	}
	if (r == 0)
		r = aesgcm_open(key, f->nonce, aad.data, aad.len, f->ct, f->ct_len, pt);
	buf_free(&aad);
	if (r == 0)
		out->len = start + pt_len;
	return r;
}
