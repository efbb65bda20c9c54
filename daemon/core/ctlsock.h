/* The control socket's listening descriptor: systemd's (socket activation)
 * or one we bind ourselves.
 *
 * Binding: the parent directory is made private (0700) if missing, the
 * socket file is created 0600. A socket file left by a daemon that died is
 * replaced (nothing answers on it); one that answers belongs to a live
 * daemon and is refused. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "errmsg.h"

struct ctlsock {
	int fd;     /* listening; handed to rpc_server_new, which then owns it */
	char *path; /* file system path (for activation: what systemd bound) */
	bool activated;
	bool bound; /* we created the file and remove it on exit */
	/* Identity of the file we bound, so we never remove one that replaced
	 * it (inode numbers are reused at once, hence the change time too). */
	dev_t dev;
	ino_t ino;
	struct timespec ctime;
};

/* Use the socket passed with LISTEN_FDS if there is one (then path is
 * ignored), else bind path. -EBADF when systemd passed descriptors but none
 * is a listening Unix stream socket; -EADDRINUSE when a live process
 * answers on path; -EEXIST when path is something other than a socket. */
int ctlsock_open(const char *path, struct ctlsock *ret, struct errmsg *err);
/* Let a group use a socket we bound: the file gets that group and mode
 * 0660 (under socket activation, systemd's SocketGroup=/SocketMode= decide
 * and this does nothing). -EPERM when we may not give the file to the group
 * (not root, not a member). */
int ctlsock_share(struct ctlsock *s, gid_t gid, struct errmsg *err);
/* A group name or number to its gid: -ENOENT naming it if there is none. */
int ctlsock_group_lookup(const char *name, gid_t *ret, struct errmsg *err);
/* Remove the socket file if we bound it and it is still ours; free path.
 * Does not close fd (the RPC server owns it by then). */
void ctlsock_release(struct ctlsock *s);
