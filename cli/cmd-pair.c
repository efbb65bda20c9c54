/* `spacedrive network pair ...` and `network devices`: pairing with a
 * 12-word code and listing paired devices, over pairing.* and
 * devices.list. One row per subcommand.
 *
 * The two long waits (join, generate --wait) send their call and then read
 * the daemon's messages in short polls, so a spinner can turn on a
 * terminal (stderr only) and pairing.state events can update its label.
 * Output lines match the seed's:
 *   Generated pairing code: <words>
 *   Code expires in: 300 seconds
 *   Connecting to initiator...
 *   Pairing successful! Device 'alice' added.
 *   bob (connected) - paired 30 seconds ago */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bip39.h"
#include "cli.h"
#include "client.h"
#include "cmd-device.h"
#include "commands.h"
#include "crypto.h"
#include "output.h"
#include "progress.h"

/* How often the spinner turns while we wait. */
#define PAIR_POLL_MS 150
/* pairing.join answers within the daemon's join lifetime (120 s); allow a
 * little more before the CLI gives up on it. */
#define PAIR_JOIN_TIMEOUT_MS 150000
/* generate --wait: the code's lifetime plus this margin. */
#define PAIR_WAIT_MARGIN_MS 15000
/* Most bytes of words read from stdin (12 words of at most 8 letters, with
 * room for sloppy spacing). */
#define PAIR_WORDS_MAX 512
/* Words in a pairing code (proto/pairing-code.h). */
#define PAIR_CODE_WORDS 12

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *str_of(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

/* The sentence for a daemon error: data.detail when the daemon gave one
 * (pairing errors), else its whole message. */
static int rpc_failure(const struct cli *cli, const struct conn_reply *r)
{
	json_t *data = json_object_get(json_object_get(r->msg, "error"), "data");
	const char *detail = str_of(data, "detail", r->message ? r->message : "failed");
	return out_error(cli, out_exit_for_rpc(r->code), r->code, "%s", detail);
}

/* Options: --json/-j anywhere, plus the command's own. */
struct pair_opts {
	long expires;
	bool wait;
	const char *peer;
	const char *operand;
};

static int parse_opts(struct cli *cli, const char *words, int argc, char **argv,
                      struct pair_opts *o, bool allow_operand)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0 || strcmp(a, "-j") == 0) {
			cli->json = true;
		} else if (strcmp(a, "--wait") == 0 && o->expires >= 0) {
			o->wait = true;
		} else if (strcmp(a, "--expires") == 0 && o->expires >= 0) {
			char *end = NULL;
			if (i + 1 == argc)
				return out_usage(cli, "'%s': --expires needs a number of seconds",
				                 words);
			o->expires = strtol(argv[++i], &end, 10);
			if (*end || o->expires < 1 || o->expires > 3600)
				return out_usage(
				        cli, "'%s': --expires takes 1 to 3600 seconds, not '%s'",
				        words, argv[i]);
		} else if (strcmp(a, "--peer") == 0 && o->expires < 0) {
			if (i + 1 == argc)
				return out_usage(cli, "'%s': --peer needs a multiaddr", words);
			o->peer = argv[++i];
		} else if (allow_operand && !o->operand && (a[0] != '-' || strcmp(a, "-") == 0)) {
			o->operand = a;
		} else {
			return out_usage(cli, "'%s': unexpected argument '%s'", words, a);
		}
	}
	return CLI_EXIT_OK;
}

/* ---- waiting with a spinner --------------------------------------------- */

struct waiter {
	const char *session_id; /* events of other sessions are ignored */
	const char *role;
	struct progress prog;
	char label[96];
	/* Set when the wait is over. */
	bool done;
	json_t *device;       /* pairing.completed's device (owned) */
	char state[32];       /* the final state */
	char reason[512];     /* and why */
	struct conn_reply rr; /* the awaited response, when waiting for one */
	bool have_reply;
};

static bool state_is_final(const char *st)
{
	return strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 ||
	       strcmp(st, "cancelled") == 0 || strcmp(st, "expired") == 0;
}

static const char *state_label(const char *st)
{
	if (strcmp(st, "connected") == 0)
		return "Connected; exchanging proofs...";
	if (strcmp(st, "authenticating") == 0)
		return "Authenticating...";
	return NULL;
}

