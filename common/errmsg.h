/* A human-readable error detail that travels next to a negative errno.
 *
 * Functions that parse user- or peer-supplied text take an optional
 * struct errmsg * (may be NULL) and fill it with what failed and where, e.g.
 * "multiaddr: unknown protocol 'tpc' at component 2". The errno stays the
 * machine-readable result. */
#pragma once

#include <stddef.h>

#define ERRMSG_MAX 256

struct errmsg {
	char text[ERRMSG_MAX];
};

/* Always returns err_code, so callers can write: return errmsg_set(e, -EINVAL, ...). */
int errmsg_set(struct errmsg *e, int err_code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Prefix existing text with "prefix: ". */
void errmsg_prefix(struct errmsg *e, const char *prefix);
