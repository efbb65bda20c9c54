/* Error details: a fixed-size message so error paths never allocate. */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errmsg_set(struct errmsg *e, int err_code, const char *fmt, ...)
{
	if (!e)
		return err_code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return err_code;
}

void errmsg_prefix(struct errmsg *e, const char *prefix)
{
	if (!e)
		return;
	char tmp[2 * ERRMSG_MAX];
	snprintf(tmp, sizeof(tmp), "%s: %s", prefix, e->text);
	/* Truncate to fit; the start of a message says the most. */
	memcpy(e->text, tmp, ERRMSG_MAX - 1);
	e->text[ERRMSG_MAX - 1] = '\0';
}