static void on_event(struct waiter *w, json_t *msg)
{
	json_t *params = json_object_get(msg, "params");
	const char *kind = str_of(params, "kind", "");
	json_t *data = json_object_get(params, "data");
	bool ours = w->session_id ? strcmp(str_of(data, "session_id", ""), w->session_id) == 0
	                          : strcmp(str_of(data, "role", ""), w->role) == 0;
	if (!ours)
		return;
	const char *st = str_of(data, "state", "");
	if (strcmp(kind, "pairing.state") == 0) {
		const char *l = state_label(st);
		if (l) {
			snprintf(w->label, sizeof(w->label), "%s", l);
			w->prog.label = w->label;
		}
		if (w->session_id && state_is_final(st) && strcmp(st, "completed") != 0) {
			snprintf(w->state, sizeof(w->state), "%s", st);
			snprintf(w->reason, sizeof(w->reason), "%s", str_of(data, "reason", ""));
			w->done = true;
		}
	} else if (strcmp(kind, "pairing.completed") == 0 && w->session_id) {
		snprintf(w->state, sizeof(w->state), "completed");
		w->device = json_incref(json_object_get(data, "device"));
		w->done = true;
	}
}

/* Read until w->done or (id > 0) the response to id arrives, or the
 * deadline. Returns CLI_EXIT_OK or prints the failure. */
static int wait_loop(const struct cli *cli, struct conn *c, struct waiter *w, json_int_t id,
                     long long deadline)
{
	while (!w->done) {
		if (now_ms() >= deadline) {
			progress_end(&w->prog);
			return out_error(
			        cli, CLI_EXIT_FAILURE, 0,
			        "gave up waiting for the pairing to end; 'network pair status' "
			        "shows where it is");
		}
		json_t *msg = NULL;
		struct errmsg e = {{0}};
		int r = conn_next(c, PAIR_POLL_MS, &msg, &e);
		if (r == -ETIMEDOUT) {
			progress_tick(&w->prog);
			continue;
		}
		if (r < 0) {
			progress_end(&w->prog);
			return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", e.text);
		}
		if (id > 0 && conn_is_response(msg, id)) {
			progress_end(&w->prog);
			if (conn_reply_take(msg, &w->rr, &e) < 0)
				return out_error(cli, CLI_EXIT_FAILURE, 0, "%s", e.text);
			w->have_reply = true;
			return CLI_EXIT_OK;
		}
		on_event(w, msg);
		json_decref(msg);
	}
	progress_end(&w->prog);
	return CLI_EXIT_OK;
}

static int subscribe(const struct cli *cli, struct conn *c)
{
	json_t *res = NULL;
	int r = client_call(cli, c, "events.subscribe",
	                    json_pack("{s:[s, s]}", "kinds", "pairing.state", "pairing.completed"),
	                    &res);
	json_decref(res);
	return r;
}

/* ---- network pair generate ---------------------------------------------- */

static int generate_wait(const struct cli *cli, struct conn *c, json_t *gen)
{
	struct waiter w = {.session_id = str_of(gen, "session_id", "")};
	long long deadline = now_ms() +
	                     json_integer_value(json_object_get(gen, "expires_in")) * 1000 +
	                     PAIR_WAIT_MARGIN_MS;
	progress_begin(&w.prog, "Waiting for the other device to join...");
	int r = wait_loop(cli, c, &w, 0, deadline);
	if (r == CLI_EXIT_OK && strcmp(w.state, "completed") != 0)
		r = out_error(cli, CLI_EXIT_FAILURE, 0, "pairing %s: %s", w.state,
		              w.reason[0] ? w.reason : "no device paired");
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_pack("{s:s, s:s, s:O}", "session_id", w.session_id, "state",
		                       "completed", "device", w.device));
	else if (r == CLI_EXIT_OK)
		printf("Pairing successful! Device '%s' added.\n", str_of(w.device, "name", "?"));
	json_decref(w.device);
	return r;
}

static int run_generate(struct cli *cli, int argc, char **argv)
{
	struct pair_opts o = {.expires = 300};
	int r = parse_opts(cli, "network pair generate", argc, argv, &o, false);
	if (r)
		return r;
	struct conn *c = NULL;
	r = client_connect(cli, false, &c);
	if (r == CLI_EXIT_OK && o.wait)
		r = subscribe(cli, c);
	json_t *gen = NULL;
	if (r == CLI_EXIT_OK)
		r = client_call(cli, c, "pairing.generate",
		                json_pack("{s:I}", "expires_s", (json_int_t)o.expires), &gen);
	if (r == CLI_EXIT_OK) {
		const char *code = str_of(gen, "code", "?");
		if (cli->json) {
			r = out_json(json_pack("{s:s, s:O, s:O}", "code", code, "expires_in",
			                       json_object_get(gen, "expires_in"), "session_id",
			                       json_object_get(gen, "session_id")));
		} else {
			printf("Generated pairing code: %s\n", code);
			printf("Code expires in: %" JSON_INTEGER_FORMAT " seconds\n",
			       json_integer_value(json_object_get(gen, "expires_in")));
		}
		fflush(stdout);
		if (r == CLI_EXIT_OK && o.wait)
			r = generate_wait(cli, c, gen);
		json_t *cv = json_object_get(gen, "code");
		if (json_is_string(cv))
			crypto_wipe((char *)json_string_value(cv), json_string_length(cv));
	}
	json_decref(gen);
	conn_close(c);
	return r;
}

