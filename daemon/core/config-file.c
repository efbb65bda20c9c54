/* The config file: "key = value" lines, '#' comment lines, blank lines.
 * Keys are the long option names; list keys repeat; a flag takes a boolean
 * word. A value may be wrapped in double quotes to keep spaces at its ends
 * (no escapes). Anything else is an error naming "file:line". Other keys
 * may not appear twice: a hand-edited file with two log-level lines is a
 * mistake worth pointing at, not one to resolve silently. */
#include "daemon-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_state {
	const char *name;
	unsigned line;
	unsigned first_line[CONFIG_NKEYS];
};

static int line_error(struct errmsg *err, const struct file_state *st, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int line_error(struct errmsg *err, const struct file_state *st, const char *fmt, ...)
{
	if (err) {
		char where[160];
		snprintf(where, sizeof(where), "%s:%u", st->name, st->line);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
		errmsg_prefix(err, where);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static char *unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static int parse_line(struct config *c, struct file_state *st, char *line, struct errmsg *err)
{
	char *s = trim(line);
	if (s[0] == '\0' || s[0] == '#')
		return 0;
	if (s[0] == '[')
		return line_error(err, st, "sections like %s are not supported; write key = value",
		                  s);
	char *eq = strchr(s, '=');
	if (!eq)
		return line_error(err, st, "expected 'key = value', got '%s'", s);
	*eq = '\0';
	char *key = trim(s), *value = unquote(trim(eq + 1));
	const struct config_option *o = config_option_find(key);
	if (!o)
		return line_error(err, st, "unknown key '%s' (see sdnetd --help)", key);
	if (!o->in_file)
		return line_error(err, st, "'%s' can only be given on the command line", key);
	if (!o->list && st->first_line[o->key]) {
		return line_error(err, st, "'%s' is set twice (first on line %u)", key,
		                  st->first_line[o->key]);
	}
	st->first_line[o->key] = st->line;
	char where[200];
	snprintf(where, sizeof(where), "%s:%u: %s", st->name, st->line, key);
	c->origin = where;
	int r = config_set(c, o, value, true, err);
	c->origin = NULL;
	return r;
}

int config_parse_text(struct config *c, const char *name, const char *text, size_t len,
                      struct errmsg *err)
{
	struct file_state st = {.name = name};
	char buf[CONFIG_LINE_MAX + 1];
	size_t pos = 0;
	while (pos < len) {
		st.line++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > CONFIG_LINE_MAX)
			return line_error(err, &st, "line is longer than %d bytes",
			                  CONFIG_LINE_MAX);
		if (memchr(text + pos, '\0', n))
			return line_error(err, &st, "%s", "line contains a NUL byte");
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		int r = parse_line(c, &st, buf, err);
		if (r < 0)
			return r;
		pos += n + (nl ? 1 : 0);
	}
	return 0;
}

static int read_all(int fd, const char *path, char **ret, size_t *ret_len, struct errmsg *err)
{
	size_t cap = 4096, len = 0;
	char *data = malloc(cap);
	for (;;) {
		if (!data)
			return -ENOMEM;
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(data);
			return errmsg_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			free(data);
			return errmsg_set(err, -EFBIG,
			                  "%s is larger than 1 MiB; is it a config file?", path);
		}
		if (len == cap) {
			char *more = realloc(data, cap * 2);
			if (!more)
				free(data);
			data = more;
			cap *= 2;
		}
	}
	*ret = data;
	*ret_len = len;
	return 0;
}

int config_parse_file(struct config *c, const char *path, struct errmsg *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errmsg_set(err, -errno, "cannot open config file %s: %s", path,
		                  strerror(errno));
	char *text = NULL;
	size_t len = 0;
	int r = read_all(fd, path, &text, &len, err);
	close(fd);
	if (r == 0)
		r = config_parse_text(c, path, text, len, err);
	free(text);
	return r;
}
