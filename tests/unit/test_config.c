/* sdnetd configuration: every option on the command line and in the file,
 * command line over file, the default file location, and errors that name
 * the option or the file and line. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/daemon-config.h"
#include "log.h"

#define PEER "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"
#define BOOT "/ip4/104.131.131.82/tcp/4001/p2p/" PEER

static char dir[64];
static struct paths_env env;

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	env = (struct paths_env){.home = dir, .uid = getuid()};
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* argv from a NULL-terminated list (argv[0] added). */
static int load(struct config *c, struct errmsg *e, ...)
{
	char *argv[64] = {"sdnetd"};
	int argc = 1;
	va_list ap;
	va_start(ap, e);
	const char *a;
	while ((a = va_arg(ap, const char *)))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return config_load(c, argc, argv, &env, e);
}

static void write_file(const char *path, const char *text)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void error_is(int r, const struct errmsg *e, const char *want)
{
	assert_int_equal(r, -EINVAL);
	if (!strstr(e->text, want))
		fail_msg("error '%s' does not contain '%s'", e->text, want);
}

static void test_defaults(void **state)
{
	struct config c;
	struct errmsg e;
	assert_int_equal(load(&c, &e, NULL), 0);
	assert_string_equal(config_instance(&c), "default");
	assert_null(c.config_file);
	assert_null(c.data_dir);
	assert_null(c.socket_path);
	assert_null(c.password_file);
	assert_null(c.device_name);
	assert_int_equal(c.listen.n, 1);
	assert_string_equal(c.listen.v[0], CONFIG_DEFAULT_LISTEN);
	assert_false(config_has(&c, CONFIG_LISTEN));
	assert_int_equal(c.bootstrap.n, 0);
	assert_int_equal(c.mdns_interfaces.n, 0);
	assert_false(c.no_mdns);
	assert_false(c.foreground);
	assert_false(c.enable_test_protocols);
	assert_int_equal(c.log_level, LOG_INFO);
	config_free(&c);
}

static void test_every_option(void **state)
{
	struct config c;
	struct errmsg e;
	char cfg[128];
	snprintf(cfg, sizeof(cfg), "%s/empty.conf", dir);
	write_file(cfg, "");
	assert_int_equal(load(&c, &e, "--instance", "alice", "--config", cfg, "--data-dir", "/d",
	                      "--socket", "/s.sock", "--socket-group", "spacedrive", "--listen",
	                      "/ip4/0.0.0.0/tcp/4001", "--listen=/ip6/::/udp/4001/quic-v1",
	                      "--bootstrap", BOOT, "--no-mdns", "--mdns-interface", "eth0",
	                      "--mdns-interface=wlan0", "--password-file", "/p", "--log-level",
	                      "debug", "--foreground", "--device-name", "Alice's laptop",
	                      "--enable-test-protocols", NULL),
	                 0);
	assert_string_equal(c.instance, "alice");
	assert_string_equal(c.config_file, cfg);
	assert_string_equal(c.data_dir, "/d");
	assert_string_equal(c.socket_path, "/s.sock");
	assert_string_equal(c.socket_group, "spacedrive");
	assert_int_equal(c.listen.n, 2);
	assert_string_equal(c.listen.v[0], "/ip4/0.0.0.0/tcp/4001");
	assert_string_equal(c.listen.v[1], "/ip6/::/udp/4001/quic-v1");
	assert_int_equal(c.bootstrap.n, 1);
	assert_string_equal(c.bootstrap.v[0], BOOT);
	assert_true(c.no_mdns);
	assert_int_equal(c.mdns_interfaces.n, 2);
	assert_string_equal(c.mdns_interfaces.v[1], "wlan0");
	assert_string_equal(c.password_file, "/p");
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_true(c.foreground);
	assert_true(c.enable_test_protocols);
	assert_string_equal(c.device_name, "Alice's laptop");
	config_free(&c);
}

