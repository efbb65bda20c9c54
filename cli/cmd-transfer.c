/* `spacedrive network send | spacedrop | transfers`: file transfer and
 * Spacedrop from the command line (transfers.*, spacedrop.* and the
 * transfer.* events).
 *
 * send and spacedrop start the transfer and then follow it until it ends
 * (unless --detach): a live bar per transfer with rate and ETA when stderr
 * is a terminal, plain progress lines on stdout otherwise, the events as
 * JSON lines under --json (xferbar.h). The exit status is 0 only when the
 * transfer completed. Paths are made absolute here: the daemon reads them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "cmdargs.h"
#include "commands.h"
#include "output.h"
#include "xferbar.h"

#define FOLLOW_POLL_MS 250

static const char *str_of(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

/* Take "--NAME V" / "--NAME=V" (or -S V) out of argv: cmdargs knows only
 * flags and numbers. */
static int take_string(struct cli *cli, const char *words, int *argc, char **argv, const char *name,
                       char short_name, const char **ret)
{
	int out = 0;
	size_t nl = strlen(name);
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		bool lng = a[0] == '-' && a[1] == '-' && !strncmp(a + 2, name, nl);
		bool shrt = short_name && a[0] == '-' && a[1] == short_name && !a[2];
		if ((lng && a[2 + nl] == '\0') || shrt) {
			if (i + 1 >= *argc)
				return out_usage(cli, "'%s': %s needs a value", words, a);
			*ret = argv[++i];
		} else if (lng && a[2 + nl] == '=') {
			*ret = a + 3 + nl;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	return CLI_EXIT_OK;
}

/* The daemon's failure as the user should read it: data.detail. */
static int rpc_failure(const struct cli *cli, const struct conn_reply *r)
{
	json_t *data = json_object_get(json_object_get(r->msg, "error"), "data");
	return out_error(cli, out_exit_for_rpc(r->code), r->code, "%s",
	                 str_of(data, "detail", r->message ? r->message : "failed"));
}

static int call(struct cli *cli, struct conn *c, const char *method, json_t *params,
                conn_note_fn note, void *ctx, json_t **ret)
{
	struct errmsg e = {{0}};
	struct conn_reply rr = {0};
	int r = CLI_EXIT_OK;
	if (conn_call_notes(c, method, params, CLI_RPC_TIMEOUT_MS, note, ctx, &rr, &e) < 0)
		r = out_error(cli, CLI_EXIT_FAILURE, 0, "%s: %s", method, e.text);
	else if (rr.code)
		r = rpc_failure(cli, &rr);
	else
		*ret = json_incref(rr.result);
	conn_reply_clear(&rr);
	return r;
}

static int call_once(struct cli *cli, const char *method, json_t *params, json_t **ret)
{
	struct conn *c = NULL;
	int r = client_connect(cli, false, &c);
	if (r == CLI_EXIT_OK)
		r = call(cli, c, method, params, NULL, NULL, ret);
	else
		json_decref(params);
	conn_close(c);
	return r;
}

/* ---- following transfers ---------------------------------------------------- */

struct follower {
	struct xferbar bar;
	char id[33];   /* "": every transfer */
	json_t *early; /* events that came before we knew the id */
	json_t *final; /* the last transfer.state of ours, once final */
};

static void on_note(json_t *msg, void *ctx)
{
	struct follower *f = ctx;
	if (!f->early)
		f->early = json_array();
	json_array_append(f->early, msg);
}

/* One notification; true when ours ended. */
static bool handle(struct follower *f, json_t *msg)
{
	json_t *params = json_object_get(msg, "params");
	const char *kind = str_of(params, "kind", "");
	json_t *data = json_object_get(params, "data");
	if (strncmp(kind, "transfer.", 9) != 0)
		return false;
	if (f->id[0] && strcmp(str_of(data, "id", ""), f->id) != 0)
		return false;
	bool final = xferbar_event(&f->bar, kind, data);
	if (final && f->id[0] && !strcmp(kind, "transfer.state")) {
		f->final = json_incref(data);
		return true;
	}
	return false;
}

/* Read events until ours ends (id set) or forever (every transfer). */
static int follow(struct cli *cli, struct conn *c, struct follower *f)
{
	size_t i;
	json_t *m;
	json_array_foreach(f->early, i, m)
	{
		if (handle(f, m))
			break;
	}
	xferbar_draw(&f->bar);
	while (!f->final) {
		json_t *msg = NULL;
		struct errmsg e = {{0}};
		int r = conn_next(c, FOLLOW_POLL_MS, &msg, &e);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			xferbar_end(&f->bar);
			return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", e.text);
		}
		handle(f, msg);
		json_decref(msg);
		xferbar_draw(&f->bar);
	}
	xferbar_end(&f->bar);
	return CLI_EXIT_OK;
}

