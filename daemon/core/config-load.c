/* Putting the configuration together: the command line decides the
 * instance and the file, the file fills in, the command line wins, then
 * the defaults. Also used again on SIGHUP with the original argv. */
#include "daemon-config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file to read: --config (must exist), else the instance's default
 * file if there is one. *ret NULL: no file. */
static int config_path(const struct config *cli, const struct paths_env *env, char **ret,
                       struct errmsg *err)
{
	*ret = NULL;
	if (cli->config_file)
		return (*ret = strdup(cli->config_file)) ? 0 : -ENOMEM;
	char *path;
	int r = paths_config_file(env, config_instance(cli), &path, err);
	if (r == -ENOENT)
		return 0; /* no home: no default file either */
	if (r < 0)
		return r;
	if (access(path, F_OK) == 0)
		*ret = path;
	else
		free(path);
	return 0;
}

static int add_defaults(struct config *c)
{
	if (c->listen.n > 0)
		return 0;
	const struct config_option *o = config_option_find("listen");
	uint32_t set = c->set;
	int r = config_set(c, o, CONFIG_DEFAULT_LISTEN, false, NULL);
	c->set = set; /* a default is not "given" */
	return r;
}

int config_load(struct config *ret, int argc, char *const *argv, const struct paths_env *env,
                struct errmsg *err)
{
	struct config cli, file;
	config_init(ret);
	config_init(&cli);
	config_init(&file);
	int r = config_parse_args(&cli, argc, argv, err);
	if (r < 0 || cli.help || cli.version) {
		config_merge(ret, &cli);
		return r;
	}
	char *path = NULL;
	r = config_path(&cli, env, &path, err);
	if (r == 0 && path)
		r = config_parse_file(&file, path, err);
	if (r == 0) {
		config_merge(ret, &file);
		config_merge(ret, &cli);
		free(ret->config_file);
		ret->config_file = path;
		path = NULL;
		r = add_defaults(ret);
	}
	if (r == 0)
		r = config_check_limits(ret, err);
	free(path);
	config_free(&cli);
	config_free(&file);
	return r;
}