/* ---- network pair join -------------------------------------------------- */

/* `-`: the words from stdin (one or more lines, up to EOF). */
static int read_words(const struct cli *cli, char *out, size_t size)
{
	size_t n = fread(out, 1, size - 1, stdin);
	out[n] = '\0';
	if (n == size - 1 && !feof(stdin))
		return out_usage(cli, "'network pair join -': more than %zu bytes on stdin",
		                 size - 1);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return CLI_EXIT_OK;
}

/* Check the words here first, so a mistyped word is reported at once (and
 * even with no daemon running), with the daemon's own wording. */
static int check_words(const struct cli *cli, const char *words)
{
	size_t n = 0;
	for (const char *p = words; *p;) {
		p += strspn(p, " ");
		if (*p)
			n++;
		p += strcspn(p, " ");
	}
	if (n != PAIR_CODE_WORDS)
		return out_error(cli, CLI_EXIT_USAGE, 0,
		                 "a pairing code has %d words, this has %zu", PAIR_CODE_WORDS, n);
	uint8_t entropy[BIP39_ENTROPY_MAX];
	size_t len = 0;
	struct errmsg e = {{0}};
	int r = bip39_to_entropy(words, entropy, &len, &e);
	crypto_wipe(entropy, sizeof(entropy));
	if (r < 0)
		return out_error(cli, CLI_EXIT_USAGE, 0, "%s", e.text);
	return CLI_EXIT_OK;
}

static int join_result(const struct cli *cli, struct waiter *w)
{
	if (w->rr.code)
		return rpc_failure(cli, &w->rr);
	json_t *dev = json_object_get(w->rr.result, "device");
	if (cli->json)
		return out_json(json_incref(w->rr.result));
	printf("Pairing successful! Device '%s' added.\n", str_of(dev, "name", "?"));
	return CLI_EXIT_OK;
}

static int run_join(struct cli *cli, int argc, char **argv)
{
	struct pair_opts o = {.expires = -1};
	int r = parse_opts(cli, "network pair join", argc, argv, &o, true);
	if (r)
		return r;
	if (!o.operand)
		return out_usage(cli,
		                 "'network pair join' needs the 12 words (quoted), or - to read "
		                 "them from stdin");
	char words[PAIR_WORDS_MAX];
	if (strcmp(o.operand, "-") == 0)
		r = read_words(cli, words, sizeof(words));
	else
		snprintf(words, sizeof(words), "%s", o.operand);
	if (r == CLI_EXIT_OK)
		r = check_words(cli, words);
	struct conn *c = NULL;
	if (r == CLI_EXIT_OK)
		r = client_connect(cli, false, &c);
	if (r == CLI_EXIT_OK && !cli->json) {
		printf("Connecting to initiator...\n");
		fflush(stdout);
	}
	if (r == CLI_EXIT_OK)
		r = subscribe(cli, c);
	json_int_t id = 0;
	struct errmsg e = {{0}};
	if (r == CLI_EXIT_OK) {
		json_t *params = o.peer ? json_pack("{s:s, s:s}", "code", words, "peer", o.peer)
		                        : json_pack("{s:s}", "code", words);
		if (conn_send(c, "pairing.join", params, CLI_RPC_TIMEOUT_MS, &id, &e) < 0)
			r = out_error(cli, CLI_EXIT_FAILURE, 0, "pairing.join: %s", e.text);
	}
	crypto_wipe(words, sizeof(words));
	struct waiter w = {.role = "joiner"};
	if (r == CLI_EXIT_OK) {
		progress_begin(&w.prog, "Connecting to initiator...");
		r = wait_loop(cli, c, &w, id, now_ms() + PAIR_JOIN_TIMEOUT_MS);
	}
	if (r == CLI_EXIT_OK)
		r = join_result(cli, &w);
	conn_reply_clear(&w.rr);
	conn_close(c);
	return r;
}

/* ---- network pair status / cancel --------------------------------------- */