static int subscribe(struct cli *cli, struct conn *c)
{
	json_t *res = NULL;
	int r = call(cli, c, "events.subscribe", json_pack("{s:[s]}", "kinds", "transfer.*"), NULL,
	             NULL, &res);
	json_decref(res);
	return r;
}

/* How a followed transfer ended, for people (and the exit status). */
static int report(struct cli *cli, json_t *t)
{
	const char *state = str_of(t, "state", "?");
	const char *err = str_of(t, "error", "");
	if (strcmp(state, "completed") != 0)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "transfer %.8s %s%s%s",
		                 str_of(t, "id", "?"), state, *err ? ": " : "", err);
	if (cli->json)
		return CLI_EXIT_OK; /* the events said it all */
	char total[32];
	xferbar_bytes(total, sizeof(total),
	              (uint64_t)json_integer_value(json_object_get(t, "total")));
	long long files = (long long)json_integer_value(json_object_get(t, "files_total"));
	long long secs = (long long)(json_integer_value(json_object_get(t, "ended_at")) -
	                             json_integer_value(json_object_get(t, "created_at")));
	bool send = !strcmp(str_of(t, "direction", "send"), "send");
	const char *peer = str_of(t, "peer_name", str_of(t, "peer_id", "?"));
	printf("%s %lld file%s (%s) %s %s in %lld s.\n", send ? "Sent" : "Received", files,
	       files == 1 ? "" : "s", total, send ? "to" : "from", peer, secs);
	if (!send && json_is_string(json_object_get(t, "dest")))
		printf("Saved in %s\n", str_of(t, "dest", ""));
	return CLI_EXIT_OK;
}

/* ---- network send / network spacedrop ------------------------------------------ */

static json_t *abs_paths(struct cli *cli, const char *words, int n, char **paths, int *ret)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++) {
		char full[PATH_MAX];
		if (!realpath(paths[i], full)) {
			*ret = out_error(cli, CLI_EXIT_FAILURE, 0, "%s: cannot read %s: %s", words,
			                 paths[i], strerror(errno));
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, json_string(full));
	}
	if (!a)
		*ret = out_error(cli, CLI_EXIT_FAILURE, 0, "out of memory");
	return a;
}

static int start_and_follow(struct cli *cli, const char *method, json_t *params, bool detach)
{
	struct conn *c = NULL;
	int r = client_connect(cli, false, &c);
	struct follower f = {0};
	xferbar_init(&f.bar, cli->json);
	if (r == CLI_EXIT_OK && !detach)
		r = subscribe(cli, c);
	json_t *t = NULL;
	if (r == CLI_EXIT_OK)
		r = call(cli, c, method, params, on_note, &f, &t);
	else
		json_decref(params);
	if (r == CLI_EXIT_OK && detach) {
		if (cli->json)
			r = out_json(json_incref(t));
		else
			printf("Transfer %s started (%s); 'network transfers' shows it.\n",
			       str_of(t, "id", "?"), str_of(t, "state", "?"));
	} else if (r == CLI_EXIT_OK) {
		snprintf(f.id, sizeof(f.id), "%s", str_of(t, "id", ""));
		if (!cli->json && f.bar.mode != XFERBAR_TTY)
			printf("Transfer %s started.\n", f.id);
		fflush(stdout);
		r = follow(cli, c, &f);
		if (r == CLI_EXIT_OK)
			r = report(cli, f.final);
	}
	json_decref(t);
	json_decref(f.early);
	json_decref(f.final);
	conn_close(c);
	return r;
}

/* The operands cmdargs_parse filled (the rest of ops stays NULL). */
static int count(char **ops, int max)
{
	int n = 0;
	while (n < max && ops[n])
		n++;
	return n;
}

#define MAX_OPS (1 + 256)

static int run_send(struct cli *cli, int argc, char **argv)
{
	bool detach = false;
	const struct cmdargs_opt opts[] = {{"detach", 'd', .flag = &detach}, {0}};
	static const char *const names[] = {"DEVICE", "PATH"};
	char *ops[MAX_OPS] = {0};
	int r = cmdargs_parse(cli, "network send", argc, argv, opts, names, 2, MAX_OPS, ops);
	if (r)
		return r;
	json_t *paths = abs_paths(cli, "network send", count(ops, MAX_OPS) - 1, ops + 1, &r);
	if (!paths)
		return r;
	return start_and_follow(cli, "transfers.send",
	                        json_pack("{s:s, s:o}", "device", ops[0], "paths", paths), detach);
}

