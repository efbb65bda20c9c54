/* Table-driven subcommand dispatch. Each command group exports a table of
 * rows {words, args, summary, help, run}; this file lists the tables and
 * matches the user's words against them, longest match first, so
 * `network pair generate` and `network pair` can both be rows. */
#include "commands.h"

#include <ctype.h>
#include <string.h>

#include "output.h"

/* Every group's table, in the order `spacedrive --help` lists them. */
static const struct cli_command *const tables[] = {
        cli_daemon_commands, cli_network_commands, cli_pair_commands,
        cli_device_commands, cli_message_commands, cli_transfer_commands,
};

#define N_TABLES (sizeof(tables) / sizeof(tables[0]))
/* Most words in a row ("network pair generate" has 3). */
#define MAX_WORDS 8

/* How many leading words of argv equal the row's words, or -1 when argv does
 * not start with all of them. */
static int match_words(const char *words, int argc, char **argv)
{
	int n = 0;
	const char *p = words;
	while (*p) {
		size_t len = strcspn(p, " ");
		if (n >= argc || strlen(argv[n]) != len || strncmp(argv[n], p, len) != 0)
			return -1;
		n++;
		p += len;
		p += strspn(p, " ");
	}
	return n;
}

const struct cli_command *commands_find(int argc, char **argv, int *ret_nwords)
{
	const struct cli_command *best = NULL;
	int best_n = 0;
	for (size_t t = 0; t < N_TABLES; t++) {
		for (const struct cli_command *c = tables[t]; c->words; c++) {
			int n = match_words(c->words, argc, argv);
			if (n > best_n) {
				best = c;
				best_n = n;
			}
		}
	}
	if (best)
		*ret_nwords = best_n;
	return best;
}

/* Does the row start with the n given words (and have more after them)? */
static bool row_extends(const char *words, int n, char **argv)
{
	const char *p = words;
	for (int i = 0; i < n; i++) {
		size_t len = strcspn(p, " ");
		if (strlen(argv[i]) != len || strncmp(argv[i], p, len) != 0)
			return false;
		p += len;
		p += strspn(p, " ");
	}
	return *p != '\0';
}

bool commands_is_prefix(int n, char **words)
{
	if (n <= 0 || n > MAX_WORDS)
		return false;
	for (size_t t = 0; t < N_TABLES; t++)
		for (const struct cli_command *c = tables[t]; c->words; c++)
			if (row_extends(c->words, n, words))
				return true;
	return false;
}

void commands_list(FILE *f)
{
	for (size_t t = 0; t < N_TABLES; t++) {
		for (const struct cli_command *c = tables[t]; c->words; c++) {
			char synopsis[128];
			snprintf(synopsis, sizeof(synopsis), "%s%s%s", c->words,
			         c->args[0] ? " " : "", c->args);
			fprintf(f, "  %-28s %s\n", synopsis, c->summary);
		}
	}
}

void commands_help(const struct cli_command *c, FILE *f)
{
	/* The summary is written for the command list; here it is a sentence. */
	fprintf(f, "Usage: spacedrive [OPTIONS] %s%s%s\n\n%c%s.\n", c->words, c->args[0] ? " " : "",
	        c->args, toupper((unsigned char)c->summary[0]), c->summary + 1);
	if (c->help)
		fprintf(f, "\n%s", c->help);
	fprintf(f, "\nOptions (--instance, --socket, --json, --timeout) go before the command;\n"
	           "see 'spacedrive --help'.\n");
}

int commands_no_args(const struct cli *cli, const char *words, int argc, char **argv)
{
	if (argc == 0)
		return CLI_EXIT_OK;
	return out_usage(cli, "'%s' takes no arguments, got '%s'", words, argv[0]);
}
