/* sdnetd's configuration: command-line options and the config file.
 *
 * One table (config_options[]) names every setting once; the command line
 * (--name VALUE) and the file (name = value) both go through config_set(),
 * so a value is checked the same way wherever it comes from. The file format
 * and the rules (command line wins; lists given on the command line replace
 * the file's) are in docs/operations.md.
 *
 * Ownership: a struct config owns all its strings; config_free() releases
 * them. Errors are -EINVAL with err naming the option or "file:line".
 *
 * (Named daemon-config.h, not config.h, because the build's generated
 * config.h with SDNETD_VERSION is included as "config.h" everywhere.) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "errmsg.h"
#include "paths.h"

enum config_key {
	CONFIG_INSTANCE,
	CONFIG_CONFIG,
	CONFIG_DATA_DIR,
	CONFIG_SOCKET,
	CONFIG_SOCKET_GROUP,
	CONFIG_LISTEN,
	CONFIG_BOOTSTRAP,
	CONFIG_NO_MDNS,
	CONFIG_MDNS_INTERFACE,
	CONFIG_PASSWORD_FILE,
	CONFIG_LOG_LEVEL,
	CONFIG_FOREGROUND,
	CONFIG_DEVICE_NAME,
	CONFIG_ENABLE_TEST_PROTOCOLS,
	/* Paired-device connections (daemon/persist/persist.h). */
	CONFIG_MAX_CONNECTIONS,
	CONFIG_MAX_CONNECTIONS_PER_IP, /* the host's inbound cap per address (net/host.h) */
	CONFIG_CONNECTION_TIMEOUT,
	CONFIG_RETRY_INTERVAL,
	CONFIG_AUTO_RECONNECT,
	CONFIG_KEEPALIVE_INTERVAL,
	CONFIG_KEY_ROTATION_INTERVAL,
	/* File transfer and Spacedrop (daemon/transfer/transfers.h). */
	CONFIG_RECEIVE_DIR,
	CONFIG_AUTO_ACCEPT,
	CONFIG_REQUEST_TIMEOUT,
	CONFIG_SPACEDROP_DISCOVERABLE, /* the device name in mDNS (node-mdns.h) */
	CONFIG_HELP,
	CONFIG_VERSION,
	CONFIG_NKEYS,
};

/* Caps on what a config can hold (a file is hand-written; these only stop
 * a runaway generator). */
#define CONFIG_LIST_MAX 64
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX ((size_t)1 << 20)
#define CONFIG_DEFAULT_LISTEN "/ip4/127.0.0.1/tcp/0"

struct config_option {
	const char *name; /* long option, and key in the file */
	enum config_key key;
	bool takes_value; /* false: a flag (in the file: a boolean value) */
	bool in_file;     /* allowed in the config file */
	bool list;        /* repeatable; values accumulate */
	const char *metavar;
	const char *help;
};
/* Ends with a row whose name is NULL. */
extern const struct config_option config_options[];
const struct config_option *config_option_find(const char *name);

struct strlist {
	char **v;
	size_t n;
};

struct config {
	char *instance;           /* NULL until set; config_instance() gives the default */
	char *config_file;        /* --config; after config_load: the file read, or NULL */
	char *data_dir;           /* NULL: derive (paths.h) */
	char *socket_path;        /* NULL: derive */
	char *socket_group;       /* also allowed on the socket (name or gid); NULL: none */
	char *password_file;      /* NULL: $CREDENTIALS_DIRECTORY/sdnetd.password or none */
	char *device_name;        /* NULL: keep the stored one */
	struct strlist listen;    /* canonical multiaddr text */
	struct strlist bootstrap; /* canonical multiaddr text, each ends in /p2p/<id> */
	struct strlist mdns_interfaces;
	bool no_mdns;
	bool foreground;
	bool enable_test_protocols; /* tests only: the echo protocol and test.* methods */
	bool help;
	bool version;
	int log_level; /* syslog priority */
	/* Paired-device connections; 0 (and auto_reconnect unset) take the
	 * persist service's defaults. Durations in milliseconds. */
	unsigned max_connections;
	unsigned max_connections_per_ip; /* 0: config_max_connections_per_ip()'s default */
	uint64_t connection_timeout_ms, retry_interval_ms, keepalive_ms, key_rotation_ms;
	bool auto_reconnect; /* meaningful when config_has(CONFIG_AUTO_RECONNECT) */
	/* File transfer: NULL receive_dir takes <data dir>/received; auto_accept
	 * is meaningful when config_has(CONFIG_AUTO_ACCEPT) (default true);
	 * request_timeout_ms 0 takes 60 s. */
	char *receive_dir;
	bool auto_accept;
	uint64_t request_timeout_ms;
	/* Advertise the device name over mDNS for Spacedrop; meaningful when
	 * config_has(CONFIG_SPACEDROP_DISCOVERABLE), else true
	 * (config_spacedrop_discoverable). */
	bool spacedrop_discoverable;
	uint32_t set; /* bit (1u << key) for every key given */
	/* Where the next value comes from, for messages: "--listen" or "f:3". */
	const char *origin;
};

