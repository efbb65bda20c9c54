/* base32 (RFC 4648 §6) on the shared rfc4648 engine. */
#include "base32.h"

#include "rfc4648.h"

static const struct rfc4648_alphabet lower = {"base32", "abcdefghijklmnopqrstuvwxyz234567", 5};
static const struct rfc4648_alphabet upper = {"base32upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 5};

static const struct rfc4648_alphabet *pick(int flags)
{
	return (flags & BASE32_UPPER) ? &upper : &lower;
}

size_t base32_encoded_len(size_t len, int flags)
{
	return rfc4648_encoded_len(pick(flags), len, flags & BASE32_PAD);
}

int base32_encode(const uint8_t *data, size_t len, int flags, char *out, size_t out_len)
{
	return rfc4648_encode(pick(flags), flags & BASE32_PAD, data, len, out, out_len);
}

int base32_decode_at(const char *s, size_t slen, size_t pos0, int flags, struct buf *out,
                     struct errmsg *err)
{
	return rfc4648_decode(pick(flags), flags & BASE32_PAD, flags & BASE32_ANYCASE, s, slen,
	                      pos0, out, err);
}

int base32_decode(const char *s, size_t slen, int flags, struct buf *out, struct errmsg *err)
{
	return base32_decode_at(s, slen, 0, flags, out, err);
}
