/* `spacedrive network peers [--verbose]`: net.peers as a table (peer ID,
 * direction, transport, agent, RTT, remote address), sorted by peer ID;
 * --verbose adds each peer's protocols and listen addresses; --json prints
 * the daemon's objects, sorted the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "cmd-network.h"
#include "cmdargs.h"
#include "output.h"

enum { COL_PEER, COL_DIR, COL_TRANSPORT, COL_AGENT, COL_RTT, COL_ADDR, NCOLS };

static const char *const headings[NCOLS] = {"PEER ID", "DIRECTION", "TRANSPORT",
                                            "AGENT",   "RTT",       "REMOTE ADDRESS"};

static const char *field(json_t *p, const char *key)
{
	const char *s = json_string_value(json_object_get(p, key));
	return s && s[0] ? s : "-";
}

static void row_cells(json_t *p, char rtt[32], const char *cells[NCOLS])
{
	json_t *r = json_object_get(p, "rtt_ms");
	if (!json_is_number(r))
		snprintf(rtt, 32, "-");
	else if (json_number_value(r) <= 0)
		snprintf(rtt, 32, "<1 ms");
	else
		snprintf(rtt, 32, "%.2f ms", json_number_value(r));
	cells[COL_PEER] = field(p, "peer_id");
	cells[COL_DIR] = field(p, "direction");
	cells[COL_TRANSPORT] = field(p, "transport");
	cells[COL_AGENT] = field(p, "agent_version");
	cells[COL_RTT] = rtt;
	cells[COL_ADDR] = field(p, "remote_addr");
}

static void print_row(const char *const cells[NCOLS], const int width[NCOLS])
{
	for (int i = 0; i < NCOLS - 1; i++)
		printf("%-*s  ", width[i], cells[i]);
	printf("%s\n", cells[NCOLS - 1]);
}

static void print_list(const char *label, json_t *a)
{
	printf("    %-10s ", label);
	if (json_array_size(a) == 0) {
		printf("-\n");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		printf("%s%s", i ? ", " : "", json_is_string(v) ? json_string_value(v) : "?");
	}
	printf("\n");
}

static void print_table(json_t *peers, bool verbose)
{
	if (json_array_size(peers) == 0) {
		printf("no peers connected\n");
		return;
	}
	int width[NCOLS];
	for (int i = 0; i < NCOLS; i++)
		width[i] = (int)strlen(headings[i]);
	size_t k;
	json_t *p;
	json_array_foreach(peers, k, p)
	{
		char rtt[32];
		const char *cells[NCOLS];
		row_cells(p, rtt, cells);
		for (int i = 0; i < NCOLS; i++)
			if ((int)strlen(cells[i]) > width[i])
				width[i] = (int)strlen(cells[i]);
	}
	print_row(headings, width);
	json_array_foreach(peers, k, p)
	{
		char rtt[32];
		const char *cells[NCOLS];
		row_cells(p, rtt, cells);
		print_row(cells, width);
		if (verbose) {
			print_list("protocols:", json_object_get(p, "protocols"));
			print_list("listen:", json_object_get(p, "listen_addrs"));
		}
	}
}

static int by_peer_id(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	const char *s = json_string_value(json_object_get(*x, "peer_id"));
	const char *t = json_string_value(json_object_get(*y, "peer_id"));
	return strcmp(s ? s : "", t ? t : "");
}

/* A new array of the same peers, sorted by peer ID. */
static json_t *sorted(json_t *peers)
{
	size_t n = json_array_size(peers);
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	json_t *out = json_array();
	if (!v || !out) {
		free(v);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(peers, i);
	qsort(v, n, sizeof(*v), by_peer_id);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

int cmd_net_peers(struct cli *cli, int argc, char **argv)
{
	bool verbose = false;
	const struct cmdargs_opt opts[] = {
	        {"verbose", 'v', .flag = &verbose},
	        {0},
	};
	int r = cmdargs_parse(cli, "network peers", argc, argv, opts, NULL, 0, 0, NULL);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r)
		return r;
	json_t *result = NULL;
	r = client_call(cli, c, "net.peers", NULL, &result);
	conn_close(c);
	if (r)
		return r;
	json_t *peers = sorted(json_object_get(result, "peers"));
	json_decref(result);
	if (!peers)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "out of memory");
	if (cli->json)
		return out_json(json_pack("{s:o}", "peers", peers));
	print_table(peers, verbose);
	json_decref(peers);
	return CLI_EXIT_OK;
}
