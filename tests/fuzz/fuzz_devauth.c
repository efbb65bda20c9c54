/* Fuzz the device-authentication frames (proto/devauth.h), which arrive
 * from any peer that opens /spacedrive/device/1.0.0: a stream of
 * length-prefixed frames is decoded one by one; whatever decodes must encode
 * back to the same bytes, and nothing is read past the input. */
#include <assert.h>
#include <string.h>

#include "devauth.h"
#include "fuzz.h"
#include "lpmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	while (size > 0) {
		const uint8_t *body;
		size_t len;
		long n = lpmsg_next(data, size, DEVAUTH_MAX_FRAME, &body, &len);
		if (n <= 0)
			break;
		struct devauth_msg m;
		struct errmsg e = {{0}};
		if (devauth_decode(body, len, &m, &e) == 0) {
			struct buf again = BUF_INIT;
			assert(devauth_encode(&m, &again) == 0);
			assert(again.len == (size_t)n && memcmp(again.data, data, again.len) == 0);
			buf_free(&again);
		} else {
			assert(e.text[0] != '\0');
		}
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