static void test_help_version(void **state)
{
	struct config c;
	struct errmsg e;
	static const char *help[] = {"--help", "-h"}, *version[] = {"--version", "-V"};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(load(&c, &e, help[i], NULL), 0);
		assert_true(c.help);
		config_free(&c);
		assert_int_equal(load(&c, &e, version[i], NULL), 0);
		assert_true(c.version);
		config_free(&c);
	}
	/* --help does not read a broken config file. */
	char cfg[128];
	snprintf(cfg, sizeof(cfg), "%s/bad.conf", dir);
	write_file(cfg, "nonsense\n");
	assert_int_equal(load(&c, &e, "--config", cfg, "--help", NULL), 0);
	config_free(&c);
	FILE *f = tmpfile();
	config_usage(f);
	assert_true(ftell(f) > 0);
	rewind(f);
	char text[4096];
	text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
	fclose(f);
	for (const struct config_option *o = config_options; o->name; o++) {
		char want[64];
		snprintf(want, sizeof(want), "--%s", o->name);
		assert_non_null(strstr(text, want));
	}
}

static void test_relative_paths(void **state)
{
	struct config c;
	struct errmsg e;
	char cwd[4096], want[4200];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(load(&c, &e, "--data-dir", "data", "--password-file", "pw", NULL), 0);
	snprintf(want, sizeof(want), "%s/data", cwd);
	assert_string_equal(c.data_dir, want);
	snprintf(want, sizeof(want), "%s/pw", cwd);
	assert_string_equal(c.password_file, want);
	config_free(&c);
}

static void test_argument_errors(void **state)
{
	struct config c;
	struct errmsg e;
	error_is(load(&c, &e, "--lisen", "/ip4/1.2.3.4/tcp/1", NULL), &e,
	         "unknown option '--lisen'");
	config_free(&c);
	error_is(load(&c, &e, "-x", NULL), &e, "unknown option '-x'");
	config_free(&c);
	error_is(load(&c, &e, "--listen", NULL), &e, "'--listen' needs a value");
	config_free(&c);
	error_is(load(&c, &e, "--listen=", NULL), &e, "--listen: needs a value");
	config_free(&c);
	error_is(load(&c, &e, "--fore", NULL), &e, "unknown option '--fore'");
	config_free(&c);
	error_is(load(&c, &e, "--help=x", NULL), &e, "--help");
	config_free(&c);
	error_is(load(&c, &e, "start", NULL), &e, "unexpected argument 'start'");
	config_free(&c);
	error_is(load(&c, &e, "--instance", "a/b", NULL), &e, "--instance: instance name 'a/b'");
	config_free(&c);
	error_is(load(&c, &e, "--instance", "", NULL), &e, "--instance");
	config_free(&c);
	error_is(load(&c, &e, "--listen", "/ip4/1.2.3.4/tpc/1", NULL), &e, "--listen: ");
	assert_non_null(strstr(e.text, "tpc"));
	config_free(&c);
	error_is(load(&c, &e, "--bootstrap", "/ip4/1.2.3.4/tcp/1", NULL), &e,
	         "--bootstrap: bootstrap address '/ip4/1.2.3.4/tcp/1' must end with /p2p/");
	config_free(&c);
	error_is(load(&c, &e, "--socket-group", "a b", NULL), &e,
	         "--socket-group: 'a b' is not a group name or number");
	config_free(&c);
	error_is(load(&c, &e, "--socket-group", "-x", NULL), &e, "--socket-group");
	config_free(&c);
	error_is(load(&c, &e, "--log-level", "loud", NULL), &e,
	         "--log-level: unknown log level 'loud'");
	config_free(&c);
	error_is(load(&c, &e, "--device-name", "a\tb", NULL), &e,
	         "--device-name: device name has a control character");
	config_free(&c);
	error_is(load(&c, &e, "--mdns-interface", "eth0/1", NULL), &e,
	         "--mdns-interface: 'eth0/1' is not an interface name");
	config_free(&c);
	error_is(load(&c, &e, "--mdns-interface", "averyveryverylongname", NULL), &e,
	         "--mdns-interface");
	config_free(&c);
	char longsock[200];
	memset(longsock, 'a', sizeof(longsock) - 1);
	longsock[0] = '/';
	longsock[sizeof(longsock) - 1] = '\0';
	error_is(load(&c, &e, "--socket", longsock, NULL), &e, "--socket: socket path is too long");
	config_free(&c);
	char cfg[128];
	snprintf(cfg, sizeof(cfg), "%s/missing.conf", dir);
	assert_int_equal(load(&c, &e, "--config", cfg, NULL), -ENOENT);
	assert_non_null(strstr(e.text, cfg));
	config_free(&c);
}

