/* SIGHUP: read the config file again (with the same command line, which
 * still wins) and apply what can change while running: the log level, the
 * device name and the file-transfer settings (receive-dir, auto-accept,
 * request-timeout, for what comes next: node-transfers.c) and
 * spacedrop-discoverable (node-mdns.c). Anything else
 * that changed is logged as needing a restart, on every reload until it
 * happens. A file that no longer parses changes nothing. The device name is
 * applied only when the configured value changed, so a reload never undoes
 * a rename made over RPC. */
#include "node.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node-mdns.h"
#include "node-transfers.h"
#include "notify.h"

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool list_differs(const struct strlist *a, const struct strlist *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return true;
	return false;
}

/* Settings read only at start. */
static int report_restart_needed(const struct config *cur, const struct config *next)
{
	const struct {
		const char *name;
		bool changed;
	} keys[] = {
	        {"data-dir", str_differs(cur->data_dir, next->data_dir)},
	        {"socket", str_differs(cur->socket_path, next->socket_path)},
	        {"socket-group", str_differs(cur->socket_group, next->socket_group)},
	        {"password-file", str_differs(cur->password_file, next->password_file)},
	        {"listen", list_differs(&cur->listen, &next->listen)},
	        {"bootstrap", list_differs(&cur->bootstrap, &next->bootstrap)},
	        {"mdns-interface", list_differs(&cur->mdns_interfaces, &next->mdns_interfaces)},
	        {"no-mdns", cur->no_mdns != next->no_mdns},
	        {"max-connections", cur->max_connections != next->max_connections},
	        {"max-connections-per-ip",
	         config_max_connections_per_ip(cur) != config_max_connections_per_ip(next)},
	        {"connection-timeout", cur->connection_timeout_ms != next->connection_timeout_ms},
	        {"retry-interval", cur->retry_interval_ms != next->retry_interval_ms},
	        {"keepalive-interval", cur->keepalive_ms != next->keepalive_ms},
	        {"key-rotation-interval", cur->key_rotation_ms != next->key_rotation_ms},
	        {"auto-reconnect", config_has(cur, CONFIG_AUTO_RECONNECT) !=
	                                           config_has(next, CONFIG_AUTO_RECONNECT) ||
	                                   cur->auto_reconnect != next->auto_reconnect},
	};
	int changed = 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].changed)
			continue;
		log_warning("reload: '%s' changed; it takes effect after a restart", keys[i].name);
		changed++;
	}
	return changed;
}

static int apply_log_level(struct config *cur, const struct config *next)
{
	if (cur->log_level == next->log_level)
		return 0;
	log_info("reload: log level %s -> %s", log_level_name(cur->log_level),
	         log_level_name(next->log_level));
	cur->log_level = next->log_level;
	log_set_level(next->log_level);
	return 1;
}

static int apply_device_name(struct node *n, struct config *next)
{
	if (!str_differs(n->cfg.device_name, next->device_name) || !next->device_name)
		return 0;
	struct errmsg e = {{0}};
	if (node_set_device_name(n, next->device_name, &e) < 0) {
		log_error("reload: cannot rename the device: %s", e.text);
		return 0;
	}
	free(n->cfg.device_name);
	n->cfg.device_name = next->device_name;
	next->device_name = NULL;
	return 1;
}

void node_reload(struct node *n)
{
	notify_reloading();
	struct config next;
	struct errmsg e = {{0}};
	int r = config_load(&next, n->argc, n->argv, &n->env, &e);
	if (r < 0) {
		log_error("reload: %s; keeping the running configuration", e.text);
	} else {
		int changed = apply_log_level(&n->cfg, &next);
		changed += apply_device_name(n, &next);
		changed += node_transfers_reload(n, &next);
		changed += node_mdns_reload(n, &next);
		changed += report_restart_needed(&n->cfg, &next);
		if (!changed)
			log_info("reload: %s: nothing changed",
			         next.config_file ? next.config_file : "no config file");
	}
	config_free(&next);
	notify_ready("Running (configuration reloaded)");
}
