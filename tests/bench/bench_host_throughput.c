/* One-stream throughput, sdnetd -> sdnetd over loopback, next to iperf3.
 *
 * Two processes, each with its own event loop and host (a forked child is
 * the receiver): one TCP connection through the whole upgrade (mss, Noise
 * XX, yamux), one stream of a sink protocol that discards what it gets, so
 * one direction is measured. The sender writes --mib MiB as fast as the
 * windows allow, then FIN; the receiver answers its FIN once it has counted
 * every byte. The figure is the sender's time from the first write to the
 * receiver's FIN, so it covers every byte arriving.
 *
 * Then Noise's cipher alone seals the same bytes (what one core can encrypt
 * with no I/O at all), `iperf3 -s -1` and `iperf3 -c 127.0.0.1 -t 5 -J` run
 * one plaintext stream on loopback in the same run, and the ratio
 * sdnetd/iperf3 is printed (the goal is 0.7), also between CPU-bound
 * ceilings (MB/s per CPU-second of the busier side), which hold still on a
 * machine busy with other work where wall-time figures swing. MB is 10^6
 * bytes. Figures only: no timing is asserted; a byte count that does not add
 * up fails the run.
 *
 * Usage: bench_host_throughput [--mib N] [--iperf-seconds N] [--no-iperf] */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchhost.h"
#include "crypto.h"
#include "noise.h"

#define SINK "/sdnetd-bench/sink/1.0.0"
#define CHUNK ((size_t)256 * 1024)

extern char **environ;

/* ---- receiver (child) ---- */

struct sink {
	uint64_t bytes, t_first, t_eof, cpu_first;
};

/* User + system CPU time of this process, ns. */
static uint64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void sink_data(struct stream *s, void *ctx)
{
	struct sink *k = ctx;
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len && !k->bytes) {
		k->t_first = bench_now_ns();
		k->cpu_first = cpu_ns();
	}
	k->bytes += len;
	stream_consume(s, len);
}

static void sink_eof(struct stream *s, void *ctx)
{
	struct sink *k = ctx;
	sink_data(s, ctx);
	k->t_eof = bench_now_ns();
	bench_write_line(bench_report_fd, "%llu %llu %llu", (unsigned long long)k->bytes,
	                 (unsigned long long)(k->t_eof - k->t_first),
	                 (unsigned long long)(cpu_ns() - k->cpu_first));
	stream_close_write(s);
}

static void sink_closed(struct stream *s, int err, void *ctx)
{
	free(ctx);
}

static const struct stream_callbacks sink_cbs = {
        .on_data = sink_data,
        .on_eof = sink_eof,
        .on_closed = sink_closed,
};

static void sink_on_stream(struct stream *s, void *ctx)
{
	struct sink *k = calloc(1, sizeof(*k));
	if (!k)
		bench_die("out of memory");
	stream_set_callbacks(s, &sink_cbs, k);
}

static const struct protocol_handler sink_handlers[] = {
        {SINK, sink_on_stream, 0},
        {0},
};

/* ---- sender (parent) ---- */

static uint8_t chunk[CHUNK];

struct sender {
	uint64_t total, sent;
	bool fin_sent, peer_eof, closed;
	int err;
	uint64_t t0, t_end, cpu0, cpu_end;
};

static void send_pump(struct stream *s, void *ctx)
{
	struct sender *x = ctx;
	while (x->sent < x->total) {
		size_t n = x->total - x->sent < CHUNK ? (size_t)(x->total - x->sent) : CHUNK;
		long w = stream_write(s, chunk, n);
		if (w < 0)
			bench_die("stream_write: %s", strerror((int)-w));
		if (w == 0)
			return; /* on_writable follows */
		x->sent += (uint64_t)w;
	}
	if (!x->fin_sent) {
		x->fin_sent = true;
		stream_close_write(s);
	}
}

static void send_data(struct stream *s, void *ctx)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	stream_consume(s, len);
}

static void send_eof(struct stream *s, void *ctx)
{
	struct sender *x = ctx;
	x->t_end = bench_now_ns();
	x->cpu_end = cpu_ns();
	x->peer_eof = true;
}

static void send_closed(struct stream *s, int err, void *ctx)
{
	struct sender *x = ctx;
	x->closed = true;
	x->err = err;
}

static const struct stream_callbacks send_cbs = {
        .on_data = send_data,
        .on_writable = send_pump,
        .on_eof = send_eof,
        .on_closed = send_closed,
};

static bool sender_closed(void *arg)
{
	return ((struct sender *)arg)->closed;
}

/* A run's figure and its CPU-bound ceiling: the MB/s it would reach if
 * its busier side had a core to itself (throughput * wall / CPU time). On a
 * machine shared with other work the wall-time figures swing; the ceilings
 * compare the code. */
struct figure {
	double mbps, ceiling;
};

static double mb_per_s(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / ((double)ns / 1e9) / 1e6 : 0;
}