static void test_list_cap(void **state)
{
	struct config c;
	struct errmsg e;
	char *argv[2 * CONFIG_LIST_MAX + 4] = {"sdnetd"};
	int argc = 1;
	for (int i = 0; i <= CONFIG_LIST_MAX; i++) {
		argv[argc++] = "--mdns-interface";
		argv[argc++] = "eth0";
	}
	assert_int_equal(config_load(&c, argc, argv, &env, &e), -EINVAL);
	assert_non_null(strstr(e.text, "--mdns-interface: more than 64 values"));
	config_free(&c);
	/* Exactly the cap is fine. */
	assert_int_equal(config_load(&c, argc - 2, argv, &env, &e), 0);
	assert_int_equal(c.mdns_interfaces.n, CONFIG_LIST_MAX);
	config_free(&c);
}

static const char every_key[] = "# sdnetd config\n"
                                "\n"
                                "data-dir = /srv/alice\n"
                                "socket=/run/alice.sock\n"
                                "socket-group = 1001\n"
                                "  listen = /ip4/0.0.0.0/tcp/4001  \n"
                                "listen = /ip4/0.0.0.0/udp/4001/quic-v1\r\n"
                                "bootstrap = " BOOT "\n"
                                "no-mdns = yes\n"
                                "mdns-interface = eth0\n"
                                "password-file = /etc/alice.pw\n"
                                "log-level = warning\n"
                                "\t# indented comment\n"
                                "device-name = \" Alice # 1 \"\n";

static void test_file_every_key(void **state)
{
	struct config c;
	struct errmsg e;
	config_init(&c);
	assert_int_equal(config_parse_text(&c, "t.conf", every_key, strlen(every_key), &e), 0);
	assert_string_equal(c.data_dir, "/srv/alice");
	assert_string_equal(c.socket_path, "/run/alice.sock");
	assert_string_equal(c.socket_group, "1001");
	assert_int_equal(c.listen.n, 2);
	assert_string_equal(c.listen.v[0], "/ip4/0.0.0.0/tcp/4001");
	assert_string_equal(c.listen.v[1], "/ip4/0.0.0.0/udp/4001/quic-v1");
	assert_string_equal(c.bootstrap.v[0], BOOT);
	assert_true(c.no_mdns);
	assert_string_equal(c.mdns_interfaces.v[0], "eth0");
	assert_string_equal(c.password_file, "/etc/alice.pw");
	assert_int_equal(c.log_level, LOG_WARNING);
	assert_string_equal(c.device_name, " Alice # 1 ");
	config_free(&c);
}

