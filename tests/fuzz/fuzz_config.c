/* Fuzz the sdnetd config file parser: any bytes parse or fail with a
 * message, never crash; what parses respects the caps and holds canonical
 * multiaddrs (parsing a printed one gives it back). */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/daemon-config.h"
#include "fuzz.h"
#include "multiaddr.h"

static void canonical(const struct strlist *l)
{
	assert(l->n <= CONFIG_LIST_MAX);
	for (size_t i = 0; i < l->n; i++) {
		struct multiaddr ma;
		assert(multiaddr_parse(l->v[i], &ma, NULL) == 0);
		char text[MULTIADDR_TEXT_MAX];
		assert(multiaddr_to_string(&ma, text, sizeof(text)) >= 0);
		assert(strcmp(text, l->v[i]) == 0);
		multiaddr_free(&ma);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct errmsg e = {{0}};
	config_init(&c);
	int r = config_parse_text(&c, "fuzz.conf", (const char *)data, size, &e);
	if (r == 0) {
		canonical(&c.listen);
		canonical(&c.bootstrap);
		assert(c.mdns_interfaces.n <= CONFIG_LIST_MAX);
	} else {
		assert(strncmp(e.text, "fuzz.conf:", 10) == 0 || r == -ENOMEM);
	}
	config_free(&c);
	return 0;
}