static int run_spacedrop(struct cli *cli, int argc, char **argv)
{
	const char *message = NULL;
	int r = take_string(cli, "network spacedrop", &argc, argv, "message", 'm', &message);
	if (r)
		return r;
	bool detach = false;
	const struct cmdargs_opt opts[] = {{"detach", 'd', .flag = &detach}, {0}};
	static const char *const names[] = {"TARGET", "PATH"};
	char *ops[MAX_OPS] = {0};
	r = cmdargs_parse(cli, "network spacedrop", argc, argv, opts, names, 2, MAX_OPS, ops);
	if (r)
		return r;
	json_t *paths = abs_paths(cli, "network spacedrop", count(ops, MAX_OPS) - 1, ops + 1, &r);
	if (!paths)
		return r;
	json_t *params = json_pack("{s:s, s:o}", "target", ops[0], "paths", paths);
	if (params && message)
		json_object_set_new(params, "message", json_string(message));
	return start_and_follow(cli, "spacedrop.send", params, detach);
}

/* ---- network transfers ------------------------------------------------------------ */

static void list_line(json_t *t)
{
	char done[32], total[32];
	xferbar_bytes(done, sizeof(done),
	              (uint64_t)json_integer_value(json_object_get(t, "bytes")));
	xferbar_bytes(total, sizeof(total),
	              (uint64_t)json_integer_value(json_object_get(t, "total")));
	uint64_t tot = (uint64_t)json_integer_value(json_object_get(t, "total"));
	uint64_t b = (uint64_t)json_integer_value(json_object_get(t, "bytes"));
	int pct = tot ? (int)(b * 100 / tot) : 100;
	json_t *names = json_object_get(t, "names");
	printf("%.8s  %-7s  %-12s  %3d%%  %10s / %-10s  %s %s  ", str_of(t, "id", "?"),
	       str_of(t, "direction", "?"), str_of(t, "state", "?"), pct, done, total,
	       !strcmp(str_of(t, "direction", ""), "send") ? "to" : "from",
	       str_of(t, "peer_name", str_of(t, "peer_id", "?")));
	if (json_array_size(names)) {
		size_t i;
		json_t *v;
		json_array_foreach(names, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
	}
	const char *err = str_of(t, "error", "");
	printf("%s%s\n", *err ? "  - " : "", err);
}

static int follow_all(struct cli *cli)
{
	struct conn *c = NULL;
	int r = client_connect(cli, false, &c);
	struct follower f = {0};
	xferbar_init(&f.bar, cli->json);
	if (r == CLI_EXIT_OK)
		r = subscribe(cli, c);
	json_t *list = NULL;
	if (r == CLI_EXIT_OK)
		r = call(cli, c, "transfers.list", NULL, on_note, &f, &list);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(list, "transfers"), i, t)
	{
		if (!xferbar_state_final(str_of(t, "state", "completed")))
			xferbar_event(&f.bar, "transfer.state", t);
	}
	json_decref(list);
	if (r == CLI_EXIT_OK)
		r = follow(cli, c, &f); /* until interrupted */
	json_decref(f.early);
	conn_close(c);
	return r;
}

static int run_transfers(struct cli *cli, int argc, char **argv)
{
	bool fol = false;
	const struct cmdargs_opt opts[] = {{"follow", 'f', .flag = &fol}, {0}};
	int r = cmdargs_parse(cli, "network transfers", argc, argv, opts, NULL, 0, 0, NULL);
	if (r)
		return r;
	if (fol)
		return follow_all(cli);
	json_t *res = NULL;
	r = call_once(cli, "transfers.list", NULL, &res);
	json_t *list = json_object_get(res, "transfers");
	if (r == CLI_EXIT_OK && cli->json) {
		r = out_json(json_incref(list));
	} else if (r == CLI_EXIT_OK) {
		if (!json_array_size(list))
			printf("No transfers.\n");
		size_t i;
		json_t *t;
		json_array_foreach(list, i, t) list_line(t);
	}
	json_decref(res);
	return r;
}

/* A call naming one transfer; *ret (on success, unless --json printed it)
 * is the transfer for the caller's sentence. */
static int one_id(struct cli *cli, const char *words, int argc, char **argv, const char *method,
                  json_t *extra, json_t **ret)
{
	static const char *const names[] = {"ID"};
	char *ops[1];
	int r = cmdargs_parse(cli, words, argc, argv, NULL, names, 1, 1, ops);
	if (r) {
		json_decref(extra);
		return r;
	}
	json_t *params = extra ? extra : json_object();
	json_object_set_new(params, "id", json_string(ops[0]));
	json_t *res = NULL;
	r = call_once(cli, method, params, &res);
	if (r == CLI_EXIT_OK && cli->json) {
		r = out_json(res);
		res = NULL;
	}
	*ret = res;
	return r;
}

