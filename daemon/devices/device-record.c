/* The paired-device record codec (see device.h): JSON in, checked struct
 * out, and back. Decoding checks every field with the same rules the
 * pairing protocol applied when the device presented itself, so a record
 * that decodes is one the pairing could have produced. */
#include "device.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "multiaddr.h"

static const char *const trust_names[] = {
        [DEVICE_TRUSTED] = "trusted",
        [DEVICE_VERIFIED] = "verified",
        [DEVICE_EXPIRED] = "expired",
        [DEVICE_REVOKED] = "revoked",
};

const char *device_trust_name(enum device_trust t)
{
	return (unsigned)t < sizeof(trust_names) / sizeof(trust_names[0]) ? trust_names[t] : "?";
}

int device_trust_parse(const char *name, enum device_trust *ret)
{
	for (size_t i = 0; i < sizeof(trust_names) / sizeof(trust_names[0]); i++) {
		if (strcmp(name, trust_names[i]) == 0) {
			*ret = (enum device_trust)i;
			return 0;
		}
	}
	return -EINVAL;
}

void addr_list_add(char (*list)[DEVICE_ADDR_MAX], size_t *n, size_t max, const char *addr)
{
	size_t len = strlen(addr);
	if (len == 0 || len >= DEVICE_ADDR_MAX || max == 0)
		return;
	size_t k = 0;
	while (k < *n && strcmp(list[k], addr) != 0)
		k++;
	if (k == *n) {
		/* New: make room, dropping the oldest when full. */
		if (*n < max)
			(*n)++;
		k = *n - 1;
	}
	memmove(list[1], list[0], k * DEVICE_ADDR_MAX);
	memcpy(list[0], addr, len + 1);
}

void device_add_addr(struct device *d, const char *addr)
{
	addr_list_add(d->addrs, &d->n_addrs, DEVICE_MAX_ADDRS, addr);
}

void device_wipe(struct device *d)
{
	crypto_wipe(d, sizeof(*d));
}

/* ---- encoding ----------------------------------------------------------- */

json_t *secret_hex_json(const uint8_t *p, size_t len)
{
	char text[2 * PAIRING_HASH_LEN + 1];
	hex_encode(p, len, text);
	json_t *v = json_string(text);
	crypto_wipe(text, sizeof(text));
	return v;
}

json_t *session_keys_json(const struct pairing_session_keys *k)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "send",
	                 secret_hex_json(k->send_key, sizeof(k->send_key)), "receive",
	                 secret_hex_json(k->receive_key, sizeof(k->receive_key)), "send_mac",
	                 secret_hex_json(k->send_mac_key, sizeof(k->send_mac_key)), "receive_mac",
	                 secret_hex_json(k->receive_mac_key, sizeof(k->receive_mac_key)));
}

void secret_json_wipe(json_t *o)
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		if (json_is_string(v))
			crypto_wipe((char *)json_string_value(v), json_string_length(v));
		else if (json_is_object(v))
			secret_json_wipe(v);
	}
}

int secret_json_dump(json_t *o, struct buf *out)
{
	if (!o)
		return -ENOMEM;
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	secret_json_wipe(o);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	int r = buf_append(out, text, len);
	crypto_wipe(text, len);
	free(text);
	return r;
}

int device_record_encode(const struct device *d, struct buf *out)
{
	if (pairing_device_info_check(&d->info, NULL) < 0 || d->n_addrs > DEVICE_MAX_ADDRS)
		return -EINVAL;
	char peer[PEERID_TEXT_MAX];
	if (peerid_to_string(&d->info.peer_id, peer, sizeof(peer)) < 0)
		return -EINVAL;
	json_t *addrs = json_array();
	for (size_t i = 0; addrs && i < d->n_addrs; i++)
		json_array_append_new(addrs, json_string(d->addrs[i]));
	json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:o, s:o, s:o}",
	                      "version", DEVICE_RECORD_VERSION, "device_id", d->info.device_id,
	                      "name", d->info.name, "os", d->info.os, "peer_id", peer,
	                      "protocol_version", (json_int_t)d->info.protocol_version, "trust",
	                      device_trust_name(d->trust), "paired_at", (json_int_t)d->paired_at,
	                      "last_seen", (json_int_t)d->last_seen, "addresses", addrs,
	                      "pairing_id", secret_hex_json(d->pairing_id, sizeof(d->pairing_id)),
	                      "keys", session_keys_json(&d->keys));
	return secret_json_dump(o, out);
}

/* ---- decoding ----------------------------------------------------------- */

