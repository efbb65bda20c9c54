/* Fuzz peer ID text (pasted by users, found in multiaddrs and DNS) and
 * binary peer IDs (sent by peers): whatever is accepted prints in both text
 * forms, and each form parses back to the same ID. The first input byte
 * picks text or binary. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "peerid.h"

static void check_round_trips(const struct peerid *id)
{
	char text[PEERID_TEXT_MAX];
	struct peerid back;
	assert(peerid_to_string(id, text, sizeof(text)) > 0);
	assert(peerid_parse(text, &back, NULL) == 0 && peerid_equal(id, &back));
	assert(peerid_to_cid_string(id, text, sizeof(text)) > 0);
	assert(text[0] == 'b');
	assert(peerid_parse(text, &back, NULL) == 0 && peerid_equal(id, &back));
	const uint8_t *key;
	size_t key_len;
	int r = peerid_embedded_pubkey(id, &key, &key_len);
	assert(r == 0 || r == -ENOKEY);
	assert(r != 0 || (key_len > 0 && key >= id->bytes && key + key_len <= id->bytes + id->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct peerid id;
	if (data[0] & 1) {
		if (peerid_from_bytes(data + 1, size - 1, &id) == 0) {
			assert(id.len == size - 1);
			check_round_trips(&id);
		}
		return 0;
	}
	char *in = malloc(size);
	if (!in)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	struct errmsg err = {{0}};
	if (peerid_parse(in, &id, &err) == 0)
		check_round_trips(&id);
	else
		assert(err.text[0] != '\0');
	free(in);
	return 0;
}