static int run_cancel(struct cli *cli, int argc, char **argv)
{
	json_t *t = NULL;
	int r = one_id(cli, "network transfers cancel", argc, argv, "transfers.cancel", NULL, &t);
	if (t)
		printf("Transfer %.8s cancelled.\n", str_of(t, "id", "?"));
	json_decref(t);
	return r;
}

/* ---- network spacedrop list / accept / reject --------------------------------------- */

static void request_line(json_t *t)
{
	char total[32];
	xferbar_bytes(total, sizeof(total),
	              (uint64_t)json_integer_value(json_object_get(t, "total")));
	const char *dev = str_of(t, "device_id", "");
	printf("%.8s  from %s (%s)  %lld file%s, %s  expires in %lld s\n", str_of(t, "id", "?"),
	       str_of(t, "peer_name", "?"), *dev ? "paired device" : str_of(t, "peer_id", "?"),
	       (long long)json_integer_value(json_object_get(t, "files_total")),
	       json_integer_value(json_object_get(t, "files_total")) == 1 ? "" : "s", total,
	       (long long)json_integer_value(json_object_get(t, "expires_in")));
	json_t *names = json_object_get(t, "names");
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v)
	        printf("%s%s", i ? ", " : "          ", json_string_value(v));
	if (json_array_size(names))
		printf("\n");
	const char *msg = str_of(t, "message", "");
	if (*msg)
		printf("          \"%s\"\n", msg);
}

static int run_sd_list(struct cli *cli, int argc, char **argv)
{
	int r = commands_no_args(cli, "network spacedrop list", argc, argv);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call_once(cli, "spacedrop.list", NULL, &res);
	json_t *list = json_object_get(res, "requests");
	if (r == CLI_EXIT_OK && cli->json) {
		r = out_json(json_incref(list));
	} else if (r == CLI_EXIT_OK) {
		if (!json_array_size(list))
			printf("No requests waiting.\n");
		size_t i;
		json_t *t;
		json_array_foreach(list, i, t) request_line(t);
	}
	json_decref(res);
	return r;
}

/* ---- network spacedrop nearby ------------------------------------------------------- */

enum { NB_NAME, NB_PEER, NB_PAIRED, NB_SEEN, NB_ADDR, NB_NCOLS };

static void nearby_cells(json_t *p, char seen[32], const char *cells[NB_NCOLS])
{
	json_t *addrs = json_object_get(p, "addresses");
	snprintf(seen, 32, "%llds ago",
	         (long long)(json_integer_value(json_object_get(p, "last_seen_ms")) / 1000));
	cells[NB_NAME] = str_of(p, "name", "-");
	cells[NB_PEER] = str_of(p, "peer_id", "?");
	cells[NB_PAIRED] = json_is_true(json_object_get(p, "paired")) ? "yes" : "no";
	cells[NB_SEEN] = seen;
	cells[NB_ADDR] = json_array_size(addrs) ? json_string_value(json_array_get(addrs, 0)) : "-";
}

static void nearby_table(json_t *peers)
{
	static const char *const head[NB_NCOLS] = {"NAME", "PEER ID", "PAIRED", "SEEN", "ADDRESS"};
	int width[NB_NCOLS];
	for (int c = 0; c < NB_NCOLS; c++)
		width[c] = (int)strlen(head[c]);
	size_t i;
	json_t *p;
	json_array_foreach(peers, i, p)
	{
		char seen[32];
		const char *cells[NB_NCOLS];
		nearby_cells(p, seen, cells);
		for (int c = 0; c < NB_NCOLS; c++)
			if ((int)strlen(cells[c]) > width[c])
				width[c] = (int)strlen(cells[c]);
	}
	for (int c = 0; c < NB_NCOLS; c++)
		printf(c < NB_NCOLS - 1 ? "%-*s  " : "%-*s\n", c < NB_NCOLS - 1 ? width[c] : 0,
		       head[c]);
	json_array_foreach(peers, i, p)
	{
		char seen[32];
		const char *cells[NB_NCOLS];
		nearby_cells(p, seen, cells);
		for (int c = 0; c < NB_NCOLS; c++)
			printf(c < NB_NCOLS - 1 ? "%-*s  " : "%-*s\n",
			       c < NB_NCOLS - 1 ? width[c] : 0, cells[c]);
	}
}

