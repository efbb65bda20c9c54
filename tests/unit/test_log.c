/* Logging: level names, filtering, stderr line format, and the
 * $JOURNAL_STREAM test that picks journald. */
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static FILE *out;

static int setup(void **state)
{
	out = tmpfile();
	if (!out)
		return -1;
	log_open("sdnetd", "t", true);
	log_set_stream(out);
	return 0;
}

static int teardown(void **state)
{
	log_set_stream(NULL);
	fclose(out);
	return 0;
}

/* Everything written since the last call. */
static char *take(void)
{
	static char text[8192];
	long n = ftell(out);
	assert_true(n >= 0 && (size_t)n < sizeof(text));
	rewind(out);
	size_t got = fread(text, 1, (size_t)n, out);
	text[got] = '\0';
	assert_int_equal(ftruncate(fileno(out), 0), 0);
	rewind(out);
	return text;
}

static void test_level_names(void **state)
{
	static const struct {
		const char *name;
		int level;
	} ok[] = {
	        {"error", LOG_ERR},   {"warning", LOG_WARNING}, {"info", LOG_INFO},
	        {"debug", LOG_DEBUG}, {"ERROR", LOG_ERR},       {"warn", LOG_WARNING},
	};
	struct errmsg e;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int level = -1;
		assert_int_equal(log_level_parse(ok[i].name, &level, &e), 0);
		assert_int_equal(level, ok[i].level);
	}
	int level = 99;
	assert_int_equal(log_level_parse("verbose", &level, &e), -EINVAL);
	assert_int_equal(level, 99);
	assert_non_null(strstr(e.text, "'verbose'"));
	assert_non_null(strstr(e.text, "warning"));
	assert_int_equal(log_level_parse("", &level, &e), -EINVAL);
	assert_string_equal(log_level_name(LOG_ERR), "error");
	assert_string_equal(log_level_name(LOG_WARNING), "warning");
	assert_string_equal(log_level_name(LOG_INFO), "info");
	assert_string_equal(log_level_name(LOG_DEBUG), "debug");
}

static void test_stderr_format(void **state)
{
	log_set_level(LOG_DEBUG);
	log_error("bad %d", 1);
	log_warning("careful");
	log_info("hello %s", "world");
	log_debug("details");
	assert_string_equal(take(), "sdnetd: error: bad 1\n"
	                            "sdnetd: warning: careful\n"
	                            "sdnetd: hello world\n"
	                            "sdnetd: debug: details\n");
	log_fatal("instance '%s' is already running", "a");
	assert_string_equal(take(), "sdnetd: instance 'a' is already running\n");
}

static void test_filtering(void **state)
{
	log_set_level(LOG_WARNING);
	assert_int_equal(log_get_level(), LOG_WARNING);
	log_info("hidden");
	log_debug("hidden");
	log_warning("shown");
	assert_string_equal(take(), "sdnetd: warning: shown\n");
	/* Fatal messages ignore the level: they are why the process exits. */
	log_set_level(LOG_ERR);
	log_fatal("bye");
	assert_string_equal(take(), "sdnetd: bye\n");
	log_set_level(LOG_INFO);
}

static void test_long_message_cut(void **state)
{
	char big[6000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	char *t = take();
	assert_true(strlen(t) < 4200);
	assert_true(strncmp(t, "sdnetd: xxx", 11) == 0);
}

static void test_journal_stream(void **state)
{
	int fd = fileno(out);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	char v[64];
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	assert_true(log_stream_is_journal(v, fd));
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino + 1);
	assert_false(log_stream_is_journal(v, fd));
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev + 1, (uintmax_t)st.st_ino);
	assert_false(log_stream_is_journal(v, fd));
	snprintf(v, sizeof(v), "%ju:%jux", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	assert_false(log_stream_is_journal(v, fd));
	assert_false(log_stream_is_journal("", fd));
	assert_false(log_stream_is_journal("garbage", fd));
	assert_false(log_stream_is_journal(NULL, fd));
	assert_false(log_stream_is_journal("1:2", -1));
}

static void test_sink_choice(void **state)
{
	struct stat st;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	char v[64];
	snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	log_open("sdnetd", "t", false);
	assert_int_equal(log_get_sink(), LOG_SINK_JOURNAL);
	/* --foreground: stderr even under journald. */
	log_open("sdnetd", "t", true);
	assert_int_equal(log_get_sink(), LOG_SINK_STDERR);
	setenv("JOURNAL_STREAM", "0:0", 1);
	log_open("sdnetd", "t", false);
	assert_int_equal(log_get_sink(), LOG_SINK_STDERR);
	unsetenv("JOURNAL_STREAM");
	log_open("sdnetd", "t", false);
	assert_int_equal(log_get_sink(), LOG_SINK_STDERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_level_names),    cmocka_unit_test(test_stderr_format),
	        cmocka_unit_test(test_filtering),      cmocka_unit_test(test_long_message_cut),
	        cmocka_unit_test(test_journal_stream), cmocka_unit_test(test_sink_choice),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
