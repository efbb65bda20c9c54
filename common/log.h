/* Logging for the daemon (and anything else that wants levels).
 *
 * Two sinks, chosen once by log_open():
 *  - journald, with structured fields (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
 *    SDNETD_INSTANCE, CODE_FILE, CODE_LINE, CODE_FUNC), when the process's
 *    stderr is the journal stream systemd gave it ($JOURNAL_STREAM names
 *    stderr's device and inode), so `journalctl SDNETD_INSTANCE=alice` works;
 *  - stderr otherwise, one line per message: "sdnetd: warning: text".
 *    Info lines carry no label ("sdnetd: text"), errors "error: ", warnings
 *    "warning: ", debug "debug: ".
 *
 * Levels are syslog priorities (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG);
 * messages above the current level are dropped before formatting. Not
 * thread-safe: the daemon logs from its one event loop thread. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "errmsg.h"

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_JOURNAL,
};

/* ident: program name for prefixes and SYSLOG_IDENTIFIER (copied, ≤ 31
 * bytes used); instance: value of SDNETD_INSTANCE (copied; NULL: none).
 * force_stderr ignores $JOURNAL_STREAM (the daemon's --foreground).
 * Until log_open is called, messages go to stderr as "sdnetd: ...". */
void log_open(const char *ident, const char *instance, bool force_stderr);
enum log_sink log_get_sink(void);

void log_set_level(int level);
int log_get_level(void);
/* "error", "warning", "info", "debug" (also "err", "warn"); -EINVAL with a
 * message listing the valid names otherwise. */
int log_level_parse(const char *name, int *ret, struct errmsg *err);
/* The canonical name of a level ("info"); "debug" for anything above. */
const char *log_level_name(int level);

/* True when a $JOURNAL_STREAM value ("<dev>:<ino>") names the file open on
 * fd: the test systemd documents for "is my stderr the journal". */
bool log_stream_is_journal(const char *journal_stream, int fd);

/* Redirect the stderr sink (tests); NULL restores stderr. */
void log_set_stream(FILE *f);

void log_emit(int level, const char *file, int line, const char *func, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
/* A fatal start-up error the user acts on: journald gets it at LOG_ERR; on
 * stderr it is printed without a level label ("sdnetd: instance 'a' is
 * already running ..."), like any command's last word before exiting. */
void log_fatal_emit(const char *file, int line, const char *func, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_error(...) log_emit(LOG_ERR, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_warning(...) log_emit(LOG_WARNING, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_DEBUG, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_fatal(...) log_fatal_emit(__FILE__, __LINE__, __func__, __VA_ARGS__)