static void status_print(json_t *sessions)
{
	if (json_array_size(sessions) == 0) {
		printf("No pairing sessions.\n");
		return;
	}
	size_t i;
	json_t *s;
	json_array_foreach(sessions, i, s)
	{
		const char *st = str_of(s, "state", "?");
		const char *reason = str_of(s, "reason", "");
		printf("%s  %-9s  %-22s  ", str_of(s, "session_id", "?"), str_of(s, "role", "?"),
		       st);
		if (!state_is_final(st))
			printf("expires in %" JSON_INTEGER_FORMAT " s%s%s\n",
			       json_integer_value(json_object_get(s, "expires_in")),
			       reason[0] ? "; last attempt: " : "", reason);
		else if (strcmp(st, "completed") == 0)
			printf("device %s\n", str_of(s, "device_id", "?"));
		else
			printf("%s\n", reason);
	}
}

static int call_simple(struct cli *cli, const char *method, json_t *params, json_t **ret)
{
	struct conn *c = NULL;
	int r = client_connect(cli, false, &c);
	if (r == CLI_EXIT_OK) {
		struct errmsg e = {{0}};
		struct conn_reply rr = {0};
		if (conn_call(c, method, params, CLI_RPC_TIMEOUT_MS, &rr, &e) < 0)
			r = out_error(cli, CLI_EXIT_FAILURE, 0, "%s: %s", method, e.text);
		else if (rr.code)
			r = rpc_failure(cli, &rr);
		else
			*ret = json_incref(rr.result);
		conn_reply_clear(&rr);
		params = NULL;
	}
	json_decref(params);
	conn_close(c);
	return r;
}

static int run_status(struct cli *cli, int argc, char **argv)
{
	struct pair_opts o = {.expires = -1};
	int r = parse_opts(cli, "network pair status", argc, argv, &o, false);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call_simple(cli, "pairing.status", NULL, &res);
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_incref(json_object_get(res, "sessions")));
	else if (r == CLI_EXIT_OK)
		status_print(json_object_get(res, "sessions"));
	json_decref(res);
	return r;
}

/* Without an id: the one running session, if there is exactly one. */
static int pick_running(struct cli *cli, char *out, size_t size)
{
	json_t *res = NULL;
	int r = call_simple(cli, "pairing.status", NULL, &res);
	if (r)
		return r;
	size_t i, n = 0;
	json_t *s;
	json_array_foreach(json_object_get(res, "sessions"), i, s)
	{
		if (state_is_final(str_of(s, "state", "completed")))
			continue;
		if (n++ == 0)
			snprintf(out, size, "%s", str_of(s, "session_id", ""));
	}
	json_decref(res);
	if (n == 0)
		return out_error(cli, CLI_EXIT_FAILURE, 0, "no pairing is running");
	if (n > 1)
		return out_usage(cli,
		                 "%zu pairings are running; name one (see 'network pair "
		                 "status')",
		                 n);
	return CLI_EXIT_OK;
}

static int run_cancel(struct cli *cli, int argc, char **argv)
{
	struct pair_opts o = {.expires = -1};
	int r = parse_opts(cli, "network pair cancel", argc, argv, &o, true);
	if (r)
		return r;
	char id[64];
	if (o.operand)
		snprintf(id, sizeof(id), "%s", o.operand);
	else if ((r = pick_running(cli, id, sizeof(id))) != CLI_EXIT_OK)
		return r;
	json_t *res = NULL;
	r = call_simple(cli, "pairing.cancel", json_pack("{s:s}", "session_id", id), &res);
	if (r == CLI_EXIT_OK && cli->json)
		r = out_json(json_incref(res));
	else if (r == CLI_EXIT_OK)
		printf("Pairing %s cancelled.\n", id);
	json_decref(res);
	return r;
}

/* ---- network devices ---------------------------------------------------- */

