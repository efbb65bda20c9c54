/* Shared test helpers. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hex.h"

struct buf th_hex(const char *hex)
{
	struct buf b = BUF_INIT;
	if (hex_decode(hex, strlen(hex), &b) < 0)
		fail_msg("bad hex in test vector: %s", hex);
	return b;
}

void th_assert_hex(const uint8_t *data, size_t len, const char *hex)
{
	char *got = malloc(2 * len + 1);
	assert_non_null(got);
	hex_encode(data, len, got);
	if (strcmp(got, hex) != 0) {
		print_error("expected %s\n     got %s\n", hex, got);
		free(got);
		fail();
	}
	free(got);
}

static const char *env_path(const char *var, const char *fallback, const char *name)
{
	static char path[4096];
	const char *dir = getenv(var);
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : fallback, name);
	return path;
}

const char *th_shared_path(const char *name)
{
	return env_path("SDNETD_SHARED_DATA", "../shared/data", name);
}

const char *th_source_path(const char *rel)
{
	return env_path("SDNETD_SOURCE_ROOT", ".", rel);
}

struct buf th_read_file(const char *path)
{
	struct buf b = BUF_INIT;
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	uint8_t tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		assert_int_equal(buf_append(&b, tmp, n), 0);
	fclose(f);
	return b;
}

static int th_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int th_setup_tmpdir(void **state)
{
	char *dir = strdup("/tmp/sdnetd-test-XXXXXX");
	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

int th_teardown_tmpdir(void **state)
{
	nftw(*state, th_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}
