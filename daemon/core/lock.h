/* The instance lock: one sdnetd per instance.
 *
 * A file (sdnetd.lock in the instance's data directory) held with flock()
 * for the daemon's lifetime and holding its pid, so a second daemon can say
 * who is in the way. flock belongs to the open file description, so the
 * kernel drops it when the holder dies however it dies: a lock file left by
 * a killed daemon is simply taken over. The file is never unlinked (that
 * would let two daemons lock two different inodes of the same name); the
 * holder empties it on release. The descriptor is O_CLOEXEC, so nothing the
 * daemon might spawn keeps the instance locked. */
#pragma once

#include <sys/types.h>

#include "errmsg.h"

#define LOCK_FILE_NAME "sdnetd.lock"

struct lock;

/* Take the lock at path (created 0600 if missing). instance is only used
 * for the message. Errors:
 *   -EBUSY  another process holds it; err reads "instance 'alice' is already
 *           running (pid 1234); stop it with: spacedrive --instance alice
 *           stop" and *ret_holder (may be NULL) is its pid, 0 if unknown;
 *   other   negative errno from open/flock/write, err naming the file. */
int lock_acquire(const char *path, const char *instance, struct lock **ret, pid_t *ret_holder,
                 struct errmsg *err);
/* Empty the file and drop the lock. NULL is fine. */
void lock_release(struct lock *l);
/* The pid recorded in a lock file, 0 when empty, unreadable or garbage. */
pid_t lock_read_pid(int fd);
