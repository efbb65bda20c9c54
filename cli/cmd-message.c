/* `spacedrive network message send|listen`: DeviceMessages between paired
 * devices from the command line (messages.send, handlers.register).
 *
 * send prints the reply's payload (as text when it is printable, else as
 * base64); --durable returns once the message is stored. listen registers
 * a protocol on this connection and prints each message.received event as
 * it arrives (--json: one compact object per line), answering requests
 * with the same payload under --echo; it runs until interrupted, or for
 * --count messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cli.h"
#include "client.h"
#include "cmdargs.h"
#include "output.h"

#define DEFAULT_TIMEOUT_MS 30000
#define LISTEN_POLL_MS 1000

/* ---- payload text ------------------------------------------------------------ */

static bool printable(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		uint8_t c = b->data[i];
		if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f)
			return false;
	}
	return true;
}

/* Print a base64 payload as text, or as "<N bytes, base64 ...>". */
static void print_payload(const char *b64)
{
	struct buf b = BUF_INIT;
	if (!b64 || base64_decode(b64, strlen(b64), BASE64_PAD, &b, NULL) < 0)
		printf("<undecodable payload>\n");
	else if (printable(&b))
		printf("%.*s\n", (int)b.len, (const char *)b.data);
	else
		printf("<%zu bytes, base64 %s>\n", b.len, b64);
	buf_free(&b);
}

static char *b64_of(const char *text)
{
	size_t n = base64_encoded_len(strlen(text), BASE64_PAD) + 1;
	char *s = malloc(n);
	if (s)
		base64_encode((const uint8_t *)text, strlen(text), BASE64_PAD, s, n);
	return s;
}

/* ---- network message send ------------------------------------------------------ */

/* Take "--priority P" / "--priority=P" out of argv (cmdargs only knows
 * flags and numbers). Returns CLI_EXIT_OK or a usage error. */
static int take_priority(struct cli *cli, int *argc, char **argv, const char **ret)
{
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "--priority") == 0 || strcmp(a, "-p") == 0) {
			if (i + 1 >= *argc)
				return out_usage(cli,
				                 "'network message send': %s needs high, "
				                 "normal or low",
				                 a);
			*ret = argv[++i];
		} else if (strncmp(a, "--priority=", 11) == 0) {
			*ret = a + 11;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	if (strcmp(*ret, "high") && strcmp(*ret, "normal") && strcmp(*ret, "low"))
		return out_usage(cli,
		                 "'network message send': priority '%s' is not high, normal "
		                 "or low",
		                 *ret);
	return CLI_EXIT_OK;
}

static int print_sent(struct cli *cli, json_t *res)
{
	if (cli->json)
		return out_json(json_incref(res));
	const char *id = json_string_value(json_object_get(res, "message_id"));
	if (json_is_true(json_object_get(res, "queued"))) {
		printf("queued %smessage %s for device %s\n",
		       json_is_true(json_object_get(res, "durable")) ? "durable " : "",
		       id ? id : "?", json_string_value(json_object_get(res, "device_id")));
		return CLI_EXIT_OK;
	}
	print_payload(json_string_value(json_object_get(res, "payload")));
	return CLI_EXIT_OK;
}

static int cmd_send(struct cli *cli, int argc, char **argv)
{
	const char *prio = "normal";
	int r = take_priority(cli, &argc, argv, &prio);
	if (r)
		return r;
	bool durable = false, no_reply = false;
	long timeout = DEFAULT_TIMEOUT_MS;
	const struct cmdargs_opt opts[] = {
	        {"durable", 0, .flag = &durable},
	        {"no-reply", 0, .flag = &no_reply},
	        {"wait", 'w', .value = &timeout, .min = 1, .max = 600000},
	        {0},
	};
	static const char *const names[] = {"DEVICE", "PROTOCOL", "TEXT"};
	char *ops[3];
	r = cmdargs_parse(cli, "network message send", argc, argv, opts, names, 3, 3, ops);
	if (r)
		return r;
	char *payload = b64_of(ops[2]);
	if (!payload)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "out of memory");
	json_t *params = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i}", "device", ops[0], "protocol",
	                           ops[1], "payload", payload, "priority", prio, "durable", durable,
	                           "timeout_ms", (int)timeout);
	free(payload);
	if (params && (no_reply || durable))
		json_object_set_new(params, "expect_reply", json_false());
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r) {
		json_decref(params);
		return r;
	}
	json_t *res = NULL;
	r = client_call_notes(cli, c, "messages.send", params, (int)timeout + CLI_RPC_TIMEOUT_MS,
	                      NULL, NULL, &res);
	if (r == CLI_EXIT_OK)
		r = print_sent(cli, res);
	json_decref(res);
	conn_close(c);
	return r;
}

/* ---- network message listen ------------------------------------------------------ */

static void print_received(struct cli *cli, json_t *data)
{
	if (cli->json) {
		char *line = json_dumps(data, JSON_SORT_KEYS | JSON_COMPACT);
		if (line)
			printf("%s\n", line);
		free(line);
	} else {
		const char *name = json_string_value(json_object_get(data, "device_name"));
		printf("[%s] %s%s%s: ",
		       name ? name : json_string_value(json_object_get(data, "device_id")),
		       json_string_value(json_object_get(data, "protocol")),
		       json_is_true(json_object_get(data, "durable")) ? " (durable)" : "",
		       json_is_true(json_object_get(data, "redelivered")) ? " (again)" : "");
		print_payload(json_string_value(json_object_get(data, "payload")));
	}
	fflush(stdout);
}

