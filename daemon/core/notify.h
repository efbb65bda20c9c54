/* Talking to the service manager (sd_notify): READY=1 once the control
 * socket listens, STATUS= lines, RELOADING=1 around SIGHUP, STOPPING=1 on
 * shutdown, and WATCHDOG=1 pings from a loop timer at half of
 * $WATCHDOG_USEC, so a wedged loop stops the pings and systemd restarts us.
 * Without $NOTIFY_SOCKET every call is a no-op. */
#pragma once

#include <event2/event.h>

struct notifier;

/* NULL on ENOMEM. The watchdog timer (if systemd asked for one) starts
 * now. */
struct notifier *notify_new(struct event_base *base);
void notify_free(struct notifier *n);

void notify_ready(const char *status);
void notify_status(const char *status);
void notify_reloading(void);
void notify_stopping(void);
