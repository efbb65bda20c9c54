/* The CLI's pieces without a daemon: command table matching, output
 * helpers, the blocking JSON-RPC connection against a scripted server on a
 * real Unix socket, /proc inspection, and the spawn helpers. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "conn.h"
#include "jsonrpc.h"
#include "output.h"
#include "proc.h"
#include "spawn.h"

/* ---- command table ---- */

static void test_commands_find(void **state)
{
	char *a1[] = {"network", "info"};
	int n = 0;
	const struct cli_command *c = commands_find(2, a1, &n);
	assert_non_null(c);
	assert_string_equal(c->words, "network info");
	assert_int_equal(n, 2);

	char *a2[] = {"start", "--listen", "/ip4/127.0.0.1/tcp/0"};
	c = commands_find(3, a2, &n);
	assert_non_null(c);
	assert_string_equal(c->words, "start");
	assert_int_equal(n, 1);

	char *a3[] = {"network"};
	assert_null(commands_find(1, a3, &n));
	assert_true(commands_is_prefix(1, a3));

	char *a4[] = {"networkinfo"};
	assert_null(commands_find(1, a4, &n));
	assert_false(commands_is_prefix(1, a4));

	/* A full row is not a prefix of anything longer. */
	assert_false(commands_is_prefix(2, a1));
	char *a5[] = {"net", "info"};
	assert_null(commands_find(2, a5, &n));
}

static void test_commands_rows_complete(void **state)
{
	/* Every row has the fields help and dispatch rely on. */
	const struct cli_command *const tables[] = {cli_daemon_commands, cli_network_commands};
	for (size_t t = 0; t < 2; t++) {
		for (const struct cli_command *c = tables[t]; c->words; c++) {
			assert_non_null(c->args);
			assert_non_null(c->summary);
			assert_non_null(c->run);
			assert_true(c->summary[0] >= 'a' && c->summary[0] <= 'z');
			assert_int_not_equal(c->summary[strlen(c->summary) - 1], '.');
		}
	}
}

/* ---- output helpers ---- */

static void test_out_duration(void **state)
{
	static const struct {
		uint64_t s;
		const char *want;
	} v[] = {
	        {0, "0s"},        {59, "59s"},        {60, "1m"},    {61, "1m 1s"},
	        {3600, "1h"},     {3725, "1h 2m 5s"}, {86400, "1d"}, {90061, "1d 1h 1m 1s"},
	        {86401, "1d 1s"},
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		out_duration(buf, sizeof(buf), v[i].s);
		assert_string_equal(buf, v[i].want);
	}
	/* A short buffer is cut, never overrun. */
	char tiny[4];
	out_duration(tiny, sizeof(tiny), 90061);
	assert_true(strlen(tiny) < sizeof(tiny));
}

static void test_out_exit_for_rpc(void **state)
{
	assert_int_equal(out_exit_for_rpc(JSONRPC_INVALID_PARAMS), CLI_EXIT_USAGE);
	assert_int_equal(out_exit_for_rpc(JSONRPC_METHOD_NOT_FOUND), CLI_EXIT_USAGE);
	assert_int_equal(out_exit_for_rpc(JSONRPC_INTERNAL_ERROR), CLI_EXIT_FAILURE);
	assert_int_equal(out_exit_for_rpc(JSONRPC_PERMISSION_DENIED), CLI_EXIT_FAILURE);
	assert_int_equal(out_exit_for_rpc(JSONRPC_NOT_READY), CLI_EXIT_FAILURE);
}

static void test_command_prefix(void **state)
{
	struct cli cli = {.instance = "default", .socket = "/run/x.sock"};
	assert_string_equal(client_command_prefix(&cli), "spacedrive");
	cli.instance = "alice";
	assert_string_equal(client_command_prefix(&cli), "spacedrive --instance alice");
	cli.socket_given = true;
	cli.socket = "/tmp/a b/it's.sock";
	assert_string_equal(client_command_prefix(&cli),
	                    "spacedrive --instance alice --socket '/tmp/a b/it'\\''s.sock'");
	cli.instance = "default";
	cli.socket = "/run/sdnetd/sdnetd.sock";
	assert_string_equal(client_command_prefix(&cli),
	                    "spacedrive --socket /run/sdnetd/sdnetd.sock");
}

static void test_errno_not_running(void **state)
{
	assert_true(client_errno_not_running(-ENOENT));
	assert_true(client_errno_not_running(-ECONNREFUSED));
	assert_false(client_errno_not_running(-EACCES));
	assert_false(client_errno_not_running(-ETIMEDOUT));
}

/* ---- connection against a scripted server ---- */

struct server {
	char dir[64];
	char path[128];
	int listen_fd;
	int fd; /* the accepted connection */
	struct conn *conn;
};

