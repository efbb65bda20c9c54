/* Replay driver for builds without libFuzzer: feeds every file of the given
 * corpus directories (or files) to the target once. A crash or sanitizer
 * report fails the test; a missing or empty corpus fails it too, so a target
 * cannot silently test nothing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		return -1;
	}
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;
	uint8_t tmp[4096];
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (len + n > cap) {
			cap = (len + n) * 2;
			uint8_t *nd = realloc(data, cap);
			if (!nd) {
				free(data);
				fclose(f);
				return -1;
			}
			data = nd;
		}
		memcpy(data + len, tmp, n);
		len += n;
	}
	fclose(f);
	/* Give the target an exactly-sized heap copy so ASan sees overreads. */
	uint8_t *exact = malloc(len ? len : 1);
	if (len)
		memcpy(exact, data, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	free(data);
	return 0;
}

static int run_path(const char *path, int *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "no corpus at %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (run_path(p, count) < 0)
			r = -1;
	}
	closedir(d);
	return r;
}

int main(int argc, char **argv)
{
	int count = 0;
	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			return 1;
	if (count == 0) {
		fprintf(stderr, "corpus is empty\n");
		return 1;
	}
	printf("replayed %d inputs\n", count);
	return 0;
}
