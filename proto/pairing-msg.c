/* Pairing messages and DeviceInfo: protobuf-c encoding, strict decoding with
 * a precise reason for every refusal; see pairing-msg.h. */
#include "pairing-msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lpmsg.h"
#include "pairing.pb-c.h"

const char *pairing_msg_name(enum pairing_msg_type t)
{
	switch (t) {
	case PAIRING_MSG_HELLO:
		return "Hello";
	case PAIRING_MSG_CHALLENGE:
		return "Challenge";
	case PAIRING_MSG_PROOF:
		return "Proof";
	case PAIRING_MSG_RESULT:
		return "Result";
	}
	return "unknown message";
}

/* ---- DeviceInfo ---- */

/* Length of the UTF-8 sequence at s (n bytes left) if it is well formed
 * (shortest form, no surrogates, at most U+10FFFF) and not a C0/C1 control
 * character or DEL, else 0. Names are shown in terminals: no escapes. */
static size_t utf8_char(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	if (c >= 0x20 && c < 0x7f)
		return 1;
	size_t len = c >= 0xc2 && c <= 0xdf   ? 2
	             : c >= 0xe0 && c <= 0xef ? 3
	             : c >= 0xf0 && c <= 0xf4 ? 4
	                                      : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (len == 2)
		return c == 0xc2 && s[1] < 0xa0 ? 0 : 2; /* C1 controls */
	if (len == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, surrogate */
	if (len == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
		return 0; /* overlong, above U+10FFFF */
	return len;
}

static int check_text(const char *what, const uint8_t *s, size_t len, size_t max,
                      struct errmsg *err)
{
	if (len == 0)
		return errmsg_set(err, -EBADMSG, "DeviceInfo %s is empty", what);
	if (len > max)
		return errmsg_set(err, -EBADMSG, "DeviceInfo %s has %zu bytes, more than %zu", what,
		                  len, max);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_char(s + i, len - i);
		if (n == 0)
			return errmsg_set(err, -EBADMSG,
			                  "DeviceInfo %s has invalid UTF-8 or a control character "
			                  "at byte %zu",
			                  what, i + 1);
		i += n;
	}
	return 0;
}

static int check_uuid(const uint8_t *s, size_t len, struct errmsg *err)
{
	static const char hex[] = "0123456789abcdef";
	bool ok = len == PAIRING_DEVICE_ID_LEN;
	for (size_t i = 0; ok && i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ok = s[i] == '-';
		else
			ok = s[i] != 0 && memchr(hex, s[i], 16) != NULL;
	}
	if (!ok)
		return errmsg_set(err, -EBADMSG,
		                  "DeviceInfo device_id is not a lower-case UUID "
		                  "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	return 0;
}

int pairing_device_info_check(const struct pairing_device_info *d, struct errmsg *err)
{
	if (!d)
		return errmsg_set(err, -EINVAL, "no DeviceInfo");
	size_t id_len = strnlen(d->device_id, sizeof(d->device_id));
	size_t name_len = strnlen(d->name, sizeof(d->name));
	size_t os_len = strnlen(d->os, sizeof(d->os));
	int r = check_uuid((const uint8_t *)d->device_id, id_len, err);
	if (r == 0)
		r = check_text("device_name", (const uint8_t *)d->name, name_len, PAIRING_NAME_MAX,
		               err);
	if (r == 0)
		r = check_text("os", (const uint8_t *)d->os, os_len, PAIRING_OS_MAX, err);
	struct peerid tmp;
	if (r == 0 && peerid_from_bytes(d->peer_id.bytes, d->peer_id.len, &tmp) < 0)
		r = errmsg_set(err, -EBADMSG, "DeviceInfo peer_id is not a valid peer ID");
	if (r == 0 && d->protocol_version == 0)
		r = errmsg_set(err, -EBADMSG, "DeviceInfo protocol_version is missing or zero");
	return r;
}

static ProtobufCBinaryData bin(const void *p, size_t len)
{
	return (ProtobufCBinaryData){len, (uint8_t *)(uintptr_t)p};
}

int pairing_device_info_encode(const struct pairing_device_info *d, struct buf *out)
{
	if (pairing_device_info_check(d, NULL) < 0)
		return -EINVAL;
	PairingPb__DeviceInfo m = PAIRING_PB__DEVICE_INFO__INIT;
	m.has_device_id = m.has_device_name = m.has_os = m.has_peer_id = 1;
	m.has_protocol_version = 1;
	m.device_id = bin(d->device_id, strlen(d->device_id));
	m.device_name = bin(d->name, strlen(d->name));
	m.os = bin(d->os, strlen(d->os));
	m.peer_id = bin(d->peer_id.bytes, d->peer_id.len);
	m.protocol_version = d->protocol_version;
	size_t n = pairing_pb__device_info__get_packed_size(&m);
	if (n > PAIRING_DEVICE_INFO_MAX)
		return -EMSGSIZE;
	uint8_t *p = buf_extend(out, n);
	if (!p)
		return -ENOMEM;
	pairing_pb__device_info__pack(&m, p);
	return 0;
}

static int need(protobuf_c_boolean has, const char *what, struct errmsg *err)
{
	return has ? 0 : errmsg_set(err, -EBADMSG, "DeviceInfo lacks %s", what);
}

static int fill_info(const PairingPb__DeviceInfo *m, struct pairing_device_info *d,
                     struct errmsg *err)
{
	int r = need(m->has_device_id, "device_id", err);
	if (r == 0)
		r = need(m->has_device_name, "device_name", err);
	if (r == 0)
		r = need(m->has_os, "os", err);
	if (r == 0)
		r = need(m->has_peer_id, "peer_id", err);
	if (r == 0)
		r = need(m->has_protocol_version, "protocol_version", err);
	if (r == 0)
		r = check_uuid(m->device_id.data, m->device_id.len, err);
	if (r == 0)
		r = check_text("device_name", m->device_name.data, m->device_name.len,
		               PAIRING_NAME_MAX, err);
	if (r == 0)
		r = check_text("os", m->os.data, m->os.len, PAIRING_OS_MAX, err);
	if (r == 0 && peerid_from_bytes(m->peer_id.data, m->peer_id.len, &d->peer_id) < 0)
		r = errmsg_set(err, -EBADMSG, "DeviceInfo peer_id is not a valid peer ID");
	if (r == 0 && m->protocol_version == 0)
		r = errmsg_set(err, -EBADMSG, "DeviceInfo protocol_version is zero");
	if (r < 0)
		return r;
	memcpy(d->device_id, m->device_id.data, m->device_id.len);
	memcpy(d->name, m->device_name.data, m->device_name.len);
	memcpy(d->os, m->os.data, m->os.len);
	d->protocol_version = m->protocol_version;
	return 0;
}

int pairing_device_info_decode(const uint8_t *data, size_t len, struct pairing_device_info *ret,
                               struct errmsg *err)
{
	if (len > PAIRING_DEVICE_INFO_MAX)
		return errmsg_set(err, -EBADMSG, "DeviceInfo has %zu bytes, more than %d", len,
		                  PAIRING_DEVICE_INFO_MAX);
	PairingPb__DeviceInfo *m = pairing_pb__device_info__unpack(NULL, len, data);
	if (!m)
		return errmsg_set(err, -EBADMSG, "DeviceInfo is not a valid protobuf");
	struct pairing_device_info d;
	memset(&d, 0, sizeof(d));
	int r = fill_info(m, &d, err);
	pairing_pb__device_info__free_unpacked(m, NULL);
	if (r == 0)
		*ret = d;
	return r;
}

/* ---- messages ---- */

static int take(const char *msg, const char *what, protobuf_c_boolean has,
                const ProtobufCBinaryData *v, void *out, size_t want, struct errmsg *err)
{
	if (!has)
		return errmsg_set(err, -EBADMSG, "%s lacks %s", msg, what);
	if (v->len != want)
		return errmsg_set(err, -EBADMSG, "%s %s has %zu bytes, expected %zu", msg, what,
		                  v->len, want);
	memcpy(out, v->data, want);
	return 0;
}

static int take_info(const char *msg, protobuf_c_boolean has, const ProtobufCBinaryData *v,
                     struct pairing_msg *m, struct errmsg *err)
{
	if (!has)
		return errmsg_set(err, -EBADMSG, "%s lacks device_info", msg);
	if (v->len > PAIRING_DEVICE_INFO_MAX)
		return errmsg_set(err, -EBADMSG, "%s device_info has %zu bytes, more than %d", msg,
		                  v->len, PAIRING_DEVICE_INFO_MAX);
	if (v->len)
		memcpy(m->info, v->data, v->len);
	m->info_len = v->len;
	return 0;
}

static int get_hello(const PairingPb__Hello *h, struct pairing_msg *m, struct errmsg *err)
{
	if (!h->has_version)
		return errmsg_set(err, -EBADMSG, "Hello lacks version");
	m->version = h->version;
	if (h->version != PAIRING_VERSION)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "Hello is for pairing protocol version %u; we speak %d",
		                  h->version, PAIRING_VERSION);
	int r = take("Hello", "rendezvous_id", h->has_rendezvous_id, &h->rendezvous_id,
	             m->rendezvous_id, PAIRING_RENDEZVOUS_LEN, err);
	if (r == 0)
		r = take("Hello", "nonce", h->has_nonce, &h->nonce, m->nonce, PAIRING_NONCE_LEN,
		         err);
	if (r == 0)
		r = take("Hello", "ephemeral_key", h->has_ephemeral_key, &h->ephemeral_key, m->eph,
		         X25519_KEY_LEN, err);
	if (r == 0)
		r = take_info("Hello", h->has_device_info, &h->device_info, m, err);
	return r;
}

static int get_challenge(const PairingPb__Challenge *c, struct pairing_msg *m, struct errmsg *err)
{
	int r = take("Challenge", "nonce", c->has_nonce, &c->nonce, m->nonce, PAIRING_NONCE_LEN,
	             err);
	if (r == 0)
		r = take("Challenge", "ephemeral_key", c->has_ephemeral_key, &c->ephemeral_key,
		         m->eph, X25519_KEY_LEN, err);
	if (r == 0)
		r = take_info("Challenge", c->has_device_info, &c->device_info, m, err);
	if (r == 0)
		r = take("Challenge", "mac", c->has_mac, &c->mac, m->mac, PAIRING_MAC_LEN, err);
	return r;
}

static int get_message(const PairingPb__PairingMessage *pm, struct pairing_msg *m,
                       struct errmsg *err)
{
	switch (pm->msg_case) {
	case PAIRING_PB__PAIRING_MESSAGE__MSG_HELLO:
		m->type = PAIRING_MSG_HELLO;
		return get_hello(pm->hello, m, err);
	case PAIRING_PB__PAIRING_MESSAGE__MSG_CHALLENGE:
		m->type = PAIRING_MSG_CHALLENGE;
		return get_challenge(pm->challenge, m, err);
	case PAIRING_PB__PAIRING_MESSAGE__MSG_PROOF:
		m->type = PAIRING_MSG_PROOF;
		return take("Proof", "mac", pm->proof->has_mac, &pm->proof->mac, m->mac,
		            PAIRING_MAC_LEN, err);
	case PAIRING_PB__PAIRING_MESSAGE__MSG_RESULT:
		m->type = PAIRING_MSG_RESULT;
		if (!pm->result->has_code)
			return errmsg_set(err, -EBADMSG, "Result lacks code");
		m->code = pm->result->code;
		return 0;
	default:
		return errmsg_set(err, -EBADMSG, "pairing message carries no known message");
	}
}

int pairing_msg_decode(const uint8_t *data, size_t len, struct pairing_msg *ret, struct errmsg *err)
{
	if (len > PAIRING_MAX_MESSAGE)
		return errmsg_set(err, -EBADMSG, "pairing message has %zu bytes, more than %d", len,
		                  PAIRING_MAX_MESSAGE);
	PairingPb__PairingMessage *pm = pairing_pb__pairing_message__unpack(NULL, len, data);
	if (!pm)
		return errmsg_set(err, -EBADMSG, "pairing message is not a valid protobuf");
	struct pairing_msg m;
	memset(&m, 0, sizeof(m));
	int r = get_message(pm, &m, err);
	pairing_pb__pairing_message__free_unpacked(pm, NULL);
	if (r == 0 || r == -EPROTONOSUPPORT)
		*ret = m; /* a refused version still tells the caller what came */
	crypto_wipe(&m, sizeof(m));
	return r;
}

static int pack(const PairingPb__PairingMessage *pm, struct buf *out)
{
	size_t n = pairing_pb__pairing_message__get_packed_size(pm);
	if (n > PAIRING_MAX_MESSAGE)
		return -EMSGSIZE;
	uint8_t tmp[PAIRING_MAX_MESSAGE];
	pairing_pb__pairing_message__pack(pm, tmp);
	return lpmsg_append(out, tmp, n, PAIRING_MAX_MESSAGE);
}

int pairing_msg_append(const struct pairing_msg *m, struct buf *out)
{
	if (!m || !out || m->info_len > PAIRING_DEVICE_INFO_MAX)
		return -EINVAL;
	PairingPb__PairingMessage pm = PAIRING_PB__PAIRING_MESSAGE__INIT;
	PairingPb__Hello h = PAIRING_PB__HELLO__INIT;
	PairingPb__Challenge c = PAIRING_PB__CHALLENGE__INIT;
	PairingPb__Proof p = PAIRING_PB__PROOF__INIT;
	PairingPb__Result res = PAIRING_PB__RESULT__INIT;
	switch (m->type) {
	case PAIRING_MSG_HELLO:
		h.has_version = h.has_rendezvous_id = h.has_nonce = 1;
		h.has_ephemeral_key = h.has_device_info = 1;
		h.version = m->version;
		h.rendezvous_id = bin(m->rendezvous_id, PAIRING_RENDEZVOUS_LEN);
		h.nonce = bin(m->nonce, PAIRING_NONCE_LEN);
		h.ephemeral_key = bin(m->eph, X25519_KEY_LEN);
		h.device_info = bin(m->info, m->info_len);
		pm.msg_case = PAIRING_PB__PAIRING_MESSAGE__MSG_HELLO;
		pm.hello = &h;
		break;
	case PAIRING_MSG_CHALLENGE:
		c.has_nonce = c.has_ephemeral_key = c.has_device_info = c.has_mac = 1;
		c.nonce = bin(m->nonce, PAIRING_NONCE_LEN);
		c.ephemeral_key = bin(m->eph, X25519_KEY_LEN);
		c.device_info = bin(m->info, m->info_len);
		c.mac = bin(m->mac, PAIRING_MAC_LEN);
		pm.msg_case = PAIRING_PB__PAIRING_MESSAGE__MSG_CHALLENGE;
		pm.challenge = &c;
		break;
	case PAIRING_MSG_PROOF:
		p.has_mac = 1;
		p.mac = bin(m->mac, PAIRING_MAC_LEN);
		pm.msg_case = PAIRING_PB__PAIRING_MESSAGE__MSG_PROOF;
		pm.proof = &p;
		break;
	case PAIRING_MSG_RESULT:
		res.has_code = 1;
		res.code = m->code;
		pm.msg_case = PAIRING_PB__PAIRING_MESSAGE__MSG_RESULT;
		pm.result = &res;
		break;
	default:
		return -EINVAL;
	}
	return pack(&pm, out);
}

/* ---- status codes ---- */

static const struct {
	const char *text;
	int err;
} statuses[] = {
        [PAIRING_STATUS_OK] = {"paired", 0},
        [PAIRING_STATUS_PROTOCOL_ERROR] = {"protocol error", -EPROTO},
        [PAIRING_STATUS_UNSUPPORTED_VERSION] = {"unsupported pairing protocol version",
                                                -EPROTONOSUPPORT},
        [PAIRING_STATUS_UNKNOWN_CODE] = {"no pairing session with this code (check the words)",
                                         -ENOKEY},
        [PAIRING_STATUS_CODE_USED] = {"code already used (generate a new one)", -EALREADY},
        [PAIRING_STATUS_EXPIRED] = {"code expired (generate a new one)", -ETIME},
        [PAIRING_STATUS_CANCELLED] = {"pairing session cancelled", -ECANCELED},
        [PAIRING_STATUS_RATE_LIMITED] = {"too many pairing attempts (wait and retry)", -EAGAIN},
        [PAIRING_STATUS_BAD_PROOF] = {"wrong code", -EACCES},
        [PAIRING_STATUS_BAD_DEVICE_INFO] = {"device information refused", -EPERM},
};

const char *pairing_status_text(uint32_t code)
{
	if (code < sizeof(statuses) / sizeof(statuses[0]))
		return statuses[code].text;
	return "refused for an unknown reason";
}

int pairing_status_errno(uint32_t code)
{
	if (code < sizeof(statuses) / sizeof(statuses[0]))
		return statuses[code].err;
	return -ECONNREFUSED;
}