static int server_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/test-cli-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/s.sock", s->dir);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, s->path);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->listen_fd, 4), 0);
	struct errmsg err = {0};
	assert_int_equal(conn_open(s->path, 1000, &s->conn, &err), 0);
	s->fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s->fd >= 0);
	*state = s;
	return 0;
}

static int server_teardown(void **state)
{
	struct server *s = *state;
	conn_close(s->conn);
	if (s->fd >= 0)
		close(s->fd);
	close(s->listen_fd);
	unlink(s->path);
	rmdir(s->dir);
	free(s);
	return 0;
}

static void server_say(struct server *s, const char *lines)
{
	assert_int_equal(write(s->fd, lines, strlen(lines)), (ssize_t)strlen(lines));
}

/* The request line the client sent, parsed. */
static json_t *server_hear(struct server *s)
{
	char buf[4096];
	ssize_t n = recv(s->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strchr(buf, '\n'));
	json_t *v = json_loads(buf, 0, NULL);
	assert_non_null(v);
	return v;
}

static void test_conn_call_skips_events(void **state)
{
	struct server *s = *state;
	assert_int_equal(conn_peer_pid(s->conn), getpid());
	/* Queued before the call: an event, a stale answer, then ours. */
	server_say(s, "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{\"kind\":\"x\","
	              "\"data\":null}}\n"
	              "{\"jsonrpc\":\"2.0\",\"result\":{\"old\":1},\"id\":99}\n"
	              "{\"jsonrpc\":\"2.0\",\"result\":{\"peer_id\":\"p\"},\"id\":1}\n");
	struct conn_reply r = {0};
	struct errmsg err = {0};
	assert_int_equal(conn_call(s->conn, "node.info", NULL, 1000, &r, &err), 0);
	assert_int_equal(r.code, 0);
	assert_string_equal(json_string_value(json_object_get(r.result, "peer_id")), "p");
	conn_reply_clear(&r);

	json_t *req = server_hear(s);
	assert_string_equal(json_string_value(json_object_get(req, "jsonrpc")), "2.0");
	assert_string_equal(json_string_value(json_object_get(req, "method")), "node.info");
	assert_int_equal(json_integer_value(json_object_get(req, "id")), 1);
	assert_null(json_object_get(req, "params"));
	json_decref(req);
}

static void test_conn_call_error(void **state)
{
	struct server *s = *state;
	server_say(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"Invalid "
	              "params: name\"},\"id\":1}\n"
	              /* A null id: the server could not read ours; still our answer. */
	              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32003,\"message\":\"Permission "
	              "denied\"},\"id\":null}\n");
	struct conn_reply r = {0};
	struct errmsg err = {0};
	json_t *params = json_pack("{s:s}", "name", "");
	assert_int_equal(conn_call(s->conn, "node.set_device_name", params, 1000, &r, &err), 0);
	assert_int_equal(r.code, JSONRPC_INVALID_PARAMS);
	assert_string_equal(r.message, "Invalid params: name");
	assert_null(r.result);
	conn_reply_clear(&r);
	json_t *req = server_hear(s);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(req, "params"), "name")), "");
	json_decref(req);

	assert_int_equal(conn_call(s->conn, "node.info", NULL, 1000, &r, &err), 0);
	assert_int_equal(r.code, JSONRPC_PERMISSION_DENIED);
	conn_reply_clear(&r);
}

static void test_conn_bad_answers(void **state)
{
	struct server *s = *state;
	struct conn_reply r = {0};
	struct errmsg err = {0};
	server_say(s, "{not json\n");
	assert_int_equal(conn_call(s->conn, "node.info", NULL, 1000, &r, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "invalid JSON"));
	/* A response with both result and error. */
	server_say(s, "{\"jsonrpc\":\"2.0\",\"result\":1,\"error\":{\"code\":1,\"message\":\"m\"},"
	              "\"id\":2}\n");
	assert_int_equal(conn_call(s->conn, "node.info", NULL, 1000, &r, &err), -EBADMSG);
	assert_non_null(strstr(err.text, "malformed"));
}

static void test_conn_timeout_and_eof(void **state)
{
	struct server *s = *state;
	struct conn_reply r = {0};
	struct errmsg err = {0};
	/* Nobody answers: the deadline ends the wait. */
	assert_int_equal(conn_call(s->conn, "node.info", NULL, 30, &r, &err), -ETIMEDOUT);
	/* Half an answer, then the daemon goes away. */
	server_say(s, "{\"jsonrpc\":\"2.0\",");
	shutdown(s->fd, SHUT_WR);
	assert_int_equal(conn_call(s->conn, "node.info", NULL, 1000, &r, &err), -ECONNRESET);
	assert_int_equal(conn_wait_eof(s->conn, 1000), 0);
}

static void test_conn_wait_eof(void **state)
{
	struct server *s = *state;
	assert_int_equal(conn_wait_eof(s->conn, 20), -ETIMEDOUT);
	server_say(s, "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{}}\n");
	close(s->fd);
	s->fd = -1;
	assert_int_equal(conn_wait_eof(s->conn, 1000), 0);
}

