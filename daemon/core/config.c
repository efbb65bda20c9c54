/* The settings table and the per-value checks shared by the command line
 * and the config file (see config.h). */
#include "daemon-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devname.h"
#include "log.h"
#include "multiaddr.h"
#include "net/host.h"
#include "persist/persist.h"

_Static_assert(CONFIG_PER_IP_DEFAULT == HOST_DEFAULT_MAX_CONNS_PER_IP,
               "max-connections-per-ip's floor is the host's default");
_Static_assert(CONFIG_NKEYS <= 32, "struct config's set is a 32-bit mask of keys");

const struct config_option config_options[] = {
        {"instance", CONFIG_INSTANCE, true, false, false, "NAME",
         "instance name: its own data, socket and config (default: default)"},
        {"config", CONFIG_CONFIG, true, false, false, "FILE",
         "config file (default: the instance's sdnetd.conf, if it exists)"},
        {"data-dir", CONFIG_DATA_DIR, true, true, false, "DIR", "where identity and state live"},
        {"socket", CONFIG_SOCKET, true, true, false, "PATH", "the control socket"},
        {"socket-group", CONFIG_SOCKET_GROUP, true, true, false, "GROUP",
         "also let this group use the socket (mode 0660)"},
        {"listen", CONFIG_LISTEN, true, true, true, "MULTIADDR",
         "listen address (repeatable; default " CONFIG_DEFAULT_LISTEN ")"},
        {"bootstrap", CONFIG_BOOTSTRAP, true, true, true, "MULTIADDR",
         "bootstrap peer, ending in /p2p/<peer id> (repeatable)"},
        {"no-mdns", CONFIG_NO_MDNS, false, true, false, NULL, "do not use mDNS discovery"},
        {"mdns-interface", CONFIG_MDNS_INTERFACE, true, true, true, "IFNAME",
         "use mDNS only on this interface (repeatable)"},
        {"password-file", CONFIG_PASSWORD_FILE, true, true, false, "FILE",
         "storage password (first line); default: the systemd credential sdnetd.password"},
        {"log-level", CONFIG_LOG_LEVEL, true, true, false, "LEVEL",
         "error, warning, info (default) or debug"},
        {"foreground", CONFIG_FOREGROUND, false, false, false, NULL,
         "print a banner on stdout and log to stderr"},
        {"device-name", CONFIG_DEVICE_NAME, true, true, false, "NAME",
         "rename this device (kept across restarts)"},
        {"enable-test-protocols", CONFIG_ENABLE_TEST_PROTOCOLS, false, false, false, NULL,
         "for tests only: serve the echo test protocol and the test.* RPC methods"},
        {"max-connections", CONFIG_MAX_CONNECTIONS, true, true, false, "N",
         "paired devices kept connected at once (default 50)"},
        {"max-connections-per-ip", CONFIG_MAX_CONNECTIONS_PER_IP, true, true, false, "N",
         "inbound connections from one IP address (default 16, or max-connections if "
         "higher; never below it)"},
        {"connection-timeout", CONFIG_CONNECTION_TIMEOUT, true, true, false, "DURATION",
         "one connection attempt to a paired device, e.g. 10s (default)"},
        {"retry-interval", CONFIG_RETRY_INTERVAL, true, true, false, "DURATION",
         "first reconnection backoff, doubled per failure up to 5m (default 1s)"},
        {"auto-reconnect", CONFIG_AUTO_RECONNECT, true, true, false, "BOOL",
         "keep paired devices connected: true (default) or false"},
        {"keepalive-interval", CONFIG_KEEPALIVE_INTERVAL, true, true, false, "DURATION",
         "keepalive on paired-device connections (default 30s)"},
        {"key-rotation-interval", CONFIG_KEY_ROTATION_INTERVAL, true, true, false, "DURATION",
         "rotate paired-device session keys this often (default 24h)"},
        {"receive-dir", CONFIG_RECEIVE_DIR, true, true, false, "DIR",
         "where received files land (default: <data dir>/received)"},
        {"auto-accept", CONFIG_AUTO_ACCEPT, true, true, false, "BOOL",
         "accept sends from Trusted devices without asking: true (default) or false"},
        {"request-timeout", CONFIG_REQUEST_TIMEOUT, true, true, false, "DURATION",
         "unanswered Spacedrop and transfer requests expire after this (default 60s)"},
        {"spacedrop-discoverable", CONFIG_SPACEDROP_DISCOVERABLE, true, true, false, "BOOL",
         "show the device name to nearby devices over mDNS for Spacedrop: true (default) or "
         "false"},
        {"help", CONFIG_HELP, false, false, false, NULL, "show this help and exit"},
        {"version", CONFIG_VERSION, false, false, false, NULL, "print the version and exit"},
        {0},
};