static int run_sd_nearby(struct cli *cli, int argc, char **argv)
{
	int r = commands_no_args(cli, "network spacedrop nearby", argc, argv);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call_once(cli, "spacedrop.nearby", NULL, &res);
	json_t *list = json_object_get(res, "peers");
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_incref(list));
	else if (r == CLI_EXIT_OK && !json_is_true(json_object_get(res, "mdns")))
		printf("mDNS discovery is off (--no-mdns, or it could not start); no nearby "
		       "devices can be found.\n");
	else if (r == CLI_EXIT_OK && !json_array_size(list))
		printf("No devices found nearby yet.\n");
	else if (r == CLI_EXIT_OK)
		nearby_table(list);
	json_decref(res);
	return r;
}

static int run_sd_accept(struct cli *cli, int argc, char **argv)
{
	const char *dir = NULL;
	int r = take_string(cli, "network spacedrop accept", &argc, argv, "to", 0, &dir);
	if (r)
		return r;
	json_t *extra = json_object();
	if (dir) {
		char full[PATH_MAX];
		if (!realpath(dir, full)) {
			json_decref(extra);
			return out_error(cli, CLI_EXIT_FAILURE, 0, "cannot use %s: %s", dir,
			                 strerror(errno));
		}
		json_object_set_new(extra, "dir", json_string(full));
	}
	json_t *t = NULL;
	r = one_id(cli, "network spacedrop accept", argc, argv, "spacedrop.accept", extra, &t);
	if (t)
		printf("Accepted %.8s; receiving into %s\n", str_of(t, "id", "?"),
		       str_of(t, "dest", "?"));
	json_decref(t);
	return r;
}

static int run_sd_reject(struct cli *cli, int argc, char **argv)
{
	json_t *t = NULL;
	int r = one_id(cli, "network spacedrop reject", argc, argv, "spacedrop.reject", NULL, &t);
	if (t)
		printf("Rejected %.8s.\n", str_of(t, "id", "?"));
	json_decref(t);
	return r;
}

const struct cli_command cli_transfer_commands[] = {
        {"network send", "DEVICE PATH...", "send files and folders to a paired device",
         "Options: --detach (-d): return once the transfer started.\n\n"
         "A Trusted device accepts at once; a Verified one asks its user first. The\n"
         "transfer resumes by itself after a lost connection or a restart of either\n"
         "side. Shows a progress bar on a terminal, plain lines on a pipe, the\n"
         "transfer.* events with --json. Exit status 0 when every file arrived and\n"
         "matched its SHA-256; 1 when it failed, was rejected, expired or cancelled.\n",
         run_send},
        {"network spacedrop", "TARGET PATH...", "offer files to a nearby or paired device",
         "Options: --message TEXT (-m), --detach (-d).\n\n"
         "TARGET is, tried in this order: a paired device's name or id; a peer ID\n"
         "(paired, connected, or found nearby over mDNS); a multiaddr ending in\n"
         "/p2p/<peer id>; the name a nearby device advertises (see 'network\n"
         "spacedrop nearby'; exact, else a unique case-insensitive prefix). The\n"
         "other side's user accepts or rejects; unanswered requests expire (60 s\n"
         "by default). Progress and exit status as for 'network send'.\n",
         run_spacedrop},
        {"network spacedrop nearby", "", "devices found nearby over mDNS, with their names",
         "One line per device heard on the LAN now: the name it advertises (- when\n"
         "none), peer ID, whether it is paired, when it last answered and an\n"
         "address. Entries go when their mDNS records expire. With --json prints\n"
         "the array of spacedrop.nearby's peers.\n",
         run_sd_nearby},
        {"network spacedrop list", "", "incoming requests waiting for an answer",
         "Spacedrops, and sends from devices that are not Trusted. With --json prints\n"
         "the array of transfers (state pending, expires_in).\n",
         run_sd_list},
        {"network spacedrop accept", "ID [--to DIR]", "accept an incoming request",
         "ID is the id from 'network spacedrop list' (or 4+ of its first digits).\n"
         "Files land in the receive directory, or in DIR with --to.\n",
         run_sd_accept},
        {"network spacedrop reject", "ID", "decline an incoming request", NULL, run_sd_reject},
        {"network transfers", "[--follow]", "list file transfers, running and recent",
         "One line per transfer: id, direction, state, progress, peer and names.\n"
         "--follow shows live progress of every transfer until interrupted.\n"
         "With --json prints the array of transfers (see transfers.list).\n",
         run_transfers},
        {"network transfers cancel", "ID", "cancel a transfer (either direction)",
         "The other side is told; partial files are removed on both sides.\n", run_cancel},
        {0},
};
