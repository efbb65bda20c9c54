/* Directories the daemon creates for itself (data, control socket). */
#pragma once

#include "errmsg.h"

/* mkdir -p with mode 0700 for every component created, then check the
 * directory is safe to keep secrets or a socket in: a real directory (not a
 * symlink), owned by us or root, and not writable by others unless sticky
 * (like /tmp). Otherwise -EPERM with err naming the directory and what is
 * wrong, e.g. one another user made in /tmp first. */
int privdir_ensure(const char *path, struct errmsg *err);
