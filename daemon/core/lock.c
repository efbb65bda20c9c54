/* Instance lock (see lock.h for why flock and why the file stays). */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct lock {
	int fd;
};

pid_t lock_read_pid(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || (*end != '\n' && *end != '\0') || v <= 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
}

static int busy(int fd, const char *instance, pid_t *ret_holder, struct errmsg *err)
{
	pid_t pid = lock_read_pid(fd);
	if (ret_holder)
		*ret_holder = pid;
	char who[32] = "pid unknown";
	if (pid > 0)
		snprintf(who, sizeof(who), "pid %ld", (long)pid);
	return errmsg_set(err, -EBUSY,
	                  "instance '%s' is already running (%s); stop it with: spacedrive "
	                  "--instance %s stop",
	                  instance, who, instance);
}

static int write_pid(int fd)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0)
		return -errno;
	ssize_t w = pwrite(fd, text, (size_t)n, 0);
	if (w < 0)
		return -errno;
	return w == n ? 0 : -EIO;
}

int lock_acquire(const char *path, const char *instance, struct lock **ret, pid_t *ret_holder,
                 struct errmsg *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return errmsg_set(err, -errno, "cannot open lock file %s: %s", path,
		                  strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? busy(fd, instance, ret_holder, err)
		                             : errmsg_set(err, -errno, "cannot lock %s: %s", path,
		                                          strerror(errno));
		close(fd);
		return r;
	}
	int r = write_pid(fd);
	struct lock *l = r == 0 ? malloc(sizeof(*l)) : NULL;
	if (!l) {
		r = r < 0 ? r : -ENOMEM;
		close(fd);
		return errmsg_set(err, r, "cannot write lock file %s: %s", path, strerror(-r));
	}
	l->fd = fd;
	*ret = l;
	return 0;
}

void lock_release(struct lock *l)
{
	if (!l)
		return;
	/* Emptied first: a reader that races the close sees "pid unknown"
	 * rather than a pid that is about to be gone. */
	(void)ftruncate(l->fd, 0);
	close(l->fd);
	free(l);
}
