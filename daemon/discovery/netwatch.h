/* Hear about interface and address changes (rtnetlink link and address
 * groups) and report them, debounced: a burst of changes (an interface
 * coming up brings several messages) becomes one callback a short while
 * after the first one. The messages themselves are not parsed: the caller
 * reads a fresh snapshot (netif.h), so nothing here trusts their contents. */
#pragma once

#include <event2/event.h>
#include <stdint.h>

#include "errmsg.h"

#define NETWATCH_DEFAULT_DEBOUNCE_MS 100

struct netwatch;
typedef void (*netwatch_cb)(void *ctx);

/* debounce_ms 0 takes the default. -errno with err saying what failed. */
int netwatch_new(struct event_base *base, uint32_t debounce_ms, netwatch_cb cb, void *ctx,
                 struct netwatch **ret, struct errmsg *err);
/* NULL-safe. */
void netwatch_free(struct netwatch *w);
