/* max-connections-per-ip: its bounds on the command line and in the file,
 * its default following max-connections, and the rule that it is never
 * below max-connections (every paired device may sit behind one address). */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/daemon-config.h"
#include "net/host.h"
#include "persist/persist.h"

static char dir[64];
static struct paths_env env;

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_config_limits.XXXXXX");
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

/* config_load() of argv (NULL-terminated, argv[0] added). */
static int load(struct config *c, struct errmsg *e, ...)
{
	char *argv[16] = {"sdnetd"};
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

static void error_has(int r, const struct errmsg *e, const char *want)
{
	assert_int_equal(r, -EINVAL);
	if (!strstr(e->text, want))
		fail_msg("error '%s' does not contain '%s'", e->text, want);
}

static const char *write_conf(const char *text)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/limits.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Unset, it follows max-connections: the persist default (50) makes it
 * 50, a small max-connections leaves the host's 16. */
static void test_default_follows_max_connections(void **state)
{
	struct config c;
	struct errmsg e;
	assert_int_equal(load(&c, &e, NULL), 0);
	assert_false(config_has(&c, CONFIG_MAX_CONNECTIONS_PER_IP));
	assert_int_equal(c.max_connections_per_ip, 0);
	assert_int_equal(config_max_connections_per_ip(&c), PERSIST_DEFAULT_MAX_CONNECTIONS);
	assert_int_equal(config_max_connections_per_ip(&c), 50);
	config_free(&c);

	assert_int_equal(load(&c, &e, "--max-connections", "4", NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), HOST_DEFAULT_MAX_CONNS_PER_IP);
	assert_int_equal(config_max_connections_per_ip(&c), 16);
	config_free(&c);

	assert_int_equal(load(&c, &e, "--max-connections", "300", NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), 300);
	config_free(&c);
}

static void test_explicit_values(void **state)
{
	struct config c;
	struct errmsg e;
	assert_int_equal(load(&c, &e, "--max-connections-per-ip", "64", NULL), 0);
	assert_true(config_has(&c, CONFIG_MAX_CONNECTIONS_PER_IP));
	assert_int_equal(config_max_connections_per_ip(&c), 64);
	config_free(&c);

	/* The bounds, with max-connections low enough for the floor. */
	assert_int_equal(
	        load(&c, &e, "--max-connections", "1", "--max-connections-per-ip", "2", NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), CONFIG_PER_IP_MIN);
	config_free(&c);
	assert_int_equal(load(&c, &e, "--max-connections-per-ip=1024", NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), CONFIG_PER_IP_MAX);
	config_free(&c);

	/* Equal to max-connections is enough. */
	assert_int_equal(
	        load(&c, &e, "--max-connections", "3", "--max-connections-per-ip", "3", NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), 3);
	config_free(&c);
}

static void test_bad_values(void **state)
{
	static const char *bad[] = {
	        "0", "1", "1025", "-3", "", "ten", "16x", " 16", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config c;
		struct errmsg e;
		int r = load(&c, &e, "--max-connections", "1", "--max-connections-per-ip", bad[i],
		             NULL);
		error_has(r, &e, "--max-connections-per-ip");
		if (bad[i][0])
			error_has(r, &e, "from 2 to 1024");
		config_free(&c);
	}
}

/* Never below max-connections, whether that is given or the default. */
static void test_never_below_max_connections(void **state)
{
	struct config c;
	struct errmsg e;
	int r = load(&c, &e, "--max-connections-per-ip", "16", NULL);
	error_has(r, &e, "max-connections-per-ip (16) is below max-connections (50, the default)");
	config_free(&c);

	r = load(&c, &e, "--max-connections", "10", "--max-connections-per-ip", "9", NULL);
	error_has(r, &e, "max-connections-per-ip (9) is below max-connections (10)");
	error_has(r, &e, "behind one address");
	config_free(&c);

	assert_int_equal(config_check_limits(&(struct config){.max_connections_per_ip = 0}, &e), 0);
	assert_int_equal(
	        config_check_limits(
	                &(struct config){.max_connections = 8, .max_connections_per_ip = 8}, &e),
	        0);
	assert_int_equal(
	        config_check_limits(
	                &(struct config){.max_connections = 8, .max_connections_per_ip = 7}, &e),
	        -EINVAL);
}

/* The file takes the key too, with file:line in errors; the command line
 * wins over it, and the cross-key rule applies to the merged result. */
static void test_config_file(void **state)
{
	struct config c;
	struct errmsg e;
	const char *path = write_conf("max-connections = 8\nmax-connections-per-ip = 12\n");
	assert_int_equal(load(&c, &e, "--config", path, NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), 12);
	config_free(&c);

	assert_int_equal(load(&c, &e, "--config", path, "--max-connections-per-ip", "20", NULL), 0);
	assert_int_equal(config_max_connections_per_ip(&c), 20);
	config_free(&c);

	/* The file's 12 is below a command-line max-connections of 30. */
	int r = load(&c, &e, "--config", path, "--max-connections", "30", NULL);
	error_has(r, &e, "max-connections-per-ip (12) is below max-connections (30)");
	config_free(&c);

	path = write_conf("max-connections = 1\n\nmax-connections-per-ip = 1\n");
	r = load(&c, &e, "--config", path, NULL);
	error_has(r, &e, ":3:");
	error_has(r, &e, "from 2 to 1024");
	config_free(&c);
}

/* config_merge() carries the value over (what SIGHUP's reload uses). */
static void test_merge(void **state)
{
	struct config a, b;
	struct errmsg e;
	config_init(&a);
	config_init(&b);
	const struct config_option *o = config_option_find("max-connections-per-ip");
	assert_non_null(o);
	assert_true(o->in_file);
	assert_true(o->takes_value);
	assert_int_equal(config_set(&b, o, "77", false, &e), 0);
	config_merge(&a, &b);
	assert_int_equal(a.max_connections_per_ip, 77);
	assert_true(config_has(&a, CONFIG_MAX_CONNECTIONS_PER_IP));
	config_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_default_follows_max_connections),
	        cmocka_unit_test(test_explicit_values),
	        cmocka_unit_test(test_bad_values),
	        cmocka_unit_test(test_never_below_max_connections),
	        cmocka_unit_test(test_config_file),
	        cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
