/* Connection history per device, encrypted by the secure store as
 * history/<device_id> (docs/storage.md): the newest PERSIST_HISTORY_MAX
 * events (attempts, connections, failures with their reasons, the address
 * used), oldest dropped first, so a device that fails every 5 minutes for a
 * year still has a record of a few KiB. JSON like the device record:
 *   {"version":1, "events":[{"t":<unix s>, "kind":"failed",
 *                            "addr":"/ip4/...", "reason":"..."}, ...]}
 * oldest first. A record that cannot be read starts a new history (the
 * history is a diagnostic, not state anything depends on). */
#include "persist-internal.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "securestore.h"

#define HISTORY_NS "history"
#define HISTORY_VERSION 1
/* Largest record we read: 64 entries of at most ~450 bytes of JSON. */
#define HISTORY_RECORD_MAX (64 * 1024)

static const char *const kind_names[] = {
        [PHIST_ATTEMPT] = "attempt",         [PHIST_CONNECTED] = "connected",
        [PHIST_FAILED] = "failed",           [PHIST_DISCONNECTED] = "disconnected",
        [PHIST_AUTH_FAILED] = "auth_failed", [PHIST_REFUSED] = "refused",
        [PHIST_ROTATED] = "rotated",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *phist_kind_name(enum phist_kind k)
{
	return (unsigned)k < NKINDS ? kind_names[k] : "?";
}

static int kind_parse(const char *s, enum phist_kind *ret)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return *ret = (enum phist_kind)i, 0;
	return -EINVAL;
}

/* Copy at most size-1 bytes, not cutting a UTF-8 sequence in half. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void phist_add(struct phist *h, int64_t t, enum phist_kind kind, const char *addr,
               const char *reason)
{
	struct phist_entry *e;
	if (h->n < PERSIST_HISTORY_MAX) {
		e = &h->v[(h->head + h->n) % PERSIST_HISTORY_MAX];
		h->n++;
	} else {
		e = &h->v[h->head];
		h->head = (h->head + 1) % PERSIST_HISTORY_MAX;
	}
	e->t = t;
	e->kind = kind;
	copy_cut(e->addr, sizeof(e->addr), addr);
	copy_cut(e->reason, sizeof(e->reason), reason);
}

const struct phist_entry *phist_at(const struct phist *h, size_t i)
{
	return i < h->n ? &h->v[(h->head + i) % PERSIST_HISTORY_MAX] : NULL;
}

int phist_encode(const struct phist *h, struct buf *out)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < h->n; i++) {
		const struct phist_entry *e = phist_at(h, i);
		json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s}", "t", (json_int_t)e->t,
		                                   "kind", phist_kind_name(e->kind), "addr",
		                                   e->addr, "reason", e->reason));
	}
	json_t *o = json_pack("{s:i, s:o}", "version", HISTORY_VERSION, "events", a);
	if (!o)
		return -ENOMEM;
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	int r = buf_append(out, text, strlen(text));
	free(text);
	return r;
}

static int decode_entry(json_t *v, struct phist *h, struct errmsg *err)
{
	json_int_t t;
	const char *kind, *addr, *reason;
	enum phist_kind k;
	if (json_unpack(v, "{s:I, s:s, s:s, s:s}", "t", &t, "kind", &kind, "addr", &addr, "reason",
	                &reason) < 0 ||
	    kind_parse(kind, &k) < 0)
		return errmsg_set(err, -EBADMSG,
		                  "history: an event is not {t, kind, addr, reason}");
	phist_add(h, t, k, addr, reason);
	return 0;
}

int phist_decode(const uint8_t *data, size_t len, struct phist *ret, struct errmsg *err)
{
	if (len > HISTORY_RECORD_MAX)
		return errmsg_set(err, -EMSGSIZE, "history: %zu bytes, over %d", len,
		                  HISTORY_RECORD_MAX);
	json_t *o = json_loadb((const char *)data, len, 0, NULL);
	json_t *a = json_object_get(o, "events");
	json_int_t version = json_integer_value(json_object_get(o, "version"));
	int r = 0;
	if (!json_is_array(a) || version < 1)
		r = errmsg_set(err, -EBADMSG, "history: not a history record");
	else if (version > HISTORY_VERSION)
		r = errmsg_set(err, -EPROTONOSUPPORT, "history: version %lld is newer than %d",
		               (long long)version, HISTORY_VERSION);
	struct phist h = {0};
	size_t i;
	json_t *v;
	if (r == 0)
		json_array_foreach(a, i, v)
		{
			/* Over the cap, the newest are kept (the ring drops the oldest). */
			if ((r = decode_entry(v, &h, err)) < 0)
				break;
		}
	json_decref(o);
	if (r == 0)
		*ret = h;
	return r;
}

void phist_load(struct securestore *st, const char *device_id, struct phist *ret)
{
	*ret = (struct phist){0};
	_cleanup_buf_ struct buf b = BUF_INIT;
	struct errmsg e = {{0}};
	int r = securestore_get(st, HISTORY_NS, device_id, &b, &e);
	if (r == 0)
		r = phist_decode(b.data, b.len, ret, &e);
	if (r < 0 && r != -ENOENT)
		log_warning("connection history of %s unreadable, starting a new one: %s",
		            device_id, e.text);
}

int phist_save(struct securestore *st, const char *device_id, const struct phist *h,
               struct errmsg *err)
{
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r = phist_encode(h, &b);
	if (r < 0)
		return errmsg_set(err, r, "out of memory");
	return securestore_put(st, HISTORY_NS, device_id, b.data, b.len, err);
}