/* Answer a request with its own payload, without waiting for the answer
 * (it arrives among the events and is checked there). */
static bool echo(struct conn *c, json_t *data)
{
	struct errmsg e;
	json_int_t id;
	json_t *params = json_pack("{s:O, s:O}", "message_id", json_object_get(data, "message_id"),
	                           "payload", json_object_get(data, "payload"));
	if (conn_send(c, "messages.reply", params, CLI_RPC_TIMEOUT_MS, &id, &e) < 0) {
		fprintf(stderr, "error: cannot reply: %s\n", e.text);
		return false;
	}
	return true;
}

/* A durable message stays in the daemon's inbox until acked (or replied
 * to): ack it once it is printed, so the next listener does not see it
 * again. Like echo, the answer arrives among the events. */
static bool ack(struct conn *c, json_t *data)
{
	struct errmsg e;
	json_int_t id;
	json_t *params = json_pack("{s:O}", "message_id", json_object_get(data, "message_id"));
	if (conn_send(c, "messages.ack", params, CLI_RPC_TIMEOUT_MS, &id, &e) < 0) {
		fprintf(stderr, "error: cannot acknowledge a durable message: %s\n", e.text);
		return false;
	}
	return true;
}

static int listen_loop(struct cli *cli, struct conn *c, bool do_echo, long count)
{
	long seen = 0;
	/* Replies and acks sent but not yet answered: with --count, wait for
	 * them before leaving, so an ack is known to be on disk (and a failed
	 * one is reported) rather than cut off by the exit. */
	long unanswered = 0;
	while (count == 0 || seen < count || unanswered > 0) {
		json_t *msg = NULL;
		struct errmsg e;
		int r = conn_next(c, LISTEN_POLL_MS, &msg, &e);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0)
			return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", e.text);
		json_t *err = json_object_get(msg, "error");
		if (err)
			fprintf(stderr, "error: %s\n",
			        json_string_value(json_object_get(err, "message")));
		if (json_object_get(msg, "id") && (err || json_object_get(msg, "result")) &&
		    unanswered > 0)
			unanswered--;
		json_t *params = json_object_get(msg, "params");
		const char *kind = json_string_value(json_object_get(params, "kind"));
		if (kind && strcmp(kind, "message.received") == 0 && (count == 0 || seen < count)) {
			json_t *data = json_object_get(params, "data");
			print_received(cli, data);
			if (do_echo && json_is_true(json_object_get(data, "needs_reply")))
				unanswered += echo(c, data);
			else if (json_is_true(json_object_get(data, "durable")))
				unanswered += ack(c, data);
			seen++;
		}
		json_decref(msg);
	}
	return CLI_EXIT_OK;
}

static int cmd_listen(struct cli *cli, int argc, char **argv)
{
	bool do_echo = false;
	long count = 0;
	const struct cmdargs_opt opts[] = {
	        {"echo", 'e', .flag = &do_echo},
	        {"count", 'c', .value = &count, .min = 1, .max = 1000000000},
	        {0},
	};
	static const char *const names[] = {"PROTOCOL"};
	char *proto;
	int r = cmdargs_parse(cli, "network message listen", argc, argv, opts, names, 1, 1, &proto);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r)
		return r;
	json_t *res = NULL;
	r = client_call(cli, c, "handlers.register", json_pack("{s:s}", "protocol", proto), &res);
	json_decref(res);
	if (r == CLI_EXIT_OK) {
		if (cli->json)
			printf("{\"listening\":\"%s\"}\n", proto);
		else
			printf("listening for %s messages%s\n", proto, do_echo ? " (echoing)" : "");
		fflush(stdout);
		r = listen_loop(cli, c, do_echo, count);
	}
	conn_close(c);
	return r;
}

const struct cli_command cli_message_commands[] = {
        {"network message send", "DEVICE PROTOCOL TEXT",
         "send a message to a paired device, print its reply",
         "Options: [--priority high|normal|low] [--durable] [--no-reply]\n"
         "         [--wait MS]\n\n"
         "DEVICE is a paired device's name, id, unique id prefix or peer ID.\n"
         "The message is a Custom DeviceMessage of PROTOCOL carrying TEXT; the\n"
         "command waits (at most --wait ms, default 30000) for the reply and\n"
         "prints it. --durable stores the message and returns at once: it is\n"
         "delivered when the device is reachable, even after restarts, and\n"
         "handled there exactly once. --no-reply sends without waiting.\n",
         cmd_send},
        {"network message listen", "PROTOCOL", "print messages of a protocol as they arrive",
         "Options: [--echo] [--count N]\n\n"
         "Registers PROTOCOL as a handler for as long as the command runs and\n"
         "prints every message for it. With --echo, requests are answered with\n"
         "their own text; without it, senders waiting for a reply time out.\n"
         "Durable messages are acknowledged once printed; one shown again after\n"
         "a listener or daemon stopped before that is marked (again).\n"
         "--count N exits after N messages. --json prints one object per line.\n",
         cmd_listen},
        {0},
};
