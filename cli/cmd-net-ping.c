/* `spacedrive network ping TARGET [-c N] [-i MS]`: net.ping, printing each
 * round as its net.ping_rtt event arrives on the same connection (like
 * ping(8)), then min/avg/max. The call carries a tag so rounds of other
 * callers pinging at the same time are not printed as ours. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "cmd-network.h"
#include "cmdargs.h"
#include "output.h"

/* The daemon's per-round timeout (daemon/net/ping.h) and dial timeout,
 * for bounding how long we wait for the answer. */
#define PING_ROUND_TIMEOUT_MS 10000
#define PING_DIAL_TIMEOUT_MS 15000

struct ping_watch {
	const struct cli *cli;
	char tag[64];
};

static void on_note(json_t *msg, void *ctx)
{
	struct ping_watch *w = ctx;
	json_t *params = json_object_get(msg, "params");
	const char *kind = json_string_value(json_object_get(params, "kind"));
	json_t *data = json_object_get(params, "data");
	const char *tag = json_string_value(json_object_get(data, "tag"));
	if (!kind || strcmp(kind, "net.ping_rtt") != 0 || !tag || strcmp(tag, w->tag) != 0)
		return;
	if (w->cli->json)
		return; /* one object at the end */
	const char *peer = json_string_value(json_object_get(data, "peer_id"));
	printf("pong from %s: seq=%lld time=%.2f ms\n", peer ? peer : "?",
	       (long long)json_integer_value(json_object_get(data, "seq")),
	       (double)json_integer_value(json_object_get(data, "rtt_us")) / 1000.0);
	fflush(stdout);
}

static double num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void print_summary(json_t *r)
{
	json_int_t n = json_integer_value(json_object_get(r, "count"));
	const char *peer = json_string_value(json_object_get(r, "peer_id"));
	printf("--- %s: %lld pong%s, rtt min/avg/max = %.2f/%.2f/%.2f ms\n", peer ? peer : "?",
	       (long long)n, n == 1 ? "" : "s", num(r, "rtt_ms_min"), num(r, "rtt_ms_avg"),
	       num(r, "rtt_ms_max"));
}

static json_t *summary_json(json_t *r)
{
	static const char *const keys[] = {"peer_id",    "count",      "rtts_us",
	                                   "rtt_ms_min", "rtt_ms_avg", "rtt_ms_max"};
	json_t *o = json_object();
	for (size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(r, keys[i]);
		json_object_set(o, keys[i], v ? v : json_null());
	}
	return o;
}

static int ping(struct cli *cli, struct conn *c, const char *target, long count, long interval)
{
	json_t *sub = NULL;
	int r = client_call(cli, c, "events.subscribe",
	                    json_pack("{s:[s]}", "kinds", "net.ping_rtt"), &sub);
	json_decref(sub);
	if (r)
		return r;
	struct ping_watch w = {.cli = cli};
	snprintf(w.tag, sizeof(w.tag), "spacedrive-%ld", (long)getpid());
	int timeout = (int)(count * (interval + PING_ROUND_TIMEOUT_MS) + PING_DIAL_TIMEOUT_MS +
	                    CLI_RPC_TIMEOUT_MS);
	json_t *result = NULL;
	r = client_call_notes(cli, c, "net.ping",
	                      json_pack("{s:s, s:i, s:i, s:s}", "target", target, "count",
	                                (int)count, "interval_ms", (int)interval, "tag", w.tag),
	                      timeout, on_note, &w, &result);
	if (r)
		return r;
	if (cli->json)
		r = out_json(summary_json(result));
	else
		print_summary(result);
	json_decref(result);
	return r;
}

int cmd_net_ping(struct cli *cli, int argc, char **argv)
{
	long count = 1, interval = 1000;
	const struct cmdargs_opt opts[] = {
	        {"count", 'c', .value = &count, .min = 1, .max = 100},
	        {"interval", 'i', .value = &interval, .min = 0, .max = 60000},
	        {0},
	};
	static const char *const names[] = {"TARGET (a peer ID or a multiaddr)"};
	char *target;
	int r = cmdargs_parse(cli, "network ping", argc, argv, opts, names, 1, 1, &target);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r)
		return r;
	r = ping(cli, c, target, count, interval);
	conn_close(c);
	return r;
}
