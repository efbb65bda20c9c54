/* Connecting and calling with the CLI's error conventions: "not running" is
 * exit 3 with a hint that names the exact command to start this instance;
 * daemon errors are printed as the daemon worded them. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "paths.h"

bool client_errno_not_running(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR;
}

/* Quote s for a POSIX shell when it holds anything but safe characters. */
static void shell_quote(char *out, size_t size, const char *s)
{
	if (s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                      "@%+=:,./-_") == strlen(s)) {
		snprintf(out, size, "%s", s);
		return;
	}
	size_t n = 0;
	if (n + 1 < size)
		out[n++] = '\'';
	for (; *s && n + 5 < size; s++) {
		if (*s == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *s;
		}
	}
	if (n + 1 < size)
		out[n++] = '\'';
	out[n] = '\0';
}

const char *client_command_prefix(const struct cli *cli)
{
	static char buf[4096 + 256];
	char q[4096];
	int n = snprintf(buf, sizeof(buf), "spacedrive");
	if (strcmp(cli->instance, "default") != 0) {
		shell_quote(q, sizeof(q), cli->instance);
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " --instance %s", q);
	}
	if (cli->socket_given) {
		shell_quote(q, sizeof(q), cli->socket);
		snprintf(buf + n, sizeof(buf) - (size_t)n, " --socket %s", q);
	}
	return buf;
}

int client_not_running(const struct cli *cli, bool start_hint)
{
	if (start_hint)
		return out_error(cli, CLI_EXIT_NOT_RUNNING, 0,
		                 "sdnetd (instance %s) is not running; start it with: %s start",
		                 cli->instance, client_command_prefix(cli));
	return out_error(cli, CLI_EXIT_NOT_RUNNING, 0, "sdnetd (instance %s) is not running",
	                 cli->instance);
}

int client_resolve_socket(struct cli *cli)
{
	struct errmsg err = {0};
	if (paths_instance_check(cli->instance, &err) < 0)
		return out_usage(cli, "%s", err.text);
	if (cli->socket_given)
		return CLI_EXIT_OK;
	struct paths_env env;
	paths_env_from_environ(&env);
	char *path = NULL;
	if (paths_socket(&env, cli->instance, &path, &err) < 0)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", err.text);
	free(cli->socket_owned);
	cli->socket = cli->socket_owned = path;
	return CLI_EXIT_OK;
}

int client_connect(const struct cli *cli, bool quiet, struct conn **ret)
{
	struct errmsg err = {0};
	int r = conn_open(cli->socket, CLI_RPC_TIMEOUT_MS, ret, &err);
	if (r == 0)
		return CLI_EXIT_OK;
	if (client_errno_not_running(r))
		return quiet ? CLI_EXIT_NOT_RUNNING : client_not_running(cli, true);
	if (r == -EACCES || r == -EPERM)
		return out_error(cli, CLI_EXIT_FAILURE, 0,
		                 "%s; the control socket admits only the daemon's user, root and "
		                 "its configured group",
		                 err.text);
	return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", err.text);
}

int client_call(const struct cli *cli, struct conn *c, const char *method, json_t *params,
                json_t **ret_result)
{
	return client_call_notes(cli, c, method, params, CLI_RPC_TIMEOUT_MS, NULL, NULL,
	                         ret_result);
}

int client_call_notes(const struct cli *cli, struct conn *c, const char *method, json_t *params,
                      int timeout_ms, conn_note_fn note, void *ctx, json_t **ret_result)
{
	struct errmsg err = {0};
	struct conn_reply reply = {0};
	int r = conn_call_notes(c, method, params, timeout_ms, note, ctx, &reply, &err);
	if (r < 0)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "%s: %s", method, err.text);
	if (reply.code) {
		int exit_code = out_exit_for_rpc(reply.code);
		out_error(cli, exit_code, reply.code, "%s", reply.message);
		conn_reply_clear(&reply);
		return exit_code;
	}
	*ret_result = json_incref(reply.result);
	conn_reply_clear(&reply);
	return CLI_EXIT_OK;
}
