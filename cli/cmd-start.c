/* `spacedrive start [sdnetd options]`: start the instance's daemon in the
 * background and wait, bounded, until its control socket answers node.info.
 *
 * The daemon is started with --foreground (log to stderr, which is a log file
 * next to the socket) and the instance and socket the CLI resolved, so both
 * look at the same socket. Other options go to sdnetd unchanged; the seed's
 * --enable-networking is accepted and dropped (networking is always on). */
#include "cmd-start.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "jsonrpc.h"
#include "output.h"
#include "paths.h"
#include "proc.h"
#include "progress.h"
#include "spawn.h"

/* Polling the socket starts fast (a warm start takes milliseconds) and backs
 * off so a slow key derivation is not hammered. */
#define POLL_FIRST_MS 5
#define POLL_MAX_MS 100
/* Lines of the daemon's log shown when it dies during start-up. */
#define LOG_TAIL_LINES 15
#define MAX_DAEMON_ARGS 256
/* path, --foreground, --socket PATH, --instance NAME */
#define HEAD_SLOTS 6

struct start {
	struct cli *cli;
	char *argv[MAX_DAEMON_ARGS];
	int argc;  /* end of the user's options */
	int first; /* where the vector starts (see build_argv) */
	char *daemon;
	char *log_path;
	pid_t pid;
	int exit_code; /* after PROBE_FAILED */
};

