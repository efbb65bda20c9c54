/* The identity in the secure store: load it, or make it on first start.
 * An existing record is never replaced by a new identity: losing the key
 * would silently un-pair every device, so a record that cannot be read
 * stops the daemon with a message instead. */
#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "securestore.h"

int identity_save(struct securestore *s, const struct identity *id, struct errmsg *err)
{
	struct buf rec = BUF_INIT;
	int r = identity_encode(id, &rec);
	if (r < 0)
		errmsg_set(err, r, "cannot encode the identity record: %s", strerror(-r));
	else
		r = securestore_put(s, "", IDENTITY_RECORD, rec.data, rec.len, err);
	buf_wipe_free(&rec);
	return r;
}

static int load(struct securestore *s, struct identity *ret, struct errmsg *err)
{
	struct buf rec = BUF_INIT;
	int r = securestore_get(s, "", IDENTITY_RECORD, &rec, err);
	if (r == 0) {
		r = identity_decode(rec.data, rec.len, ret, err);
		if (r < 0)
			errmsg_prefix(err, "the stored identity cannot be used (restore the data "
			                   "directory from a backup; nothing was changed)");
	}
	buf_wipe_free(&rec);
	return r;
}

int identity_load_or_create(struct securestore *s, const char *default_name, struct identity *ret,
                            bool *ret_created, struct errmsg *err)
{
	struct errmsg e = {{0}};
	int r = load(s, ret, &e);
	if (r != -ENOENT) {
		if (r < 0 && err)
			*err = e;
		if (r == 0 && ret_created)
			*ret_created = false;
		return r;
	}
	struct identity id;
	r = identity_generate(default_name, &id);
	if (r < 0)
		return errmsg_set(err, r, "cannot make a new identity: %s", strerror(-r));
	r = identity_save(s, &id, err);
	if (r == 0) {
		*ret = id;
		if (ret_created)
			*ret_created = true;
	}
	identity_wipe(&id);
	return r;
}

int identity_set_name(struct securestore *s, struct identity *id, const char *name,
                      struct errmsg *err)
{
	int r = devname_check(name, err);
	if (r < 0)
		return r;
	struct identity next = *id;
	snprintf(next.device_name, sizeof(next.device_name), "%s", name);
	r = identity_save(s, &next, err);
	if (r == 0)
		*id = next;
	identity_wipe(&next);
	return r;
}
