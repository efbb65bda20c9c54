/* rtnetlink change notifications (see netwatch.h). */
#include "netwatch.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Datagrams read per wake-up, so a flood cannot hold the loop. */
#define NETWATCH_READ_BATCH 64

struct netwatch {
	int fd;
	struct event *ev, *timer;
	uint32_t debounce_ms;
	netwatch_cb cb;
	void *ctx;
};

static void arm(struct netwatch *w)
{
	struct timeval tv = {.tv_sec = w->debounce_ms / 1000,
	                     .tv_usec = (suseconds_t)(w->debounce_ms % 1000) * 1000};
	/* From the first change of a burst: a link that keeps flapping must
	 * not postpone the rescan for ever. */
	if (!evtimer_pending(w->timer, NULL))
		evtimer_add(w->timer, &tv);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct netwatch *w = arg;
	uint8_t buf[8192];
	bool changed = false;
	for (int i = 0; i < NETWATCH_READ_BATCH; i++) {
		struct sockaddr_nl from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: messages were lost; a rescan covers them. */
			changed |= errno == ENOBUFS;
			break;
		}
		if (len == sizeof(from) && from.nl_pid == 0) /* the kernel's */
			changed = true;
	}
	if (changed)
		arm(w);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct netwatch *w = arg;
	w->cb(w->ctx);
}

int netwatch_new(struct event_base *base, uint32_t debounce_ms, netwatch_cb cb, void *ctx,
                 struct netwatch **ret, struct errmsg *err)
{
	*ret = NULL;
	struct netwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return errmsg_set(err, -ENOMEM, "out of memory");
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	w->debounce_ms = debounce_ms ? debounce_ms : NETWATCH_DEFAULT_DEBOUNCE_MS;
	w->cb = cb;
	w->ctx = ctx;
	int r = 0;
	if (w->fd < 0) {
		r = errmsg_set(err, -errno, "netlink socket: %s", strerror(errno));
	} else {
		struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
		                         .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
		                                      RTMGRP_IPV6_IFADDR};
		if (bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			r = errmsg_set(err, -errno, "netlink bind: %s", strerror(errno));
	}
	if (r == 0) {
		w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, read_cb, w);
		w->timer = evtimer_new(base, timer_cb, w);
		if (!w->ev || !w->timer || event_add(w->ev, NULL) < 0)
			r = errmsg_set(err, -ENOMEM, "out of memory");
	}
	if (r < 0) {
		netwatch_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void netwatch_free(struct netwatch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->timer)
		event_free(w->timer);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}
