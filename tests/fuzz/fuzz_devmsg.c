/* Fuzz DeviceMessage decoding: any bytes either decode to a message that
 * re-encodes and decodes to the same body, or fail with a fault whose Error
 * reply is itself a valid DeviceMessage (never silence, never a crash). The
 * dedup window and correlation table take the decoded ids. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "devmsg.h"
#include "fuzz.h"
#include "lpmsg.h"

static void check_reply(const struct devmsg_fault *f, const char *text)
{
	static const uint8_t rid[DEVMSG_ID_LEN] = {9};
	struct buf reply = BUF_INIT;
	assert(devmsg_error_reply(f, text, rid, 1, &reply) == 0);
	assert(f->reply == (reply.len > 0));
	if (reply.len) {
		const uint8_t *msg;
		size_t len;
		assert(lpmsg_next(reply.data, reply.len, DEVMSG_MAX_SIZE, &msg, &len) ==
		       (long)reply.len);
		devmsg_pb *m = NULL;
		assert(devmsg_decode(msg, len, &m, NULL, NULL) == 0);
		assert(m->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR);
		assert(m->error->code == f->code);
		assert(m->has_in_reply_to == f->has_id);
		devmsg_free(m);
	}
	buf_free(&reply);
}

static void track(const devmsg_pb *m)
{
	struct devmsg_dedup d;
	struct devmsg_corr c;
	assert(devmsg_dedup_init(&d, 2, 1) == 0);
	assert(devmsg_corr_init(&c, 2) == 0);
	assert(devmsg_dedup_add(&d, m->id.data) == 0);
	assert(devmsg_dedup_add(&d, m->id.data) == -EEXIST);
	assert(devmsg_corr_add(&c, m->id.data, m->created_ms, 7) == 0);
	uint64_t cookie = 0;
	int r = devmsg_corr_match(&c, m->id.data, 100, &cookie);
	assert((r == 0 || r == -ETIMEDOUT) && cookie == 7);
	devmsg_corr_free(&c);
	devmsg_dedup_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	devmsg_pb *m = NULL;
	struct devmsg_fault f;
	struct errmsg e = {{0}};
	int r = devmsg_decode(data, size, &m, &f, &e);
	if (r < 0) {
		assert(m == NULL);
		assert(r == -EMSGSIZE || r == -EBADMSG || r == -EINVAL || r == -EPROTONOSUPPORT ||
		       r == -ENOMEM);
		check_reply(&f, e.text);
		return 0;
	}
	assert(m->id.len == DEVMSG_ID_LEN);
	struct buf again = BUF_INIT;
	assert(devmsg_pack(m, &again, NULL) == 0);
	devmsg_pb *m2 = NULL;
	assert(devmsg_decode(again.data, again.len, &m2, NULL, NULL) == 0);
	assert(m2->body_case == m->body_case);
	assert(memcmp(m2->id.data, m->id.data, DEVMSG_ID_LEN) == 0);
	assert(devmsg_priority(m2) == devmsg_priority(m));
	(void)devmsg_expects_reply(m2);
	(void)devmsg_body_name(m2->body_case);
	track(m);
	devmsg_free(m2);
	devmsg_free(m);
	buf_free(&again);
	return 0;
}
