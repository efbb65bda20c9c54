/* Instance lock: a second holder is refused with the first one's pid (in
 * this process and in a forked one), a dead holder's lock is taken over,
 * and the descriptor does not leak into exec'd children. Also the private
 * directory check used next to it. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/lock.h"
#include "core/privdir.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_lock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE_NAME);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static pid_t file_pid(void)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	pid_t p = lock_read_pid(fd);
	close(fd);
	return p;
}

static void expected_message(char *out, size_t len, pid_t pid)
{
	snprintf(out, len,
	         "instance 'alice' is already running (pid %ld); stop it with: spacedrive "
	         "--instance alice stop",
	         (long)pid);
}

static void test_second_lock_same_process(void **state)
{
	struct lock *a = NULL, *b = NULL;
	struct errmsg e;
	assert_int_equal(lock_acquire(path, "alice", &a, NULL, &e), 0);
	assert_int_equal(file_pid(), getpid());
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	pid_t holder = -1;
	assert_int_equal(lock_acquire(path, "alice", &b, &holder, &e), -EBUSY);
	assert_null(b);
	assert_int_equal(holder, getpid());
	char want[256];
	expected_message(want, sizeof(want), getpid());
	assert_string_equal(e.text, want);
	lock_release(a);
	/* Released: emptied, and free to take again. */
	assert_int_equal(file_pid(), 0);
	assert_int_equal(lock_acquire(path, "alice", &b, NULL, &e), 0);
	lock_release(b);
}

static void test_second_lock_other_process(void **state)
{
	struct lock *a = NULL;
	struct errmsg e;
	assert_int_equal(lock_acquire(path, "alice", &a, NULL, &e), 0);
	pid_t parent = getpid();
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct lock *b = NULL;
		struct errmsg ce;
		pid_t holder = 0;
		char want[256];
		expected_message(want, sizeof(want), parent);
		int r = lock_acquire(path, "alice", &b, &holder, &ce);
		_exit(r == -EBUSY && holder == parent && strcmp(ce.text, want) == 0 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	lock_release(a);
}

static void test_dead_holder_taken_over(void **state)
{
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct lock *b = NULL;
		/* Exit holding it, as a killed daemon would. */
		_exit(lock_acquire(path, "alice", &b, NULL, NULL) == 0 ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(file_pid(), child);
	struct lock *a = NULL;
	struct errmsg e;
	assert_int_equal(lock_acquire(path, "alice", &a, NULL, &e), 0);
	assert_int_equal(file_pid(), getpid());
	lock_release(a);
}

/* The lock's descriptor is close-on-exec. */
static void test_cloexec(void **state)
{
	struct lock *a = NULL;
	assert_int_equal(lock_acquire(path, "alice", &a, NULL, NULL), 0);
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	struct dirent *de;
	int found = 0;
	char real[256];
	assert_non_null(realpath(path, real));
	while ((de = readdir(d))) {
		char link[300], target[256];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, real) != 0)
			continue;
		int flags = fcntl(atoi(de->d_name), F_GETFD);
		assert_true(flags >= 0 && (flags & FD_CLOEXEC));
		found++;
	}
	closedir(d);
	assert_int_equal(found, 1);
	lock_release(a);
}

static void test_symlink_refused(void **state)
{
	char link[160];
	snprintf(link, sizeof(link), "%s/link.lock", dir);
	assert_int_equal(symlink(path, link), 0);
	struct lock *a = NULL;
	struct errmsg e;
	assert_int_equal(lock_acquire(link, "alice", &a, NULL, &e), -ELOOP);
	assert_non_null(strstr(e.text, link));
	unlink(link);
}

static void test_read_pid(void **state)
{
	static const struct {
		const char *text;
		pid_t pid;
	} cases[] = {
	        {"1234\n", 1234}, {"1234", 1234}, {"", 0},    {"abc\n", 0},
	        {"-5\n", 0},      {"0\n", 0},     {"12x", 0}, {"99999999999999\n", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text, strlen(cases[i].text)),
		                 (ssize_t)strlen(cases[i].text));
		assert_int_equal(lock_read_pid(fd), cases[i].pid);
		close(fd);
	}
}

static void test_privdir(void **state)
{
	char sub[160];
	struct errmsg e;
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	assert_int_equal(privdir_ensure(sub, &e), 0);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Existing and fine: unchanged. */
	assert_int_equal(privdir_ensure(sub, &e), 0);
	/* Writable by others: refused, with the remedy. */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(privdir_ensure(sub, &e), -EPERM);
	assert_non_null(strstr(e.text, "chmod 700"));
	/* Sticky like /tmp: fine. */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(privdir_ensure(sub, &e), 0);
	assert_int_equal(privdir_ensure("/tmp", &e), 0);
	/* A symlink or a file where the directory should be. */
	char link[160];
	snprintf(link, sizeof(link), "%s/l", dir);
	assert_int_equal(symlink(sub, link), 0);
	assert_int_equal(privdir_ensure(link, &e), -ENOTDIR);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(privdir_ensure(path, &e), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_second_lock_same_process, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_second_lock_other_process, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dead_holder_taken_over, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cloexec, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_pid, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_privdir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
