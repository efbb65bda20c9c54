/* Receiver-side naming for file transfer: the sender's path components are
 * a hint, never a path. xfer_sanitize_name() turns them into a relative path
 * that cannot leave the receive directory and that every common filesystem
 * can store; xfer_collision_name() makes "name (1).ext" when the name is
 * taken. Pure functions of their input (rules in xfer.h and
 * docs/protocols/file-transfer.md). */
#include "xfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one:
 * overlong forms, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *ret)
{
	uint8_t b = p[0];
	size_t len;
	uint32_t cp, min;
	if (b < 0x80) {
		*ret = b;
		return 1;
	} else if ((b & 0xe0) == 0xc0) {
		len = 2, cp = b & 0x1f, min = 0x80;
	} else if ((b & 0xf0) == 0xe0) {
		len = 3, cp = b & 0x0f, min = 0x800;
	} else if ((b & 0xf8) == 0xf0) {
		len = 4, cp = b & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret = cp;
	return len;
}

/* Characters that must not reach a file name: C0 and C1 controls, DEL,
 * the bidi controls that make "evil\u202Etxt.exe" look like a text file,
 * the separators, and what Windows refuses. */
static bool hostile(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return true;
	if (cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return true;
	return cp < 0x80 && strchr("<>:\"/\\|?*", (int)cp) != NULL;
}

/* CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension. */
static bool device_name(const char *s, size_t n)
{
	static const char *const three[] = {"CON", "PRN", "AUX", "NUL"};
	size_t base = 0;
	while (base < n && s[base] != '.')
		base++;
	if (base == 3) {
		for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++)
			if (strncasecmp(s, three[i], 3) == 0)
				return true;
	}
	if (base == 4 && s[3] >= '1' && s[3] <= '9')
		return strncasecmp(s, "COM", 3) == 0 || strncasecmp(s, "LPT", 3) == 0;
	return false;
}

/* Start of the extension to keep in s[0..n): the last dot, not the first
 * character, with at most XFER_EXT_MAX bytes from the dot on. n when none. */
static size_t ext_start(const char *s, size_t n)
{
	for (size_t i = n; i-- > 1;) {
		if (s[i] == '.')
			return n - i <= XFER_EXT_MAX ? i : n;
		if (n - i >= XFER_EXT_MAX)
			break;
	}
	return n;
}

/* Largest cut <= max that does not split a UTF-8 sequence in s. */
static size_t utf8_cut(const char *s, size_t max)
{
	while (max > 0 && ((uint8_t)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Shorten the component at out[start..] to XFER_NAME_MAX bytes, keeping
 * its extension. */
static void shorten(struct buf *out, size_t start)
{
	char *s = (char *)out->data + start;
	size_t n = out->len - start;
	if (n <= XFER_NAME_MAX)
		return;
	size_t ext = ext_start(s, n);
	size_t ext_len = n - ext;
	size_t stem = utf8_cut(s, XFER_NAME_MAX - ext_len);
	memmove(s + stem, s + ext, ext_len);
	out->len = start + stem + ext_len;
}

static int sanitize_component(const uint8_t *p, size_t n, struct buf *out)
{
	size_t start = out->len;
	int r = 0;
	for (size_t i = 0; i < n && r == 0;) {
		uint32_t cp;
		size_t k = utf8_next(p + i, n - i, &cp);
		if (k == 0 || hostile(cp))
			r = buf_append_u8(out, '_');
		else
			r = buf_append(out, p + i, k);
		i += k ? k : 1;
	}
	/* Windows drops trailing dots and spaces, so "a." and "a" would be
	 * the same file there. */
	while (r == 0 && out->len > start &&
	       (out->data[out->len - 1] == '.' || out->data[out->len - 1] == ' '))
		out->len--;
	if (r == 0 && out->len == start)
		r = buf_append_u8(out, '_');
	if (r == 0 && device_name((const char *)out->data + start, out->len - start)) {
		r = buf_append_u8(out, '_');
		if (r == 0) {
			memmove(out->data + start + 1, out->data + start, out->len - start - 1);
			out->data[start] = '_';
		}
	}
	if (r == 0)
		shorten(out, start);
	return r;
}

static bool dropped(const uint8_t *p, size_t n)
{
	return n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.');
}

int xfer_sanitize_name(const struct xfer_part *parts, size_t n_parts, char **ret_path,
                       struct errmsg *e)
{
	struct buf out = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < n_parts && r == 0; i++) {
		if (dropped(parts[i].data, parts[i].len))
			continue;
		if (out.len > 0)
			r = buf_append_u8(&out, '/');
		if (r == 0)
			r = sanitize_component(parts[i].data, parts[i].len, &out);
		/* Stop early: a hostile path can be far longer than any limit. */
		if (r == 0 && out.len > XFER_PATH_MAX)
			r = errmsg_set(e, -ENAMETOOLONG,
			               "path is longer than %d bytes after sanitising",
			               XFER_PATH_MAX);
	}
	if (r == 0 && out.len == 0)
		r = buf_append_str(&out, "unnamed");
	if (r == 0)
		r = buf_append_u8(&out, '\0');
	if (r < 0) {
		buf_free(&out);
		return r;
	}
	*ret_path = (char *)buf_steal(&out, NULL);
	return 0;
}

int xfer_collision_name(const char *path, unsigned n, char **ret_path)
{
	if (n == 0)
		return -EINVAL;
	const char *slash = strrchr(path, '/');
	size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
	const char *name = path + dir_len;
	size_t name_len = strlen(name);
	size_t ext = ext_start(name, name_len);
	size_t ext_len = name_len - ext;
	char suffix[16];
	size_t suffix_len = (size_t)snprintf(suffix, sizeof(suffix), " (%u)", n);
	size_t stem = ext;
	if (stem + suffix_len + ext_len > XFER_NAME_MAX)
		stem = utf8_cut(name, XFER_NAME_MAX - suffix_len - ext_len);
	char *out = malloc(dir_len + stem + suffix_len + ext_len + 1);
	if (!out)
		return -ENOMEM;
	char *p = out;
	memcpy(p, path, dir_len + stem);
	p += dir_len + stem;
	memcpy(p, suffix, suffix_len);
	p += suffix_len;
	memcpy(p, name + ext, ext_len);
	p[ext_len] = '\0';
	*ret_path = out;
	return 0;
}