void config_init(struct config *c);
void config_free(struct config *c);
bool config_has(const struct config *c, enum config_key key);
const char *config_instance(const struct config *c);

/* max-connections-per-ip: inbound connections (handshaking or open) the
 * host admits from one IP address. Its rule: never below max-connections,
 * since every paired device may sit behind one address (a NAT, or
 * loopback), so persist must be able to hold them all from there.
 *   default   max(CONFIG_PER_IP_DEFAULT, max-connections in effect), i.e.
 *             16 unless more paired devices may be connected (the
 *             persist default of 50 makes it 50)
 *   explicit  CONFIG_PER_IP_MIN..CONFIG_PER_IP_MAX, and at least
 *             max-connections, else config_load() fails naming both
 * CONFIG_PER_IP_MIN: one device's connection plus the duplicate of a
 * simultaneous dial (or its reconnection before the old one is gone). */
#define CONFIG_PER_IP_DEFAULT 16
#define CONFIG_PER_IP_MIN 2
#define CONFIG_PER_IP_MAX 1024
/* The per-IP cap in effect for c (after config_load). */
unsigned config_max_connections_per_ip(const struct config *c);
/* The cross-key rule above: 0, or -EINVAL with err naming both keys. */
int config_check_limits(const struct config *c, struct errmsg *err);

/* "500ms", "30s", "5m", "24h", "7d", or a plain number of seconds, into
 * milliseconds. -EINVAL for anything else or zero. */
int config_parse_duration(const char *v, uint64_t *ret_ms);

/* config-transfer.c: the file-transfer keys (config_set and config_merge
 * hand them over). */
bool config_transfer_key(enum config_key key);
int config_transfer_set(struct config *c, const struct config_option *o, const char *v,
                        bool from_file, struct errmsg *err);
void config_transfer_copy(struct config *dst, struct config *src, enum config_key key);
/* spacedrop-discoverable in effect: true unless set to false. */
bool config_spacedrop_discoverable(const struct config *c);

/* Check and store one value (value is ignored for flags on the command
 * line; in a file a flag's value is a boolean word). For lists, appends. */
int config_set(struct config *c, const struct config_option *opt, const char *value, bool from_file,
               struct errmsg *err);

/* Every key set in src replaces dst's value (lists are replaced whole);
 * src is left empty. */
void config_merge(struct config *dst, struct config *src);

/* Command line (getopt_long; argv[0] skipped). Relative paths are made
 * absolute against the current directory. Errors name the option. */
int config_parse_args(struct config *c, int argc, char *const *argv, struct errmsg *err);
void config_usage(FILE *f);

/* The config file format; name is used in messages ("name:line: ..."). */
int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
                      struct errmsg *err);
/* Read and parse a file (up to CONFIG_FILE_MAX bytes). */
int config_parse_file(struct config *c, const char *path, struct errmsg *err);

/* The whole thing: the command line, then the file (--config, or the
 * instance's default file if it exists), command line over file, then
 * defaults (listen). ret is initialised here; free it even on error.
 * With --help or --version only the command line is parsed. */
int config_load(struct config *ret, int argc, char *const *argv, const struct paths_env *env,
                struct errmsg *err);