static struct figure run_sdnetd(uint64_t total, const char *cmd)
{
	memset(chunk, 0xa5, sizeof(chunk));
	struct bench_server srv;
	struct bench_server_cfg scfg = {.listen = "/ip4/127.0.0.1/tcp/0", .table = sink_handlers};
	bench_server_start(&srv, &scfg);
	struct bench_node n;
	bench_node_new(&n, "/ip4/127.0.0.1/tcp/0", NULL);
	struct conn *c = bench_dial(&n, srv.addr);
	struct stream *s = bench_open(&n, c, SINK);
	struct sender x = {.total = total};
	stream_set_callbacks(s, &send_cbs, &x);
	x.t0 = bench_now_ns();
	x.cpu0 = cpu_ns();
	send_pump(s, &x);
	if (!bench_run_until(&n, sender_closed, &x, 600000))
		bench_die("the transfer did not finish in 600 s");
	if (x.err < 0 || !x.peer_eof)
		bench_die("the stream ended with %s", strerror(-x.err));

	char line[128];
	unsigned long long got = 0, recv_ns = 0, recv_cpu = 0;
	bench_read_line(srv.up, line, sizeof(line), 30000);
	if (sscanf(line, "%llu %llu %llu", &got, &recv_ns, &recv_cpu) != 3)
		bench_die("bad report from the receiver: %s", line);
	if (got != total)
		bench_die("the receiver counted %llu bytes, %llu were sent", got,
		          (unsigned long long)total);

	struct conn_info info;
	conn_get_info(host_find_conn(n.h, conn_peer(c)), &info);
	uint64_t ns = x.t_end - x.t0;
	double mbps = mb_per_s(total, ns);
	printf("=== sdnetd -> sdnetd, one stream, %llu MiB over loopback (mss + Noise + yamux): %s "
	       "===\n",
	       (unsigned long long)(total >> 20), cmd);
	printf("sdnetd    %.1f MB/s  (%llu bytes in %.3f s, sender's first write to the "
	       "receiver's FIN)\n",
	       mbps, (unsigned long long)total, (double)ns / 1e9);
	printf("          receiver: %.1f MB/s first byte to EOF; on the wire %llu bytes out "
	       "(%.2f%% framing + AEAD overhead)\n",
	       mb_per_s(total, recv_ns), (unsigned long long)info.bytes_out,
	       100.0 * ((double)info.bytes_out - (double)total) / (double)total);
	uint64_t send_cpu = x.cpu_end - x.cpu0;
	uint64_t busier = send_cpu > recv_cpu ? send_cpu : recv_cpu;
	struct figure f = {mbps, mb_per_s(total, busier)};
	printf("          CPU: sender %.3f s (%.0f%% of its wall time), receiver %.3f s (%.0f%%); "
	       "CPU-bound ceiling %.1f MB/s\n",
	       (double)send_cpu / 1e9, 100.0 * (double)send_cpu / (double)ns,
	       (double)recv_cpu / 1e9, 100.0 * (double)recv_cpu / (double)recv_ns, f.ceiling);
	fflush(stdout);
	bench_node_free(&n);
	bench_server_stop(&srv);
	return f;
}

/* ---- the cipher alone ---- */

/* Noise's AEAD over the same bytes in whole transport frames, one core, no
 * I/O: the most an encrypted stream can carry per core, whatever the code
 * around it does. */
static struct figure run_aead(uint64_t total, const char *cmd)
{
	static uint8_t out[NOISE_MAX_PLAINTEXT + 16];
	uint8_t key[CHACHAPOLY_KEY_LEN] = {1}, nonce[CHACHAPOLY_NONCE_LEN] = {0};
	uint64_t t0 = bench_now_ns(), c0 = cpu_ns();
	for (uint64_t off = 0, i = 0; off < total; i++) {
		size_t n = total - off < NOISE_MAX_PLAINTEXT ? (size_t)(total - off)
		                                             : NOISE_MAX_PLAINTEXT;
		memcpy(nonce + 4, &i, 8);
		if (chachapoly_seal(key, nonce, NULL, 0, chunk, n, out) < 0)
			bench_die("chachapoly_seal failed");
		off += n;
	}
	uint64_t ns = bench_now_ns() - t0, cpu = cpu_ns() - c0;
	struct figure f = {mb_per_s(total, ns), mb_per_s(total, cpu)};
	printf("=== ChaCha20-Poly1305 alone (Noise's cipher, %u-byte frames, one core, no I/O), "
	       "sealing %llu MiB: %s ===\n",
	       (unsigned)NOISE_MAX_PLAINTEXT, (unsigned long long)(total >> 20), cmd);
	printf("aead      %.1f MB/s  (CPU-bound ceiling %.1f MB/s)\n", f.mbps, f.ceiling);
	fflush(stdout);
	return f;
}

