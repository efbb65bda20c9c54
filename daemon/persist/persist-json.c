/* What the control API shows of the persist service (devices.list's link
 * state, devices.show, devices.metrics), and the changes it makes on a
 * device's behalf (trust, forget). Shapes are in proto/openrpc.json. */
#include "persist-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "securestore.h"

/* "backoff (next retry in 4 s)", "auto-reconnected", or the reason. */
static void detail(const struct plink *l, uint64_t now, char *out, size_t size)
{
	switch (l->state) {
	case PERSIST_CONNECTED:
		snprintf(out, size, "%s", l->auto_reconnected ? "auto-reconnected" : "");
		break;
	case PERSIST_BACKOFF: {
		uint64_t in = l->retry_ms > now ? l->retry_ms - now : 0;
		snprintf(out, size, "next retry in %llu s",
		         (unsigned long long)((in + 999) / 1000));
		break;
	}
	default:
		snprintf(out, size, "%s", l->reason);
		break;
	}
}

void persist_link_json(struct persist *p, const char *device_id, json_t *obj)
{
	const struct plink *l = persist_link(p, device_id);
	if (!l || !obj)
		return;
	uint64_t now = persist_now_ms();
	char d[PERSIST_REASON_MAX];
	detail(l, now, d, sizeof(d));
	json_object_set_new(obj, "state", json_string(persist_state_name(l->state)));
	json_object_set_new(obj, "state_detail", json_string(d));
	json_object_set_new(obj, "auto_reconnected",
	                    json_boolean(l->state == PERSIST_CONNECTED && l->auto_reconnected));
	json_object_set_new(
	        obj, "next_retry_s",
	        l->state == PERSIST_BACKOFF
	                ? json_integer(
	                          (json_int_t)((l->retry_ms > now ? l->retry_ms - now : 0) + 999) /
	                          1000)
	                : json_null());
}

static json_t *metrics(const struct plink *l, uint64_t now)
{
	uint64_t bin = 0, bout = 0, rtt = l->rtt_us;
	const struct psess *s = l->state == PERSIST_CONNECTED ? l->sess : NULL;
	if (s && s->c) {
		struct conn_info ci;
		conn_get_info(s->c, &ci);
		bin = ci.bytes_in;
		bout = ci.bytes_out;
		/* The newer of our keepalive's RTT and the connection's yamux one.
		 * Yamux counts whole milliseconds (a true RTT within 1 ms either
		 * side of its figure): when ours falls in that range it is the same
		 * RTT, measured to the microsecond, so it stays. */
		uint64_t y = ci.rtt_ms * 1000;
		bool same = rtt && rtt + 1000 > y && rtt < y + 1000;
		if (ci.rtt_ms && (!rtt || s->ping_outstanding || !s->opener) && !same)
			rtt = y;
	}
	/* rtt_us exact, rtt_ms the same as a number (fractional: a LAN's RTT is
	 * well under 1 ms, which whole milliseconds reported as nothing). */
	bool have_rtt = s && rtt;
	return json_pack(
	        "{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	        "device_id", l->device_id, "name", l->name, "state", persist_state_name(l->state),
	        "rtt_ms", have_rtt ? json_real((double)rtt / 1000.0) : json_null(), "rtt_us",
	        have_rtt ? json_integer((json_int_t)rtt) : json_null(), "bytes_in", (json_int_t)bin,
	        "bytes_out", (json_int_t)bout, "messages_in", (json_int_t)l->msgs_in,
	        "messages_out", (json_int_t)l->msgs_out, "keepalive_bytes_in",
	        (json_int_t)(s ? s->ctl_bytes_in : 0), "keepalive_bytes_out",
	        (json_int_t)(s ? s->ctl_bytes_out : 0), "uptime_s",
	        (json_int_t)(s ? (now - l->up_since_ms) / 1000 : 0), "reconnects",
	        (json_int_t)l->rec.n.reconnects, "key_epoch", (json_int_t)l->rec.keys.epoch);
}

