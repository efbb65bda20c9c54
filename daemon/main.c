/* sdnetd entry point: parses the command line and runs the node. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: sdnetd [OPTIONS]\n"
	           "\n"
	           "The Spacedrive device-to-device networking daemon.\n"
	           "\n"
	           "Options:\n"
	           "  -h, --help       show this help and exit\n"
	           "  -V, --version    print the version and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sdnetd %s\n", SDNETD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	return 0;
}