const struct config_option *config_option_find(const char *name)
{
	for (const struct config_option *o = config_options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

void config_init(struct config *c)
{
	*c = (struct config){.log_level = LOG_INFO};
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct strlist){0};
}

void config_free(struct config *c)
{
	free(c->instance);
	free(c->config_file);
	free(c->data_dir);
	free(c->socket_path);
	free(c->socket_group);
	free(c->password_file);
	free(c->device_name);
	free(c->receive_dir);
	strlist_free(&c->listen);
	strlist_free(&c->bootstrap);
	strlist_free(&c->mdns_interfaces);
	config_init(c);
}

bool config_has(const struct config *c, enum config_key key)
{
	return c->set & (1u << key);
}

const char *config_instance(const struct config *c)
{
	return c->instance ? c->instance : PATHS_DEFAULT_INSTANCE;
}

static int bad(struct errmsg *err, const struct config *c, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int bad(struct errmsg *err, const struct config *c, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
		errmsg_prefix(err, c->origin ? c->origin : "config");
	}
	return -EINVAL;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *ret = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *ret = false, 0;
	}
	return -EINVAL;
}

static int check_multiaddr(struct config *c, enum config_key key, const char *v, char **ret,
                           struct errmsg *err)
{
	struct multiaddr ma = {0};
	struct errmsg me = {{0}};
	int r = multiaddr_parse(v, &ma, &me);
	if (r < 0)
		return bad(err, c, "%s", me.text[0] ? me.text : "not a multiaddr");
	struct peerid id;
	if (key == CONFIG_BOOTSTRAP && multiaddr_get_p2p(&ma, &id) != 1) {
		multiaddr_free(&ma);
		return bad(err, c, "bootstrap address '%s' must end with /p2p/<peer id>", v);
	}
	char text[MULTIADDR_TEXT_MAX];
	r = multiaddr_to_string(&ma, text, sizeof(text));
	multiaddr_free(&ma);
	if (r < 0)
		return bad(err, c, "cannot print multiaddr '%s'", v);
	*ret = strdup(text);
	return *ret ? 0 : -ENOMEM;
}

static int check_ifname(struct config *c, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= IF_NAMESIZE || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '/' || v[i] == ':' || (unsigned char)v[i] <= ' ' || v[i] == 0x7f)
			return -EINVAL;
	return 0;
}

/* Syntax only; whether the group exists is checked when the socket is
 * made (groups can appear between start-ups). */
static int check_group(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 32 || v[0] == '-')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-' || v[i] == '.'))
			return -EINVAL;
	return 0;
}

int config_parse_duration(const char *v, uint64_t *ret_ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
	             {"h", 3600000}, {"d", 86400000}, {"", 1000}};
	char *end = NULL;
	if (!v || *v < '0' || *v > '9')
		return -EINVAL;
	unsigned long long n = strtoull(v, &end, 10);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (n == 0 || n > UINT64_MAX / units[i].ms / 1000)
			return -EINVAL;
		*ret_ms = n * units[i].ms;
		return 0;
	}
	return -EINVAL;
}