static int get_str(json_t *o, const char *key, const char **ret, struct errmsg *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		return errmsg_set(err, -EBADMSG, "device record: \"%s\" is missing or not a string",
		                  key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return errmsg_set(err, -EBADMSG, "device record: \"%s\" contains a NUL character",
		                  key);
	*ret = json_string_value(v);
	return 0;
}

static int copy_str(json_t *o, const char *key, char *out, size_t size, struct errmsg *err)
{
	const char *s;
	int r = get_str(o, key, &s, err);
	if (r < 0)
		return r;
	if (strlen(s) >= size)
		return errmsg_set(err, -EBADMSG, "device record: \"%s\" is longer than %zu bytes",
		                  key, size - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t min, int64_t max, int64_t *ret,
                   struct errmsg *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return errmsg_set(err, -EBADMSG,
		                  "device record: \"%s\" is missing or not an integer in range",
		                  key);
	*ret = json_integer_value(v);
	return 0;
}

/* Exactly len bytes of hex. */
static int get_hex(json_t *o, const char *key, uint8_t *out, size_t len, struct errmsg *err)
{
	const char *s;
	int r = get_str(o, key, &s, err);
	if (r < 0)
		return r;
	_cleanup_secret_buf_ struct buf b = BUF_INIT;
	if (strlen(s) != 2 * len || hex_decode(s, strlen(s), &b) < 0 || b.len != len)
		return errmsg_set(err, -EBADMSG, "device record: \"%s\" is not %zu bytes of hex",
		                  key, len);
	memcpy(out, b.data, len);
	return 0;
}

static int get_keys(json_t *o, struct pairing_session_keys *k, struct errmsg *err)
{
	json_t *ko = json_object_get(o, "keys");
	if (!json_is_object(ko))
		return errmsg_set(err, -EBADMSG, "device record: \"keys\" is missing");
	int r = get_hex(ko, "send", k->send_key, sizeof(k->send_key), err);
	if (r == 0)
		r = get_hex(ko, "receive", k->receive_key, sizeof(k->receive_key), err);
	if (r == 0)
		r = get_hex(ko, "send_mac", k->send_mac_key, sizeof(k->send_mac_key), err);
	if (r == 0)
		r = get_hex(ko, "receive_mac", k->receive_mac_key, sizeof(k->receive_mac_key), err);
	return r;
}

static int get_addrs(json_t *o, struct device *d, struct errmsg *err)
{
	json_t *a = json_object_get(o, "addresses");
	if (!json_is_array(a) || json_array_size(a) > DEVICE_MAX_ADDRS)
		return errmsg_set(err, -EBADMSG,
		                  "device record: \"addresses\" is missing or has over %d entries",
		                  DEVICE_MAX_ADDRS);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		struct multiaddr ma;
		if (!s || strlen(s) != json_string_length(v) || strlen(s) >= DEVICE_ADDR_MAX ||
		    multiaddr_parse(s, &ma, NULL) < 0)
			return errmsg_set(err, -EBADMSG,
			                  "device record: address %zu is not a multiaddr", i + 1);
		multiaddr_free(&ma);
		memcpy(d->addrs[d->n_addrs++], s, strlen(s) + 1);
	}
	return 0;
}

static int get_identity(json_t *o, struct device *d, struct errmsg *err)
{
	int64_t pv;
	const char *peer;
	int r = copy_str(o, "device_id", d->info.device_id, sizeof(d->info.device_id), err);
	if (r == 0)
		r = copy_str(o, "name", d->info.name, sizeof(d->info.name), err);
	if (r == 0)
		r = copy_str(o, "os", d->info.os, sizeof(d->info.os), err);
	if (r == 0)
		r = get_int(o, "protocol_version", 1, UINT32_MAX, &pv, err);
	if (r == 0)
		r = get_str(o, "peer_id", &peer, err);
	if (r < 0)
		return r;
	d->info.protocol_version = (uint32_t)pv;
	if (peerid_parse(peer, &d->info.peer_id, NULL) < 0)
		return errmsg_set(err, -EBADMSG, "device record: \"peer_id\" is not a peer ID");
	struct errmsg e = {{0}};
	if (pairing_device_info_check(&d->info, &e) < 0)
		return errmsg_set(err, -EBADMSG, "device record: %s", e.text);
	return 0;
}

static int decode_object(json_t *o, struct device *d, struct errmsg *err)
{
	int64_t version;
	const char *trust;
	int r = get_int(o, "version", 1, INT32_MAX, &version, err);
	if (r < 0)
		return r;
	if (version > DEVICE_RECORD_VERSION)
		return errmsg_set(
		        err, -EPROTONOSUPPORT,
		        "device record: version %lld is newer than this sdnetd reads (%d); "
		        "upgrade sdnetd",
		        (long long)version, DEVICE_RECORD_VERSION);
	r = get_identity(o, d, err);
	if (r == 0)
		r = get_str(o, "trust", &trust, err);
	if (r == 0 && device_trust_parse(trust, &d->trust) < 0)
		r = errmsg_set(err, -EBADMSG, "device record: unknown trust level");
	if (r == 0)
		r = get_int(o, "paired_at", 0, INT64_MAX, &d->paired_at, err);
	if (r == 0)
		r = get_int(o, "last_seen", 0, INT64_MAX, &d->last_seen, err);
	if (r == 0)
		r = get_addrs(o, d, err);
	if (r == 0)
		r = get_hex(o, "pairing_id", d->pairing_id, sizeof(d->pairing_id), err);
	if (r == 0)
		r = get_keys(o, &d->keys, err);
	return r;
}

int device_record_decode(const uint8_t *data, size_t len, struct device *ret, struct errmsg *err)
{
	if (len > DEVICE_RECORD_MAX)
		return errmsg_set(err, -EMSGSIZE, "device record: %zu bytes, over %d", len,
		                  DEVICE_RECORD_MAX);
	json_error_t je;
	json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return errmsg_set(err, -EBADMSG, "device record: not a JSON object%s%s%s",
		                  o ? "" : " (", o ? "" : je.text, o ? "" : ")");
	}
	struct device *d = calloc(1, sizeof(*d));
	int r = d ? decode_object(o, d, err) : -ENOMEM;
	secret_json_wipe(o);
	json_decref(o);
	if (r == 0)
		*ret = *d;
	if (d) {
		device_wipe(d);
		free(d);
	}
	return r;
}
