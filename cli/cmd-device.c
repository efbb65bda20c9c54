/* `spacedrive network device show|trust|verify|revoke|forget DEVICE` and
 * `network devices --verbose`: one paired device and its connection, over
 * devices.show, devices.trust, devices.verify, devices.revoke,
 * devices.forget and devices.metrics. DEVICE is a name, a device id, a
 * unique prefix of one, or a peer ID (the daemon resolves it). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "cmd-device.h"
#include "output.h"

static const char *str_of(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static json_int_t int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* DEVICE and --json; anything else is a usage error. */
static int parse(struct cli *cli, const char *words, int argc, char **argv, const char **ret_dev,
                 const char **ret_level)
{
	*ret_dev = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			cli->json = true;
		else if (!*ret_dev && argv[i][0] != '-')
			*ret_dev = argv[i];
		else if (ret_level && !*ret_level && argv[i][0] != '-')
			*ret_level = argv[i];
		else
			return out_usage(cli, "'%s': unexpected argument '%s'", words, argv[i]);
	}
	if (!*ret_dev)
		return out_usage(cli, "'%s' needs a DEVICE (a name, device id or peer ID)", words);
	if (ret_level && !*ret_level)
		return out_usage(cli, "'%s' needs a LEVEL: trusted, verified, expired or revoked",
		                 words);
	return CLI_EXIT_OK;
}

static int call(struct cli *cli, const char *method, json_t *params, json_t **ret)
{
	struct conn *c = NULL;
	int r = client_connect(cli, false, &c);
	if (r == CLI_EXIT_OK)
		r = client_call(cli, c, method, params, ret);
	else
		json_decref(params);
	conn_close(c);
	return r;
}

/* ---- show ------------------------------------------------------------------ */

static void print_metrics(json_t *m, const char *indent)
{
	/* rtt_ms has microsecond precision: a LAN's is a fraction of 1 ms. */
	json_t *rtt = json_object_get(m, "rtt_ms");
	char r[32] = "-";
	if (json_is_number(rtt))
		snprintf(r, sizeof(r), "%.2f ms", json_number_value(rtt));
	printf("%srtt: %s, uptime: %" JSON_INTEGER_FORMAT " s, reconnects: %" JSON_INTEGER_FORMAT
	       "\n",
	       indent, r, int_of(m, "uptime_s"), int_of(m, "reconnects"));
	printf("%sbytes in/out: %" JSON_INTEGER_FORMAT " / %" JSON_INTEGER_FORMAT
	       ", messages in/out: %" JSON_INTEGER_FORMAT " / %" JSON_INTEGER_FORMAT "\n",
	       indent, int_of(m, "bytes_in"), int_of(m, "bytes_out"), int_of(m, "messages_in"),
	       int_of(m, "messages_out"));
}

static void print_when(const char *label, json_int_t t)
{
	if (t <= 0) {
		printf("%s: never\n", label);
		return;
	}
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime_r(&tt, &tm));
	printf("%s: %s\n", label, buf);
}

static void print_show(json_t *res)
{
	json_t *d = json_object_get(res, "device"), *l = json_object_get(res, "link");
	const char *detail = str_of(d, "state_detail", "");
	printf("%s (%s)%s%s\n", str_of(d, "name", "?"), str_of(d, "state", "?"),
	       detail[0] ? " - " : "", detail);
	printf("device id: %s\npeer id: %s\ntrust: %s\nos: %s\n", str_of(d, "device_id", "?"),
	       str_of(d, "peer_id", "?"), str_of(d, "trust", "?"), str_of(d, "os", "?"));
	print_when("paired", int_of(d, "paired_at"));
	printf("key epoch: %" JSON_INTEGER_FORMAT "%s\n", int_of(l, "key_epoch"),
	       json_is_true(json_object_get(l, "rotation_pending")) ? " (rotation pending)" : "");
	json_t *n = json_object_get(l, "counters");
	printf("attempts: %" JSON_INTEGER_FORMAT ", successes: %" JSON_INTEGER_FORMAT
	       ", failures: %" JSON_INTEGER_FORMAT "\n",
	       int_of(n, "attempts"), int_of(n, "successes"), int_of(n, "failures"));
	print_metrics(json_object_get(l, "metrics"), "");
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(l, "addresses_worked"), i, v) printf(
	        "%s %s\n", i ? "                 " : "addresses worked:", json_string_value(v));
	json_t *h = json_object_get(l, "history");
	size_t nh = json_array_size(h);
	if (nh)
		printf("recent history:\n");
	for (i = nh > 10 ? nh - 10 : 0; i < nh; i++) {
		json_t *e = json_array_get(h, i);
		char when[32];
		time_t tt = (time_t)int_of(e, "time");
		struct tm tm;
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&tt, &tm));
		const char *addr = str_of(e, "address", ""), *why = str_of(e, "reason", "");
		printf("  %s %-12s %s%s%s\n", when, str_of(e, "kind", "?"), addr,
		       addr[0] && why[0] ? ": " : "", why);
	}
}

static int run_show(struct cli *cli, int argc, char **argv)
{
	const char *dev;
	int r = parse(cli, "network device show", argc, argv, &dev, NULL);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call(cli, "devices.show", json_pack("{s:s}", "device", dev), &res);
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_incref(res));
	else if (r == CLI_EXIT_OK)
		print_show(res);
	json_decref(res);
	return r;
}

