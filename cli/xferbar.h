/* Transfer progress for the CLI: a live bar per transfer on a terminal
 * (redrawn in place on stderr), plain lines on a pipe (stdout, at most one
 * per transfer every few seconds and at every state change), or the raw
 * events as JSON lines (--json).
 *
 *   big.bin            [##########.........]  52%  118.2 MB/s  ETA 0:04
 *   transfer 4725a1b2: transferring 52% (140.0 MB of 268.4 MB), 118.2 MB/s, ETA 4 s
 *
 * The caller feeds it transfer.progress / transfer.state event data. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Transfers shown at once (further ones are counted in a summary line). */
#define XFERBAR_MAX 16

enum xferbar_mode {
	XFERBAR_TTY,   /* bars on stderr */
	XFERBAR_PLAIN, /* lines on stdout */
	XFERBAR_JSON,  /* events on stdout, one per line */
};

struct xferbar_item {
	char id[33];
	char label[64];
	char state[24];
	uint64_t bytes, total, rate;
	int64_t eta; /* seconds, -1 unknown */
	int64_t last_plain_s;
	int last_plain_pct;
	char last_plain_state[24];
};

struct xferbar {
	enum xferbar_mode mode;
	struct xferbar_item items[XFERBAR_MAX];
	size_t n;
	size_t drawn; /* lines on screen (TTY) */
	unsigned width;
};

/* The mode for this run: JSON when json, bars when stderr is a terminal,
 * plain lines otherwise. */
void xferbar_init(struct xferbar *b, bool json);
/* An event for one transfer (kind "transfer.progress" or "transfer.state";
 * data borrowed). Returns true when the event's state is final. */
bool xferbar_event(struct xferbar *b, const char *kind, json_t *data);
/* Redraw (TTY) after a batch of events. */
void xferbar_draw(struct xferbar *b);
/* Leave the bars on screen and move below them. */
void xferbar_end(struct xferbar *b);

/* "5.2 MB" (MB = 10^6 bytes), "812 B". */
void xferbar_bytes(char *out, size_t size, uint64_t n);
/* "1:05", "1:02:03", "-:--" for unknown. */
void xferbar_eta(char *out, size_t size, int64_t s);
bool xferbar_state_final(const char *state);
