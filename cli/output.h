/* What the CLI prints: human text by default, JSON with stable keys under
 * --json, and errors in one shape.
 *
 * Errors always go to stderr as "error: <message>" so a person sees them
 * even when stdout is piped; under --json the same error is also printed to
 * stdout as {"error":{"message":...,"code":...,"exit_code":...}} so a script
 * reading stdout gets a parseable answer in every case. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* Print an error and return exit_code (so callers can `return out_error(...)`).
 * rpc_code is the daemon's JSON-RPC error code, or 0 for the CLI's own. */
int out_error(const struct cli *cli, int exit_code, int rpc_code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* A usage error: "error: <message>" plus a hint to --help; returns 2. */
int out_usage(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code for a daemon's JSON-RPC error code: parameter and method
 * errors are the caller's (2), everything else is a failure (1). */
int out_exit_for_rpc(int rpc_code);

/* Print v (stolen) to stdout as indented JSON with sorted keys and a final
 * newline. Returns CLI_EXIT_OK, or CLI_EXIT_FAILURE if v is NULL (ENOMEM). */
int out_json(json_t *v);

/* Seconds as "3d 4h 5m 6s", leading zero units left out ("0s" for 0). */
void out_duration(char *buf, size_t size, uint64_t seconds);
