/* Terminal-only progress: a spinner redrawn in place with '\r', erased
 * before the command prints its result so output stays clean. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

void progress_begin(struct progress *p, const char *label)
{
	*p = (struct progress){.on = isatty(STDERR_FILENO) == 1, .label = label};
	progress_tick(p);
}

void progress_tick(struct progress *p)
{
	static const char frames[] = "|/-\\";
	if (!p->on)
		return;
	fprintf(stderr, "\r%s %c", p->label, frames[p->frame++ % 4]);
	fflush(stderr);
}

void progress_end(struct progress *p)
{
	if (!p->on)
		return;
	/* Carriage return, erase to end of line. */
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
	p->on = false;
}
