/* Finding and starting sdnetd for `spacedrive start`. */
#pragma once

#include <sys/types.h>

#include "errmsg.h"

/* Locate the sdnetd executable: next to this program (an installed pair),
 * then ../daemon/ from it (the meson build tree), then $PATH. Returns 0 and
 * a malloc'd path, or -ENOENT with err listing where it looked. */
int spawn_find_daemon(char **ret, struct errmsg *err);

/* Make dir (and missing parents) with mode 0700 and check that it belongs to
 * us and no one else can write to it, so a log file there cannot be swapped
 * under us. Returns 0 or a negative errno with err set. */
int spawn_private_dir(const char *dir, struct errmsg *err);

/* Open the daemon's log for appending (0600, never following a symlink),
 * after moving a non-empty previous log to "<path>.1". Returns the fd
 * (O_CLOEXEC) or a negative errno with err set. */
int spawn_open_log(const char *path, struct errmsg *err);

/* Start argv[0] with argv detached from us: a new session, stdin from
 * /dev/null, stdout and stderr to log_fd, and none of the systemd variables
 * (LISTEN_FDS, NOTIFY_SOCKET, JOURNAL_STREAM...) that would make it think a
 * service manager runs it. It stays our child until we exit (so we can
 * collect its status if it dies during start-up). Returns 0 and its pid, or
 * a negative errno (an exec failure included) with err set. */
int spawn_detached(char *const argv[], int log_fd, pid_t *ret_pid, struct errmsg *err);
