/* Logging: levels, and the choice between journald (structured fields) and
 * stderr lines. See log.h for the formats and why the sink is chosen by
 * $JOURNAL_STREAM rather than by "are we under systemd". */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

/* Longest message we format; longer ones are cut (the start says most). */
#define LOG_LINE_MAX 4096
#define LOG_IDENT_MAX 32
#define LOG_INSTANCE_MAX 128

static struct {
	int level;
	enum log_sink sink;
	FILE *stream;
	char ident[LOG_IDENT_MAX];
	char instance[LOG_INSTANCE_MAX];
	bool has_instance;
} L = {
        .level = LOG_INFO,
        .sink = LOG_SINK_STDERR,
        .ident = "sdnetd",
};

static const struct {
	const char *name;
	int level;
} level_names[] = {
        {"error", LOG_ERR},   {"warning", LOG_WARNING}, {"info", LOG_INFO},
        {"debug", LOG_DEBUG}, {"err", LOG_ERR},         {"warn", LOG_WARNING},
};

bool log_stream_is_journal(const char *journal_stream, int fd)
{
	if (!journal_stream)
		return false;
	uintmax_t dev, ino;
	int end = 0;
	if (sscanf(journal_stream, "%ju:%ju%n", &dev, &ino, &end) != 2 ||
	    journal_stream[end] != '\0')
		return false;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void log_open(const char *ident, const char *instance, bool force_stderr)
{
	snprintf(L.ident, sizeof(L.ident), "%s", ident ? ident : "sdnetd");
	L.has_instance = instance != NULL;
	snprintf(L.instance, sizeof(L.instance), "%s", instance ? instance : "");
	L.sink = !force_stderr && log_stream_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO)
	                 ? LOG_SINK_JOURNAL
	                 : LOG_SINK_STDERR;
}

enum log_sink log_get_sink(void)
{
	return L.sink;
}

void log_set_level(int level)
{
	L.level = level;
}

int log_get_level(void)
{
	return L.level;
}

void log_set_stream(FILE *f)
{
	L.stream = f;
}

int log_level_parse(const char *name, int *ret, struct errmsg *err)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i].name) == 0) {
			*ret = level_names[i].level;
			return 0;
		}
	}
	return errmsg_set(err, -EINVAL,
	                  "unknown log level '%s' (use error, warning, info or debug)", name);
}

const char *log_level_name(int level)
{
	for (size_t i = 0; i < 4; i++)
		if (level <= level_names[i].level)
			return level_names[i].name;
	return "debug";
}

static const char *stderr_label(int level)
{
	if (level <= LOG_ERR)
		return "error: ";
	if (level == LOG_WARNING)
		return "warning: ";
	if (level >= LOG_DEBUG)
		return "debug: ";
	return "";
}

static void to_journal(int level, const char *file, int line, const char *func, const char *msg)
{
	char f_msg[LOG_LINE_MAX + 16], f_prio[32], f_ident[LOG_IDENT_MAX + 32],
	        f_inst[LOG_INSTANCE_MAX + 32], f_file[512], f_line[32], f_func[256];
	struct iovec iov[7];
	int n = 0;
#define FIELD(buf, ...)                                                                            \
	do {                                                                                       \
		int k_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                                  \
		size_t len_ = k_ < 0                      ? 0                                      \
		              : (size_t)k_ >= sizeof(buf) ? sizeof(buf) - 1                        \
		                                          : (size_t)k_;                            \
		iov[n++] = (struct iovec){buf, len_};                                              \
	} while (0)
	FIELD(f_msg, "MESSAGE=%s", msg);
	FIELD(f_prio, "PRIORITY=%d", level);
	FIELD(f_ident, "SYSLOG_IDENTIFIER=%s", L.ident);
	FIELD(f_file, "CODE_FILE=%s", file);
	FIELD(f_line, "CODE_LINE=%d", line);
	FIELD(f_func, "CODE_FUNC=%s", func);
	if (L.has_instance)
		FIELD(f_inst, "SDNETD_INSTANCE=%s", L.instance);
#undef FIELD
	/* If journald is gone there is nowhere better to say so. */
	(void)sd_journal_sendv(iov, n);
}

static void vlog(int level, bool label, const char *file, int line, const char *func,
                 const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void vlog(int level, bool label, const char *file, int line, const char *func,
                 const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (L.sink == LOG_SINK_JOURNAL) {
		to_journal(level, file, line, func, msg);
		return;
	}
	FILE *out = L.stream ? L.stream : stderr;
	fprintf(out, "%s: %s%s\n", L.ident, label ? stderr_label(level) : "", msg);
	fflush(out);
}

void log_emit(int level, const char *file, int line, const char *func, const char *fmt, ...)
{
	if (level > L.level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, true, file, line, func, fmt, ap);
	va_end(ap);
}

void log_fatal_emit(const char *file, int line, const char *func, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_ERR, false, file, line, func, fmt, ap);
	va_end(ap);
}
