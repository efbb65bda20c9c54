/* Where an instance keeps its files: the one rule shared by sdnetd and the
 * `spacedrive` CLI (which must find the same control socket).
 *
 *   data dir  = $STATE_DIRECTORY                      (set by systemd's StateDirectory=)
 *             | $XDG_DATA_HOME/spacedrive/<instance>/network
 *             | $HOME/.local/share/spacedrive/<instance>/network
 *   socket    = $RUNTIME_DIRECTORY/sdnetd.sock        (systemd's RuntimeDirectory=)
 *             | $XDG_RUNTIME_DIR/spacedrive/<instance>/sdnetd.sock
 *             | /tmp/spacedrive-<uid>/<instance>/sdnetd.sock
 *   config    = $CONFIGURATION_DIRECTORY/sdnetd.conf  (systemd's ConfigurationDirectory=)
 *             | $XDG_CONFIG_HOME/spacedrive/<instance>/sdnetd.conf
 *             | $HOME/.config/spacedrive/<instance>/sdnetd.conf
 *
 * The systemd variables may hold several colon-separated directories; the
 * first is used. Per the XDG base directory spec, a relative or empty value
 * counts as unset. The functions here only compute paths; they never touch
 * the file system (the daemon creates directories, the CLI only reads). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "errmsg.h"

#define PATHS_DEFAULT_INSTANCE "default"
/* Instance names become path components and unit instance names. */
#define PATHS_INSTANCE_MAX 64
/* sizeof(sockaddr_un.sun_path) minus the terminating NUL. */
#define PATHS_SOCKET_MAX 107
#define PATHS_SOCKET_NAME "sdnetd.sock"
#define PATHS_CONFIG_NAME "sdnetd.conf"

/* The environment the rule reads, captured once so tests can fake it. NULL
 * fields are unset. Strings are borrowed. */
struct paths_env {
	const char *state_directory;
	const char *runtime_directory;
	const char *configuration_directory;
	const char *credentials_directory;
	const char *xdg_data_home;
	const char *xdg_config_home;
	const char *xdg_runtime_dir;
	const char *home; /* $HOME, else the passwd entry's home */
	uid_t uid;
};

/* Fill from getenv() and getuid(); strings point into the environment (or a
 * static copy of the passwd home), valid until the environment changes. */
void paths_env_from_environ(struct paths_env *env);

/* 1 to PATHS_INSTANCE_MAX bytes of [A-Za-z0-9_-]; -EINVAL naming the bad
 * character otherwise. */
int paths_instance_check(const char *name, struct errmsg *err);

/* Each returns 0 and a malloc'd path in *ret, or a negative errno with err
 * saying what is missing and what to pass instead:
 *   -EINVAL bad instance name, -ENOENT no home directory to derive from,
 *   -ENAMETOOLONG socket path over PATHS_SOCKET_MAX, -ENOMEM. */
int paths_data_dir(const struct paths_env *env, const char *instance, char **ret,
                   struct errmsg *err);
int paths_socket(const struct paths_env *env, const char *instance, char **ret, struct errmsg *err);
int paths_config_file(const struct paths_env *env, const char *instance, char **ret,
                      struct errmsg *err);
/* A systemd credential: $CREDENTIALS_DIRECTORY/<name>, or -ENOENT when the
 * variable is unset (whether the file exists is not checked). */
int paths_credential(const struct paths_env *env, const char *name, char **ret, struct errmsg *err);

/* Directory part of a path (malloc'd), "." when there is none. */
char *paths_dirname(const char *path);
