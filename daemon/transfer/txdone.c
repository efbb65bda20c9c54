/* Completed incoming transfers, remembered across restarts (txdone.h). */
#include "txdone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "buf.h"
#include "peerid.h"

#define ID_HEX 32

struct txdone_entry {
	char id[ID_HEX + 1];
	char peer[PEERID_TEXT_MAX];
};

struct txdone {
	char *path;
	size_t max, n;
	struct txdone_entry *e; /* oldest first */
};

static bool valid_id(const char *s)
{
	size_t i = 0;
	for (; s[i] && i <= ID_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == ID_HEX && !s[i];
}

static bool valid_peer(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len >= PEERID_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static ssize_t find(const struct txdone *d, const char *idhex, const char *peer)
{
	for (size_t i = 0; d && i < d->n; i++)
		if (!strcmp(d->e[i].id, idhex) && (!peer || !strcmp(d->e[i].peer, peer)))
			return (ssize_t)i;
	return -1;
}

/* Append without writing; the oldest goes when full. */
static void push(struct txdone *d, const char *idhex, const char *peer)
{
	ssize_t at = find(d, idhex, NULL);
	if (at >= 0) {
		memmove(&d->e[at], &d->e[at + 1], (d->n - (size_t)at - 1) * sizeof(*d->e));
		d->n--;
	}
	if (d->n == d->max) {
		memmove(&d->e[0], &d->e[1], (d->n - 1) * sizeof(*d->e));
		d->n--;
	}
	struct txdone_entry *e = &d->e[d->n++];
	snprintf(e->id, sizeof(e->id), "%s", idhex);
	snprintf(e->peer, sizeof(e->peer), "%s", peer);
}

static void parse(struct txdone *d, char *text)
{
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		if (valid_id(line) && valid_peer(sp + 1))
			push(d, line, sp + 1);
	}
}

int txdone_open(const char *path, size_t max, struct txdone **ret, struct errmsg *err)
{
	struct txdone *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->max = max ? max : TXDONE_MAX;
	d->path = strdup(path);
	d->e = calloc(d->max, sizeof(*d->e));
	if (!d->path || !d->e) {
		txdone_free(d);
		return -ENOMEM;
	}
	void *data = NULL;
	size_t len = 0;
	/* Each line is at most ID_HEX + 1 + PEERID_TEXT_MAX bytes. */
	size_t cap = d->max * (ID_HEX + 2 + PEERID_TEXT_MAX);
	int r = atomicfile_read(path, cap, &data, &len, err);
	if (r == 0) {
		char *text = malloc(len + 1);
		if (text) {
			memcpy(text, data, len);
			text[len] = '\0';
			parse(d, text);
		}
		free(text);
	} else if (r == -ENOENT) {
		/* Made now, empty: the data directory looks the same before
		 * and after the first completion. Best effort. */
		(void)atomicfile_create(path, "", 0, 0600, NULL);
		if (err)
			err->text[0] = '\0';
	}
	free(data);
	*ret = d;
	return 0;
}

void txdone_free(struct txdone *d)
{
	if (!d)
		return;
	free(d->e);
	free(d->path);
	free(d);
}

bool txdone_has(const struct txdone *d, const char *idhex, const char *peer)
{
	return find(d, idhex, peer) >= 0;
}

size_t txdone_count(const struct txdone *d)
{
	return d ? d->n : 0;
}

int txdone_add(struct txdone *d, const char *idhex, const char *peer, struct errmsg *err)
{
	if (!valid_id(idhex) || !valid_peer(peer))
		return errmsg_set(err, -EINVAL, "not a transfer id and peer ID");
	push(d, idhex, peer);
	struct buf b = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < d->n && r == 0; i++) {
		r = buf_append(&b, d->e[i].id, strlen(d->e[i].id));
		if (r == 0)
			r = buf_append(&b, " ", 1);
		if (r == 0)
			r = buf_append(&b, d->e[i].peer, strlen(d->e[i].peer));
		if (r == 0)
			r = buf_append(&b, "\n", 1);
	}
	if (r < 0)
		errmsg_set(err, r, "out of memory");
	else
		r = atomicfile_write(d->path, b.data, b.len, 0600, err);
	buf_free(&b);
	return r;
}