static void test_conn_open_errors(void **state)
{
	char dir[] = "/tmp/test-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	struct conn *c = NULL;
	struct errmsg err = {0};
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	assert_int_equal(conn_open(path, 100, &c, &err), -ENOENT);
	assert_non_null(strstr(err.text, path));

	/* A socket file nobody listens on: a daemon that crashed. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(conn_open(path, 100, &c, &err), -ECONNREFUSED);
	unlink(path);
	rmdir(dir);

	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(conn_open(longpath, 100, &c, &err), -ENAMETOOLONG);
}

/* ---- /proc ---- */

static void test_proc_alive(void **state)
{
	assert_true(proc_alive(getpid()));
	assert_false(proc_is_sdnetd(getpid())); /* we are test_cli */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	/* Wait until it has exited but leave it a zombie. */
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_false(proc_alive(pid));
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_false(proc_alive(pid));
	assert_false(proc_alive(0));
}

/* ---- spawn helpers ---- */

static void test_private_dir(void **state)
{
	char dir[] = "/tmp/test-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	struct errmsg err = {0};
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_int_equal(spawn_private_dir(path, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* A directory others can write to is refused. */
	assert_int_equal(chmod(path, 0777), 0);
	assert_int_equal(spawn_private_dir(path, &err), -EPERM);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	rmdir(dir);
}

static void read_into(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

static void test_open_log_rotates(void **state)
{
	char dir[] = "/tmp/test-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char log[128], old[140], buf[64];
	snprintf(log, sizeof(log), "%s/sdnetd.log", dir);
	snprintf(old, sizeof(old), "%s.1", log);
	struct errmsg err = {0};
	int fd = spawn_open_log(log, &err);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "first\n", 6), 6);
	close(fd);
	fd = spawn_open_log(log, &err);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	close(fd);
	read_into(old, buf, sizeof(buf));
	assert_string_equal(buf, "first\n");
	/* A symlink planted at the log path is not followed. */
	unlink(log);
	assert_int_equal(symlink(old, log), 0);
	assert_true(spawn_open_log(log, &err) < 0);
	unlink(log);
	unlink(old);
	rmdir(dir);
}

static void test_spawn_detached(void **state)
{
	char dir[] = "/tmp/test-cli-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char log[128], buf[256];
	snprintf(log, sizeof(log), "%s/out.log", dir);
	struct errmsg err = {0};
	int fd = spawn_open_log(log, &err);
	assert_true(fd >= 0);
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	/* stdout and stderr reach the log, the manager's variables do not reach
	 * the child, stdin is /dev/null, and it leads its own session. */
	char *argv[] = {"/bin/sh", "-c",
	                "echo out; echo err >&2; echo \"${NOTIFY_SOCKET-unset}\"; "
	                "read x || echo eof; "
	                "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] && echo leader; exit 3",
	                NULL};
	pid_t pid = 0;
	assert_int_equal(spawn_detached(argv, fd, &pid, &err), 0);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	read_into(log, buf, sizeof(buf));
	assert_string_equal(buf, "out\nerr\nunset\neof\nleader\n");

	/* An exec failure comes back as such. */
	char *bad[] = {"/nonexistent/sdnetd", NULL};
	fd = spawn_open_log(log, &err);
	assert_int_equal(spawn_detached(bad, fd, &pid, &err), -ENOENT);
	assert_non_null(strstr(err.text, "/nonexistent/sdnetd"));
	close(fd);
	char old[140];
	snprintf(old, sizeof(old), "%s.1", log);
	unlink(old);
	unlink(log);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_commands_find),
	        cmocka_unit_test(test_commands_rows_complete),
	        cmocka_unit_test(test_out_duration),
	        cmocka_unit_test(test_out_exit_for_rpc),
	        cmocka_unit_test(test_command_prefix),
	        cmocka_unit_test(test_errno_not_running),
	        cmocka_unit_test_setup_teardown(test_conn_call_skips_events, server_setup,
	                                        server_teardown),
	        cmocka_unit_test_setup_teardown(test_conn_call_error, server_setup,
	                                        server_teardown),
	        cmocka_unit_test_setup_teardown(test_conn_bad_answers, server_setup,
	                                        server_teardown),
	        cmocka_unit_test_setup_teardown(test_conn_timeout_and_eof, server_setup,
	                                        server_teardown),
	        cmocka_unit_test_setup_teardown(test_conn_wait_eof, server_setup, server_teardown),
	        cmocka_unit_test(test_conn_open_errors),
	        cmocka_unit_test(test_proc_alive),
	        cmocka_unit_test(test_private_dir),
	        cmocka_unit_test(test_open_log_rotates),
	        cmocka_unit_test(test_spawn_detached),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
