/* Reading the storage password (see password.h). A password file with a
 * second line is refused rather than guessed at: "first line" and "whole
 * file" would give different keys, and picking the wrong one would look
 * like a wrong password. */
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"

int password_locate(const char *explicit_path, const struct paths_env *env, char **ret)
{
	*ret = NULL;
	if (explicit_path)
		return (*ret = strdup(explicit_path)) ? 0 : -ENOMEM;
	char *cred;
	if (paths_credential(env, PASSWORD_CREDENTIAL, &cred, NULL) < 0)
		return 0;
	if (access(cred, F_OK) == 0)
		*ret = cred;
	else
		free(cred);
	return 0;
}

static int check(const char *path, struct buf *b, struct errmsg *err)
{
	if (b->len > 0 && b->data[b->len - 1] == '\n')
		b->len--;
	if (b->len > 0 && b->data[b->len - 1] == '\r')
		b->len--;
	if (b->len == 0)
		return errmsg_set(err, -EINVAL, "password file %s is empty; put the password in it",
		                  path);
	if (memchr(b->data, '\n', b->len) || memchr(b->data, '\0', b->len))
		return errmsg_set(
		        err, -EINVAL,
		        "password file %s has more than one line (or a NUL byte); it must "
		        "hold only the password",
		        path);
	return 0;
}

int password_read(const char *path, struct buf *ret, struct errmsg *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errmsg_set(err, -errno, "cannot open password file %s: %s", path,
		                  strerror(errno));
	uint8_t tmp[PASSWORD_FILE_MAX + 1];
	size_t len = 0;
	int r = 0;
	while (len < sizeof(tmp)) {
		ssize_t n = read(fd, tmp + len, sizeof(tmp) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = errmsg_set(err, -errno, "cannot read password file %s: %s", path,
			               strerror(errno));
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r == 0 && len > PASSWORD_FILE_MAX)
		r = errmsg_set(err, -EFBIG,
		               "password file %s is over %d bytes; is it the right file?", path,
		               PASSWORD_FILE_MAX);
	struct buf b = BUF_INIT;
	if (r == 0)
		r = buf_append(&b, tmp, len);
	crypto_wipe(tmp, sizeof(tmp));
	if (r == 0)
		r = check(path, &b, err);
	if (r < 0) {
		buf_wipe_free(&b);
		return r;
	}
	*ret = b;
	return 0;
}
