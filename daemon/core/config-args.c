/* The command line: getopt_long over the settings table, with our own
 * messages (getopt's are turned off) so every error names the option. */
#include "daemon-config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOPTS 32

static void build_options(struct option *opts)
{
	size_t i = 0;
	for (const struct config_option *o = config_options; o->name; o++, i++)
		opts[i] = (struct option){o->name, o->takes_value ? required_argument : no_argument,
		                          NULL, 256 + (int)(o - config_options)};
	opts[i] = (struct option){0};
}

static bool is_path(enum config_key key)
{
	return key == CONFIG_CONFIG || key == CONFIG_DATA_DIR || key == CONFIG_SOCKET ||
	       key == CONFIG_PASSWORD_FILE;
}

/* A relative path given on the command line means "from here". */
static int absolute(const char *v, char **ret)
{
	char cwd[PATH_MAX];
	if (v[0] == '/' || v[0] == '\0' || !getcwd(cwd, sizeof(cwd)))
		return (*ret = strdup(v)) ? 0 : -ENOMEM;
	return asprintf(ret, "%s/%s", cwd, v) < 0 ? -ENOMEM : 0;
}

static int set_arg(struct config *c, const struct config_option *o, const char *arg,
                   struct errmsg *err)
{
	char origin[64];
	snprintf(origin, sizeof(origin), "--%s", o->name);
	c->origin = origin;
	char *v = NULL;
	int r = 0;
	if (arg && is_path(o->key))
		r = absolute(arg, &v);
	if (r == 0)
		r = config_set(c, o, v ? v : arg, false, err);
	free(v);
	c->origin = NULL;
	return r;
}

static int unknown(int argc, char *const *argv, int c, struct errmsg *err)
{
	const char *arg = optind - 1 < argc ? argv[optind - 1] : "?";
	if (c == ':')
		return errmsg_set(err, -EINVAL, "option '%s' needs a value", arg);
	if (optopt && optopt < 256)
		return errmsg_set(err, -EINVAL, "unknown option '-%c'", optopt);
	return errmsg_set(err, -EINVAL, "unknown option '%s' (see --help)", arg);
}

/* getopt_long takes unique prefixes ("--fore"); we do not, so adding an
 * option later never changes what an old command line means. The element
 * that named the option is before its value when the value was separate. */
static int exact_name(int argc, char *const *argv, const struct config_option *o,
                      struct errmsg *err)
{
	int i = optind - 1;
	if (optarg && i >= 1 && argv[i] == optarg)
		i--;
	const char *e = i >= 0 && i < argc ? argv[i] : "";
	if (strncmp(e, "--", 2) != 0)
		return 0; /* -h, -V */
	size_t n = strcspn(e + 2, "=");
	if (n == strlen(o->name) && strncmp(e + 2, o->name, n) == 0)
		return 0;
	return errmsg_set(err, -EINVAL, "unknown option '%.*s' (did you mean '--%s'?)",
	                  (int)(n + 2), e, o->name);
}

int config_parse_args(struct config *c, int argc, char *const *argv, struct errmsg *err)
{
	struct option opts[NOPTS];
	build_options(opts);
	opterr = 0;
	optind = 0; /* glibc: full re-initialisation, so a reload can parse again */
	int ch;
	while ((ch = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		const struct config_option *o = NULL;
		if (ch >= 256)
			o = &config_options[ch - 256];
		else if (ch == 'h')
			o = config_option_find("help");
		else if (ch == 'V')
			o = config_option_find("version");
		if (!o)
			return unknown(argc, argv, ch, err);
		int r = exact_name(argc, argv, o, err);
		if (r == 0)
			r = set_arg(c, o, optarg, err);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return errmsg_set(err, -EINVAL,
		                  "unexpected argument '%s' (sdnetd takes only options)",
		                  argv[optind]);
	return 0;
}

void config_usage(FILE *f)
{
	fprintf(f, "Usage: sdnetd [OPTIONS]\n\n"
	           "The Spacedrive device-to-device networking daemon.\n\nOptions:\n");
	for (const struct config_option *o = config_options; o->name; o++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
		         o->metavar ? o->metavar : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
	fprintf(f,
	        "\nEvery option but --instance, --config, --foreground, --enable-test-protocols,\n"
	        "--help and --version can also be set in the config file as 'name = value';\n"
	        "see docs/operations.md.\n");
}