/* ---- iperf3 ---- */

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		bench_die("cannot find a free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

/* Spawn argv with stdout on a pipe; returns the pid (0: not installed). */
static pid_t spawn_piped(char *const argv[], int *ret_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		bench_die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	pid_t pid;
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (r != 0) {
		close(p[0]);
		if (r == ENOENT)
			return 0;
		bench_die("cannot run %s: %s", argv[0], strerror(r));
	}
	*ret_fd = p[0];
	return pid;
}

static void reap(pid_t pid, const char *what)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("%s failed (status %d)", what, status);
}

/* {0, 0} when iperf3 is not installed. */
static struct figure run_iperf3(unsigned seconds)
{
	char port[16], secs[16];
	snprintf(port, sizeof(port), "%u", free_port());
	snprintf(secs, sizeof(secs), "%u", seconds);
	char *const srv_argv[] = {"iperf3", "-s", "-1", "--forceflush", "-p", port, NULL};
	char *const cli_argv[] = {"iperf3", "-c", "127.0.0.1", "-p", port, "-t", secs, "-J", NULL};
	int srv_fd, cli_fd;
	pid_t srv = spawn_piped(srv_argv, &srv_fd);
	if (!srv) {
		printf("=== iperf3: not installed (packaging/debian-packages.txt lists it); no "
		       "ratio "
		       "===\n");
		return (struct figure){0, 0};
	}
	char line[512];
	do
		bench_read_line(srv_fd, line, sizeof(line), 10000);
	while (!strstr(line, "Server listening"));

	pid_t cli = spawn_piped(cli_argv, &cli_fd);
	if (!cli)
		bench_die("iperf3 vanished");
	char *out = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
			if (!out)
				bench_die("out of memory");
		}
		ssize_t n = read(cli_fd, out + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bench_die("reading iperf3: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(cli_fd);
	reap(cli, "iperf3 -c");
	/* The server's remaining report must not fill its pipe: drain it. */
	char junk[4096];
	while (read(srv_fd, junk, sizeof(junk)) > 0)
		;
	close(srv_fd);
	reap(srv, "iperf3 -s");

	json_error_t jerr;
	json_t *root = json_loads(out, 0, &jerr);
	if (!root)
		bench_die("iperf3 -J output is not JSON: %s", jerr.text);
	json_t *bps = json_object_get(json_object_get(json_object_get(root, "end"), "sum_received"),
	                              "bits_per_second");
	if (!json_is_number(bps))
		bench_die("iperf3 -J output has no end.sum_received.bits_per_second");
	double mbps = json_number_value(bps) / 8 / 1e6;
	json_t *cpu = json_object_get(json_object_get(root, "end"), "cpu_utilization_percent");
	double host = json_number_value(json_object_get(cpu, "host_total"));
	double remote = json_number_value(json_object_get(cpu, "remote_total"));
	double busier = host > remote ? host : remote;
	struct figure f = {mbps, busier > 0 ? mbps * 100 / busier : 0};
	json_decref(root);
	free(out);
	printf("=== iperf3, one stream over loopback: iperf3 -s -1 --forceflush -p %s & iperf3 -c "
	       "127.0.0.1 -p "
	       "%s -t %s -J ===\n",
	       port, port, secs);
	printf("iperf3    %.1f MB/s  (end.sum_received)\n", mbps);
	printf("          CPU: sender %.0f%%, receiver %.0f%% (end.cpu_utilization_percent); "
	       "CPU-bound ceiling %.1f MB/s\n",
	       host, remote, f.ceiling);
	fflush(stdout);
	return f;
}

int main(int argc, char **argv)
{
	uint64_t mib = 1024;
	unsigned iperf_secs = 5;
	bool iperf = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			mib = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--iperf-seconds") == 0 && i + 1 < argc)
			iperf_secs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--no-iperf") == 0)
			iperf = false;
		else
			bench_die("usage: %s [--mib N] [--iperf-seconds N] [--no-iperf]", argv[0]);
	}
	if (mib == 0 || iperf_secs == 0)
		bench_die("--mib and --iperf-seconds take a positive number");
	signal(SIGPIPE, SIG_IGN);
	char cmd[1024];
	bench_command_line(argc, argv, cmd, sizeof(cmd));

	struct figure ours = run_sdnetd(mib << 20, cmd);
	struct figure aead = run_aead((mib < 512 ? mib : 512) << 20, cmd);
	struct figure ref = iperf ? run_iperf3(iperf_secs) : (struct figure){0, 0};
	if (ref.mbps > 0 && ref.ceiling > 0)
		printf("=== ratio sdnetd/iperf3, one stream over loopback: %s ===\n"
		       "ratio     %.2f  (goal >= 0.70); of the CPU-bound ceilings: %.2f; "
		       "the cipher alone caps it at %.2f\n",
		       cmd, ours.mbps / ref.mbps, ours.ceiling / ref.ceiling,
		       aead.ceiling / ref.ceiling);
	return 0;
}
