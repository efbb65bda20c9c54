/* A spinner on stderr while the CLI waits (start, stop), shown only when
 * stderr is a terminal: a pipe or a log file gets nothing. */
#pragma once

#include <stdbool.h>

struct progress {
	bool on;
	unsigned frame;
	const char *label;
};

/* label is borrowed and must outlive the progress. */
void progress_begin(struct progress *p, const char *label);
/* Advance the spinner; call every poll round. */
void progress_tick(struct progress *p);
/* Erase the spinner line. */
void progress_end(struct progress *p);
