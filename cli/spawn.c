/* Starting the daemon in the background without leaving it tied to the
 * terminal: fork, setsid, redirect stdio to a private log file, exec. An
 * exec failure travels back over a close-on-exec pipe, so "sdnetd not
 * executable" is reported as such rather than as a time-out later. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int try_dir(const char *dir, const char *rel, char **ret)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path) || !is_executable(path))
		return -ENOENT;
	*ret = realpath(path, NULL);
	return *ret ? 0 : -errno;
}

static int search_path(char **ret)
{
	const char *env = getenv("PATH");
	if (!env || !*env)
		return -ENOENT;
	char *copy = strdup(env);
	if (!copy)
		return -ENOMEM;
	int r = -ENOENT;
	for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && r < 0;
	     d = strtok_r(NULL, ":", &save))
		r = try_dir(*d ? d : ".", "sdnetd", ret);
	free(copy);
	return r;
}

int spawn_find_daemon(char **ret, struct errmsg *err)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if (try_dir(self, "sdnetd", ret) == 0 ||
		    try_dir(self, "../daemon/sdnetd", ret) == 0)
			return 0;
	}
	if (search_path(ret) == 0)
		return 0;
	return errmsg_set(err, -ENOENT,
	                  "cannot find the sdnetd program next to spacedrive (%s) or in $PATH; "
	                  "install it or add its directory to PATH",
	                  n > 0 ? self : "?");
}

int spawn_private_dir(const char *dir, struct errmsg *err)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return errmsg_set(err, -ENAMETOOLONG, "directory name too long: %s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return errmsg_set(err, -errno, "cannot create %s: %s", path,
			                  strerror(errno));
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return errmsg_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
	struct stat st;
	if (lstat(path, &st) < 0)
		return errmsg_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return errmsg_set(err, -EPERM,
		                  "%s is not a directory of ours that only we can write to; remove "
		                  "it or pick another --socket",
		                  path);
	return 0;
}

int spawn_open_log(const char *path, struct errmsg *err)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		char old[PATH_MAX];
		snprintf(old, sizeof(old), "%s.1", path);
		if (rename(path, old) < 0)
			return errmsg_set(err, -errno, "cannot move the old log %s aside: %s", path,
			                  strerror(errno));
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errmsg_set(err, -errno, "cannot open the log file %s: %s", path,
		                  strerror(errno));
	return fd;
}

/* Variables that tell a program a service manager started it; the daemon we
 * start is on its own. */
static const char *const manager_vars[] = {
        "LISTEN_FDS",    "LISTEN_PID",   "LISTEN_FDNAMES", "NOTIFY_SOCKET",
        "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM",
};

/* In the child, between fork and exec: only async-signal-safe calls matter
 * for correctness here, and all of these are. */
static void child(char *const argv[], int log_fd, int report_fd)
{
	setsid();
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(manager_vars) / sizeof(manager_vars[0]); i++)
		unsetenv(manager_vars[i]);
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
fail:;
	int e = errno;
	if (write(report_fd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

int spawn_detached(char *const argv[], int log_fd, pid_t *ret_pid, struct errmsg *err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return errmsg_set(err, -errno, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return errmsg_set(err, -e, "fork: %s", strerror(e));
	}
	if (pid == 0)
		child(argv, log_fd, pipefd[1]);
	close(pipefd[1]);
	int child_errno = 0;
	ssize_t n;
	do
		n = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		return errmsg_set(err, -child_errno, "cannot run %s: %s", argv[0],
		                  strerror(child_errno));
	}
	*ret_pid = pid;
	return 0;
}
