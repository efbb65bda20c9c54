/* Atomic file writes, bounded reads, exclusive create, mkdir_p: contents,
 * exact modes whatever the umask, no temp files left, failures leave the old
 * file alone. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/sdnetd-atomicfile-XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static char *join(const char *dir, const char *name)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void assert_file(const char *path, const void *data, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;
	struct errmsg err = {{0}};
	assert_int_equal(atomicfile_read(path, 1 << 20, &got, &got_len, &err), 0);
	assert_int_equal(got_len, len);
	if (len)
		assert_memory_equal(got, data, len);
	free(got);
}

static mode_t file_mode(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Number of entries in dir other than "." and "..". */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_write_read_round_trip(void **state)
{
	char *path = join(*state, "f");
	struct errmsg err = {{0}};
	assert_int_equal(atomicfile_write(path, "hello", 5, 0600, &err), 0);
	assert_file(path, "hello", 5);
	/* Replace with longer, then shorter, then empty contents. */
	static uint8_t big[70000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(atomicfile_write(path, big, sizeof(big), 0600, &err), 0);
	assert_file(path, big, sizeof(big));
	assert_int_equal(atomicfile_write(path, "x", 1, 0600, &err), 0);
	assert_file(path, "x", 1);
	assert_int_equal(atomicfile_write(path, "", 0, 0600, &err), 0);
	assert_file(path, "", 0);
	/* Only the target remains: no temp file left behind. */
	assert_int_equal(count_entries(*state), 1);
	free(path);
}

static void test_mode_ignores_umask(void **state)
{
	char *path = join(*state, "m");
	mode_t old = umask(0);
	assert_int_equal(atomicfile_write(path, "a", 1, 0600, NULL), 0);
	assert_int_equal(file_mode(path), 0600);
	umask(077);
	assert_int_equal(atomicfile_write(path, "a", 1, 0644, NULL), 0);
	assert_int_equal(file_mode(path), 0644);
	umask(0);
	assert_int_equal(atomicfile_write(path, "b", 1, 0600, NULL), 0);
	assert_int_equal(file_mode(path), 0600);
	umask(old);
	free(path);
}

static void test_create_is_exclusive(void **state)
{
	char *path = join(*state, "c");
	struct errmsg err = {{0}};
	assert_int_equal(atomicfile_create(path, "first", 5, 0600, &err), 0);
	assert_int_equal(file_mode(path), 0600);
	assert_int_equal(atomicfile_create(path, "second", 6, 0600, &err), -EEXIST);
	assert_non_null(strstr(err.text, "already exists"));
	assert_file(path, "first", 5);
	assert_int_equal(count_entries(*state), 1);
	free(path);
}

static void test_read_errors(void **state)
{
	char *path = join(*state, "r");
	struct errmsg err = {{0}};
	void *data = NULL;
	size_t len = 0;
	assert_int_equal(atomicfile_read(path, 100, &data, &len, &err), -ENOENT);
	assert_non_null(strstr(err.text, path));
	assert_int_equal(atomicfile_write(path, "0123456789", 10, 0600, NULL), 0);
	/* Exactly max bytes is fine, one over is refused. */
	assert_int_equal(atomicfile_read(path, 10, &data, &len, &err), 0);
	assert_int_equal(len, 10);
	free(data);
	data = NULL;
	assert_int_equal(atomicfile_read(path, 9, &data, &len, &err), -EFBIG);
	assert_null(data);
	/* A directory is not a file. */
	assert_int_equal(atomicfile_read(*state, 100, &data, &len, &err), -EINVAL);
	free(path);
}

static void test_failed_write_keeps_old(void **state)
{
	/* The temp file cannot be created in a missing directory. */
	char *missing = join(*state, "nodir/f");
	struct errmsg err = {{0}};
	assert_int_equal(atomicfile_write(missing, "x", 1, 0600, &err), -ENOENT);
	assert_non_null(strstr(err.text, missing));
	free(missing);

	/* Renaming over a directory fails after the temp file is written:
	 * the directory survives and the temp file is cleaned up. */
	char *dir = join(*state, "d");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_true(atomicfile_write(dir, "x", 1, 0600, &err) < 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(count_entries(*state), 1);
	free(dir);

	if (geteuid() == 0)
		return; /* root writes into read-only directories */
	char *sub = join(*state, "ro");
	char *path = join(sub, "f");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(atomicfile_write(path, "old", 3, 0600, NULL), 0);
	assert_int_equal(chmod(sub, 0500), 0);
	assert_int_equal(atomicfile_write(path, "new", 3, 0600, &err), -EACCES);
	assert_file(path, "old", 3);
	assert_int_equal(chmod(sub, 0700), 0);
	free(path);
	free(sub);
}

static void test_temp_names(void **state)
{
	assert_true(atomicfile_is_temp_name(".rec.tmp-a1B2c3"));
	assert_true(atomicfile_is_temp_name("..tmp-.tmp-abcdef"));
	assert_false(atomicfile_is_temp_name("rec.tmp-a1B2c3"));
	assert_false(atomicfile_is_temp_name(".rec.tmp-a1B2c"));
	assert_false(atomicfile_is_temp_name(".rec.tmp-a1B2c3d"));
	assert_false(atomicfile_is_temp_name(".hidden"));
	assert_false(atomicfile_is_temp_name("rec"));
}

static void test_mkdir_p(void **state)
{
	mode_t old = umask(0);
	char *deep = join(*state, "a/b//c/");
	assert_int_equal(mkdir_p(deep, 0700), 0);
	char *a = join(*state, "a"), *c = join(*state, "a/b/c");
	assert_int_equal(file_mode(a), 0700);
	assert_int_equal(file_mode(c), 0700);
	/* Existing directories are fine and keep their mode. */
	assert_int_equal(chmod(a, 0750), 0);
	assert_int_equal(mkdir_p(deep, 0700), 0);
	assert_int_equal(file_mode(a), 0750);
	/* A file in the way. */
	char *f = join(*state, "a/file");
	assert_int_equal(atomicfile_write(f, "x", 1, 0600, NULL), 0);
	char *under = join(*state, "a/file/x");
	assert_int_equal(mkdir_p(under, 0700), -ENOTDIR);
	assert_int_equal(mkdir_p(f, 0700), -ENOTDIR);
	assert_int_equal(mkdir_p("", 0700), -EINVAL);
	umask(old);
	free(deep);
	free(a);
	free(c);
	free(f);
	free(under);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_write_read_round_trip, setup_dir,
	                                        teardown_dir),
	        cmocka_unit_test_setup_teardown(test_mode_ignores_umask, setup_dir, teardown_dir),
	        cmocka_unit_test_setup_teardown(test_create_is_exclusive, setup_dir, teardown_dir),
	        cmocka_unit_test_setup_teardown(test_read_errors, setup_dir, teardown_dir),
	        cmocka_unit_test_setup_teardown(test_failed_write_keeps_old, setup_dir,
	                                        teardown_dir),
	        cmocka_unit_test_setup_teardown(test_temp_names, setup_dir, teardown_dir),
	        cmocka_unit_test_setup_teardown(test_mkdir_p, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
