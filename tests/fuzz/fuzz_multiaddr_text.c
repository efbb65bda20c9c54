/* Fuzz text multiaddrs (config, CLI, dnsaddr TXT records): parsing never
 * crashes, fails with a message, and whatever it accepts prints to a
 * canonical text that parses to the same bytes and prints identically. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	struct multiaddr ma;
	struct errmsg err = {{0}};
	if (multiaddr_parse(in, &ma, &err) < 0) {
		assert(err.text[0] != '\0');
		free(in);
		return 0;
	}
	assert(ma.len > 0 && ma.len <= MULTIADDR_MAX_LEN);
	char text[MULTIADDR_TEXT_MAX], text2[MULTIADDR_TEXT_MAX];
	int n = multiaddr_to_string(&ma, text, sizeof(text));
	assert(n > 0);
	struct multiaddr again;
	assert(multiaddr_parse(text, &again, NULL) == 0);
	assert(multiaddr_equal(&ma, &again));
	assert(multiaddr_to_string(&again, text2, sizeof(text2)) == n);
	assert(strcmp(text, text2) == 0);
	struct multiaddr from_bin;
	assert(multiaddr_from_bytes(ma.bytes, ma.len, &from_bin, NULL) == 0);
	multiaddr_free(&from_bin);
	multiaddr_free(&again);
	multiaddr_free(&ma);
	free(in);
	return 0;
}
