/* Shared state of one `spacedrive` invocation and the command table types.
 *
 * main.c parses the global options into a struct cli, then finds the command
 * row whose words match the start of the remaining arguments (commands.c) and
 * calls its run function with the arguments after those words. Every command
 * group (cmd-daemon.c, cmd-network.c, later cmd-pair.c ...) exports one
 * table; adding a subcommand is one row and one function. */
#pragma once

#include <stdbool.h>

/* Exit codes, documented in `spacedrive --help` and docs/operations.md. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_NOT_RUNNING = 3,
};

/* How long start and stop wait for the daemon by default. */
#define CLI_DEFAULT_TIMEOUT_MS 15000
/* How long one RPC call may take before the CLI gives up on it. */
#define CLI_RPC_TIMEOUT_MS 10000

struct cli {
	const char *instance; /* never NULL after main's parsing ("default") */
	bool instance_given;  /* --instance was on the command line */
	const char *socket;   /* the control socket path, derived or --socket */
	bool socket_given;    /* --socket was on the command line */
	char *socket_owned;   /* socket when derived (malloc'd; main frees) */
	bool json;            /* --json: machine-readable output on stdout */
	int timeout_ms;       /* --timeout: bound on start/stop waits */
	const char *argv0;    /* for messages and for finding sdnetd */
};

/* A command's implementation: argv[0] is the first argument after the
 * command's words (argc may be 0). Returns an enum cli_exit value. */
typedef int (*cli_run_fn)(struct cli *cli, int argc, char **argv);

struct cli_command {
	const char *words;   /* "network info": what the user types, space-separated */
	const char *args;    /* argument synopsis for help, "" when none */
	const char *summary; /* one line for `spacedrive --help` */
	const char *help;    /* more for `spacedrive WORDS --help`, or NULL */
	cli_run_fn run;
};

/* Command tables, each ending with a zeroed row. */
extern const struct cli_command cli_daemon_commands[];
extern const struct cli_command cli_network_commands[];
extern const struct cli_command cli_pair_commands[];
extern const struct cli_command cli_device_commands[];
extern const struct cli_command cli_message_commands[];
extern const struct cli_command cli_transfer_commands[];
