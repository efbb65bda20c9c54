/* Multibase prefix dispatch over the codecs in base32.c, base64.c, base58.c
 * and the radix and bit-group engines (for base36 and base16, which only
 * appear here). One table row per prefix. */
#include "multibase.h"

#include <errno.h>
#include <string.h>

#include "base32.h"
#include "base58.h"
#include "base64.h"
#include "basex.h"
#include "rfc4648.h"

enum mb_kind { MB_HEX, MB_BASE32, MB_BASE36, MB_BASE58, MB_BASE64 };

struct mb_entry {
	char prefix;
	enum mb_kind kind;
	int flags; /* BASE32_* or BASE64_*; for hex and base36, 1 = upper case */
	const char *name;
};

static const struct mb_entry table[] = {
        {'f', MB_HEX, 0, "base16"},
        {'F', MB_HEX, 1, "base16upper"},
        {'b', MB_BASE32, 0, "base32"},
        {'B', MB_BASE32, BASE32_UPPER, "base32upper"},
        {'c', MB_BASE32, BASE32_PAD, "base32pad"},
        {'C', MB_BASE32, BASE32_UPPER | BASE32_PAD, "base32padupper"},
        {'k', MB_BASE36, 0, "base36"},
        {'K', MB_BASE36, 1, "base36upper"},
        {'z', MB_BASE58, 0, "base58btc"},
        {'m', MB_BASE64, 0, "base64"},
        {'M', MB_BASE64, BASE64_PAD, "base64pad"},
        {'u', MB_BASE64, BASE64_URL, "base64url"},
        {'U', MB_BASE64, BASE64_URL | BASE64_PAD, "base64urlpad"},
};

static const struct rfc4648_alphabet hex_lower = {"base16", "0123456789abcdef", 4};
static const struct rfc4648_alphabet hex_upper = {"base16upper", "0123456789ABCDEF", 4};

static const struct basex_alphabet base36_lower = {"base36", "0123456789abcdefghijklmnopqrstuvwxyz",
                                                   36, 155, true};
static const struct basex_alphabet base36_upper = {
        "base36upper", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 36, 155, true};

static const struct mb_entry *lookup(char prefix)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].prefix == prefix)
			return &table[i];
	return NULL;
}

const char *multibase_name(enum multibase base)
{
	const struct mb_entry *e = lookup((char)base);
	return e ? e->name : NULL;
}

static size_t body_max(const struct mb_entry *e, size_t len)
{
	switch (e->kind) {
	case MB_HEX:
		return 2 * len;
	case MB_BASE32:
		return base32_encoded_len(len, e->flags);
	case MB_BASE36:
		return basex_encoded_max(&base36_lower, len);
	case MB_BASE58:
		return base58_encoded_max(len);
	case MB_BASE64:
		return base64_encoded_len(len, e->flags);
	}
	return 0;
}

size_t multibase_encoded_max(enum multibase base, size_t len)
{
	const struct mb_entry *e = lookup((char)base);
	return e ? 1 + body_max(e, len) : 0;
}

static int encode_body(const struct mb_entry *e, const uint8_t *data, size_t len, char *out,
                       size_t out_len)
{
	switch (e->kind) {
	case MB_HEX:
		return rfc4648_encode(e->flags ? &hex_upper : &hex_lower, false, data, len, out,
		                      out_len);
	case MB_BASE32:
		return base32_encode(data, len, e->flags, out, out_len);
	case MB_BASE36:
		return basex_encode(e->flags ? &base36_upper : &base36_lower, data, len, out,
		                    out_len);
	case MB_BASE58:
		return base58_encode(data, len, out, out_len);
	case MB_BASE64:
		return base64_encode(data, len, e->flags, out, out_len);
	}
	return -EPROTONOSUPPORT;
}

int multibase_encode(enum multibase base, const uint8_t *data, size_t len, char *out,
                     size_t out_len)
{
	const struct mb_entry *e = lookup((char)base);
	if (!e)
		return -EPROTONOSUPPORT;
	if (out_len < 2)
		return -ENOBUFS;
	int n = encode_body(e, data, len, out + 1, out_len - 1);
	if (n < 0)
		return n;
	out[0] = e->prefix;
	return n + 1;
}

static int decode_body(const struct mb_entry *e, const char *s, size_t slen, struct buf *out,
                       struct errmsg *err)
{
	/* s starts at index 1 of the user's text (after the prefix). */
	switch (e->kind) {
	case MB_HEX:
		return rfc4648_decode(e->flags ? &hex_upper : &hex_lower, false, true, s, slen, 1,
		                      out, err);
	case MB_BASE32:
		return base32_decode_at(s, slen, 1, e->flags | BASE32_ANYCASE, out, err);
	case MB_BASE36:
		return basex_decode(e->flags ? &base36_upper : &base36_lower, s, slen, 1, out, err);
	case MB_BASE58:
		return basex_decode(&base58btc_alphabet, s, slen, 1, out, err);
	case MB_BASE64:
		return base64_decode_at(s, slen, 1, e->flags, out, err);
	}
	return -EPROTONOSUPPORT;
}

static int unknown_prefix(char c, struct errmsg *err)
{
	if (c == '1' || c == 'Q' || c == '/')
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "multibase: prefix '%c' is reserved (bare base58 peer IDs and "
		                  "multiaddrs start with it)",
		                  c);
	if (c >= 0x20 && c < 0x7f)
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "multibase: unknown or unsupported prefix '%c' (supported: f F b "
		                  "B c C k K z m M u U)",
		                  c);
	return errmsg_set(err, -EPROTONOSUPPORT,
	                  "multibase: unknown prefix byte 0x%02x (supported: f F b B c C k K z m "
	                  "M u U)",
	                  (unsigned char)c);
}

int multibase_decode(const char *text, size_t len, struct buf *out, enum multibase *ret_base,
                     struct errmsg *err)
{
	if (len == 0)
		return errmsg_set(err, -EINVAL, "multibase: empty text (no prefix)");
	const struct mb_entry *e = lookup(text[0]);
	if (!e)
		return unknown_prefix(text[0], err);
	int r = decode_body(e, text + 1, len - 1, out, err);
	if (r < 0)
		return r;
	if (ret_base)
		*ret_base = (enum multibase)e->prefix;
	return 0;
}