/* The numeric settings, with their bounds (durations in ms). */
static int set_number(struct config *c, const struct config_option *o, const char *v,
                      struct errmsg *err)
{
	uint64_t ms = 0;
	if (o->key == CONFIG_AUTO_RECONNECT) {
		if (parse_bool(v, &c->auto_reconnect) < 0)
			return bad(err, c, "'%s' is not a boolean (use true or false)", v);
		return 0;
	}
	if (o->key == CONFIG_MAX_CONNECTIONS) {
		char *end = NULL;
		unsigned long n = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || n < 1 || n > 1024)
			return bad(err, c, "'%s' is not a number of connections from 1 to 1024", v);
		c->max_connections = (unsigned)n;
		return 0;
	}
	if (o->key == CONFIG_MAX_CONNECTIONS_PER_IP) {
		char *end = NULL;
		errno = 0;
		unsigned long n = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno || n < CONFIG_PER_IP_MIN ||
		    n > CONFIG_PER_IP_MAX)
			return bad(err, c,
			           "'%s' is not a number of connections from %d to %d (one paired "
			           "device needs %d from its address)",
			           v, CONFIG_PER_IP_MIN, CONFIG_PER_IP_MAX, CONFIG_PER_IP_MIN);
		c->max_connections_per_ip = (unsigned)n;
		return 0;
	}
	uint64_t lo = 100, hi = 3600000;
	uint64_t *field = o->key == CONFIG_CONNECTION_TIMEOUT   ? &c->connection_timeout_ms
	                  : o->key == CONFIG_RETRY_INTERVAL     ? &c->retry_interval_ms
	                  : o->key == CONFIG_KEEPALIVE_INTERVAL ? &c->keepalive_ms
	                                                        : &c->key_rotation_ms;
	if (o->key == CONFIG_KEY_ROTATION_INTERVAL) {
		lo = 1000;
		hi = 365ull * 86400000;
	}
	if (config_parse_duration(v, &ms) < 0 || ms < lo || ms > hi)
		return bad(err, c,
		           "'%s' is not a duration from %llums to %llus (e.g. 500ms, 30s, 5m, 24h)",
		           v, (unsigned long long)lo, (unsigned long long)(hi / 1000));
	*field = ms;
	return 0;
}

static bool is_number(enum config_key key)
{
	return key >= CONFIG_MAX_CONNECTIONS && key <= CONFIG_KEY_ROTATION_INTERVAL;
}

