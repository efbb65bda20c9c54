/* The instance path rule (see paths.h): pure string work over a captured
 * environment, so sdnetd and the CLI agree and tests can fake any setup. */
#include "paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void paths_env_from_environ(struct paths_env *env)
{
	static char pw_home[4096];
	*env = (struct paths_env){
	        .state_directory = getenv("STATE_DIRECTORY"),
	        .runtime_directory = getenv("RUNTIME_DIRECTORY"),
	        .configuration_directory = getenv("CONFIGURATION_DIRECTORY"),
	        .credentials_directory = getenv("CREDENTIALS_DIRECTORY"),
	        .xdg_data_home = getenv("XDG_DATA_HOME"),
	        .xdg_config_home = getenv("XDG_CONFIG_HOME"),
	        .xdg_runtime_dir = getenv("XDG_RUNTIME_DIR"),
	        .home = getenv("HOME"),
	        .uid = getuid(),
	};
	if (env->home && env->home[0] == '/')
		return;
	/* A service without HOME still has a passwd entry. */
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(env->uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir) {
		snprintf(pw_home, sizeof(pw_home), "%s", res->pw_dir);
		env->home = pw_home;
	}
}

int paths_instance_check(const char *name, struct errmsg *err)
{
	size_t n = strlen(name);
	if (n == 0)
		return errmsg_set(err, -EINVAL, "instance name is empty");
	if (n > PATHS_INSTANCE_MAX)
		return errmsg_set(err, -EINVAL, "instance name is %zu bytes long; the limit is %d",
		                  n, PATHS_INSTANCE_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-')
			continue;
		return errmsg_set(
		        err, -EINVAL,
		        "instance name '%s' has a bad character at byte %zu (use letters, "
		        "digits, '_' and '-')",
		        name, i + 1);
	}
	return 0;
}

/* Usable directory from a variable: absolute and non-empty; for systemd's
 * lists the first entry. Writes it (without the rest of the list) to out. */
static bool first_dir(const char *v, char *out, size_t out_len)
{
	if (!v || v[0] != '/')
		return false;
	size_t n = strcspn(v, ":");
	if (n >= out_len)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

static int join(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int join(char **ret, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(ret, fmt, ap);
	va_end(ap);
	return n < 0 ? -ENOMEM : 0;
}

/* The user's XDG base for one kind: $var, else $HOME/<fallback>. */
static int xdg_base(const struct paths_env *env, const char *var_value, const char *var_name,
                    const char *fallback, char **ret, struct errmsg *err)
{
	char dir[4096];
	if (first_dir(var_value, dir, sizeof(dir)))
		return join(ret, "%s", dir);
	if (env->home && env->home[0] == '/')
		return join(ret, "%s/%s", strcmp(env->home, "/") == 0 ? "" : env->home, fallback);
	return errmsg_set(err, -ENOENT,
	                  "no home directory to derive %s from; set HOME or %s, or pass the path "
	                  "explicitly",
	                  fallback, var_name);
}

int paths_data_dir(const struct paths_env *env, const char *instance, char **ret,
                   struct errmsg *err)
{
	int r = paths_instance_check(instance, err);
	if (r < 0)
		return r;
	char dir[4096];
	if (first_dir(env->state_directory, dir, sizeof(dir)))
		return join(ret, "%s", dir);
	char *base;
	r = xdg_base(env, env->xdg_data_home, "XDG_DATA_HOME", ".local/share", &base, err);
	if (r < 0)
		return r;
	r = join(ret, "%s/spacedrive/%s/network", base, instance);
	free(base);
	return r;
}

int paths_socket(const struct paths_env *env, const char *instance, char **ret, struct errmsg *err)
{
	int r = paths_instance_check(instance, err);
	if (r < 0)
		return r;
	char dir[4096], *path;
	if (first_dir(env->runtime_directory, dir, sizeof(dir)))
		r = join(&path, "%s/%s", dir, PATHS_SOCKET_NAME);
	else if (first_dir(env->xdg_runtime_dir, dir, sizeof(dir)))
		r = join(&path, "%s/spacedrive/%s/%s", dir, instance, PATHS_SOCKET_NAME);
	else
		r = join(&path, "/tmp/spacedrive-%lu/%s/%s", (unsigned long)env->uid, instance,
		         PATHS_SOCKET_NAME);
	if (r < 0)
		return r;
	size_t n = strlen(path);
	if (n > PATHS_SOCKET_MAX) {
		/* Remedy before the path: a long path would push it past ERRMSG_MAX. */
		errmsg_set(
		        err, -ENAMETOOLONG,
		        "control socket path is %zu bytes, Unix sockets allow %d; pass a shorter "
		        "--socket (path: %s)",
		        n, PATHS_SOCKET_MAX, path);
		free(path);
		return -ENAMETOOLONG;
	}
	*ret = path;
	return 0;
}

int paths_config_file(const struct paths_env *env, const char *instance, char **ret,
                      struct errmsg *err)
{
	int r = paths_instance_check(instance, err);
	if (r < 0)
		return r;
	char dir[4096];
	if (first_dir(env->configuration_directory, dir, sizeof(dir)))
		return join(ret, "%s/%s", dir, PATHS_CONFIG_NAME);
	char *base;
	r = xdg_base(env, env->xdg_config_home, "XDG_CONFIG_HOME", ".config", &base, err);
	if (r < 0)
		return r;
	r = join(ret, "%s/spacedrive/%s/%s", base, instance, PATHS_CONFIG_NAME);
	free(base);
	return r;
}

int paths_credential(const struct paths_env *env, const char *name, char **ret, struct errmsg *err)
{
	char dir[4096];
	if (!first_dir(env->credentials_directory, dir, sizeof(dir)))
		return errmsg_set(err, -ENOENT, "no systemd credentials ($CREDENTIALS_DIRECTORY)");
	return join(ret, "%s/%s", dir, name);
}

char *paths_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}
