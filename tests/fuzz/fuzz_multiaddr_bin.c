/* Fuzz binary multiaddrs (what peers send in identify, kad, relay): any
 * accepted bytes print to text that fits MULTIADDR_TEXT_MAX and parses back
 * to the same bytes, and the iterators and /p2p helpers agree with them. */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct multiaddr ma;
	struct errmsg err = {{0}};
	if (multiaddr_from_bytes(data, size, &ma, &err) < 0) {
		assert(err.text[0] != '\0');
		return 0;
	}
	assert(ma.len == size && memcmp(ma.bytes, data, size) == 0);
	char text[MULTIADDR_TEXT_MAX];
	int n = multiaddr_to_string(&ma, text, sizeof(text));
	assert(n > 0 && (size_t)n == strlen(text));
	struct multiaddr again;
	assert(multiaddr_parse(text, &again, NULL) == 0);
	assert(multiaddr_equal(&ma, &again));
	multiaddr_free(&again);

	int count = multiaddr_count(&ma);
	assert(count > 0);
	struct peerid id;
	int has_p2p = multiaddr_get_p2p(&ma, &id);
	assert(has_p2p == 0 || has_p2p == 1);
	multiaddr_strip_p2p(&ma);
	assert(multiaddr_count(&ma) == count - has_p2p);
	if (has_p2p)
		assert(multiaddr_append_p2p(&ma, &id) == 0 && ma.len == size &&
		       memcmp(ma.bytes, data, size) == 0);
	multiaddr_free(&ma);
	return 0;
}
