/* Helpers shared by the C host benchmarks (bench_host_throughput,
 * bench_host_reqresp, bench_dial_ping): one libp2p host per process on its
 * own event loop, a server half in a forked child, and line-based pipes
 * between the two halves.
 *
 * Benchmarks print figures and never assert timings; a failure of the code
 * under test (a dial that fails, a byte count that does not add up) ends the
 * program with exit status 1 and a message, as a test would. */
#pragma once

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/host.h"

struct bench_node {
	struct event_base *base;
	struct host *h;
};

/* Print "bench: <msg>" to stderr and exit(1). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

uint64_t bench_now_ns(void);

/* A fresh key, a host listening on listen (e.g. "/ip4/127.0.0.1/tcp/0") on a
 * new event_base, table registered when not NULL. Dies on error. */
void bench_node_new(struct bench_node *n, const char *listen, const struct protocol_handler *table);
void bench_node_free(struct bench_node *n);
/* The first listen address with /p2p/<our id>, as text. */
void bench_node_addr(const struct bench_node *n, char *out, size_t len);

typedef bool (*bench_cond)(void *arg);
/* Run n's loop until cond(arg) holds or ms pass; returns cond's value. */
bool bench_run_until(struct bench_node *n, bench_cond cond, void *arg, uint32_t ms);

/* Dial addr (text multiaddr with /p2p) and wait; dies on failure. */
struct conn *bench_dial(struct bench_node *n, const char *addr);
/* Open a stream for protocol on c and wait; dies on failure. Set its
 * callbacks right after. */
struct stream *bench_open(struct bench_node *n, struct conn *c, const char *protocol);

/* ---- the server half in a child process ---- */

struct bench_server {
	pid_t pid;
	int up;   /* read end: lines from the child (its address first) */
	int down; /* write end: lines to the child; closing it stops the child */
	char addr[MULTIADDR_TEXT_MAX];
};

/* Run in the child before its host exists (e.g. entering a network
 * namespace); up/down are the child's ends of the two pipes. */
typedef void (*bench_child_setup)(int up, int down, void *arg);

struct bench_server_cfg {
	const char *listen;                   /* e.g. "/ip4/127.0.0.1/tcp/0" */
	const struct protocol_handler *table; /* may be NULL */
	bench_child_setup setup;              /* may be NULL */
	void (*on_host)(struct host *h);      /* after host_new; may be NULL */
	void *arg;                            /* for setup */
	bool no_wait;                         /* don't wait for the address line */
};

/* Fork a child that (after setup) runs a host listening on cfg->listen with
 * cfg->table, writes its address as the first line on up and serves until
 * down is closed. In the child, bench_report_fd is the write end of up, for
 * handlers that report figures. Unless cfg->no_wait, waits for the address
 * line (else the caller reads it with bench_read_line after talking to the
 * setup step). */
void bench_server_start(struct bench_server *s, const struct bench_server_cfg *cfg);
/* Close down, wait for the child; dies when it did not exit cleanly. */
void bench_server_stop(struct bench_server *s);

extern int bench_report_fd;

/* Read one line (without '\n') from fd within ms; dies on EOF or timeout. */
void bench_read_line(int fd, char *out, size_t len, uint32_t ms);
/* Write a formatted line ('\n' appended); dies on error. */
void bench_write_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "prog arg1 arg2 ..." from argv, for the header lines. */
void bench_command_line(int argc, char **argv, char *out, size_t len);
