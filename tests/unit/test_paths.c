/* The instance path rule: systemd directories first, then XDG, then the
 * fallbacks; instance name checks; the socket length cap. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"

static struct paths_env home_only(void)
{
	return (struct paths_env){.home = "/home/u", .uid = 1000};
}

/* got is read after r is computed (argument order is unspecified). */
static void path_is(int r, char **got, const char *want)
{
	assert_int_equal(r, 0);
	assert_string_equal(*got, want);
	free(*got);
	*got = NULL;
}

static void test_instance_names(void **state)
{
	struct errmsg e;
	assert_int_equal(paths_instance_check("alice", &e), 0);
	assert_int_equal(paths_instance_check("Bob_2-x", &e), 0);
	char max[PATHS_INSTANCE_MAX + 2];
	memset(max, 'a', PATHS_INSTANCE_MAX);
	max[PATHS_INSTANCE_MAX] = '\0';
	assert_int_equal(paths_instance_check(max, &e), 0);
	max[PATHS_INSTANCE_MAX] = 'a';
	max[PATHS_INSTANCE_MAX + 1] = '\0';
	assert_int_equal(paths_instance_check(max, &e), -EINVAL);
	assert_non_null(strstr(e.text, "65 bytes"));
	assert_int_equal(paths_instance_check("", &e), -EINVAL);
	static const char *bad[] = {"a/b", "..", "a.b", "a b", "x\n", "caf\xc3\xa9", "a:b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(paths_instance_check(bad[i], &e), -EINVAL);
		assert_non_null(strstr(e.text, "bad character"));
	}
	assert_non_null(strstr((paths_instance_check("ab/c", &e), e.text), "byte 3"));
}

static void test_data_dir(void **state)
{
	struct paths_env env = home_only();
	struct errmsg e;
	char *p;
	path_is(paths_data_dir(&env, "alice", &p, &e), &p,
	        "/home/u/.local/share/spacedrive/alice/network");
	path_is(paths_data_dir(&env, "bob", &p, &e), &p,
	        "/home/u/.local/share/spacedrive/bob/network");
	env.xdg_data_home = "/x/data";
	path_is(paths_data_dir(&env, "alice", &p, &e), &p, "/x/data/spacedrive/alice/network");
	/* XDG spec: relative values are ignored. */
	env.xdg_data_home = "rel/data";
	path_is(paths_data_dir(&env, "alice", &p, &e), &p,
	        "/home/u/.local/share/spacedrive/alice/network");
	env.xdg_data_home = "";
	path_is(paths_data_dir(&env, "alice", &p, &e), &p,
	        "/home/u/.local/share/spacedrive/alice/network");
	/* systemd's StateDirectory= wins, first entry of a list. */
	env.state_directory = "/var/lib/sdnetd/alice:/var/lib/other";
	path_is(paths_data_dir(&env, "alice", &p, &e), &p, "/var/lib/sdnetd/alice");
	env.state_directory = NULL;
	env.home = "/";
	env.xdg_data_home = NULL;
	path_is(paths_data_dir(&env, "a", &p, &e), &p, "/.local/share/spacedrive/a/network");
	env.home = NULL;
	assert_int_equal(paths_data_dir(&env, "a", &p, &e), -ENOENT);
	assert_non_null(strstr(e.text, "XDG_DATA_HOME"));
	env = home_only();
	assert_int_equal(paths_data_dir(&env, "../etc", &p, &e), -EINVAL);
}

static void test_socket(void **state)
{
	struct paths_env env = home_only();
	struct errmsg e;
	char *p;
	path_is(paths_socket(&env, "alice", &p, &e), &p, "/tmp/spacedrive-1000/alice/sdnetd.sock");
	env.xdg_runtime_dir = "/run/user/1000";
	path_is(paths_socket(&env, "alice", &p, &e), &p,
	        "/run/user/1000/spacedrive/alice/sdnetd.sock");
	path_is(paths_socket(&env, "default", &p, &e), &p,
	        "/run/user/1000/spacedrive/default/sdnetd.sock");
	env.runtime_directory = "/run/sdnetd/bob";
	path_is(paths_socket(&env, "bob", &p, &e), &p, "/run/sdnetd/bob/sdnetd.sock");
	/* Too long for sun_path: refused with the length. */
	char longdir[200];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	env.runtime_directory = longdir;
	assert_int_equal(paths_socket(&env, "bob", &p, &e), -ENAMETOOLONG);
	assert_non_null(strstr(e.text, "--socket"));
	/* Exactly at the cap is fine: "/" + 94 'd' + "/sdnetd.sock" = 107. */
	longdir[95] = '\0';
	assert_int_equal(paths_socket(&env, "bob", &p, &e), 0);
	assert_int_equal(strlen(p), PATHS_SOCKET_MAX);
	free(p);
	longdir[95] = 'd';
	longdir[96] = '\0';
	assert_int_equal(paths_socket(&env, "bob", &p, &e), -ENAMETOOLONG);
}

static void test_config_file(void **state)
{
	struct paths_env env = home_only();
	struct errmsg e;
	char *p;
	path_is(paths_config_file(&env, "alice", &p, &e), &p,
	        "/home/u/.config/spacedrive/alice/sdnetd.conf");
	env.xdg_config_home = "/cfg";
	path_is(paths_config_file(&env, "alice", &p, &e), &p, "/cfg/spacedrive/alice/sdnetd.conf");
	env.configuration_directory = "/etc/sdnetd/alice";
	path_is(paths_config_file(&env, "alice", &p, &e), &p, "/etc/sdnetd/alice/sdnetd.conf");
}

static void test_credential(void **state)
{
	struct paths_env env = home_only();
	struct errmsg e;
	char *p;
	assert_int_equal(paths_credential(&env, "sdnetd.password", &p, &e), -ENOENT);
	env.credentials_directory = "/run/credentials/sdnetd.service";
	path_is(paths_credential(&env, "sdnetd.password", &p, &e), &p,
	        "/run/credentials/sdnetd.service/sdnetd.password");
}

static void test_from_environ(void **state)
{
	setenv("XDG_DATA_HOME", "/env/data", 1);
	setenv("XDG_RUNTIME_DIR", "/env/run", 1);
	unsetenv("STATE_DIRECTORY");
	unsetenv("RUNTIME_DIRECTORY");
	struct paths_env env;
	paths_env_from_environ(&env);
	struct errmsg e;
	char *p;
	path_is(paths_data_dir(&env, "x", &p, &e), &p, "/env/data/spacedrive/x/network");
	path_is(paths_socket(&env, "x", &p, &e), &p, "/env/run/spacedrive/x/sdnetd.sock");
	/* Without HOME the passwd entry still gives a home. */
	unsetenv("HOME");
	paths_env_from_environ(&env);
	assert_non_null(env.home);
	assert_true(env.home[0] == '/');
}

static void test_dirname(void **state)
{
	char *d;
	d = paths_dirname("/a/b/c.sock");
	path_is(0, &d, "/a/b");
	d = paths_dirname("/c.sock");
	path_is(0, &d, "/");
	d = paths_dirname("c.sock");
	path_is(0, &d, ".");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_instance_names), cmocka_unit_test(test_data_dir),
	        cmocka_unit_test(test_socket),         cmocka_unit_test(test_config_file),
	        cmocka_unit_test(test_credential),     cmocka_unit_test(test_from_environ),
	        cmocka_unit_test(test_dirname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
