/* Radix conversion shared by base58btc and base36: schoolbook repeated
 * multiply-and-add over a little-endian digit array. Simple and exact; the
 * caps in basex.h keep the quadratic cost small. */
#include "basex.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "badchar.h"

/* Enough digits for BASEX_MAX_BYTES in any radix down to 16. */
#define DIGITS_MAX (BASEX_MAX_BYTES * 2 + 1)

size_t basex_encoded_max(const struct basex_alphabet *a, size_t len)
{
	return len * a->chars_per_byte_x100 / 100 + 1;
}

int basex_encode(const struct basex_alphabet *a, const uint8_t *data, size_t len, char *out,
                 size_t out_len)
{
	if (len > BASEX_MAX_BYTES)
		return -EMSGSIZE;
	size_t zeros = 0;
	while (zeros < len && data[zeros] == 0)
		zeros++;
	uint8_t dig[DIGITS_MAX];
	size_t n = 0;
	for (size_t i = zeros; i < len; i++) {
		unsigned carry = data[i];
		for (size_t j = 0; j < n; j++) {
			carry += (unsigned)dig[j] << 8;
			dig[j] = (uint8_t)(carry % a->radix);
			carry /= a->radix;
		}
		while (carry) {
			dig[n++] = (uint8_t)(carry % a->radix);
			carry /= a->radix;
		}
	}
	if (zeros + n + 1 > out_len)
		return -ENOBUFS;
	memset(out, a->digits[0], zeros);
	for (size_t j = 0; j < n; j++)
		out[zeros + j] = a->digits[dig[n - 1 - j]];
	out[zeros + n] = '\0';
	return (int)(zeros + n);
}

static int digit_value(const struct basex_alphabet *a, char c)
{
	if (c == '\0')
		return -1;
	const char *p = memchr(a->digits, c, a->radix);
	if (!p && a->anycase) {
		char other = islower((unsigned char)c) ? (char)toupper((unsigned char)c)
		                                       : (char)tolower((unsigned char)c);
		p = memchr(a->digits, other, a->radix);
	}
	return p ? (int)(p - a->digits) : -1;
}

int basex_decode(const struct basex_alphabet *a, const char *s, size_t slen, size_t pos0,
                 struct buf *out, struct errmsg *err)
{
	if (slen > BASEX_MAX_CHARS)
		return errmsg_set(err, -EMSGSIZE, "%s: text of %zu characters is over the %d limit",
		                  a->name, slen, BASEX_MAX_CHARS);
	size_t zeros = 0;
	while (zeros < slen && digit_value(a, s[zeros]) == 0)
		zeros++;
	uint8_t num[BASEX_MAX_CHARS];
	size_t n = 0;
	for (size_t i = zeros; i < slen; i++) {
		int v = digit_value(a, s[i]);
		if (v < 0)
			return badchar_error(err, a->name, s[i], pos0 + i);
		unsigned carry = (unsigned)v;
		for (size_t j = 0; j < n; j++) {
			carry += (unsigned)num[j] * a->radix;
			num[j] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
		while (carry) {
			num[n++] = (uint8_t)(carry & 0xff);
			carry >>= 8;
		}
	}
	if (zeros + n > BASEX_MAX_BYTES)
		return errmsg_set(err, -EMSGSIZE, "%s: decodes to more than %d bytes", a->name,
		                  BASEX_MAX_BYTES);
	if (zeros + n == 0)
		return 0;
	uint8_t *p = buf_extend(out, zeros + n);
	if (!p)
		return errmsg_set(err, -ENOMEM, "%s: out of memory", a->name);
	memset(p, 0, zeros);
	for (size_t j = 0; j < n; j++)
		p[zeros + j] = num[n - 1 - j];
	return 0;
}
