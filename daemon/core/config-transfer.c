/* The file-transfer settings (receive-dir, auto-accept, request-timeout,
 * spacedrop-discoverable):
 * checked and merged here so config.c only dispatches to them. */
#include "daemon-config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

bool config_transfer_key(enum config_key key)
{
	return key == CONFIG_RECEIVE_DIR || key == CONFIG_AUTO_ACCEPT ||
	       key == CONFIG_REQUEST_TIMEOUT || key == CONFIG_SPACEDROP_DISCOVERABLE;
}

bool config_spacedrop_discoverable(const struct config *c)
{
	return config_has(c, CONFIG_SPACEDROP_DISCOVERABLE) ? c->spacedrop_discoverable : true;
}

/* err already says what is wrong; name where the value came from. */
static int bad(struct errmsg *err, const struct config *c)
{
	if (err)
		errmsg_prefix(err, c->origin ? c->origin : "config");
	return -EINVAL;
}

static int set_dir(struct config *c, const char *v, bool from_file, struct errmsg *err)
{
	char cwd[PATH_MAX];
	char *p = NULL;
	if (v[0] == '/')
		p = strdup(v);
	else if (from_file)
		return errmsg_set(err, -EINVAL, "'%s' is a relative path; use an absolute one", v),
		       bad(err, c);
	else if (getcwd(cwd, sizeof(cwd)) && asprintf(&p, "%s/%s", cwd, v) < 0)
		p = NULL;
	if (!p)
		return -ENOMEM;
	free(c->receive_dir);
	c->receive_dir = p;
	return 0;
}

int config_transfer_set(struct config *c, const struct config_option *o, const char *v,
                        bool from_file, struct errmsg *err)
{
	if (o->key == CONFIG_RECEIVE_DIR)
		return set_dir(c, v, from_file, err);
	if (o->key == CONFIG_AUTO_ACCEPT || o->key == CONFIG_SPACEDROP_DISCOVERABLE) {
		bool *f =
		        o->key == CONFIG_AUTO_ACCEPT ? &c->auto_accept : &c->spacedrop_discoverable;
		if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
		    !strcasecmp(v, "on"))
			*f = true;
		else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
		         !strcasecmp(v, "off"))
			*f = false;
		else
			return errmsg_set(err, -EINVAL, "'%s' is not a boolean (use true or false)",
			                  v),
			       bad(err, c);
		return 0;
	}
	uint64_t ms = 0;
	if (config_parse_duration(v, &ms) < 0 || ms < 100 || ms > 3600000)
		return errmsg_set(err, -EINVAL,
		                  "'%s' is not a duration from 100ms to 1h (e.g. 60s)", v),
		       bad(err, c);
	c->request_timeout_ms = ms;
	return 0;
}

void config_transfer_copy(struct config *dst, struct config *src, enum config_key key)
{
	if (key == CONFIG_RECEIVE_DIR) {
		free(dst->receive_dir);
		dst->receive_dir = src->receive_dir;
		src->receive_dir = NULL;
	} else if (key == CONFIG_AUTO_ACCEPT) {
		dst->auto_accept = src->auto_accept;
	} else if (key == CONFIG_SPACEDROP_DISCOVERABLE) {
		dst->spacedrop_discoverable = src->spacedrop_discoverable;
	} else {
		dst->request_timeout_ms = src->request_timeout_ms;
	}
}