json_t *persist_metrics_json(struct persist *p, const char *device_id)
{
	uint64_t now = persist_now_ms();
	if (device_id) {
		const struct plink *l = persist_link(p, device_id);
		return l ? metrics(l, now) : NULL;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < p->n_links; i++)
		json_array_append_new(a, metrics(p->links[i], now));
	return a;
}

static json_t *history_json(const struct plink *l)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < l->hist.n; i++) {
		const struct phist_entry *e = phist_at(&l->hist, i);
		json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s}", "time", (json_int_t)e->t,
		                                   "kind", phist_kind_name(e->kind), "address",
		                                   e->addr, "reason", e->reason));
	}
	return a;
}

static json_t *strings(char (*v)[DEVICE_ADDR_MAX], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *persist_show_json(struct persist *p, const char *device_id)
{
	struct plink *l = persist_link(p, device_id);
	if (!l)
		return NULL;
	const struct pcounters *n = &l->rec.n;
	json_t *o = json_pack(
	        "{s:s, s:o, s:I, s:I, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:o}",
	        "reason", l->reason, "metrics", metrics(l, persist_now_ms()), "key_epoch",
	        (json_int_t)l->rec.keys.epoch, "keys_rotated_at",
	        (json_int_t)l->rec.keys.rotated_at, "rotation_pending", l->rec.keys.has_prev,
	        "counters", "attempts", (json_int_t)n->attempts, "successes",
	        (json_int_t)n->successes, "failures", (json_int_t)n->failures, "reconnects",
	        (json_int_t)n->reconnects, "last_success", (json_int_t)n->last_success,
	        "last_failure", (json_int_t)n->last_failure, "addresses_worked",
	        strings(l->rec.worked, l->rec.n_worked), "addresses_learned",
	        strings(l->learned, l->n_learned), "history", history_json(l));
	if (o)
		persist_link_json(p, device_id, o);
	return o;
}

void persist_trust_changed(struct persist *p, const char *device_id)
{
	struct plink *l = persist_link(p, device_id);
	const struct device *d = devices_find_id(p->cfg.devices, device_id);
	if (!l || !d)
		return;
	l->trust = d->trust;
	if (l->trust == DEVICE_REVOKED || l->trust == DEVICE_EXPIRED) {
		const char *why = l->trust == DEVICE_REVOKED ? "the device was revoked"
		                                             : "the pairing expired";
		for (struct psess *s = p->sessions; s; s = s->next)
			if (strcmp(s->device_id, device_id) == 0)
				psess_close(s, -EPERM, why);
		if (l->sess)
			plink_down(l, -EPERM, why);
		if (l->trust == DEVICE_REVOKED)
			host_disconnect(p->cfg.host, &l->peer);
		persist_history(l, PHIST_REFUSED, "", why);
	} else if (l->state == PERSIST_DISABLED || l->state == PERSIST_BACKOFF) {
		l->failures = 0;
		plink_enter(l, PERSIST_DISCONNECTED, "trust changed");
	}
	persist_poke(p);
}

int persist_forget(struct persist *p, const char *device_id, struct errmsg *err)
{
	struct plink *l = persist_link(p, device_id);
	struct peerid peer;
	bool have = l != NULL;
	if (l) {
		peer = l->peer;
		for (struct psess *s = p->sessions; s; s = s->next)
			if (strcmp(s->device_id, device_id) == 0)
				psess_close(s, -ECANCELED, "the device was forgotten");
		if (l->sess)
			plink_down(l, -ECANCELED, "the device was forgotten");
		l->trust = DEVICE_REVOKED; /* until the registry drops it */
	}
	int r1 = securestore_delete(p->cfg.store, "connections", device_id, err);
	int r2 = securestore_delete(p->cfg.store, "history", device_id, err);
	if (have)
		host_disconnect(p->cfg.host, &peer);
	persist_poke(p);
	if (r1 < 0 && r1 != -ENOENT)
		return r1;
	return r2 < 0 && r2 != -ENOENT ? r2 : 0;
}
