/* What we keep per paired device besides its registry record, encrypted
 * by the secure store as connections/<device_id> (docs/storage.md):
 *   {"version":1, "pairing_id":"<64 hex>", "epoch":N, "rotated_at":<unix s>,
 *    "keys":{"send":..,"receive":..,"send_mac":..,"receive_mac":..},
 *    "previous":{"epoch":N-1, "keys":{...}}            (only mid-rotation)
 *    "counters":{"attempts":..,"successes":..,"failures":..,"reconnects":..,
 *                "last_success":..,"last_failure":..},
 *    "worked":["/ip4/.../tcp/...", ...]}               (newest first)
 * The keys of epoch 0 are the pairing's, in the registry record; a record
 * here whose pairing_id is not the device's current pairing (the device was
 * paired again) is stale and ignored. One record holds both epochs so that
 * a rotation step is one atomic write. */
#include "persist-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "log.h"
#include "securestore.h"

#define CONNECTIONS_NS "connections"
#define RECORD_VERSION 1
#define RECORD_MAX 16384

const struct pairing_session_keys *precord_keys(const struct precord *r, uint64_t e)
{
	if (e == r->keys.epoch)
		return &r->keys.cur;
	if (r->keys.has_prev && e == r->keys.prev_epoch)
		return &r->keys.prev;
	return NULL;
}

void precord_add_worked(struct precord *r, const char *addr)
{
	addr_list_add(r->worked, &r->n_worked, PERSIST_WORKED_MAX, addr);
}

void precord_wipe(struct precord *r)
{
	crypto_wipe(r, sizeof(*r));
}

/* ---- encoding ----------------------------------------------------------- */

static json_t *counters_json(const struct pcounters *n)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "attempts", (json_int_t)n->attempts,
	                 "successes", (json_int_t)n->successes, "failures", (json_int_t)n->failures,
	                 "reconnects", (json_int_t)n->reconnects, "last_success",
	                 (json_int_t)n->last_success, "last_failure", (json_int_t)n->last_failure);
}

int precord_encode(const struct precord *r, struct buf *out)
{
	json_t *worked = json_array();
	for (size_t i = 0; worked && i < r->n_worked; i++)
		json_array_append_new(worked, json_string(r->worked[i]));
	json_t *o =
	        json_pack("{s:i, s:o, s:I, s:I, s:o, s:o, s:o}", "version", RECORD_VERSION,
	                  "pairing_id", secret_hex_json(r->pairing_id, sizeof(r->pairing_id)),
	                  "epoch", (json_int_t)r->keys.epoch, "rotated_at",
	                  (json_int_t)r->keys.rotated_at, "keys", session_keys_json(&r->keys.cur),
	                  "counters", counters_json(&r->n), "worked", worked);
	if (o && r->keys.has_prev)
		json_object_set_new(o, "previous",
		                    json_pack("{s:I, s:o}", "epoch", (json_int_t)r->keys.prev_epoch,
		                              "keys", session_keys_json(&r->keys.prev)));
	return secret_json_dump(o, out);
}

/* ---- decoding ----------------------------------------------------------- */

static int get_hex(json_t *o, const char *key, uint8_t *out, size_t len, struct errmsg *err)
{
	const char *s = json_string_value(json_object_get(o, key));
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	if (!s || strlen(s) != 2 * len || hex_decode(s, strlen(s), &b) < 0 || b.len != len)
		return errmsg_set(err, -EBADMSG,
		                  "connection record: \"%s\" is not %zu bytes of hex", key, len);
	memcpy(out, b.data, len);
	return 0;
}

static int get_keys(json_t *o, struct pairing_session_keys *k, struct errmsg *err)
{
	if (!json_is_object(o))
		return errmsg_set(err, -EBADMSG, "connection record: \"keys\" is missing");
	int r = get_hex(o, "send", k->send_key, 32, err);
	if (r == 0)
		r = get_hex(o, "receive", k->receive_key, 32, err);
	if (r == 0)
		r = get_hex(o, "send_mac", k->send_mac_key, 32, err);
	if (r == 0)
		r = get_hex(o, "receive_mac", k->receive_mac_key, 32, err);
	return r;
}

