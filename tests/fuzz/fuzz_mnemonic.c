/* Fuzz the BIP39 mnemonic parser: any text parses or fails with one of the
 * documented errors and a message; whatever parses re-encodes to its
 * canonical form, which parses back to the same entropy. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bip39.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	uint8_t ent[BIP39_ENTROPY_MAX];
	size_t len = 0;
	struct errmsg err = {{0}};
	int r = bip39_to_entropy(s, ent, &len, &err);
	if (r < 0) {
		assert(r == -ENOENT || r == -EINVAL || r == -EBADMSG);
		assert(err.text[0] != '\0');
	} else {
		char canon[BIP39_MNEMONIC_MAX];
		assert(bip39_from_entropy(ent, len, canon) == 0);
		char again[BIP39_MNEMONIC_MAX];
		assert(bip39_normalize(s, again, NULL) == 0);
		assert(strcmp(canon, again) == 0);
		uint8_t back[BIP39_ENTROPY_MAX];
		size_t back_len = 0;
		assert(bip39_to_entropy(canon, back, &back_len, NULL) == 0);
		assert(back_len == len && memcmp(back, ent, len) == 0);
	}
	/* The suggester takes any bytes, including NULs and overlong words
	 * (short inputs only: it scans the whole list, and the parser already
	 * calls it for the first unknown word). */
	if (size <= 40) {
		int sug = bip39_suggest((const char *)data, size);
		assert(sug == -ENOENT || (sug >= 0 && sug < BIP39_WORDS));
	}
	free(s);
	return 0;
}
