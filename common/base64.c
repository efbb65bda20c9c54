/* base64 (RFC 4648 §4 and §5) on the shared rfc4648 engine. */
#include "base64.h"

#include "rfc4648.h"

static const struct rfc4648_alphabet std = {
        "base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 6};
static const struct rfc4648_alphabet url = {
        "base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 6};

static const struct rfc4648_alphabet *pick(int flags)
{
	return (flags & BASE64_URL) ? &url : &std;
}

size_t base64_encoded_len(size_t len, int flags)
{
	return rfc4648_encoded_len(pick(flags), len, flags & BASE64_PAD);
}

int base64_encode(const uint8_t *data, size_t len, int flags, char *out, size_t out_len)
{
	return rfc4648_encode(pick(flags), flags & BASE64_PAD, data, len, out, out_len);
}

int base64_decode_at(const char *s, size_t slen, size_t pos0, int flags, struct buf *out,
                     struct errmsg *err)
{
	return rfc4648_decode(pick(flags), flags & BASE64_PAD, false, s, slen, pos0, out, err);
}

int base64_decode(const char *s, size_t slen, int flags, struct buf *out, struct errmsg *err)
{
	return base64_decode_at(s, slen, 0, flags, out, err);
}
