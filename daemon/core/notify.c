/* sd_notify glue (see notify.h). Messages are best effort: a failure to
 * reach the manager must never stop the daemon. */
#include "notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"

struct notifier {
	struct event *watchdog;
};

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

struct notifier *notify_new(struct event_base *base)
{
	struct notifier *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return n;
	n->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
	if (!n->watchdog) {
		free(n);
		return NULL;
	}
	uint64_t half = usec / 2;
	struct timeval tv = {.tv_sec = (time_t)(half / 1000000),
	                     .tv_usec = (suseconds_t)(half % 1000000)};
	event_add(n->watchdog, &tv);
	log_debug("watchdog: pinging every %llu ms", (unsigned long long)(half / 1000));
	return n;
}

void notify_free(struct notifier *n)
{
	if (!n)
		return;
	if (n->watchdog)
		event_free(n->watchdog);
	free(n);
}

void notify_ready(const char *status)
{
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_status(const char *status)
{
	(void)sd_notifyf(0, "STATUS=%s", status);
}

void notify_reloading(void)
{
	/* MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match the
	 * reload to this message; older managers ignore it. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=%llu",
	                 (unsigned long long)ts.tv_sec * 1000000ULL +
	                         (unsigned long long)ts.tv_nsec / 1000ULL);
}

void notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
}
