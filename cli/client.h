/* The CLI's view of the daemon: connect to the instance's control socket and
 * call methods, turning every failure into a printed message and an exit
 * code (enum cli_exit), so command functions stay short. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cli.h"
#include "conn.h"

/* Check cli->instance and, unless --socket gave it, derive cli->socket from
 * it by the daemon's rule (common/paths.h). Returns an enum cli_exit value
 * (printing why on failure). Call again after changing the instance. */
int client_resolve_socket(struct cli *cli);

/* Connect to cli->socket. Returns CLI_EXIT_OK with *ret set, or prints why
 * not and returns CLI_EXIT_NOT_RUNNING (nothing listens) or
 * CLI_EXIT_FAILURE. quiet: print nothing when the daemon is not running. */
int client_connect(const struct cli *cli, bool quiet, struct conn **ret);

/* Call method with params (stolen). Returns CLI_EXIT_OK with *ret_result a new
 * reference (caller decrefs), or prints "error: <message>" (the daemon's own
 * message for a JSON-RPC error) and returns the mapped exit code. */
int client_call(const struct cli *cli, struct conn *c, const char *method, json_t *params,
                json_t **ret_result);

/* client_call() with its own time limit, handing notifications that arrive
 * meanwhile to note (see conn_call_notes). */
int client_call_notes(const struct cli *cli, struct conn *c, const char *method, json_t *params,
                      int timeout_ms, conn_note_fn note, void *ctx, json_t **ret_result);

/* Print "sdnetd (instance X) is not running", with the command that starts
 * it when start_hint is set. Returns CLI_EXIT_NOT_RUNNING. */
int client_not_running(const struct cli *cli, bool start_hint);

/* Would a connect error r (negative errno from conn_open) mean that no daemon
 * listens on the socket? */
bool client_errno_not_running(int r);

/* "spacedrive [--instance X] [--socket P]": how to address this daemon again
 * in a suggested command line. Static buffer. */
const char *client_command_prefix(const struct cli *cli);
