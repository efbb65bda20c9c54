/* Atomic file replacement: write a temp file in the same directory, fsync it,
 * rename over the target, fsync the directory. A crash at any point leaves
 * either the complete old file or the complete new one. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "errmsg.h"

int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode,
                     struct errmsg *err);
/* Read a whole file (up to max bytes; -EFBIG beyond). *ret is malloc'd. */
int atomicfile_read(const char *path, size_t max, void **ret, size_t *ret_len, struct errmsg *err);
/* mkdir -p with mode for every created component; existing dirs are left. */
int mkdir_p(const char *path, mode_t mode);
