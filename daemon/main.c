/* sdnetd entry point: configuration, logging, then the node (daemon/core/
 * node.h) until it is asked to stop. Exit status: 0 after a requested stop
 * (SIGTERM, SIGINT, node.shutdown), 1 when start-up fails, 2 for a bad
 * command line or config file.
 *
 * sdnetd never forks itself: systemd and `spacedrive start` (setsid) run it
 * as it is. --foreground only means a person is watching: print a banner
 * on stdout and log to stderr even under journald. */
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/daemon-config.h"
#include "core/node.h"
#include "log.h"

/* JSON the daemon frees may have held secrets (the identity record):
 * clear it before the allocator reuses it. */
static void json_wipe_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static int usage_error(struct config *cfg, const char *text)
{
	fprintf(stderr, "sdnetd: %s\nTry 'sdnetd --help'.\n", text);
	config_free(cfg);
	return 2;
}

int main(int argc, char **argv)
{
	json_set_alloc_funcs(malloc, json_wipe_free);
	struct paths_env env;
	paths_env_from_environ(&env);
	struct config cfg;
	struct errmsg err = {{0}};
	if (config_load(&cfg, argc, argv, &env, &err) < 0)
		return usage_error(&cfg, err.text);
	if (cfg.help || cfg.version) {
		if (cfg.help)
			config_usage(stdout);
		else
			printf("sdnetd %s\n", SDNETD_VERSION);
		config_free(&cfg);
		return 0;
	}
	log_open("sdnetd", config_instance(&cfg), cfg.foreground);
	log_set_level(cfg.log_level);
	bool foreground = cfg.foreground;
	struct node node;
	int r = node_start(&node, &cfg, argc, argv, &env, &err);
	if (r < 0) {
		log_fatal("%s", err.text[0] ? err.text : strerror(-r));
		node_free(&node);
		return 1;
	}
	if (foreground)
		node_print_banner(&node, stdout);
	r = node_run(&node);
	node_free(&node);
	return r < 0 ? 1 : 0;
}