/* "30 seconds ago", "1 minute ago", "3 days ago". */
static void ago(char *buf, size_t size, int64_t seconds)
{
	static const struct {
		int64_t unit;
		const char *name;
	} units[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
	if (seconds < 1) {
		snprintf(buf, size, "just now");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		int64_t n = seconds / units[i].unit;
		if (n >= 1) {
			snprintf(buf, size, "%" PRId64 " %s%s ago", n, units[i].name,
			         n == 1 ? "" : "s");
			return;
		}
	}
}

static const char *const device_keys[] = {
        "device_id", "name",      "os",        "peer_id",   "state",
        "trust",     "paired_at", "last_seen", "addresses", "protocol_version",
};

static json_t *devices_json(json_t *devices)
{
	json_t *out = json_array();
	size_t i;
	json_t *d;
	json_array_foreach(devices, i, d)
	{
		json_t *o = json_object();
		for (size_t k = 0; o && k < sizeof(device_keys) / sizeof(device_keys[0]); k++) {
			json_t *v = json_object_get(d, device_keys[k]);
			json_object_set(o, device_keys[k], v ? v : json_null());
		}
		json_array_append_new(out, o);
	}
	return out;
}

static void devices_print(json_t *devices)
{
	if (json_array_size(devices) == 0) {
		printf("No paired devices.\n");
		return;
	}
	int64_t now = (int64_t)time(NULL);
	size_t i;
	json_t *d;
	json_array_foreach(devices, i, d)
	{
		char when[64];
		ago(when, sizeof(when), now - json_integer_value(json_object_get(d, "paired_at")));
		const char *trust = str_of(d, "trust", "trusted");
		/* The link's detail (persist service) when it has one:
		 * "auto-reconnected", "next retry in 4 s", why not connected. */
		const char *detail = str_of(d, "state_detail", "");
		if (detail[0])
			printf("%s (%s) - %s%s%s\n", str_of(d, "name", "?"),
			       str_of(d, "state", "?"), detail,
			       strcmp(trust, "trusted") ? ", trust: " : "",
			       strcmp(trust, "trusted") ? trust : "");
		else
			printf("%s (%s) - paired %s%s%s\n", str_of(d, "name", "?"),
			       str_of(d, "state", "?"), when,
			       strcmp(trust, "trusted") ? ", trust: " : "",
			       strcmp(trust, "trusted") ? trust : "");
	}
}

static int run_devices(struct cli *cli, int argc, char **argv)
{
	struct pair_opts o = {.expires = -1};
	/* --verbose / -v: with metrics (cmd-device.c). */
	bool verbose = false;
	int k = 0;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
			verbose = true;
		else
			argv[k++] = argv[i];
	int r = parse_opts(cli, "network devices", k, argv, &o, false);
	json_t *res = NULL;
	if (r == CLI_EXIT_OK)
		r = call_simple(cli, "devices.list", NULL, &res);
	if (r == CLI_EXIT_OK && verbose)
		r = cmd_devices_verbose(cli, json_object_get(res, "devices"));
	else if (r == CLI_EXIT_OK && cli->json)
		r = out_json(devices_json(json_object_get(res, "devices")));
	else if (r == CLI_EXIT_OK)
		devices_print(json_object_get(res, "devices"));
	json_decref(res);
	return r;
}

const struct cli_command cli_pair_commands[] = {
        {"network pair generate", "", "make a 12-word code for another device to join",
         "Options: --expires S (1..3600, default 300), --wait.\n\n"
         "Prints the code and how long it lasts. Type the words on the other device\n"
         "with 'network pair join'. With --wait, stays until that device has joined\n"
         "(or the code expired) and prints the result; the exit status is then 0\n"
         "only when a device was paired.\n",
         run_generate},
        {"network pair join", "WORDS", "pair with the device that generated the code",
         "Options: --peer MULTIADDR.\n\n"
         "WORDS are the 12 words, quoted as one argument; - reads them from stdin.\n"
         "Without --peer the other device is found on the local network; with\n"
         "--peer (its address from 'network info' there) it is dialed directly.\n"
         "Exit status 0 when paired; 1 when the code did not match, expired, was\n"
         "already used, or the device could not be reached; 2 for a mistyped word.\n",
         run_join},
        {"network pair status", "", "list pairing sessions, running and recently ended",
         "With --json prints the array of sessions (session_id, role, state, reason,\n"
         "expires_in, created_ago, stats).\n",
         run_status},
        {"network pair cancel", "[ID]", "cancel a running pairing",
         "ID is a session id from 'network pair status'; without it, the only\n"
         "running pairing is cancelled.\n",
         run_cancel},
        {"network devices", "[--verbose]", "list paired devices",
         "One line per device: 'NAME (STATE) - paired N minutes ago', or the link's\n"
         "detail instead ('bob (connected) - auto-reconnected', 'bob (backoff) - next\n"
         "retry in 4 s'); STATE is connected, connecting, backoff, disconnected or\n"
         "disabled. --verbose adds RTT, bytes and messages each way, uptime and\n"
         "reconnects (devices.metrics).\n"
         "With --json prints an array of objects with device_id, name, os, peer_id,\n"
         "state, trust, paired_at and last_seen (unix seconds), addresses and\n"
         "protocol_version.\n",
         run_devices},
        {0},
};
