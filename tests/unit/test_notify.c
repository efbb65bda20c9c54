/* Service-manager notifications: the exact datagrams sent to
 * $NOTIFY_SOCKET, and watchdog pings at half of $WATCHDOG_USEC driven by
 * the loop (waited for on the socket, bounded by a fail-safe timer). */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/notify.h"

static char dir[64];
static int sock = -1;

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_notify.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.60s/notify", dir);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	return 0;
}

static int teardown(void **state)
{
	close(sock);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *next_message(void)
{
	static char msg[512];
	ssize_t n = recv(sock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	msg[n] = '\0';
	return msg;
}

static void test_messages(void **state)
{
	notify_ready("Running; instance a");
	assert_string_equal(next_message(), "READY=1\nSTATUS=Running; instance a");
	notify_status("Starting");
	assert_string_equal(next_message(), "STATUS=Starting");
	notify_stopping();
	assert_string_equal(next_message(), "STOPPING=1\nSTATUS=Shutting down");
	notify_reloading();
	const char *m = next_message();
	assert_true(strncmp(m, "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=",
	                    58) == 0);
	assert_true(strtoull(m + 58, NULL, 10) > 0);
	/* Nothing else was sent. */
	char extra[8];
	assert_int_equal(recv(sock, extra, sizeof(extra), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

struct watch {
	struct event_base *base;
	int pings;
};

static void on_dgram(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	char msg[64];
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return;
	msg[n] = '\0';
	assert_string_equal(msg, "WATCHDOG=1");
	if (++w->pings == 3)
		event_base_loopbreak(w->base);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_watchdog(void **state)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_USEC", "40000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	struct watch w = {.base = event_base_new()};
	struct notifier *n = notify_new(w.base);
	assert_non_null(n);
	struct event *rd = event_new(w.base, sock, EV_READ | EV_PERSIST, on_dgram, &w);
	event_add(rd, NULL);
	/* Fail-safe only; the loop ends on the third ping. */
	struct timeval limit = {10, 0};
	event_base_loopexit(w.base, &limit);
	double t0 = now();
	event_base_dispatch(w.base);
	double elapsed = now() - t0;
	assert_int_equal(w.pings, 3);
	/* Every 20 ms (half of 40 ms): three pings take at least 60 ms. */
	assert_true(elapsed >= 0.055);
	event_free(rd);
	notify_free(n);
	event_base_free(w.base);
}

static void test_no_watchdog(void **state)
{
	unsetenv("WATCHDOG_USEC");
	struct event_base *base = event_base_new();
	struct notifier *n = notify_new(base);
	assert_non_null(n);
	assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
	notify_free(n);
	/* For another process: not ours either. */
	setenv("WATCHDOG_USEC", "40000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	n = notify_new(base);
	assert_int_equal(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED), 0);
	notify_free(n);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_watchdog, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
