/* Transfer progress display (see xferbar.h). */
#include "xferbar.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Plain lines: at most one per transfer this often, unless the state
 * changed or another 10% went by. */
#define PLAIN_EVERY_S 5

static const char *str_of(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static uint64_t u64_of(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

bool xferbar_state_final(const char *s)
{
	return !strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "rejected") ||
	       !strcmp(s, "expired") || !strcmp(s, "cancelled");
}

void xferbar_bytes(char *out, size_t size, uint64_t n)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB"};
	if (n < 1000) {
		snprintf(out, size, "%llu B", (unsigned long long)n);
		return;
	}
	double v = (double)n / 1000.0;
	size_t u = 0;
	while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000.0;
		u++;
	}
	snprintf(out, size, "%.1f %s", v, units[u]);
}

void xferbar_eta(char *out, size_t size, int64_t s)
{
	if (s < 0)
		snprintf(out, size, "-:--");
	else if (s >= 3600)
		snprintf(out, size, "%lld:%02lld:%02lld", (long long)(s / 3600),
		         (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(out, size, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

void xferbar_init(struct xferbar *b, bool json)
{
	memset(b, 0, sizeof(*b));
	b->mode = json ? XFERBAR_JSON : isatty(STDERR_FILENO) ? XFERBAR_TTY : XFERBAR_PLAIN;
	struct winsize ws;
	b->width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40 ? ws.ws_col : 80;
}

static struct xferbar_item *item(struct xferbar *b, const char *id)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->items[i].id, id))
			return &b->items[i];
	if (b->n == XFERBAR_MAX)
		return NULL;
	struct xferbar_item *it = &b->items[b->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->last_plain_pct = -1;
	return it;
}

static int pct(const struct xferbar_item *it)
{
	if (!it->total)
		return xferbar_state_final(it->state) && !strcmp(it->state, "completed") ? 100 : 0;
	return (int)(it->bytes * 100 / it->total);
}

static void plain_line(struct xferbar_item *it)
{
	char done[32], total[32], rate[32];
	xferbar_bytes(done, sizeof(done), it->bytes);
	xferbar_bytes(total, sizeof(total), it->total);
	xferbar_bytes(rate, sizeof(rate), it->rate);
	printf("transfer %.8s: %s %d%% (%s of %s)", it->id, it->state, pct(it), done, total);
	if (!strcmp(it->state, "transferring")) {
		printf(", %s/s", rate);
		if (it->eta >= 0)
			printf(", ETA %lld s", (long long)it->eta);
	}
	printf("\n");
	fflush(stdout);
}

static void maybe_plain(struct xferbar_item *it)
{
	int64_t now = (int64_t)time(NULL);
	int p = pct(it);
	bool changed = strcmp(it->last_plain_state, it->state) != 0;
	if (!changed && p / 10 == it->last_plain_pct / 10 && now - it->last_plain_s < PLAIN_EVERY_S)
		return;
	it->last_plain_s = now;
	it->last_plain_pct = p;
	snprintf(it->last_plain_state, sizeof(it->last_plain_state), "%s", it->state);
	plain_line(it);
}

bool xferbar_event(struct xferbar *b, const char *kind, json_t *data)
{
	const char *state = str_of(data, "state", "");
	bool final = xferbar_state_final(state);
	if (b->mode == XFERBAR_JSON) {
		json_t *line = json_pack("{s:s, s:O}", "kind", kind, "data", data);
		char *text = line ? json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (text)
			printf("%s\n", text);
		fflush(stdout);
		free(text);
		json_decref(line);
		return final;
	}
	struct xferbar_item *it = item(b, str_of(data, "id", "?"));
	if (!it)
		return final;
	snprintf(it->state, sizeof(it->state), "%s", state);
	it->bytes = u64_of(data, "bytes");
	it->total = u64_of(data, "total");
	it->rate = u64_of(data, "rate");
	json_t *eta = json_object_get(data, "eta");
	it->eta = json_is_integer(eta) ? json_integer_value(eta) : -1;
	/* The file moving now; before that, the first name offered. */
	const char *file = str_of(data, "file", "");
	if (!*file && !it->label[0])
		file = json_string_value(json_array_get(json_object_get(data, "names"), 0));
	if (file && *file) {
		const char *base = strrchr(file, '/');
		snprintf(it->label, sizeof(it->label), "%s", base ? base + 1 : file);
	} else if (!it->label[0]) {
		snprintf(it->label, sizeof(it->label), "%.8s", it->id);
	}
	if (b->mode == XFERBAR_PLAIN)
		maybe_plain(it);
	return final;
}

static void bar_line(const struct xferbar *b, const struct xferbar_item *it)
{
	char rate[32], eta[32], line[512];
	xferbar_bytes(rate, sizeof(rate), it->rate);
	xferbar_eta(eta, sizeof(eta), it->eta);
	int p = pct(it);
	unsigned cols = b->width > 100 ? 100 : b->width;
	int barw = (int)cols - 62;
	if (barw < 10)
		barw = 10;
	char bar[128];
	int fill = p * barw / 100;
	for (int i = 0; i < barw && i < (int)sizeof(bar) - 1; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[barw < (int)sizeof(bar) - 1 ? barw : (int)sizeof(bar) - 1] = '\0';
	if (!strcmp(it->state, "transferring"))
		snprintf(line, sizeof(line), "%-24.24s [%s] %3d%% %9s/s  ETA %s", it->label, bar, p,
		         rate, eta);
	else
		snprintf(line, sizeof(line), "%-24.24s [%s] %3d%%  %s", it->label, bar, p,
		         it->state);
	fprintf(stderr, "\r\033[K%s\n", line);
}

void xferbar_draw(struct xferbar *b)
{
	if (b->mode != XFERBAR_TTY || !b->n)
		return;
	if (b->drawn)
		fprintf(stderr, "\033[%zuA", b->drawn);
	for (size_t i = 0; i < b->n; i++)
		bar_line(b, &b->items[i]);
	b->drawn = b->n;
	fflush(stderr);
}

void xferbar_end(struct xferbar *b)
{
	xferbar_draw(b);
	b->drawn = 0;
}
