/* Device names: what other devices show for this one. */
#pragma once

#include <stddef.h>

#include "errmsg.h"

#define DEVNAME_MAX 64

/* 1 to DEVNAME_MAX bytes of valid UTF-8 without control characters (C0, DEL,
 * C1); -EINVAL with err saying which rule failed. */
int devname_check(const char *name, struct errmsg *err);
/* The name a new identity gets: the instance name for a named instance, the
 * host name for "default" (or "sdnetd" if the host name is unusable).
 * out must hold DEVNAME_MAX + 1 bytes. */
void devname_default(const char *instance, char *out);
