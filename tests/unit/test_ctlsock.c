/* Control socket setup: bind 0600 in a private directory, refuse a socket
 * a live process serves, replace one a dead daemon left, refuse a path
 * that is not a socket, remove only our own file, and take a socket passed
 * by systemd (LISTEN_FDS) instead of binding. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/ctlsock.h"

static char dir[64];
static char path[96];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_ctlsock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/run/x/sdnetd.sock", dir);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int connect_to(const char *p)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(p) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, p, strlen(p) + 1);
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return r;
}

static void test_bind_private(void **state)
{
	struct ctlsock s;
	struct errmsg e;
	assert_int_equal(ctlsock_open(path, &s, &e), 0);
	assert_true(s.bound);
	assert_false(s.activated);
	assert_string_equal(s.path, path);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	char parent[128];
	snprintf(parent, sizeof(parent), "%s/run/x", dir);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(fcntl(s.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(connect_to(path), 0);
	close(s.fd);
	ctlsock_release(&s);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_live_refused_stale_replaced(void **state)
{
	struct ctlsock a, b;
	struct errmsg e;
	assert_int_equal(ctlsock_open(path, &a, &e), 0);
	assert_int_equal(ctlsock_open(path, &b, &e), -EADDRINUSE);
	assert_non_null(strstr(e.text, path));
	/* The first daemon dies without cleaning up: its file stays. */
	close(a.fd);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(connect_to(path), -1);
	assert_int_equal(ctlsock_open(path, &b, &e), 0);
	assert_int_equal(connect_to(path), 0);
	/* a's release must not remove b's file. */
	ctlsock_release(&a);
	assert_int_equal(lstat(path, &st), 0);
	close(b.fd);
	ctlsock_release(&b);
	assert_int_equal(lstat(path, &st), -1);
}

static void test_share_with_group(void **state)
{
	struct ctlsock s;
	struct errmsg e;
	assert_int_equal(ctlsock_open(path, &s, &e), 0);
	gid_t gid;
	char num[32];
	snprintf(num, sizeof(num), "%lu", (unsigned long)getgid());
	assert_int_equal(ctlsock_group_lookup(num, &gid, &e), 0);
	assert_int_equal(gid, getgid());
	assert_int_equal(ctlsock_group_lookup("root", &gid, &e), 0);
	assert_int_equal(gid, 0);
	assert_int_equal(ctlsock_group_lookup("no-such-group-here", &gid, &e), -ENOENT);
	assert_non_null(strstr(e.text, "no-such-group-here"));
	assert_int_equal(ctlsock_share(&s, getgid(), &e), 0);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	/* Still recognised as ours after the chmod: released removes it. */
	close(s.fd);
	ctlsock_release(&s);
	assert_int_equal(lstat(path, &st), -1);
}

static void test_not_a_socket(void **state)
{
	struct ctlsock s;
	struct errmsg e;
	assert_int_equal(ctlsock_open(path, &s, &e), 0);
	close(s.fd);
	ctlsock_release(&s);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ctlsock_open(path, &s, &e), -EEXIST);
	assert_non_null(strstr(e.text, "not a socket"));
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_too_long(void **state)
{
	char p[200];
	memset(p, 'a', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	struct ctlsock s;
	struct errmsg e;
	assert_int_equal(ctlsock_open(p, &s, &e), -ENAMETOOLONG);
}

/* What systemd does: a listening socket at fd 3, LISTEN_FDS=1 and
 * LISTEN_PID=<us>. sd_listen_fds(1) then unsets both. */
static void test_socket_activation(void **state)
{
	int saved3 = fcntl(3, F_DUPFD_CLOEXEC, 100); /* fd 3 may be in use (cmocka, asan) */
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char sp[96];
	snprintf(sp, sizeof(sp), "%s/activated.sock", dir);
	memcpy(sa.sun_path, sp, strlen(sp) + 1);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 8), 0);
	assert_int_equal(dup2(l, 3), 3);
	if (l != 3)
		close(l);
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	struct ctlsock s;
	struct errmsg e;
	assert_int_equal(ctlsock_open(path, &s, &e), 0);
	assert_true(s.activated);
	assert_false(s.bound);
	assert_int_equal(s.fd, 3);
	assert_string_equal(s.path, sp);
	assert_null(getenv("LISTEN_FDS"));
	/* Nothing bound at our own path. */
	struct stat st;
	assert_int_equal(lstat(path, &st), -1);
	ctlsock_release(&s);
	/* systemd's socket file stays: it owns it. */
	assert_int_equal(lstat(sp, &st), 0);

	/* A passed descriptor that is not a listening Unix stream socket. */
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, fds), 0);
	assert_int_equal(dup2(fds[0], 3), 3);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	assert_int_equal(ctlsock_open(path, &s, &e), -EBADF);
	assert_non_null(strstr(e.text, "LISTEN_FDS"));
	/* LISTEN_FDS naming a descriptor that is not open. */
	close(3);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	assert_int_equal(ctlsock_open(path, &s, &e), -EBADF);
	assert_non_null(strstr(e.text, "LISTEN_FDS"));
	close(fds[0]);
	close(fds[1]);
	if (saved3 >= 0) {
		dup2(saved3, 3);
		close(saved3);
	} else {
		close(3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_bind_private, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_live_refused_stale_replaced, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_share_with_group, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_a_socket, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_socket_activation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