/* ---- trust / revoke / verify / forget -------------------------------------------- */

static int trust_like(struct cli *cli, const char *words, const char *method, const char *dev,
                      const char *level)
{
	json_t *res = NULL;
	json_t *params = level ? json_pack("{s:s, s:s}", "device", dev, "level", level)
	                       : json_pack("{s:s}", "device", dev);
	int r = call(cli, method, params, &res);
	if (r == CLI_EXIT_OK && cli->json) {
		r = out_json(json_incref(res));
	} else if (r == CLI_EXIT_OK) {
		json_t *d = json_object_get(res, "device");
		printf("Device '%s' is now %s.\n", str_of(d, "name", dev), str_of(d, "trust", "?"));
	}
	json_decref(res);
	return r;
}

static int run_trust(struct cli *cli, int argc, char **argv)
{
	const char *dev, *level = NULL;
	int r = parse(cli, "network device trust", argc, argv, &dev, &level);
	return r == CLI_EXIT_OK
	               ? trust_like(cli, "network device trust", "devices.trust", dev, level)
	               : r;
}

static int run_revoke(struct cli *cli, int argc, char **argv)
{
	const char *dev;
	int r = parse(cli, "network device revoke", argc, argv, &dev, NULL);
	return r == CLI_EXIT_OK
	               ? trust_like(cli, "network device revoke", "devices.revoke", dev, NULL)
	               : r;
}

static int run_verify(struct cli *cli, int argc, char **argv)
{
	const char *dev;
	int r = parse(cli, "network device verify", argc, argv, &dev, NULL);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call(cli, "devices.verify", json_pack("{s:s}", "device", dev), &res);
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_incref(res));
	else if (r == CLI_EXIT_OK)
		printf("Device '%s' proved its pairing keys (key epoch %" JSON_INTEGER_FORMAT
		       ", %" JSON_INTEGER_FORMAT " ms).\n",
		       dev, int_of(res, "key_epoch"), int_of(res, "elapsed_ms"));
	json_decref(res);
	return r;
}

static int run_forget(struct cli *cli, int argc, char **argv)
{
	const char *dev;
	int r = parse(cli, "network device forget", argc, argv, &dev, NULL);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call(cli, "devices.forget", json_pack("{s:s}", "device", dev), &res);
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_incref(res));
	else if (r == CLI_EXIT_OK)
		printf("Device '%s' forgotten; pair again to reconnect.\n",
		       str_of(res, "name", dev));
	json_decref(res);
	return r;
}

/* ---- network devices --verbose ----------------------------------------------------- */

int cmd_devices_verbose(struct cli *cli, json_t *devices)
{
	json_t *res = NULL;
	int r = call(cli, "devices.metrics", NULL, &res);
	if (r != CLI_EXIT_OK)
		return r;
	json_t *metrics = json_object_get(res, "devices");
	if (cli->json) {
		r = out_json(json_pack("{s:O, s:O}", "devices", devices, "metrics", metrics));
		json_decref(res);
		return r;
	}
	size_t i, k;
	json_t *d, *m;
	if (json_array_size(devices) == 0)
		printf("No paired devices.\n");
	json_array_foreach(devices, i, d)
	{
		const char *detail = str_of(d, "state_detail", "");
		printf("%s (%s)%s%s\n", str_of(d, "name", "?"), str_of(d, "state", "?"),
		       detail[0] ? " - " : "", detail);
		printf("  trust: %s, device id: %s\n", str_of(d, "trust", "?"),
		       str_of(d, "device_id", "?"));
		json_array_foreach(metrics, k, m)
		{
			if (strcmp(str_of(m, "device_id", ""), str_of(d, "device_id", "-")) == 0)
				print_metrics(m, "  ");
		}
	}
	json_decref(res);
	return CLI_EXIT_OK;
}

const struct cli_command cli_device_commands[] = {
        {"network device show", "DEVICE", "show a paired device, its connection and history",
         "DEVICE is a name, a device id (or a unique prefix of 4+ characters) or a peer ID.\n"
         "Shows the link state, trust, key epoch, attempt counters, RTT, bytes and\n"
         "messages each way, uptime, reconnects, addresses that worked and the last\n"
         "entries of the connection history. --json prints the devices.show result.\n",
         run_show},
        {"network device trust", "DEVICE LEVEL", "set a paired device's trust level",
         "LEVEL: trusted (auto-connects, may do everything), verified (sensitive\n"
         "operations need approval), expired (never dialed: pair again), revoked\n"
         "(never dialed, refused inbound).\n",
         run_trust},
        {"network device verify", "DEVICE", "make a connected device prove its pairing keys now",
         "Runs the device authentication again on the live connection.\n", run_verify},
        {"network device revoke", "DEVICE", "revoke a paired device (no connection either way)",
         "Closes its connection; it is never dialed and its connections are refused.\n",
         run_revoke},
        {"network device forget", "DEVICE", "forget a paired device and everything kept for it",
         "Deletes its record, keys, connection record and history; pair again to\n"
         "reconnect.\n",
         run_forget},
        {0},
};
