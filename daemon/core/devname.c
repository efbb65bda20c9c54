/* Device name rules, shared by the config, the identity record and the
 * node.set_device_name method so all three accept the same names. */
#include "devname.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Length of the UTF-8 sequence at s (≤ n bytes) and its code point, or 0
 * if it is malformed, overlong, a surrogate or above U+10FFFF. */
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
	uint32_t v = len == 1 ? s[0] : s[0] & (0x7f >> len);
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

int devname_check(const char *name, struct errmsg *err)
{
	size_t n = strlen(name);
	if (n == 0)
		return errmsg_set(err, -EINVAL, "device name is empty");
	if (n > DEVNAME_MAX)
		return errmsg_set(err, -EINVAL, "device name is %zu bytes long; the limit is %d", n,
		                  DEVNAME_MAX);
	const uint8_t *s = (const uint8_t *)name;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_next(s + i, n - i, &cp);
		if (k == 0)
			return errmsg_set(err, -EINVAL, "device name is not valid UTF-8 (byte %zu)",
			                  i + 1);
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return errmsg_set(err, -EINVAL,
			                  "device name has a control character at byte %zu", i + 1);
		i += k;
	}
	return 0;
}

void devname_default(const char *instance, char *out)
{
	if (strcmp(instance, "default") != 0 && devname_check(instance, NULL) == 0) {
		snprintf(out, DEVNAME_MAX + 1, "%s", instance);
		return;
	}
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) == 0) {
		host[DEVNAME_MAX] = '\0';
		if (devname_check(host, NULL) == 0) {
			snprintf(out, DEVNAME_MAX + 1, "%s", host);
			return;
		}
	}
	snprintf(out, DEVNAME_MAX + 1, "sdnetd");
}
