/* The storage password: from --password-file, else the systemd credential
 * $CREDENTIALS_DIRECTORY/sdnetd.password, else none (the store then uses a
 * random key file). There is never a built-in default password. */
#pragma once

#include "buf.h"
#include "errmsg.h"
#include "paths.h"

#define PASSWORD_CREDENTIAL "sdnetd.password"
/* A password file is one line; anything bigger is the wrong file. */
#define PASSWORD_FILE_MAX 4096

/* Which file to read: explicit (may be NULL) or the credential if it
 * exists. *ret is malloc'd, or NULL for "no password". */
int password_locate(const char *explicit_path, const struct paths_env *env, char **ret);

/* Read a password file: the bytes up to a single trailing "\n" (or
 * "\r\n"), which are dropped. The result is secret: buf_wipe_free() it.
 * Errors name the file: cannot open/read, -EFBIG over PASSWORD_FILE_MAX,
 * -EINVAL empty, or a NUL byte or a second line inside. */
int password_read(const char *path, struct buf *ret, struct errmsg *err);
