/* spacedrive: the command-line client of sdnetd.
 *
 * Parses the global options (which instance, which socket, human or JSON
 * output), derives the control socket path by the same rule as the daemon
 * (common/paths.h), and hands the rest of the command line to the matching
 * row of the command table (commands.c). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "config.h"
#include "output.h"
#include "paths.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: spacedrive [OPTIONS] COMMAND [ARGS...]\n"
	        "\n"
	        "Controls the sdnetd networking daemon over its control socket.\n"
	        "\n"
	        "Options:\n"
	        "  -i, --instance NAME   which daemon instance (default: default)\n"
	        "  -s, --socket PATH     control socket (default: derived from the instance)\n"
	        "  -j, --json            print JSON with stable keys instead of text\n"
	        "  -t, --timeout SECS    how long start and stop wait (default: %d)\n"
	        "  -h, --help            show this help and exit\n"
	        "  -V, --version         print the version and exit\n"
	        "\n"
	        "Commands:\n",
	        CLI_DEFAULT_TIMEOUT_MS / 1000);
	commands_list(f);
	fprintf(f, "\n"
	           "'spacedrive COMMAND --help' describes one command.\n"
	           "\n"
	           "Exit status: 0 ok, 1 failure, 2 usage error, 3 daemon not running.\n");
}

static int parse_timeout(struct cli *cli, const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 3600)
		return out_usage(cli, "--timeout wants whole seconds from 1 to 3600, got '%s'", s);
	cli->timeout_ms = (int)v * 1000;
	return CLI_EXIT_OK;
}

/* The option getopt refused, as the user typed it: "--name" (without any
 * "=value") or "-x" (optopt, since "-xy" bundles several). */
static const char *bad_option(char **argv, int ind)
{
	static char buf[64];
	const char *arg = argv[ind - 1];
	if (strncmp(arg, "--", 2) == 0)
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(buf, sizeof(buf), "-%c", optopt);
	return buf;
}

/* getopt said '?': an unknown option, or "--flag=value" for a flag. */
static int refused(struct cli *cli, const struct option *opts, char **argv, int ind)
{
	const char *name = bad_option(argv, ind);
	for (const struct option *o = opts; o->name; o++)
		if (o->has_arg == no_argument && !strcmp(name + 2, o->name) &&
		    strchr(argv[ind - 1], '='))
			return out_usage(cli, "option '%s' takes no value", name);
	return out_usage(cli, "unknown option '%s'", name);
}

/* getopt_long takes unique prefixes ("--inst"); we do not, so a later
 * option never changes what an existing command line means. */
static bool exact_long(char **argv, const struct option *o)
{
	int i = optind - 1;
	if (optarg && argv[i] == optarg)
		i--; /* "--name VALUE": the name is one element earlier */
	const char *e = argv[i] + 2;
	size_t n = strcspn(e, "=");
	return n == strlen(o->name) && strncmp(e, o->name, n) == 0;
}

/* Parse global options; returns -1 to go on, or an exit code to stop with. */
static int parse_globals(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"instance", required_argument, NULL, 'i'},
	        {"socket", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"timeout", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	int c, li = -1;
	opterr = 0; /* we word the errors ourselves */
	while ((c = getopt_long(argc, argv, "+:i:s:jt:hV", opts, &li)) != -1) {
		if (li >= 0 && !exact_long(argv, &opts[li]))
			return out_usage(
			        cli, "unknown option '%s' (did you mean '--%s'?)",
			        bad_option(argv, optind - (optarg && argv[optind - 1] == optarg)),
			        opts[li].name);
		li = -1;
		switch (c) {
		case 'i':
			cli->instance = optarg;
			cli->instance_given = true;
			break;
		case 's':
			cli->socket = optarg;
			cli->socket_given = true;
			break;
		case 'j':
			cli->json = true;
			break;
		case 't':
			if (parse_timeout(cli, optarg) != CLI_EXIT_OK)
				return CLI_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("spacedrive %s\n", SDNETD_VERSION);
			return CLI_EXIT_OK;
		case ':':
			return out_usage(cli, "option '%s' needs a value",
			                 bad_option(argv, optind));
		default:
			return refused(cli, opts, argv, optind);
		}
	}
	return -1;
}

/* The words the user typed as one string, for messages. */
static const char *join_words(int n, char **argv)
{
	static char buf[256];
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n && used < sizeof(buf); i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? " " : "",
		                         argv[i]);
	return buf;
}

static int unknown_command(struct cli *cli, int argc, char **argv)
{
	int n = 0;
	while (n < argc && commands_is_prefix(n + 1, argv))
		n++;
	if (n > 0 && n == argc)
		return out_usage(cli, "'%s' needs a subcommand", join_words(n, argv));
	return out_usage(cli, "unknown command '%s'", join_words(n + 1, argv));
}

static int dispatch(struct cli *cli, int argc, char **argv)
{
	if (argc == 0)
		return out_usage(cli, "no command given");
	int nwords = 0;
	const struct cli_command *cmd = commands_find(argc, argv, &nwords);
	if (!cmd)
		return unknown_command(cli, argc, argv);
	argc -= nwords;
	argv += nwords;
	if (argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		commands_help(cmd, stdout);
		return CLI_EXIT_OK;
	}
	return cmd->run(cli, argc, argv);
}

int main(int argc, char **argv)
{
	struct cli cli = {
	        .instance = PATHS_DEFAULT_INSTANCE,
	        .timeout_ms = CLI_DEFAULT_TIMEOUT_MS,
	        .argv0 = argv[0],
	};
	int r = parse_globals(&cli, argc, argv);
	if (r >= 0)
		return r;
	argc -= optind;
	argv += optind;
	/* `spacedrive help` reads as --help. */
	if (argc > 0 && !strcmp(argv[0], "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	r = client_resolve_socket(&cli);
	if (r == CLI_EXIT_OK)
		r = dispatch(&cli, argc, argv);
	free(cli.socket_owned);
	return r;
}
