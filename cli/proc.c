/* /proc inspection for start and stop. A detached daemon is not our child
 * once the CLI that started it has exited, so its end shows only in /proc:
 * gone, or a zombie waiting for a reaper that may never come in a container. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Read /proc/<pid>/<name> into buf (NUL-terminated). */
static ssize_t read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

bool proc_alive(pid_t pid)
{
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	char stat[512];
	if (read_proc(pid, "stat", stat, sizeof(stat)) < 0)
		return kill(pid, 0) == 0 || errno != ESRCH;
	/* "pid (comm) S ...": the state follows the last ')' (comm may hold one). */
	const char *p = strrchr(stat, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

bool proc_is_sdnetd(pid_t pid)
{
	char comm[64];
	if (pid <= 0 || read_proc(pid, "comm", comm, sizeof(comm)) < 0)
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "sdnetd") == 0 && proc_alive(pid);
}
