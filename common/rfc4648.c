/* Bit-group codec engine behind base16, base32 and base64: shift characters
 * of `bits` bits into an accumulator and emit whole bytes. Kept generic so
 * the three encodings share one set of strictness rules (and one set of
 * bugs to fuzz). */
#include "rfc4648.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "badchar.h"

/* Characters in a whole group: lcm(bits, 8) / bits. */
static size_t group_chars(const struct rfc4648_alphabet *a)
{
	switch (a->bits) {
	case 4:
		return 2;
	case 5:
		return 8;
	default:
		return 4;
	}
}

size_t rfc4648_encoded_len(const struct rfc4648_alphabet *a, size_t len, bool pad)
{
	size_t chars = (len * 8 + a->bits - 1) / a->bits;
	if (pad) {
		size_t g = group_chars(a);
		chars = (chars + g - 1) / g * g;
	}
	return chars;
}

int rfc4648_encode(const struct rfc4648_alphabet *a, bool pad, const uint8_t *data, size_t len,
                   char *out, size_t out_len)
{
	size_t total = rfc4648_encoded_len(a, len, pad);
	if (total + 1 > out_len || total > INT32_MAX)
		return -ENOBUFS;
	unsigned mask = (1u << a->bits) - 1;
	uint32_t acc = 0;
	unsigned nbits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | data[i];
		nbits += 8;
		while (nbits >= a->bits) {
			nbits -= a->bits;
			out[n++] = a->digits[(acc >> nbits) & mask];
		}
		acc &= (1u << nbits) - 1;
	}
	if (nbits)
		out[n++] = a->digits[(acc << (a->bits - nbits)) & mask];
	while (n < total)
		out[n++] = '=';
	out[n] = '\0';
	return (int)n;
}

static int char_value(const struct rfc4648_alphabet *a, bool anycase, char c)
{
	if (c == '\0')
		return -1;
	const char *p = memchr(a->digits, c, 1u << a->bits);
	if (!p && anycase) {
		char other = islower((unsigned char)c) ? (char)toupper((unsigned char)c)
		                                       : (char)tolower((unsigned char)c);
		p = memchr(a->digits, other, 1u << a->bits);
	}
	return p ? (int)(p - a->digits) : -1;
}

/* Number of '=' at the end, after checking the padded shape. */
static int strip_padding(const struct rfc4648_alphabet *a, const char *s, size_t slen, size_t pos0,
                         size_t *ret_data_len, struct errmsg *err)
{
	size_t g = group_chars(a);
	if (slen % g)
		return errmsg_set(err, -EINVAL,
		                  "%s: padded text must be a multiple of %zu characters, got %zu",
		                  a->name, g, slen);
	size_t n = slen;
	while (n > 0 && s[n - 1] == '=')
		n--;
	/* A whole group of padding, or more '=' than a group can hold, is
	 * never produced by an encoder. */
	if (slen - n >= g - 1 && slen != n)
		return badchar_error(err, a->name, '=', pos0 + n);
	*ret_data_len = n;
	return 0;
}

static int check_length(const struct rfc4648_alphabet *a, bool pad, size_t data_len, size_t slen,
                        struct errmsg *err)
{
	/* A final group of k characters is possible only if the bits it leaves
	 * over are fewer than one character carries. */
	if ((data_len * a->bits) % 8 >= a->bits)
		return errmsg_set(err, -EINVAL, "%s: impossible length %zu (truncated text?)",
		                  a->name, data_len);
	/* With padding, the pad count must be exactly what the encoder adds. */
	if (pad && rfc4648_encoded_len(a, data_len * a->bits / 8, true) != slen)
		return errmsg_set(err, -EINVAL, "%s: wrong amount of '=' padding", a->name);
	return 0;
}

/* RFC 4648 §3.5: the bits of the last character that do not make a whole
 * byte must be zero, or two texts would decode to the same bytes. */
static int check_unused_bits(const struct rfc4648_alphabet *a, bool anycase, const char *s,
                             size_t data_len, size_t pos0, struct errmsg *err)
{
	unsigned unused = (unsigned)((data_len * a->bits) % 8);
	if (data_len == 0 || unused == 0)
		return 0;
	if ((unsigned)char_value(a, anycase, s[data_len - 1]) & ((1u << unused) - 1))
		return errmsg_set(err, -EINVAL,
		                  "%s: non-zero unused bits in the last character at position %zu",
		                  a->name, pos0 + data_len);
	return 0;
}

int rfc4648_decode(const struct rfc4648_alphabet *a, bool pad, bool anycase, const char *s,
                   size_t slen, size_t pos0, struct buf *out, struct errmsg *err)
{
	size_t data_len = slen;
	int r;
	if (pad && (r = strip_padding(a, s, slen, pos0, &data_len, err)) < 0)
		return r;
	for (size_t i = 0; i < data_len; i++)
		if (char_value(a, anycase, s[i]) < 0)
			return badchar_error(err, a->name, s[i], pos0 + i);
	if ((r = check_length(a, pad, data_len, slen, err)) < 0 ||
	    (r = check_unused_bits(a, anycase, s, data_len, pos0, err)) < 0)
		return r;
	size_t nbytes = data_len * a->bits / 8;
	if (nbytes == 0)
		return 0;
	uint8_t *p = buf_extend(out, nbytes);
	if (!p)
		return errmsg_set(err, -ENOMEM, "%s: out of memory", a->name);
	uint32_t acc = 0;
	unsigned nbits = 0;
	size_t n = 0;
	for (size_t i = 0; i < data_len; i++) {
		acc = (acc << a->bits) | (uint32_t)char_value(a, anycase, s[i]);
		nbits += a->bits;
		if (nbits >= 8) {
			nbits -= 8;
			p[n++] = (uint8_t)(acc >> nbits);
			acc &= (1u << nbits) - 1;
		}
	}
	return 0;
}
