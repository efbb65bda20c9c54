/* Private directories: create what is missing (0700) and refuse a
 * directory someone else controls, since the socket and the key store
 * would be theirs to replace. */
#include "privdir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_parents(const char *path, struct errmsg *err)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return errmsg_set(err, -ENAMETOOLONG, "path too long: %s", path);
	for (char *p = buf + 1;; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return errmsg_set(err, -errno, "cannot create directory %s: %s", buf,
			                  strerror(errno));
		if (end)
			return 0;
		*p = '/';
	}
}

int privdir_ensure(const char *path, struct errmsg *err)
{
	int r = mkdir_parents(path, err);
	if (r < 0)
		return r;
	struct stat st;
	if (lstat(path, &st) < 0)
		return errmsg_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errmsg_set(err, -ENOTDIR, "%s is not a directory (a symlink or a file?)",
		                  path);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return errmsg_set(err, -EPERM,
		                  "directory %s belongs to uid %lu, not to us (uid %lu); remove it "
		                  "or choose another path",
		                  path, (unsigned long)st.st_uid, (unsigned long)geteuid());
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return errmsg_set(err, -EPERM,
		                  "directory %s is writable by other users (mode %04o); run "
		                  "chmod 700 on it",
		                  path, (unsigned)(st.st_mode & 07777));
	return 0;
}
