/* `spacedrive network ...`: this node's identity and, in later issues,
 * pairing, devices and messages. One row per subcommand. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "client.h"
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

const struct cli_command cli_network_commands[] = {
        {"network info", "", "show this node's peer ID, device, version and listen addresses",
         "Asks the daemon for node.info. With --json prints an object with the keys\n"
         "peer_id, device_id, device_name, version, listen_addrs (array) and uptime\n"
         "(seconds).\n",
         run_info},
        {0},
};
