/* `spacedrive start | stop | status`: the daemon's lifecycle as seen from
 * the command line. start lives in cmd-start.c; this file has the group's
 * table, stop and status. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "cmd-start.h"
#include "commands.h"
#include "output.h"
#include "proc.h"
#include "progress.h"

#define STOP_POLL_MS 20

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After the daemon closed our connection, wait until the process is gone
 * too, so `stop && start` never races the old daemon's instance lock.
 * Returns false on time-out. */
static bool wait_gone(pid_t pid, long long deadline, struct progress *p)
{
	while (proc_alive(pid)) {
		if (now_ms() >= deadline)
			return false;
		progress_tick(p);
		struct timespec ts = {.tv_nsec = STOP_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return true;
}

static int stop_wait(struct cli *cli, struct conn *c, pid_t pid)
{
	struct progress p;
	char label[128];
	snprintf(label, sizeof(label), "stopping sdnetd (instance %s)", cli->instance);
	progress_begin(&p, label);
	long long deadline = now_ms() + cli->timeout_ms;
	int r = conn_wait_eof(c, cli->timeout_ms);
	bool gone = r == 0 && (pid <= 0 || wait_gone(pid, deadline, &p));
	progress_end(&p);
	if (!gone)
		return out_error(cli, CLI_EXIT_FAILURE, 0,
		                 "sdnetd (instance %s) accepted the shutdown but was still running "
		                 "after %d s; see its log, or stop it with: kill %d",
		                 cli->instance, cli->timeout_ms / 1000, (int)pid);
	return CLI_EXIT_OK;
}

static int run_stop(struct cli *cli, int argc, char **argv)
{
	int r = commands_no_args(cli, "stop", argc, argv);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, true, &c);
	if (r == CLI_EXIT_NOT_RUNNING)
		return client_not_running(cli, false);
	if (r)
		return r;
	/* Only wait for the process when the socket is sdnetd's own; under
	 * socket activation the listener is systemd, which stays. */
	pid_t pid = conn_peer_pid(c);
	if (!proc_is_sdnetd(pid))
		pid = 0;
	json_t *result = NULL;
	r = client_call(cli, c, "node.shutdown", NULL, &result);
	json_decref(result);
	if (r == CLI_EXIT_OK)
		r = stop_wait(cli, c, pid);
	conn_close(c);
	if (r)
		return r;
	if (cli->json)
		return out_json(json_pack("{s:s, s:b}", "instance", cli->instance, "stopped", 1));
	printf("sdnetd (instance %s) stopped\n", cli->instance);
	return CLI_EXIT_OK;
}

static json_t *status_json(struct cli *cli, pid_t pid, json_t *st, json_t *info)
{
	json_t *o =
	        json_pack("{s:s, s:s, s:b, s:o}", "instance", cli->instance, "socket", cli->socket,
	                  "running", st != NULL, "pid", pid > 0 ? json_integer(pid) : json_null());
	if (!o || !st)
		return o;
	static const char *const from_status[] = {"state", "uptime", "rpc"};
	static const char *const from_info[] = {"peer_id", "device_name", "version"};
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(st, from_status[i]);
		json_object_set(o, from_status[i], v ? v : json_null());
		v = json_object_get(info, from_info[i]);
		json_object_set(o, from_info[i], v ? v : json_null());
	}
	return o;
}

static void status_print(struct cli *cli, pid_t pid, json_t *st, json_t *info)
{
	char up[64];
	out_duration(up, sizeof(up), (uint64_t)json_integer_value(json_object_get(st, "uptime")));
	const char *state = json_string_value(json_object_get(st, "state"));
	const char *peer = json_string_value(json_object_get(info, "peer_id"));
	const char *version = json_string_value(json_object_get(info, "version"));
	json_t *clients = json_object_get(json_object_get(st, "rpc"), "clients");
	printf("sdnetd (instance %s) is %s\n", cli->instance, state ? state : "running");
	printf("  Peer ID:  %s\n", peer ? peer : "?");
	printf("  Version:  %s\n", version ? version : "?");
	printf("  Uptime:   %s\n", up);
	if (pid > 0) /* unknown under socket activation: systemd holds the socket */
		printf("  PID:      %d\n", (int)pid);
	printf("  Socket:   %s\n", cli->socket);
	if (json_is_integer(clients))
		printf("  Clients:  %lld\n", (long long)json_integer_value(clients));
}

static int run_status(struct cli *cli, int argc, char **argv)
{
	int r = commands_no_args(cli, "status", argc, argv);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, cli->json, &c);
	if (r == CLI_EXIT_NOT_RUNNING && cli->json)
		return out_json(status_json(cli, 0, NULL, NULL)) ? CLI_EXIT_FAILURE
		                                                 : CLI_EXIT_NOT_RUNNING;
	if (r)
		return r;
	pid_t pid = conn_peer_pid(c);
	if (!proc_is_sdnetd(pid))
		pid = 0;
	json_t *st = NULL, *info = NULL;
	r = client_call(cli, c, "node.status", NULL, &st);
	if (r == CLI_EXIT_OK)
		r = client_call(cli, c, "node.info", NULL, &info);
	conn_close(c);
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(status_json(cli, pid, st, info));
	else if (r == CLI_EXIT_OK)
		status_print(cli, pid, st, info);
	json_decref(st);
	json_decref(info);
	return r;
}

const struct cli_command cli_daemon_commands[] = {
        {"start", "[SDNETD-OPTIONS...]",
         "start the daemon in the background and wait until it answers",
         "Starts sdnetd for the instance, detached from the terminal, with its output\n"
         "in sdnetd.log next to the control socket, and waits (see --timeout) until\n"
         "its socket answers. Options after 'start' go to sdnetd (see 'sdnetd --help');\n"
         "--enable-networking is accepted and ignored, since networking is always on.\n"
         "If the daemon already runs, says so and exits 0.\n",
         cmd_start_run},
        {"stop", "", "stop the daemon gracefully and wait until it has exited",
         "Asks the daemon to shut down (node.shutdown), which flushes its state, and\n"
         "waits (see --timeout) until it has exited. A daemon managed by systemd is\n"
         "better stopped with systemctl, or its socket unit may start it again.\n",
         run_stop},
        {"status", "", "say whether the daemon runs, and how it is doing",
         "Exit status 0 when the daemon answers, 3 when it is not running.\n", run_status},
        {0},
};
