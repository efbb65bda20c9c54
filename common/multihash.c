/* Multihash codec for the two hash functions libp2p peer IDs use. The
 * digest of sha2-256 is computed with OpenSSL EVP directly so that this file
 * (and peer ID parsing) needs nothing beyond libcrypto. */
#include "multihash.h"

#include <errno.h>

#include <openssl/evp.h>

#include "varint.h"

const char *multihash_name(uint64_t code)
{
	switch (code) {
	case MULTIHASH_IDENTITY:
		return "identity";
	case MULTIHASH_SHA2_256:
		return "sha2-256";
	}
	return NULL;
}

static int varint_error(int r, const char *what, struct errmsg *err)
{
	if (r == -ENODATA)
		return errmsg_set(err, -EBADMSG, "multihash: truncated %s", what);
	return errmsg_set(err, -EBADMSG, "multihash: malformed varint in %s", what);
}

static int check_length(uint64_t code, uint64_t len, struct errmsg *err)
{
	if (code == MULTIHASH_SHA2_256 && len != MULTIHASH_SHA2_256_LEN)
		return errmsg_set(err, -EBADMSG,
		                  "multihash: sha2-256 digest length is %llu, must be 32",
		                  (unsigned long long)len);
	if (code == MULTIHASH_IDENTITY && len > MULTIHASH_MAX_DIGEST)
		return errmsg_set(err, -EMSGSIZE,
		                  "multihash: identity digest of %llu bytes is over the %d limit",
		                  (unsigned long long)len, MULTIHASH_MAX_DIGEST);
	return 0;
}

int cur_get_multihash(struct cursor *c, struct multihash *ret, struct errmsg *err)
{
	struct cursor t = *c;
	uint64_t code, len;
	int r = cur_get_varint(&t, 0, &code);
	if (r < 0)
		return varint_error(r, "hash code", err);
	if (code != MULTIHASH_IDENTITY && code != MULTIHASH_SHA2_256)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "multihash: hash code 0x%llx is not supported (only identity "
		                  "0x00 and sha2-256 0x12)",
		                  (unsigned long long)code);
	if ((r = cur_get_varint(&t, 0, &len)) < 0)
		return varint_error(r, "digest length", err);
	if ((r = check_length(code, len, err)) < 0)
		return r;
	const uint8_t *digest;
	if (cur_get_bytes(&t, (size_t)len, &digest) < 0)
		return errmsg_set(
		        err, -EBADMSG,
		        "multihash: truncated %s digest (%llu bytes declared, %zu present)",
		        multihash_name(code), (unsigned long long)len, cur_remaining(&t));
	*c = t;
	*ret = (struct multihash){(enum multihash_code)code, digest, (size_t)len};
	return 0;
}

int multihash_parse(const uint8_t *data, size_t len, struct multihash *ret, struct errmsg *err)
{
	struct cursor c;
	/* Never NULL + 0 in the cursor (undefined behaviour in C). */
	cur_init(&c, len ? data : (const uint8_t *)"", len);
	struct multihash mh;
	int r = cur_get_multihash(&c, &mh, err);
	if (r < 0)
		return r;
	if (!cur_eof(&c))
		return errmsg_set(err, -EBADMSG, "multihash: %zu unexpected bytes after the digest",
		                  cur_remaining(&c));
	*ret = mh;
	return 0;
}

int multihash_encode(enum multihash_code code, const uint8_t *digest, size_t len, struct buf *out)
{
	if (check_length(code, len, NULL) < 0 || !multihash_name(code))
		return -EINVAL;
	size_t old = out->len;
	int r = buf_append_varint(out, code);
	if (r >= 0)
		r = buf_append_varint(out, len);
	if (r >= 0)
		r = buf_append(out, digest, len);
	if (r < 0)
		out->len = old;
	return r;
}

int multihash_sha256(const void *data, size_t len, struct buf *out)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) ||
	    md_len != MULTIHASH_SHA2_256_LEN)
		return -EIO;
	return multihash_encode(MULTIHASH_SHA2_256, md, md_len, out);
}
