/* The identity record's JSON codec and making a new identity. Kept apart
 * from the store I/O so the decoder can be fuzzed on its own. */
#include "identity.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"

static int derive_peer(struct identity *id)
{
	struct buf pub = BUF_INIT;
	int r = privkey_encode_public(&id->key, &pub);
	if (r == 0)
		r = peerid_from_canonical_pubkey(pub.data, pub.len, &id->peer);
	buf_free(&pub);
	if (r == 0 && peerid_to_string(&id->peer, id->peer_id, sizeof(id->peer_id)) < 0)
		r = -EINVAL;
	return r;
}

static void uuid_format(const uint8_t b[16], char out[IDENTITY_UUID_LEN + 1])
{
	char hex[33];
	hex_encode(b, 16, hex);
	snprintf(out, IDENTITY_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	         hex + 16, hex + 20);
}

static bool uuid_valid(const char *s)
{
	if (strlen(s) != IDENTITY_UUID_LEN)
		return false;
	for (size_t i = 0; i < IDENTITY_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-'
		         : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

int identity_generate(const char *device_name, struct identity *ret)
{
	if (devname_check(device_name, NULL) < 0)
		return -EINVAL;
	struct identity id = {0};
	uint8_t u[16];
	int r = privkey_generate(&id.key);
	if (r == 0)
		r = crypto_random(u, sizeof(u));
	if (r == 0)
		r = derive_peer(&id);
	if (r < 0) {
		identity_wipe(&id);
		return r;
	}
	/* RFC 9562 section 5.4: version 4, variant 10. */
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	uuid_format(u, id.device_id);
	snprintf(id.device_name, sizeof(id.device_name), "%s", device_name);
	*ret = id;
	crypto_wipe(&id, sizeof(id));
	return 0;
}

void identity_wipe(struct identity *id)
{
	privkey_wipe(&id->key);
	crypto_wipe(id, sizeof(*id));
}

int identity_encode(const struct identity *id, struct buf *out)
{
	struct buf pk = BUF_INIT;
	int r = privkey_encode(&id->key, &pk);
	if (r < 0)
		return r;
	char *hex = malloc(2 * pk.len + 1);
	json_t *o = NULL;
	char *text = NULL;
	r = -ENOMEM;
	if (hex) {
		hex_encode(pk.data, pk.len, hex);
		o = json_pack("{s:i, s:s, s:s, s:s}", "version", IDENTITY_VERSION, "private_key",
		              hex, "device_id", id->device_id, "device_name", id->device_name);
	}
	if (o)
		text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (text)
		r = buf_append(out, text, strlen(text));
	if (text)
		crypto_wipe(text, strlen(text));
	if (hex)
		crypto_wipe(hex, 2 * pk.len + 1);
	free(text);
	free(hex);
	json_decref(o);
	buf_wipe_free(&pk);
	return r;
}

static int bad(struct errmsg *err, const char *what)
{
	return errmsg_set(err, -EBADMSG, "identity record: %s", what);
}

static int decode_key(json_t *o, struct identity *id, struct errmsg *err)
{
	const char *hex = json_string_value(json_object_get(o, "private_key"));
	if (!hex)
		return bad(err, "\"private_key\" is missing or not a string");
	struct buf pk = BUF_INIT;
	int r = hex_decode(hex, strlen(hex), &pk);
	if (r == 0)
		r = privkey_decode(pk.data, pk.len, &id->key);
	buf_wipe_free(&pk);
	if (r < 0)
		return bad(err, "\"private_key\" is not an Ed25519 libp2p private key");
	if (derive_peer(id) < 0)
		return bad(err, "cannot derive the peer ID from \"private_key\"");
	return 0;
}

static int decode_fields(json_t *o, struct identity *id, struct errmsg *err)
{
	if (!json_is_object(o))
		return bad(err, "not a JSON object");
	json_t *v = json_object_get(o, "version");
	if (!json_is_integer(v))
		return bad(err, "\"version\" is missing or not an integer");
	if (json_integer_value(v) != IDENTITY_VERSION)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "identity record: version %lld is not supported by this sdnetd "
		                  "(it knows %d); use a newer sdnetd",
		                  (long long)json_integer_value(v), IDENTITY_VERSION);
	const char *uuid = json_string_value(json_object_get(o, "device_id"));
	if (!uuid || !uuid_valid(uuid))
		return bad(err, "\"device_id\" is not a lower-case UUID");
	const char *name = json_string_value(json_object_get(o, "device_name"));
	if (!name || strlen(name) != json_string_length(json_object_get(o, "device_name")) ||
	    devname_check(name, NULL) < 0)
		return bad(err, "\"device_name\" is not a valid device name");
	int r = decode_key(o, id, err);
	if (r < 0)
		return r;
	memcpy(id->device_id, uuid, IDENTITY_UUID_LEN + 1);
	snprintf(id->device_name, sizeof(id->device_name), "%s", name);
	return 0;
}

int identity_decode(const uint8_t *data, size_t len, struct identity *ret, struct errmsg *err)
{
	if (len > IDENTITY_RECORD_MAX)
		return bad(err, "larger than 4096 bytes");
	json_error_t je;
	json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return errmsg_set(err, -EBADMSG, "identity record: not JSON (%s at byte %d)",
		                  je.text, je.position);
	struct identity id = {0};
	int r = decode_fields(o, &id, err);
	json_decref(o);
	if (r == 0)
		*ret = id;
	identity_wipe(&id);
	return r;
}
