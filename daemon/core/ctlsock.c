/* Control socket setup (see ctlsock.h). Runs before the event loop, so its
 * one blocking step (a connect() probe of a leftover socket file) is
 * non-blocking anyway: a live daemon with a full backlog answers EAGAIN,
 * which also means "alive". */
#include "ctlsock.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "paths.h"
#include "privdir.h"

static int activated(struct ctlsock *s, int n, struct errmsg *err)
{
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
			continue;
		struct sockaddr_un sa = {0};
		socklen_t len = sizeof(sa);
		getsockname(fd, (struct sockaddr *)&sa, &len);
		sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
		s->path = strdup(sa.sun_path[0] ? sa.sun_path : "(socket activation)");
		if (!s->path)
			return -ENOMEM;
		s->fd = fd;
		s->activated = true;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return 0;
	}
	return errmsg_set(err, -EBADF,
	                  "systemd passed %d descriptor(s) (LISTEN_FDS) but none is a listening "
	                  "Unix stream socket; check ListenStream= in sdnetd.socket",
	                  n);
}

static int fill_addr(const char *path, struct sockaddr_un *sa, struct errmsg *err)
{
	*sa = (struct sockaddr_un){.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa->sun_path))
		return errmsg_set(err, -ENAMETOOLONG, "socket path %s is too long", path);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 1: something answers on path; 0: nothing does (stale or absent). */
static int probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS)
		return 1;
	return 0;
}

static int clear_stale(const char *path, const struct sockaddr_un *sa, struct errmsg *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
		                       : errmsg_set(err, -errno, "cannot stat %s: %s", path,
		                                    strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return errmsg_set(err, -EEXIST, "%s exists and is not a socket; move it away",
		                  path);
	int r = probe(sa);
	if (r < 0)
		return errmsg_set(err, r, "cannot probe %s: %s", path, strerror(-r));
	if (r == 1)
		return errmsg_set(
		        err, -EADDRINUSE,
		        "another process is serving %s; is another instance using the same "
		        "--socket?",
		        path);
	if (unlink(path) < 0 && errno != ENOENT)
		return errmsg_set(err, -errno, "cannot remove stale socket %s: %s", path,
		                  strerror(errno));
	return 0;
}

static int bind_listen(struct ctlsock *s, const struct sockaddr_un *sa, struct errmsg *err)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errmsg_set(err, -errno, "cannot create a socket: %s", strerror(errno));
	/* The file is born 0600: no window in which others could connect. */
	mode_t old = umask(0177);
	int r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	umask(old);
	if (r == 0 && listen(fd, SOMAXCONN) < 0) {
		e = errno;
		r = -1;
		unlink(sa->sun_path);
	}
	struct stat st;
	if (r == 0 && stat(sa->sun_path, &st) < 0) {
		e = errno;
		r = -1;
	}
	if (r < 0) {
		close(fd);
		return errmsg_set(err, -e, "cannot listen on %s: %s", sa->sun_path, strerror(e));
	}
	s->fd = fd;
	s->bound = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->ctime = st.st_ctim;
	return 0;
}

int ctlsock_open(const char *path, struct ctlsock *ret, struct errmsg *err)
{
	struct ctlsock s = {.fd = -1};
	int n = sd_listen_fds(1);
	if (n < 0)
		return errmsg_set(err, n,
		                  "socket activation: LISTEN_FDS is set but unusable (%s); check "
		                  "sdnetd.socket",
		                  strerror(-n));
	if (n > 0) {
		int r = activated(&s, n, err);
		if (r == 0)
			*ret = s;
		return r;
	}
	struct sockaddr_un sa;
	int r = fill_addr(path, &sa, err);
	char *dir = r == 0 ? paths_dirname(path) : NULL;
	if (r == 0 && !dir)
		r = -ENOMEM;
	if (r == 0)
		r = privdir_ensure(dir, err);
	free(dir);
	if (r == 0)
		r = clear_stale(path, &sa, err);
	if (r == 0)
		r = bind_listen(&s, &sa, err);
	if (r == 0 && !(s.path = strdup(path)))
		r = -ENOMEM;
	if (r < 0) {
		if (s.fd >= 0)
			close(s.fd);
		return r;
	}
	*ret = s;
	return 0;
}

int ctlsock_share(struct ctlsock *s, gid_t gid, struct errmsg *err)
{
	if (!s->bound)
		return 0;
	if (chown(s->path, (uid_t)-1, gid) < 0 || chmod(s->path, 0660) < 0)
		return errmsg_set(
		        err, -errno,
		        "cannot give %s to group %lu: %s (sdnetd must run as root or as a "
		        "member of the socket group)",
		        s->path, (unsigned long)gid, strerror(errno));
	struct stat st;
	if (lstat(s->path, &st) == 0)
		s->ctime = st.st_ctim;
	return 0;
}

int ctlsock_group_lookup(const char *name, gid_t *ret, struct errmsg *err)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && errno == 0 && v < (gid_t)-1) {
		*ret = (gid_t)v;
		return 0;
	}
	struct group gr, *res = NULL;
	char buf[16384];
	int r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r != 0 || !res)
		return errmsg_set(err, -ENOENT, "socket group '%s' does not exist", name);
	*ret = res->gr_gid;
	return 0;
}

void ctlsock_release(struct ctlsock *s)
{
	struct stat st;
	if (s->bound && s->path && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino && st.st_ctim.tv_sec == s->ctime.tv_sec &&
	    st.st_ctim.tv_nsec == s->ctime.tv_nsec)
		unlink(s->path);
	free(s->path);
	s->path = NULL;
	s->bound = false;
}
