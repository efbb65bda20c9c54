/* Output formatting shared by every command: error shapes, exit codes for
 * daemon errors, JSON printing and durations. */
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>

#include "jsonrpc.h"

static void print_json_error(int exit_code, int rpc_code, const char *message)
{
	json_t *e = json_pack("{s:s, s:i}", "message", message, "exit_code", exit_code);
	if (e && rpc_code)
		json_object_set_new(e, "code", json_integer(rpc_code));
	out_json(e ? json_pack("{s:o}", "error", e) : NULL);
}

static int verror(const struct cli *cli, int exit_code, int rpc_code, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
static int verror(const struct cli *cli, int exit_code, int rpc_code, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "error: %s\n", msg);
	if (cli && cli->json)
		print_json_error(exit_code, rpc_code, msg);
	return exit_code;
}

int out_error(const struct cli *cli, int exit_code, int rpc_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = verror(cli, exit_code, rpc_code, fmt, ap);
	va_end(ap);
	return r;
}

int out_usage(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(cli, CLI_EXIT_USAGE, 0, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'spacedrive --help' for more information.\n");
	return CLI_EXIT_USAGE;
}

int out_exit_for_rpc(int rpc_code)
{
	switch (rpc_code) {
	case JSONRPC_INVALID_PARAMS:
	case JSONRPC_METHOD_NOT_FOUND:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_FAILURE;
	}
}

/* Reals with 12 significant digits: 0.095, not 0.095000000000000001. */
int out_json(json_t *v)
{
	if (!v) {
		fprintf(stderr, "error: out of memory\n");
		return CLI_EXIT_FAILURE;
	}
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
	                                JSON_REAL_PRECISION(12));
	json_decref(v);
	if (!s) {
		fprintf(stderr, "error: out of memory\n");
		return CLI_EXIT_FAILURE;
	}
	printf("%s\n", s);
	free(s);
	return CLI_EXIT_OK;
}

void out_duration(char *buf, size_t size, uint64_t s)
{
	static const struct {
		uint64_t secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = s / units[i].secs;
		s %= units[i].secs;
		if (n == 0 && !(units[i].unit == 's' && used == 0))
			continue;
		int w = snprintf(buf + used, size - used, "%s%" PRIu64 "%c", used ? " " : "", n,
		                 units[i].unit);
		if (w < 0 || (size_t)w >= size - used)
			return;
		used += (size_t)w;
	}
}
