/* The device name in our libp2p mDNS answer, for Spacedrop to nearby
 * devices that are not paired: the TXT string "sd-name=<name>". A name from
 * the link is untrusted: it is shown to users and matched against what
 * they type, nothing else, so only names that display as what they are get
 * through (docs/protocols/mdns.md). */
#include "mdns.h"

#include <errno.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point,
 * or 0 if it is malformed, overlong, a surrogate or above U+10FFFF. */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
	static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len = s[0] < 0x80             ? 1
	             : (s[0] & 0xe0) == 0xc0 ? 2
	             : (s[0] & 0xf0) == 0xe0 ? 3
	             : (s[0] & 0xf8) == 0xf0 ? 4
	                                     : 0;
	if (len == 0 || len > n)
		return 0;
	uint32_t v = len == 1 ? s[0] : s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min_cp[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* Code points that are not shown as themselves: C0 (NUL included), DEL,
 * C1, line/paragraph separators, bidi embeddings, overrides and isolates. */
static bool hidden(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
	       cp == 0x200f || cp == 0x061c;
}

bool mdns_device_name_valid(const char *s, size_t len)
{
	if (!s || len == 0 || len > MDNS_DEVICE_NAME_MAX)
		return false;
	const uint8_t *u = (const uint8_t *)s;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = utf8_next(u + i, len - i, &cp);
		if (k == 0 || hidden(cp))
			return false;
		i += k;
	}
	return true;
}

int mdns_device_name_rdata(const char *name, struct buf *rd)
{
	char text[sizeof(MDNS_TXT_DEVICE_NAME) + MDNS_DEVICE_NAME_MAX];
	size_t plen = strlen(MDNS_TXT_DEVICE_NAME);
	size_t len = name ? strlen(name) : 0;
	if (!mdns_device_name_valid(name, len))
		return -EINVAL;
	memcpy(text, MDNS_TXT_DEVICE_NAME, plen);
	memcpy(text + plen, name, len);
	return dns_txt_append(rd, text, plen + len);
}