static int add_arg(struct start *s, char *arg)
{
	if (s->argc + 1 >= MAX_DAEMON_ARGS)
		return out_usage(s->cli, "too many sdnetd options (at most %d)",
		                 MAX_DAEMON_ARGS - HEAD_SLOTS - 1);
	s->argv[s->argc++] = arg;
	return CLI_EXIT_OK;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: returns the value (moving *i
 * past it), NULL when argv[*i] is another option, or sets *bad. */
static const char *option_value(const char *name, int argc, char **argv, int *i, bool *bad)
{
	size_t len = strlen(name);
	if (strncmp(argv[*i], name, len) != 0)
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

/* --instance and --socket may come after `start` too (as the seed allowed);
 * they must agree with the global ones. */
static int take_global(struct start *s, const char *name, const char *value, const char **field,
                       bool *given)
{
	if (*given && strcmp(*field, value) != 0)
		return out_usage(s->cli, "%s given twice with different values ('%s' and '%s')",
		                 name, *field, value);
	*field = value;
	*given = true;
	return CLI_EXIT_OK;
}

static int parse_args(struct start *s, int argc, char **argv)
{
	struct cli *cli = s->cli;
	int r = CLI_EXIT_OK;
	for (int i = 0; i < argc && r == CLI_EXIT_OK; i++) {
		bool bad = false;
		const char *v;
		if (!strcmp(argv[i], "--enable-networking") || !strcmp(argv[i], "--foreground"))
			continue;
		if ((v = option_value("--instance", argc, argv, &i, &bad)))
			r = take_global(s, "--instance", v, &cli->instance, &cli->instance_given);
		else if ((v = option_value("--socket", argc, argv, &i, &bad)))
			r = take_global(s, "--socket", v, &cli->socket, &cli->socket_given);
		else if (bad)
			r = out_usage(cli, "option '%s' needs a value", argv[i]);
		else
			r = add_arg(s, argv[i]);
	}
	return r ? r : client_resolve_socket(cli);
}

/* argv for sdnetd: path, --foreground, [--socket PATH], --instance NAME, then
 * the user's options. Those are parsed first (`start --instance X` changes
 * the instance), into the slots after HEAD_SLOTS; the head is filled
 * backwards in front of them, so s->argv + s->first is the whole vector. */
static int build_argv(struct start *s, int argc, char **argv)
{
	s->argc = HEAD_SLOTS;
	int r = parse_args(s, argc, argv);
	if (r)
		return r;
	s->argv[s->argc] = NULL;
	int i = HEAD_SLOTS;
	s->argv[--i] = (char *)s->cli->instance;
	s->argv[--i] = "--instance";
	if (s->cli->socket_given) {
		s->argv[--i] = (char *)s->cli->socket;
		s->argv[--i] = "--socket";
	}
	s->argv[--i] = "--foreground";
	s->first = --i; /* the daemon's path goes here once found */
	return CLI_EXIT_OK;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int report(struct start *s, json_t *info, bool already)
{
	struct cli *cli = s->cli;
	const char *peer = json_string_value(json_object_get(info, "peer_id"));
	if (cli->json)
		return out_json(json_pack("{s:s, s:b, s:o, s:o, s:s, s:o}", "instance",
		                          cli->instance, "already_running", already, "pid",
		                          s->pid > 0 ? json_integer(s->pid) : json_null(),
		                          "peer_id", str_or_null(peer), "socket", cli->socket,
		                          "log", str_or_null(s->log_path)));
	if (already && s->pid <= 0) /* e.g. systemd holds the socket */
		printf("sdnetd (instance %s) is already running\n", cli->instance);
	else
		printf("sdnetd (instance %s) is %srunning, pid %d\n", cli->instance,
		       already ? "already " : "", (int)s->pid);
	printf("Peer ID: %s\n", peer ? peer : "?");
	printf("Socket:  %s\n", cli->socket);
	if (s->log_path)
		printf("Log:     %s\n", s->log_path);
	return CLI_EXIT_OK;
}

enum probe {
	PROBE_ABSENT, /* nothing answers (yet), or the daemon is not ready */
	PROBE_READY,  /* node.info answered */
	PROBE_FAILED, /* a real failure, printed; s->exit_code says how to exit */
};

/* One attempt to reach the daemon; *ret_info is set for PROBE_READY. */
static enum probe probe(struct start *s, int timeout_ms, json_t **ret_info)
{
	struct conn *c = NULL;
	struct errmsg err = {0};
	int r = conn_open(s->cli->socket, timeout_ms, &c, &err);
	if (client_errno_not_running(r))
		return PROBE_ABSENT;
	if (r < 0) {
		s->exit_code = out_error(s->cli, CLI_EXIT_FAILURE, 0, "%s", err.text);
		return PROBE_FAILED;
	}
	struct conn_reply reply = {0};
	r = conn_call(c, "node.info", NULL, timeout_ms, &reply, &err);
	/* Who answers: sdnetd itself, or systemd holding the socket for it. */
	pid_t peer = conn_peer_pid(c);
	if (s->pid == 0 && proc_is_sdnetd(peer))
		s->pid = peer;
	conn_close(c);
	if (r < 0 || reply.code == JSONRPC_NOT_READY) {
		conn_reply_clear(&reply);
		return PROBE_ABSENT; /* starting up, or went away between connect and answer */
	}
	if (reply.code) {
		s->exit_code = out_error(s->cli, out_exit_for_rpc(reply.code), reply.code, "%s",
		                         reply.message);
		conn_reply_clear(&reply);
		return PROBE_FAILED;
	}
	*ret_info = json_incref(reply.result);
	conn_reply_clear(&reply);
	return PROBE_READY;
}

static void print_log_tail(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char *lines[LOG_TAIL_LINES] = {0};
	size_t n = 0, cap = 0;
	char *line = NULL;
	while (getline(&line, &cap, f) > 0) {
		free(lines[n % LOG_TAIL_LINES]);
		lines[n++ % LOG_TAIL_LINES] = strdup(line);
	}
	free(line);
	fclose(f);
	size_t first = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0;
	for (size_t i = first; i < n; i++)
		if (lines[i % LOG_TAIL_LINES])
			fprintf(stderr, "  %s", lines[i % LOG_TAIL_LINES]);
	for (size_t i = 0; i < LOG_TAIL_LINES; i++)
		free(lines[i]);
}

/* The daemon died during start-up (status from waitpid): say how, and show
 * the end of its log, which says why. */
static int report_exit(struct start *s, int status)
{
	char how[64];
	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
	/* sdnetd exits 2 for a bad option, which was the user's: a usage error. */
	int code =
	        WIFEXITED(status) && WEXITSTATUS(status) == 2 ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
	out_error(s->cli, code, 0,
	          "sdnetd (instance %s) %s during start-up; from %s:", s->cli->instance, how,
	          s->log_path);
	print_log_tail(s->log_path);
	return code;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int wait_ready(struct start *s)
{
	struct progress p;
	char label[128];
	snprintf(label, sizeof(label), "starting sdnetd (instance %s)", s->cli->instance);
	progress_begin(&p, label);
	long long deadline = now_ms() + s->cli->timeout_ms;
	int interval = POLL_FIRST_MS;
	for (;;) {
		json_t *info = NULL;
		long long left = deadline - now_ms();
		int t = left < CLI_RPC_TIMEOUT_MS ? (int)left : CLI_RPC_TIMEOUT_MS;
		enum probe pr = probe(s, t < 100 ? 100 : t, &info);
		if (pr == PROBE_READY) {
			progress_end(&p);
			int r = report(s, info, false);
			json_decref(info);
			return r;
		}
		if (pr == PROBE_FAILED) {
			progress_end(&p);
			return s->exit_code;
		}
		/* The daemon is our child until we exit, so its death shows here. */
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			progress_end(&p);
			return report_exit(s, status);
		}
		if (now_ms() >= deadline)
			break;
		progress_tick(&p);
		pause_ms(interval);
		interval = interval * 2 > POLL_MAX_MS ? POLL_MAX_MS : interval * 2;
	}
	progress_end(&p);
	return out_error(s->cli, CLI_EXIT_FAILURE, 0,
	                 "sdnetd (instance %s, pid %d) did not answer on %s within %d s; it may "
	                 "still be starting: see %s, or try again with a longer --timeout",
	                 s->cli->instance, (int)s->pid, s->cli->socket, s->cli->timeout_ms / 1000,
	                 s->log_path);
}

static int launch(struct start *s)
{
	struct errmsg err = {0};
	char *dir = paths_dirname(s->cli->socket);
	if (!dir)
		return out_error(s->cli, CLI_EXIT_FAILURE, 0, "out of memory");
	int r = spawn_private_dir(dir, &err);
	if (r == 0 && asprintf(&s->log_path, "%s/sdnetd.log", dir) < 0) {
		s->log_path = NULL;
		r = errmsg_set(&err, -ENOMEM, "out of memory");
	}
	free(dir);
	int fd = r < 0 ? r : spawn_open_log(s->log_path, &err);
	if (fd >= 0) {
		r = spawn_detached(s->argv + s->first, fd, &s->pid, &err);
		close(fd);
	}
	if (fd < 0 || r < 0)
		return out_error(s->cli, CLI_EXIT_FAILURE, 0, "%s", err.text);
	return wait_ready(s);
}

int cmd_start_run(struct cli *cli, int argc, char **argv)
{
	struct start s = {.cli = cli};
	int r = build_argv(&s, argc, argv);
	if (r)
		return r;
	json_t *info = NULL;
	enum probe pr = probe(&s, CLI_RPC_TIMEOUT_MS, &info);
	if (pr == PROBE_READY) {
		r = report(&s, info, true);
		json_decref(info);
		return r;
	}
	if (pr == PROBE_FAILED)
		return s.exit_code;
	struct errmsg err = {0};
	if (spawn_find_daemon(&s.daemon, &err) < 0)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", err.text);
	s.argv[s.first] = s.daemon;
	r = launch(&s);
	free(s.daemon);
	free(s.log_path);
	return r;
}