/* A checked, owned copy of the value for key, or a negative errno. */
static int check_value(struct config *c, const struct config_option *o, const char *v,
                       bool from_file, char **ret, struct errmsg *err)
{
	struct errmsg e = {{0}};
	switch (o->key) {
	case CONFIG_INSTANCE:
		if (paths_instance_check(v, &e) < 0)
			return bad(err, c, "%s", e.text);
		break;
	case CONFIG_LISTEN:
	case CONFIG_BOOTSTRAP:
		return check_multiaddr(c, o->key, v, ret, err);
	case CONFIG_MDNS_INTERFACE:
		if (check_ifname(c, v) < 0)
			return bad(err, c, "'%s' is not an interface name", v);
		break;
	case CONFIG_SOCKET_GROUP:
		if (check_group(v) < 0)
			return bad(err, c, "'%s' is not a group name or number", v);
		break;
	case CONFIG_DEVICE_NAME:
		if (devname_check(v, &e) < 0)
			return bad(err, c, "%s", e.text);
		break;
	case CONFIG_LOG_LEVEL: {
		int level;
		if (log_level_parse(v, &level, &e) < 0)
			return bad(err, c, "%s", e.text);
		break;
	}
	default: /* paths */
		if (from_file && v[0] != '/')
			return bad(err, c, "'%s' is a relative path; use an absolute one", v);
		if (o->key == CONFIG_SOCKET && strlen(v) > PATHS_SOCKET_MAX)
			return bad(err, c, "socket path is too long for a Unix socket (%s)", v);
		break;
	}
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int list_add(struct config *c, struct strlist *l, char *v, struct errmsg *err)
{
	if (l->n >= CONFIG_LIST_MAX) {
		free(v);
		return bad(err, c, "more than %d values", CONFIG_LIST_MAX);
	}
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(v);
		return -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = v;
	return 0;
}

static bool *flag_field(struct config *c, enum config_key key)
{
	switch (key) {
	case CONFIG_NO_MDNS:
		return &c->no_mdns;
	case CONFIG_FOREGROUND:
		return &c->foreground;
	case CONFIG_ENABLE_TEST_PROTOCOLS:
		return &c->enable_test_protocols;
	case CONFIG_HELP:
		return &c->help;
	default:
		return &c->version;
	}
}

static char **string_field(struct config *c, enum config_key key)
{
	switch (key) {
	case CONFIG_INSTANCE:
		return &c->instance;
	case CONFIG_CONFIG:
		return &c->config_file;
	case CONFIG_DATA_DIR:
		return &c->data_dir;
	case CONFIG_SOCKET:
		return &c->socket_path;
	case CONFIG_SOCKET_GROUP:
		return &c->socket_group;
	case CONFIG_PASSWORD_FILE:
		return &c->password_file;
	default:
		return &c->device_name;
	}
}

static struct strlist *list_field(struct config *c, enum config_key key)
{
	return key == CONFIG_LISTEN      ? &c->listen
	       : key == CONFIG_BOOTSTRAP ? &c->bootstrap
	                                 : &c->mdns_interfaces;
}

int config_set(struct config *c, const struct config_option *o, const char *value, bool from_file,
               struct errmsg *err)
{
	if (!o->takes_value) {
		bool v = true;
		if (from_file && parse_bool(value, &v) < 0)
			return bad(err, c, "'%s' is not a boolean (use true or false)", value);
		*flag_field(c, o->key) = v;
		c->set |= 1u << o->key;
		return 0;
	}
	if (!value || !value[0])
		return bad(err, c, "needs a value (%s)", o->metavar);
	if (config_transfer_key(o->key)) {
		int rt = config_transfer_set(c, o, value, from_file, err);
		if (rt == 0)
			c->set |= 1u << o->key;
		return rt;
	}
	if (is_number(o->key)) {
		int rn = set_number(c, o, value, err);
		if (rn == 0)
			c->set |= 1u << o->key;
		return rn;
	}
	char *v = NULL;
	int r = check_value(c, o, value, from_file, &v, err);
	if (r < 0)
		return r;
	if (o->key == CONFIG_LOG_LEVEL) {
		log_level_parse(v, &c->log_level, NULL);
		free(v);
	} else if (o->list) {
		r = list_add(c, list_field(c, o->key), v, err);
		if (r < 0)
			return r;
	} else {
		char **f = string_field(c, o->key);
		free(*f);
		*f = v;
	}
	c->set |= 1u << o->key;
	return 0;
}

static void move_str(char **dst, char **src)
{
	free(*dst);
	*dst = *src;
	*src = NULL;
}

static void move_list(struct strlist *dst, struct strlist *src)
{
	strlist_free(dst);
	*dst = *src;
	*src = (struct strlist){0};
}

static void copy_number(struct config *dst, const struct config *src, enum config_key key)
{
	switch (key) {
	case CONFIG_MAX_CONNECTIONS:
		dst->max_connections = src->max_connections;
		break;
	case CONFIG_MAX_CONNECTIONS_PER_IP:
		dst->max_connections_per_ip = src->max_connections_per_ip;
		break;
	case CONFIG_CONNECTION_TIMEOUT:
		dst->connection_timeout_ms = src->connection_timeout_ms;
		break;
	case CONFIG_RETRY_INTERVAL:
		dst->retry_interval_ms = src->retry_interval_ms;
		break;
	case CONFIG_AUTO_RECONNECT:
		dst->auto_reconnect = src->auto_reconnect;
		break;
	case CONFIG_KEEPALIVE_INTERVAL:
		dst->keepalive_ms = src->keepalive_ms;
		break;
	default:
		dst->key_rotation_ms = src->key_rotation_ms;
		break;
	}
}

void config_merge(struct config *dst, struct config *src)
{
	for (const struct config_option *o = config_options; o->name; o++) {
		if (!config_has(src, o->key))
			continue;
		if (o->key == CONFIG_LOG_LEVEL)
			dst->log_level = src->log_level;
		else if (is_number(o->key))
			copy_number(dst, src, o->key);
		else if (config_transfer_key(o->key))
			config_transfer_copy(dst, src, o->key);
		else if (!o->takes_value)
			*flag_field(dst, o->key) = *flag_field(src, o->key);
		else if (o->list)
			move_list(list_field(dst, o->key), list_field(src, o->key));
		else
			move_str(string_field(dst, o->key), string_field(src, o->key));
		dst->set |= 1u << o->key;
	}
	config_free(src);
}

unsigned config_max_connections_per_ip(const struct config *c)
{
	if (c->max_connections_per_ip)
		return c->max_connections_per_ip;
	unsigned m = c->max_connections ? c->max_connections : PERSIST_DEFAULT_MAX_CONNECTIONS;
	return m > CONFIG_PER_IP_DEFAULT ? m : CONFIG_PER_IP_DEFAULT;
}

int config_check_limits(const struct config *c, struct errmsg *err)
{
	unsigned m = c->max_connections ? c->max_connections : PERSIST_DEFAULT_MAX_CONNECTIONS;
	if (!c->max_connections_per_ip || c->max_connections_per_ip >= m)
		return 0;
	return errmsg_set(err, -EINVAL,
	                  "max-connections-per-ip (%u) is below max-connections (%u%s): paired "
	                  "devices behind one address (a NAT) could not all connect; raise "
	                  "max-connections-per-ip or lower max-connections",
	                  c->max_connections_per_ip, m, c->max_connections ? "" : ", the default");
}
