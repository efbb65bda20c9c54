/* The protocol registry: protocol ID -> handler row, in registration order.
 *
 * Rows are copied (the ID too), so a module may register a table built on
 * the stack. The registry is small and read on every inbound stream (its IDs
 * become the multistream-select listener's list), so it is a flat array
 * capped at MSS_MAX_PROTOCOLS: a listener cannot offer more than that. */
#include "protocols.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mss.h"

struct proto_row {
	struct protocol_handler h;
	void *ctx;
};

struct protocols {
	struct proto_row rows[PROTOCOLS_MAX];
	const char *ids[PROTOCOLS_MAX];
	size_t n;
};

struct protocols *protocols_new(void)
{
	return calloc(1, sizeof(struct protocols));
}

void protocols_free(struct protocols *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free((char *)r->rows[i].h.id);
	free(r);
}

/* The rules multistream-select puts on an ID, plus printable ASCII so an ID
 * is always safe to log and to show over RPC. */
static bool id_valid(const char *id)
{
	size_t len = id ? strlen(id) : 0;
	if (len == 0 || len + 1 > MSS_MAX_MESSAGE)
		return false;
	if (strcmp(id, "na") == 0 || strcmp(id, "ls") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (id[i] < 0x21 || id[i] > 0x7e)
			return false;
	return true;
}

static bool id_known(const struct protocols *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->ids[i], id) == 0)
			return true;
	return false;
}

/* Check the whole table first so a bad row registers nothing. */
static int table_check(const struct protocols *r, const struct protocol_handler *table,
                       size_t *ret_n)
{
	size_t n = 0;
	for (; table[n].id; n++) {
		if (!id_valid(table[n].id) || !table[n].on_stream)
			return -EINVAL;
		if (id_known(r, table[n].id))
			return -EEXIST;
		for (size_t j = 0; j < n; j++)
			if (strcmp(table[j].id, table[n].id) == 0)
				return -EEXIST;
	}
	if (r->n + n > PROTOCOLS_MAX)
		return -ENOSPC;
	*ret_n = n;
	return 0;
}

int protocols_register(struct protocols *r, const struct protocol_handler *table, void *ctx)
{
	size_t n;
	int ret = table_check(r, table, &n);
	if (ret < 0)
		return ret;
	char *ids[PROTOCOLS_MAX];
	for (size_t i = 0; i < n; i++) {
		ids[i] = strdup(table[i].id);
		if (!ids[i]) {
			while (i > 0)
				free(ids[--i]);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct proto_row *row = &r->rows[r->n];
		row->h = table[i];
		row->h.id = ids[i];
		row->ctx = ctx;
		r->ids[r->n++] = ids[i];
	}
	return 0;
}

size_t protocols_unregister(struct protocols *r, const struct protocol_handler *table)
{
	size_t removed = 0;
	for (; table->id; table++) {
		for (size_t i = 0; i < r->n; i++) {
			if (strcmp(r->ids[i], table->id) != 0)
				continue;
			free((char *)r->rows[i].h.id);
			/* Keep registration order: listeners offer IDs in it. */
			memmove(&r->rows[i], &r->rows[i + 1], (r->n - i - 1) * sizeof(r->rows[0]));
			memmove(&r->ids[i], &r->ids[i + 1], (r->n - i - 1) * sizeof(r->ids[0]));
			r->n--;
			removed++;
			break;
		}
	}
	return removed;
}

size_t protocols_ids(const struct protocols *r, const char *const **ret)
{
	*ret = r->ids;
	return r->n;
}

const struct protocol_handler *protocols_find(const struct protocols *r, const char *id,
                                              void **ret_ctx)
{
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->ids[i], id) == 0) {
			if (ret_ctx)
				*ret_ctx = r->rows[i].ctx;
			return &r->rows[i].h;
		}
	}
	return NULL;
}

unsigned protocols_max_inbound(const struct protocol_handler *row)
{
	return row->max_inbound_per_peer ? row->max_inbound_per_peer
	                                 : PROTOCOLS_DEFAULT_MAX_INBOUND_PER_PEER;
}
