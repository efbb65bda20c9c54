/* Length-prefixed message framing; see lpmsg.h. */
#include "lpmsg.h"

#include <errno.h>

#include "varint.h"

long lpmsg_next(const uint8_t *data, size_t len, size_t max, const uint8_t **ret_msg,
                size_t *ret_len)
{
	uint64_t n;
	int p = varint_decode(data, len, LPMSG_MAX_PREFIX, &n);
	if (p == -ENODATA)
		return 0;
	if (p == -EOVERFLOW)
		return -EMSGSIZE;
	if (p < 0)
		return p;
	if (n > max)
		return -EMSGSIZE;
	if (len - (size_t)p < n)
		return 0;
	*ret_msg = data + p;
	*ret_len = (size_t)n;
	return p + (long)n;
}

int lpmsg_append(struct buf *out, const void *msg, size_t len, size_t max)
{
	if (max && len > max)
		return -EMSGSIZE;
	size_t before = out->len;
	int r = buf_append_varint(out, len);
	if (r < 0)
		return r;
	r = buf_append(out, msg, len);
	if (r < 0) {
		out->len = before;
		return r;
	}
	return 0;
}