static void test_file_booleans(void **state)
{
	static const struct {
		const char *text;
		bool v;
	} cases[] = {
	        {"no-mdns = true", true}, {"no-mdns = on", true},     {"no-mdns = 1", true},
	        {"no-mdns = YES", true},  {"no-mdns = false", false}, {"no-mdns = no", false},
	        {"no-mdns = off", false}, {"no-mdns = 0", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		struct errmsg e;
		config_init(&c);
		c.no_mdns = !cases[i].v;
		assert_int_equal(
		        config_parse_text(&c, "t", cases[i].text, strlen(cases[i].text), &e), 0);
		assert_int_equal(c.no_mdns, cases[i].v);
		config_free(&c);
	}
}

static void file_error(const char *text, const char *want)
{
	struct config c;
	struct errmsg e = {{0}};
	config_init(&c);
	error_is(config_parse_text(&c, "sdnetd.conf", text, strlen(text), &e), &e, want);
	config_free(&c);
}

static void test_file_errors(void **state)
{
	file_error("# ok\n\nlisn = /ip4/1.2.3.4/tcp/1\n", "sdnetd.conf:3: unknown key 'lisn'");
	file_error("log-level debug\n", "sdnetd.conf:1: expected 'key = value'");
	file_error("[daemon]\n", "sdnetd.conf:1: sections like [daemon] are not supported");
	file_error("log-level = info\n#\nlog-level = debug\n",
	           "sdnetd.conf:3: 'log-level' is set twice (first on line 1)");
	file_error("instance = bob\n",
	           "sdnetd.conf:1: 'instance' can only be given on the command");
	file_error("foreground = true\n", "sdnetd.conf:1: 'foreground' can only be given");
	/* Tests only: never switched on by a config file left on a device. */
	file_error("enable-test-protocols = true\n",
	           "sdnetd.conf:1: 'enable-test-protocols' can only be given");
	file_error("config = /x\n", "sdnetd.conf:1: 'config'");
	file_error("\n\nlog-level = chatty\n", "sdnetd.conf:3: log-level: unknown log level");
	file_error("listen = /ip4/999.1.1.1/tcp/1\n", "sdnetd.conf:1: listen: ");
	file_error("bootstrap = /ip4/1.1.1.1/tcp/1\n",
	           "sdnetd.conf:1: bootstrap: bootstrap address");
	file_error("data-dir = relative/dir\n",
	           "sdnetd.conf:1: data-dir: 'relative/dir' is a relative path");
	file_error("no-mdns = maybe\n", "sdnetd.conf:1: no-mdns: 'maybe' is not a boolean");
	file_error("listen =\n", "sdnetd.conf:1: listen: needs a value");
	file_error("device-name = \"\"\n", "sdnetd.conf:1: device-name: needs a value");
	file_error("device-name = \xff\xfe\n",
	           "sdnetd.conf:1: device-name: device name is not valid");
	file_error("= value\n", "sdnetd.conf:1: unknown key ''");
	/* A NUL byte inside the text (strlen would stop there). */
	struct config c;
	struct errmsg e;
	config_init(&c);
	static const char nul[] = "log-level = info\nlis\0ten = x\n";
	error_is(config_parse_text(&c, "n.conf", nul, sizeof(nul) - 1, &e), &e,
	         "n.conf:2: line contains a NUL byte");
	config_free(&c);
	char big[CONFIG_LINE_MAX + 64];
	snprintf(big, sizeof(big), "# a\ndevice-name = ");
	size_t n = strlen(big);
	memset(big + n, 'x', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	file_error(big, "sdnetd.conf:2: line is longer than 4096 bytes");
}

static void test_command_line_wins(void **state)
{
	struct config c;
	struct errmsg e;
	char cfg[128];
	snprintf(cfg, sizeof(cfg), "%s/x.conf", dir);
	write_file(cfg, "log-level = debug\n"
	                "listen = /ip4/0.0.0.0/tcp/1\n"
	                "listen = /ip4/0.0.0.0/tcp/2\n"
	                "device-name = from-file\n"
	                "no-mdns = true\n"
	                "data-dir = /from/file\n");
	assert_int_equal(load(&c, &e, "--config", cfg, "--log-level", "error", "--listen",
	                      "/ip4/0.0.0.0/tcp/3", "--device-name", "from-cli", NULL),
	                 0);
	assert_int_equal(c.log_level, LOG_ERR);
	/* A list on the command line replaces the file's list. */
	assert_int_equal(c.listen.n, 1);
	assert_string_equal(c.listen.v[0], "/ip4/0.0.0.0/tcp/3");
	assert_string_equal(c.device_name, "from-cli");
	/* Keys the command line leaves alone come from the file. */
	assert_true(c.no_mdns);
	assert_string_equal(c.data_dir, "/from/file");
	config_free(&c);
	/* Last one wins on the command line (wrappers append options). */
	assert_int_equal(load(&c, &e, "--log-level", "error", "--log-level", "debug", NULL), 0);
	assert_int_equal(c.log_level, LOG_DEBUG);
	config_free(&c);
}

static void test_default_file(void **state)
{
	struct config c;
	struct errmsg e;
	char cfg[160];
	snprintf(cfg, sizeof(cfg), "%s/.config/spacedrive/alice/sdnetd.conf", dir);
	write_file(cfg, "device-name = found\n");
	assert_int_equal(load(&c, &e, "--instance", "alice", NULL), 0);
	assert_string_equal(c.device_name, "found");
	assert_string_equal(c.config_file, cfg);
	config_free(&c);
	/* Another instance has no file: defaults, no error. */
	assert_int_equal(load(&c, &e, "--instance", "bob", NULL), 0);
	assert_null(c.device_name);
	assert_null(c.config_file);
	config_free(&c);
	/* $XDG_CONFIG_HOME moves it; an error in it names the file. */
	char xdg[128];
	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	env.xdg_config_home = xdg;
	snprintf(cfg, sizeof(cfg), "%s/spacedrive/bob/sdnetd.conf", xdg);
	write_file(cfg, "\nbogus = 1\n");
	error_is(load(&c, &e, "--instance", "bob", NULL), &e, "sdnetd.conf:2: unknown key 'bogus'");
	assert_non_null(strstr(e.text, xdg));
	config_free(&c);
	/* Under systemd: $CONFIGURATION_DIRECTORY. */
	char sysd[128];
	snprintf(sysd, sizeof(sysd), "%s/etc", dir);
	env.configuration_directory = sysd;
	snprintf(cfg, sizeof(cfg), "%s/sdnetd.conf", sysd);
	write_file(cfg, "log-level = error\n");
	assert_int_equal(load(&c, &e, "--instance", "bob", NULL), 0);
	assert_int_equal(c.log_level, LOG_ERR);
	config_free(&c);
	env.xdg_config_home = NULL;
	env.configuration_directory = NULL;
}

static void test_parse_twice(void **state)
{
	/* SIGHUP parses the same argv again. */
	for (int i = 0; i < 2; i++) {
		struct config c;
		struct errmsg e;
		assert_int_equal(load(&c, &e, "--instance", "alice", "--foreground", NULL), 0);
		assert_string_equal(c.instance, "alice");
		assert_true(c.foreground);
		config_free(&c);
	}
}

static void test_merge(void **state)
{
	struct config a, b;
	struct errmsg e;
	config_init(&a);
	config_init(&b);
	const struct config_option *listen = config_option_find("listen");
	assert_int_equal(config_set(&a, listen, "/ip4/1.1.1.1/tcp/1", false, &e), 0);
	assert_int_equal(config_set(&a, config_option_find("socket"), "/a", false, &e), 0);
	assert_int_equal(config_set(&b, config_option_find("socket"), "/b", false, &e), 0);
	config_merge(&a, &b);
	assert_string_equal(a.socket_path, "/b");
	assert_int_equal(a.listen.n, 1);
	assert_null(b.socket_path);
	assert_true(config_has(&a, CONFIG_SOCKET));
	assert_false(config_has(&a, CONFIG_DATA_DIR));
	config_free(&a);
	assert_null(config_option_find("nope"));
}

/* spacedrop-discoverable: the device name in mDNS, on unless turned off. */
static void test_spacedrop_discoverable(void **state)
{
	struct config c;
	struct errmsg e;
	assert_int_equal(load(&c, &e, NULL), 0);
	assert_false(config_has(&c, CONFIG_SPACEDROP_DISCOVERABLE));
	assert_true(config_spacedrop_discoverable(&c));
	config_free(&c);
	assert_int_equal(load(&c, &e, "--spacedrop-discoverable", "false", NULL), 0);
	assert_false(config_spacedrop_discoverable(&c));
	config_free(&c);
	assert_int_equal(load(&c, &e, "--spacedrop-discoverable=on", NULL), 0);
	assert_true(config_has(&c, CONFIG_SPACEDROP_DISCOVERABLE));
	assert_true(config_spacedrop_discoverable(&c));
	config_free(&c);
	error_is(load(&c, &e, "--spacedrop-discoverable", "maybe", NULL), &e, "not a boolean");
	config_free(&c);
	/* In the file, and the command line over it. */
	char cfg[128];
	snprintf(cfg, sizeof(cfg), "%s/sd.conf", dir);
	write_file(cfg, "spacedrop-discoverable = no\n");
	assert_int_equal(load(&c, &e, "--config", cfg, NULL), 0);
	assert_false(config_spacedrop_discoverable(&c));
	config_free(&c);
	assert_int_equal(load(&c, &e, "--config", cfg, "--spacedrop-discoverable", "yes", NULL), 0);
	assert_true(config_spacedrop_discoverable(&c));
	config_free(&c);
	write_file(cfg, "spacedrop-discoverable = sometimes\n");
	error_is(load(&c, &e, "--config", cfg, NULL), &e, "sd.conf:1");
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_every_option),
	        cmocka_unit_test(test_help_version),
	        cmocka_unit_test(test_relative_paths),
	        cmocka_unit_test(test_argument_errors),
	        cmocka_unit_test(test_list_cap),
	        cmocka_unit_test(test_file_every_key),
	        cmocka_unit_test(test_file_booleans),
	        cmocka_unit_test(test_file_errors),
	        cmocka_unit_test(test_command_line_wins),
	        cmocka_unit_test(test_default_file),
	        cmocka_unit_test(test_parse_twice),
	        cmocka_unit_test(test_merge),
	        cmocka_unit_test(test_spacedrop_discoverable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