static int get_u64(json_t *o, const char *key, uint64_t *ret, struct errmsg *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return errmsg_set(err, -EBADMSG, "connection record: \"%s\" is not a count", key);
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_counters(json_t *o, struct pcounters *n, struct errmsg *err)
{
	uint64_t ls = 0, lf = 0;
	if (!json_is_object(o))
		return errmsg_set(err, -EBADMSG, "connection record: \"counters\" is missing");
	int r = get_u64(o, "attempts", &n->attempts, err);
	if (r == 0)
		r = get_u64(o, "successes", &n->successes, err);
	if (r == 0)
		r = get_u64(o, "failures", &n->failures, err);
	if (r == 0)
		r = get_u64(o, "reconnects", &n->reconnects, err);
	if (r == 0)
		r = get_u64(o, "last_success", &ls, err);
	if (r == 0)
		r = get_u64(o, "last_failure", &lf, err);
	n->last_success = (int64_t)ls;
	n->last_failure = (int64_t)lf;
	return r;
}

static int get_worked(json_t *a, struct precord *r, struct errmsg *err)
{
	if (!json_is_array(a) || json_array_size(a) > PERSIST_WORKED_MAX)
		return errmsg_set(err, -EBADMSG,
		                  "connection record: \"worked\" is not a list of "
		                  "at most %d addresses",
		                  PERSIST_WORKED_MAX);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		if (!s || strlen(s) != json_string_length(v) || strlen(s) >= DEVICE_ADDR_MAX)
			return errmsg_set(err, -EBADMSG, "connection record: bad address %zu",
			                  i + 1);
		memcpy(r->worked[r->n_worked++], s, strlen(s) + 1);
	}
	return 0;
}

static int decode_object(json_t *o, struct precord *r, struct errmsg *err)
{
	json_int_t version = json_integer_value(json_object_get(o, "version"));
	if (version < 1)
		return errmsg_set(err, -EBADMSG, "connection record: no version");
	if (version > RECORD_VERSION)
		return errmsg_set(
		        err, -EPROTONOSUPPORT,
		        "connection record: version %lld is newer than %d; upgrade sdnetd",
		        (long long)version, RECORD_VERSION);
	uint64_t rot = 0;
	int rr = get_hex(o, "pairing_id", r->pairing_id, sizeof(r->pairing_id), err);
	if (rr == 0)
		rr = get_u64(o, "epoch", &r->keys.epoch, err);
	if (rr == 0)
		rr = get_u64(o, "rotated_at", &rot, err);
	if (rr == 0)
		rr = get_keys(json_object_get(o, "keys"), &r->keys.cur, err);
	if (rr == 0)
		rr = get_counters(json_object_get(o, "counters"), &r->n, err);
	if (rr == 0)
		rr = get_worked(json_object_get(o, "worked"), r, err);
	json_t *prev = json_object_get(o, "previous");
	if (rr == 0 && prev) {
		rr = get_u64(prev, "epoch", &r->keys.prev_epoch, err);
		if (rr == 0)
			rr = get_keys(json_object_get(prev, "keys"), &r->keys.prev, err);
		if (rr == 0 && r->keys.prev_epoch + 1 != r->keys.epoch)
			rr = errmsg_set(err, -EBADMSG,
			                "connection record: previous epoch is not epoch - 1");
		r->keys.has_prev = rr == 0;
	}
	r->keys.rotated_at = (int64_t)rot;
	return rr;
}

int precord_decode(const uint8_t *data, size_t len, struct precord *ret, struct errmsg *err)
{
	if (len > RECORD_MAX)
		return errmsg_set(err, -EMSGSIZE, "connection record: %zu bytes, over %d", len,
		                  RECORD_MAX);
	json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return errmsg_set(err, -EBADMSG, "connection record: not a JSON object");
	}
	struct precord *r = calloc(1, sizeof(*r));
	int rr = r ? decode_object(o, r, err) : -ENOMEM;
	secret_json_wipe(o);
	json_decref(o);
	if (rr == 0)
		*ret = *r;
	if (r) {
		precord_wipe(r);
		free(r);
	}
	return rr;
}

/* ---- the store ------------------------------------------------------------ */

static void fresh(const struct device *d, struct precord *ret)
{
	precord_wipe(ret);
	memcpy(ret->pairing_id, d->pairing_id, sizeof(ret->pairing_id));
	ret->keys.epoch = 0;
	ret->keys.cur = d->keys;
	ret->keys.rotated_at = d->paired_at;
}

void precord_load(struct securestore *st, const struct device *d, struct precord *ret)
{
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	struct errmsg e = {{0}};
	int r = securestore_get(st, CONNECTIONS_NS, d->info.device_id, &b, &e);
	if (r == 0)
		r = precord_decode(b.data, b.len, ret, &e);
	if (r == 0 && !crypto_equal(ret->pairing_id, d->pairing_id, sizeof(d->pairing_id))) {
		log_info("device '%s' was paired again: its old connection record is replaced",
		         d->info.name);
		r = -ESTALE;
	}
	if (r < 0 && r != -ENOENT && r != -ESTALE)
		log_warning("connection record of '%s' unreadable, starting from the pairing keys "
		            "(if the keys were rotated, the device must be paired again): %s",
		            d->info.name, e.text);
	if (r < 0)
		fresh(d, ret);
}

int precord_save(struct securestore *st, const char *device_id, const struct precord *r,
                 struct errmsg *err)
{
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	int rr = precord_encode(r, &b);
	if (rr < 0)
		return errmsg_set(err, rr, "out of memory");
	return securestore_put(st, CONNECTIONS_NS, device_id, b.data, b.len, err);
}
