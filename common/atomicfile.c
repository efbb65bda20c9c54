/* Atomic whole-file writes and bounded whole-file reads.
 *
 * The protocol: mkostemp() a dot-named temp file in the target's directory
 * (same file system, so rename is atomic), fchmod it to the wanted mode (the
 * umask never loosens or tightens what the caller asked for), write, fsync,
 * close, rename over the target, fsync the directory so the rename itself is
 * durable. Until the rename the old file is untouched; after it the new one is
 * complete. */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_MARK ".tmp-"

/* Split path into a directory (malloc'd, "." when there is none) and the
 * base name (a pointer into path). */
static int split_path(const char *path, char **ret_dir, const char **ret_base)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	*ret_dir = dir;
	*ret_base = slash ? slash + 1 : path;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fail(struct errmsg *err, int r, const char *what, const char *path)
{
	if (r == -ENOSPC || r == -EDQUOT)
		return errmsg_set(err, r, "%s %s: %s (free some space and retry)", what, path,
		                  strerror(-r));
	return errmsg_set(err, r, "%s %s: %s", what, path, strerror(-r));
}

/* Write data to a fresh temp file next to path; on success *ret_tmp names
 * it (malloc'd) and it is complete and durable, with exactly mode. */
static int write_temp(const char *path, const void *data, size_t len, mode_t mode, char **ret_tmp,
                      struct errmsg *err)
{
	char *dir;
	const char *base;
	if (split_path(path, &dir, &base) < 0)
		return errmsg_set(err, -ENOMEM, "out of memory");
	char *tmp = NULL;
	int n = asprintf(&tmp, "%s/.%s" TEMP_MARK "XXXXXX", dir, base);
	free(dir);
	if (n < 0)
		return errmsg_set(err, -ENOMEM, "out of memory");
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int r = fail(err, -errno, "cannot create a temp file for", path);
		free(tmp);
		return r;
	}
	int r = 0;
	if (fchmod(fd, mode) < 0)
		r = fail(err, -errno, "cannot set the mode of", tmp);
	else if ((r = write_all(fd, data, len)) < 0)
		fail(err, r, "cannot write", tmp);
	else if (fsync(fd) < 0)
		r = fail(err, -errno, "cannot sync", tmp);
	if (close(fd) < 0 && r == 0)
		r = fail(err, -errno, "cannot close", tmp);
	if (r < 0) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	*ret_tmp = tmp;
	return 0;
}

static int sync_parent(const char *path, struct errmsg *err)
{
	char *dir;
	const char *base;
	if (split_path(path, &dir, &base) < 0)
		return errmsg_set(err, -ENOMEM, "out of memory");
	int r = fsync_dir(dir);
	if (r < 0)
		fail(err, r, "cannot sync directory", dir);
	free(dir);
	return r;
}

int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode,
                     struct errmsg *err)
{
	char *tmp;
	int r = write_temp(path, data, len, mode, &tmp, err);
	if (r < 0)
		return r;
	if (rename(tmp, path) < 0) {
		r = fail(err, -errno, "cannot rename a temp file over", path);
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	return sync_parent(path, err);
}

/* Move tmp to path unless path exists. renameat2(RENAME_NOREPLACE) does it
 * in one step; file systems without it still support link(). */
static int move_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(tmp, path) < 0)
		return -errno;
	unlink(tmp);
	return 0;
}

int atomicfile_create(const char *path, const void *data, size_t len, mode_t mode,
                      struct errmsg *err)
{
	char *tmp;
	int r = write_temp(path, data, len, mode, &tmp, err);
	if (r < 0)
		return r;
	r = move_noreplace(tmp, path);
	if (r < 0) {
		if (r == -EEXIST)
			errmsg_set(err, r, "%s already exists", path);
		else
			fail(err, r, "cannot create", path);
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	return sync_parent(path, err);
}

int atomicfile_read_fd(int fd, const char *path, size_t max, void **ret, size_t *ret_len,
                       struct errmsg *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail(err, -errno, "cannot stat", path);
	if (!S_ISREG(st.st_mode))
		return errmsg_set(err, -EINVAL, "%s is not a regular file", path);
	if ((uint64_t)st.st_size > max)
		return errmsg_set(err, -EFBIG, "%s is %llu bytes, over the %zu-byte limit", path,
		                  (unsigned long long)st.st_size, max);
	/* Read up to max + 1 bytes: the file may grow after fstat. */
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *data = malloc(cap);
	if (!data)
		return errmsg_set(err, -ENOMEM, "out of memory reading %s", path);
	for (;;) {
		if (len == cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nd = ncap > cap ? realloc(data, ncap) : NULL;
			if (!nd) {
				free(data);
				return len > max ? errmsg_set(err, -EFBIG, "%s grew over %zu bytes",
				                              path, max)
				                 : errmsg_set(err, -ENOMEM, "out of memory");
			}
			data = nd;
			cap = ncap;
		}
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = fail(err, -errno, "cannot read", path);
			free(data);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret = data;
	*ret_len = len;
	return 0;
}

int atomicfile_read(const char *path, size_t max, void **ret, size_t *ret_len, struct errmsg *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return errmsg_set(err, -ENOENT, "%s does not exist", path);
		return fail(err, -errno, "cannot open", path);
	}
	int r = atomicfile_read_fd(fd, path, max, ret, ret_len, err);
	close(fd);
	return r;
}

bool atomicfile_is_temp_name(const char *name)
{
	if (name[0] != '.')
		return false;
	const char *mark = strstr(name, TEMP_MARK);
	/* The mark is followed by mkostemp's six characters and nothing else. */
	while (mark && strlen(mark) != strlen(TEMP_MARK) + 6)
		mark = strstr(mark + 1, TEMP_MARK);
	return mark != NULL;
}

static int mkdir_one(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0) {
		/* mkdir's mode is filtered by the umask; set exactly what was asked. */
		return chmod(path, mode) < 0 ? -errno : 0;
	}
	if (errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_p(const char *path, mode_t mode)
{
	if (!path || !*path)
		return -EINVAL;
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	int r = 0;
	for (char *s = p + 1; *s && r == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (s[-1] != '/')
			r = mkdir_one(p, mode);
		*s = '/';
	}
	size_t n = strlen(p);
	if (r == 0 && p[n - 1] != '/')
		r = mkdir_one(p, mode);
	free(p);
	return r;
}
