/* Atomic file replacement: write a temp file in the same directory, fsync it,
 * rename over the target, fsync the directory. A crash at any point leaves
 * either the complete old file or the complete new one.
 *
 * Temp files are named ".<name>.tmp-XXXXXX" next to the target, so a reader
 * that ignores dot files never mistakes one for the real file; a crash may
 * leave one behind (harmless, never read). Errors are negative errno values
 * with a struct errmsg (may be NULL) that names the path and the failed step. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errmsg.h"

/* The file ends up with exactly mode (umask does not apply). On failure the
 * target is untouched and the temp file removed. -ENOSPC, -EIO, -EACCES, ... */
int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode,
                     struct errmsg *err);
/* Like atomicfile_write but only if path does not exist yet (-EEXIST
 * otherwise, leaving it alone): the complete file appears at once or not at
 * all, so two processes racing to create it cannot both win. */
int atomicfile_create(const char *path, const void *data, size_t len, mode_t mode,
                      struct errmsg *err);
/* Read a whole file (up to max bytes; -EFBIG beyond). *ret is malloc'd. */
int atomicfile_read(const char *path, size_t max, void **ret, size_t *ret_len, struct errmsg *err);
/* The same from an open descriptor; path is only used in messages. */
int atomicfile_read_fd(int fd, const char *path, size_t max, void **ret, size_t *ret_len,
                       struct errmsg *err);
/* Whether a directory entry name is one of our temp files. */
bool atomicfile_is_temp_name(const char *name);
/* mkdir -p with mode for every created component; existing dirs are left. */
int mkdir_p(const char *path, mode_t mode);
