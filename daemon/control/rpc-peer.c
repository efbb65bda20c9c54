/* Who is on the other end of the control socket, and may they talk to us.
 * The socket's file mode is the first fence; this is the second, checked on
 * every accept with the kernel's own record of the peer (SO_PEERCRED, and
 * SO_PEERGROUPS for supplementary groups, as they were at connect time). */
#include "rpc-internal.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Most supplementary groups we look at (the kernel's NGROUPS_MAX). */
#define RPC_PEER_MAX_GROUPS 65536

int rpc_peer_read(int fd, struct rpc_peer *ret)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	if (len != sizeof(uc))
		return -EIO;
	*ret = (struct rpc_peer){.pid = uc.pid, .uid = uc.uid, .gid = uc.gid};
	return 0;
}

static void group_label(gid_t gid, char *out, size_t n)
{
	struct group gr, *res = NULL;
	char tmp[1024];
	if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(out, n, "group '%s'", res->gr_name);
	else
		snprintf(out, n, "group %u", (unsigned)gid);
}

static bool in_groups(gid_t want, gid_t gid, const gid_t *groups, size_t ngroups)
{
	if (gid == want)
		return true;
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == want)
			return true;
	return false;
}

int rpc_peer_check(const struct rpc_server_config *cfg, uid_t uid, gid_t gid, const gid_t *groups,
                   size_t ngroups, struct errmsg *why)
{
	if (uid == 0 || uid == cfg->owner_uid)
		return 0;
	bool by_group = cfg->allowed_gid != (gid_t)-1;
	if (by_group && in_groups(cfg->allowed_gid, gid, groups, ngroups))
		return 0;
	if (!by_group)
		return errmsg_set(why, -EPERM,
		                  "Permission denied: uid %u may not use this socket; only uid %u "
		                  "(the daemon's user) and root may. Run the client as that user",
		                  (unsigned)uid, (unsigned)cfg->owner_uid);
	char label[128];
	group_label(cfg->allowed_gid, label, sizeof(label));
	return errmsg_set(why, -EPERM,
	                  "Permission denied: uid %u may not use this socket; only uid %u (the "
	                  "daemon's user), root and members of %s may. Add the user to that "
	                  "group and log in again",
	                  (unsigned)uid, (unsigned)cfg->owner_uid, label);
}

/* SO_PEERGROUPS reports the size it needs with ERANGE. */
static int peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
	socklen_t len = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) < 0 && errno != ERANGE)
		return -errno;
	if (len / sizeof(gid_t) > RPC_PEER_MAX_GROUPS)
		return -E2BIG;
	gid_t *g = malloc(len ? len : sizeof(gid_t));
	if (!g)
		return -ENOMEM;
	if (len && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		int r = -errno;
		free(g);
		return r;
	}
	*ret = g;
	*ret_n = len / sizeof(gid_t);
	return 0;
}

/* Fallback for kernels without SO_PEERGROUPS: the user's configured groups. */
static int user_groups(uid_t uid, gid_t gid, gid_t **ret, size_t *ret_n)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || !res)
		return -ENOENT;
	int n = 64;
	gid_t *g = NULL;
	for (int tries = 0; tries < 2; tries++) {
		free(g);
		g = malloc((size_t)n * sizeof(gid_t));
		if (!g)
			return -ENOMEM;
		if (getgrouplist(res->pw_name, gid, g, &n) >= 0) {
			*ret = g;
			*ret_n = (size_t)n;
			return 0;
		}
		if (n <= 0 || n > RPC_PEER_MAX_GROUPS)
			break;
	}
	free(g);
	return -E2BIG;
}

int rpc_peer_check_fd(const struct rpc_server_config *cfg, int fd, const struct rpc_peer *p,
                      struct errmsg *why)
{
	/* Groups are only read when uid and primary gid did not settle it. */
	if (rpc_peer_check(cfg, p->uid, p->gid, NULL, 0, NULL) == 0)
		return 0;
	gid_t *groups = NULL;
	size_t n = 0;
	if (cfg->allowed_gid != (gid_t)-1 && peer_groups(fd, &groups, &n) < 0 &&
	    user_groups(p->uid, p->gid, &groups, &n) < 0)
		n = 0;
	int r = rpc_peer_check(cfg, p->uid, p->gid, groups, n, why);
	free(groups);
	return r;
}
