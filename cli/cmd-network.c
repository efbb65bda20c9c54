/* `spacedrive network ...`: this node's identity, libp2p connections
 * (connect, disconnect, ping, peers) and, in later issues, pairing, devices
 * and messages. One row per subcommand; ping and peers live in
 * cmd-net-ping.c and cmd-net-peers.c. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "cmd-network.h"
#include "cmdargs.h"
#include "commands.h"
#include "output.h"

/* The keys `network info --json` promises scripts; a daemon field missing
 * from the answer is printed as null rather than silently dropped. */
static const char *const info_keys[] = {
        "peer_id", "device_id", "device_name", "version", "listen_addrs", "uptime",
};

static json_t *info_json(json_t *result)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < sizeof(info_keys) / sizeof(info_keys[0]); i++) {
		json_t *v = json_object_get(result, info_keys[i]);
		json_object_set(o, info_keys[i], v ? v : json_null());
	}
	return o;
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static void info_print(json_t *r)
{
	char up[64];
	out_duration(up, sizeof(up), (uint64_t)json_integer_value(json_object_get(r, "uptime")));
	printf("Peer ID:      %s\n", str_or(r, "peer_id", "?"));
	printf("Device ID:    %s\n", str_or(r, "device_id", "?"));
	printf("Device name:  %s\n", str_or(r, "device_name", "?"));
	printf("Version:      %s\n", str_or(r, "version", "?"));
	printf("Uptime:       %s\n", up);
	json_t *addrs = json_object_get(r, "listen_addrs");
	if (json_array_size(addrs) == 0) {
		printf("Listening on: (nothing)\n");
		return;
	}
	size_t i;
	json_t *a;
	json_array_foreach(addrs, i, a)
	{
		printf("%s%s\n", i ? "              " : "Listening on: ",
		       json_is_string(a) ? json_string_value(a) : "?");
	}
}

static int run_info(struct cli *cli, int argc, char **argv)
{
	int r = commands_no_args(cli, "network info", argc, argv);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r)
		return r;
	json_t *result = NULL;
	r = client_call(cli, c, "node.info", NULL, &result);
	conn_close(c);
	if (r)
		return r;
	if (cli->json)
		r = out_json(info_json(result));
	else
		info_print(result);
	json_decref(result);
	return r;
}

/* One call with params, printing the result with print (human) or the
 * listed keys (--json). */
static int call_and_print(struct cli *cli, const char *method, json_t *params,
                          void (*print)(json_t *r), const char *const *keys, size_t nkeys)
{
	struct conn *c = NULL;
	int r = client_connect(cli, false, &c);
	if (r) {
		json_decref(params);
		return r;
	}
	json_t *result = NULL;
	r = client_call(cli, c, method, params, &result);
	conn_close(c);
	if (r)
		return r;
	if (cli->json) {
		json_t *o = json_object();
		for (size_t i = 0; o && i < nkeys; i++) {
			json_t *v = json_object_get(result, keys[i]);
			json_object_set(o, keys[i], v ? v : json_null());
		}
		r = out_json(o);
	} else {
		print(result);
	}
	json_decref(result);
	return r;
}

static const char *const connect_keys[] = {
        "peer_id", "direction", "transport", "remote_addr", "local_addr",
};

static void connect_print(json_t *r)
{
	printf("connected to %s (%s, %s, %s)\n", str_or(r, "peer_id", "?"),
	       str_or(r, "direction", "?"), str_or(r, "transport", "?"),
	       str_or(r, "remote_addr", "?"));
}

static int run_connect(struct cli *cli, int argc, char **argv)
{
	static const struct cmdargs_opt opts[] = {{0}};
	static const char *const names[] = {"MULTIADDR"};
	char *addr;
	int r = cmdargs_parse(cli, "network connect", argc, argv, opts, names, 1, 1, &addr);
	if (r)
		return r;
	return call_and_print(cli, "net.connect", json_pack("{s:s}", "addr", addr), connect_print,
	                      connect_keys, sizeof(connect_keys) / sizeof(connect_keys[0]));
}

static void disconnect_print(const char *peer, json_t *r)
{
	json_int_t n = json_integer_value(json_object_get(r, "disconnected"));
	if (n == 0)
		printf("not connected to %s\n", peer);
	else
		printf("disconnected from %s (%lld connection%s closed)\n", peer, (long long)n,
		       n == 1 ? "" : "s");
}

static int run_disconnect(struct cli *cli, int argc, char **argv)
{
	static const struct cmdargs_opt opts[] = {{0}};
	static const char *const names[] = {"PEER"};
	char *peer;
	int r = cmdargs_parse(cli, "network disconnect", argc, argv, opts, names, 1, 1, &peer);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r)
		return r;
	json_t *result = NULL;
	r = client_call(cli, c, "net.disconnect", json_pack("{s:s}", "peer_id", peer), &result);
	conn_close(c);
	if (r)
		return r;
	if (cli->json)
		r = out_json(json_pack("{s:s, s:O}", "peer_id", peer, "disconnected",
		                       json_object_get(result, "disconnected")));
	else
		disconnect_print(peer, result);
	json_decref(result);
	return r;
}

const struct cli_command cli_network_commands[] = {
        {"network info", "", "show this node's peer ID, device, version and listen addresses",
         "Asks the daemon for node.info. With --json prints an object with the keys\n"
         "peer_id, device_id, device_name, version, listen_addrs (array) and uptime\n"
         "(seconds).\n",
         run_info},
        {"network connect", "MULTIADDR", "connect to a libp2p peer at an address",
         "Asks the daemon to dial MULTIADDR (/ip4|ip6/ADDR/tcp/PORT, optionally ending in\n"
         "/p2p/PEER-ID, which the peer must then prove) and waits until the connection\n"
         "is up (at most 15 s). Reuses a connection the daemon already has. With --json\n"
         "prints peer_id, direction, transport, remote_addr and local_addr.\n",
         run_connect},
        {"network disconnect", "PEER", "close every connection to a peer",
         "PEER is a peer ID. Closing is orderly (GoAway, then FIN); not being connected\n"
         "is not an error. With --json prints peer_id and disconnected (the number of\n"
         "connections closed).\n",
         run_disconnect},
        {"network ping", "TARGET [-c N]", "measure round trips to a peer (libp2p ping)",
         "TARGET is a connected peer's ID or a multiaddr (dialled first). Prints each\n"
         "round-trip time as it arrives, then min/avg/max.\n"
         "  -c, --count N        rounds, 1 to 100 (default 1)\n"
         "  -i, --interval MS    pause between rounds in ms (default 1000)\n"
         "With --json prints one object at the end: peer_id, count, rtts_us (each\n"
         "round in microseconds), rtt_ms_min, rtt_ms_avg and rtt_ms_max.\n",
         cmd_net_ping},
        {"network peers", "[--verbose]", "list connected peers",
         "One line per peer: peer ID, direction, transport, agent version (from\n"
         "identify), RTT and remote address. --verbose (-v) adds each peer's protocols\n"
         "and listen addresses. With --json prints {\"peers\": [...]} with every field\n"
         "of net.peers.\n",
         cmd_net_peers},
        {0},
};
