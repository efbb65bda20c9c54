/* The node's identity at start-up: password, store, identity record, and
 * the --device-name override; and renaming later (RPC, SIGHUP). */
#include "node.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node-mdns.h"
#include "node-transfers.h"
#include "password.h"
#include "rpc.h"
#include "securestore.h"

static int open_store(struct node *n, struct errmsg *err)
{
	char *pw_path = NULL;
	int r = password_locate(n->cfg.password_file, &n->env, &pw_path);
	if (r < 0)
		return r;
	struct buf pw = BUF_INIT;
	if (pw_path)
		r = password_read(pw_path, &pw, err);
	if (r == 0) {
		struct securestore_opts o = {.password = pw_path ? pw.data : NULL,
		                             .password_len = pw.len};
		log_debug("opening the store in %s (%s)", n->data_dir,
		          pw_path ? "password" : "key file");
		r = securestore_open(n->data_dir, &o, &n->store, err);
	}
	buf_wipe_free(&pw);
	free(pw_path);
	return r;
}

int node_open_identity(struct node *n, struct errmsg *err)
{
	int r = open_store(n, err);
	if (r < 0)
		return r;
	char name[DEVNAME_MAX + 1];
	devname_default(config_instance(&n->cfg), name);
	bool created = false;
	r = identity_load_or_create(n->store, n->cfg.device_name ? n->cfg.device_name : name,
	                            &n->id, &created, err);
	if (r < 0)
		return r;
	if (created)
		log_info("made a new identity: peer id %s, device %s", n->id.peer_id,
		         n->id.device_id);
	if (n->cfg.device_name && strcmp(n->cfg.device_name, n->id.device_name) != 0) {
		log_info("device name '%s' -> '%s' (--device-name)", n->id.device_name,
		         n->cfg.device_name);
		r = identity_set_name(n->store, &n->id, n->cfg.device_name, err);
	}
	return r;
}

int node_set_device_name(struct node *n, const char *name, struct errmsg *err)
{
	if (strcmp(name, n->id.device_name) == 0)
		return devname_check(name, err);
	char old[DEVNAME_MAX + 1];
	memcpy(old, n->id.device_name, sizeof(old));
	int r = identity_set_name(n->store, &n->id, name, err);
	if (r < 0)
		return r;
	log_info("device name '%s' -> '%s'", old, n->id.device_name);
	node_transfers_renamed(n);
	node_mdns_name_changed(n);
	json_t *data = json_pack("{s:s, s:s}", "device_id", n->id.device_id, "device_name",
	                         n->id.device_name);
	if (n->rpc && data)
		rpc_server_emit(n->rpc, "node.device_name_changed", data);
	json_decref(data);
	return 0;
}
