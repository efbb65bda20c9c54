/* base58btc: the radix engine in basex.c with Bitcoin's alphabet (no 0, O,
 * I or l, so hand-copied IDs are hard to misread). */
#include "base58.h"

const struct basex_alphabet base58btc_alphabet = {
        .name = "base58btc",
        .digits = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
        .radix = 58,
        .chars_per_byte_x100 = 137,
        .anycase = false,
};

size_t base58_encoded_max(size_t len)
{
	return basex_encoded_max(&base58btc_alphabet, len);
}

int base58_encode(const uint8_t *data, size_t len, char *out, size_t out_len)
{
	return basex_encode(&base58btc_alphabet, data, len, out, out_len);
}

int base58_decode(const char *s, size_t slen, struct buf *out, struct errmsg *err)
{
	return basex_decode(&base58btc_alphabet, s, slen, 0, out, err);
}
