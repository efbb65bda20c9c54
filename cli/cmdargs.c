/* Options and operands of one command; see cmdargs.h. Hand-written rather
 * than getopt, whose global state main.c has already used, and so the
 * errors say which command they belong to. */
#include "cmdargs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static const struct cmdargs_opt *find_long(const struct cmdargs_opt *opts, const char *name,
                                           size_t len)
{
	for (const struct cmdargs_opt *o = opts; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct cmdargs_opt *find_short(const struct cmdargs_opt *opts, char c)
{
	for (const struct cmdargs_opt *o = opts; o->name; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

static int set_value(struct cli *cli, const char *words, const struct cmdargs_opt *o,
                     const char *text)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < o->min || v > o->max)
		return out_usage(cli, "%s: --%s wants a whole number from %ld to %ld, got '%s'",
		                 words, o->name, o->min, o->max, text);
	*o->value = v;
	return CLI_EXIT_OK;
}

/* One option at argv[*i]; advances *i past a separate value. */
static int take_option(struct cli *cli, const char *words, const struct cmdargs_opt *opts, int argc,
                       char **argv, int *i)
{
	const char *arg = argv[*i];
	const char *inline_value = NULL;
	const struct cmdargs_opt *o;
	if (arg[1] == '-') {
		const char *name = arg + 2;
		size_t len = strcspn(name, "=");
		if (name[len] == '=')
			inline_value = name + len + 1;
		if (len == 4 && strncmp(name, "json", 4) == 0 && !inline_value) {
			cli->json = true;
			return CLI_EXIT_OK;
		}
		o = find_long(opts, name, len);
	} else {
		if (arg[1] == 'j' && arg[2] == '\0') {
			cli->json = true;
			return CLI_EXIT_OK;
		}
		o = find_short(opts, arg[1]);
		if (o && arg[2])
			inline_value = arg + 2; /* -c3 */
	}
	if (!o)
		return out_usage(cli, "%s: unknown option '%.*s'", words, (int)strcspn(arg, "="),
		                 arg);
	if (o->flag) {
		if (inline_value)
			return out_usage(cli, "%s: option '--%s' takes no value", words, o->name);
		*o->flag = true;
		return CLI_EXIT_OK;
	}
	if (!inline_value) {
		if (*i + 1 >= argc)
			return out_usage(cli, "%s: option '--%s' needs a value", words, o->name);
		inline_value = argv[++*i];
	}
	return set_value(cli, words, o, inline_value);
}

int cmdargs_parse(struct cli *cli, const char *words, int argc, char **argv,
                  const struct cmdargs_opt *opts, const char *const *operand_names,
                  int min_operands, int max_operands, char **operands)
{
	int n = 0;
	bool options_done = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!options_done && strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (!options_done && a[0] == '-' && a[1] != '\0') {
			int r = take_option(cli, words, opts, argc, argv, &i);
			if (r)
				return r;
			continue;
		}
		if (n >= max_operands)
			return out_usage(cli, "%s: unexpected argument '%s'", words, a);
		operands[n++] = argv[i];
	}
	if (n < min_operands)
		return out_usage(cli, "%s: missing %s", words, operand_names[n]);
	return CLI_EXIT_OK;
}
