/* The message service's lifecycle, its devices and its handler registry
 * (messages.h). Sending is msg-send.c, the wire msg-stream.c. */
#include "messages-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "lpmsg.h"
#include "net/host.h"

/* ---- devices ---------------------------------------------------------------- */

struct msg_device *msg_device_find(const struct messages *m, const char *id)
{
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	if (strcmp(d->id, id) == 0)
		return d;
	return NULL;
}

/* The outbound stream failed or closed while the device is still up. */
static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msg_device *d = arg;
	msg_pump(d->m, d);
}

int msg_device_get(struct messages *m, const char *id, struct msg_device **ret)
{
	if (!msgstore_device_id_ok(id))
		return -EINVAL;
	struct msg_device *d = msg_device_find(m, id);
	if (d) {
		*ret = d;
		return 0;
	}
	if (m->ndevices >= MESSAGES_MAX_DEVICES)
		return -ENOSPC;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->m = m;
	snprintf(d->id, sizeof(d->id), "%s", id);
	LIST_INIT(&d->streams);
	msg_inbox_init(&d->inbox);
	TAILQ_INIT(&d->waiters);
	TAILQ_INIT(&d->answering);
	msgq_init(&d->q, m->cfg.max_queue, m->cfg.max_queue_bytes);
	d->retry = evtimer_new(m->cfg.base, retry_cb, d);
	d->redeliver = evtimer_new(m->cfg.base, msg_redeliver_cb, d);
	if (!d->retry || !d->redeliver) {
		if (d->retry)
			event_free(d->retry);
		free(d);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&m->devices, d, link);
	m->ndevices++;
	*ret = d;
	return 0;
}

struct msgdedup *msg_device_dedup(struct messages *m, struct msg_device *d)
{
	if (d->dedup)
		return d->dedup;
	struct msgdedup *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	struct errmsg err;
	int r = msgdedup_open(w, m->cfg.store, d->id, m->cfg.dedup_window, m->seed, &err);
	if (r < 0) {
		log_error("device %s: cannot load the message dedup window: %s", d->id, err.text);
		free(w);
		return NULL;
	}
	/* The inbox is written before the window: after a crash between the
	 * two, its ids are only in the inbox. They count as received. */
	struct msg_inrec *rec;
	TAILQ_FOREACH(rec, &d->inbox.recs, link)
	for (size_t i = 0; i < rec->n; i++)
		if (!msgdedup_contains(w, rec->e[i].id))
			msgdedup_add(w, rec->e[i].id);
	if (msgdedup_dirty(w) && msgdedup_flush(w, m->cfg.store, &err) < 0)
		log_error("device %s: cannot store the message dedup window: %s", d->id, err.text);
	d->dedup = w;
	return w;
}

static void device_free(struct messages *m, struct msg_device *d)
{
	msg_streams_drop(m, d);
	if (d->opener)
		d->opener->dev = NULL;
	msg_device_drop_queue(m, d);
	msg_inbox_free(&d->inbox);
	if (d->dedup)
		msgdedup_free(d->dedup);
	free(d->dedup);
	event_free(d->retry);
	event_free(d->redeliver);
	TAILQ_REMOVE(&m->devices, d, link);
	m->ndevices--;
	free(d);
}

void messages_device_up(struct messages *m, const char *device_id, struct conn *c)
{
	struct msg_device *d;
	if (msg_device_get(m, device_id, &d) < 0) {
		log_warning("device %s: no room to track it for messages", device_id);
		return;
	}
	if (d->conn == c)
		return msg_pump(m, d);
	/* A new connection replaces the old one: start over on it. */
	msg_streams_drop(m, d);
	msgq_requeue(&d->q);
	d->conn = c;
	d->open_failures = 0;
	event_del(d->retry);
	msg_pump(m, d);
}

void messages_device_down(struct messages *m, const char *device_id, int err)
{
	struct msg_device *d = msg_device_find(m, device_id);
	if (!d)
		return;
	d->conn = NULL;
	event_del(d->retry);
	msg_streams_drop(m, d);
	msgq_requeue(&d->q);
	char text[128];
	snprintf(text, sizeof(text), "the connection to device %s was lost (%s)", d->id,
	         err ? strerror(-err) : "closed");
	msg_fail_sent(m, d, -ECONNABORTED, text);
}

/* ---- handlers --------------------------------------------------------------- */

static bool protocol_name_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n > MESSAGES_PROTOCOL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] > '~')
			return false;
	return true;
}

static struct msg_handler *find_row(struct messages *m, const char *protocol,
                                    DevmsgPb__DeviceMessage__BodyCase body)
{
	for (size_t i = 0; i < m->nhandlers; i++) {
		struct msg_handler *h = &m->handlers[i];
		if (h->body == body && strcmp(h->protocol, protocol) == 0)
			return h;
	}
	return NULL;
}

static int add_row(struct messages *m, const char *protocol, DevmsgPb__DeviceMessage__BodyCase body,
                   messages_handler_fn fn, void *ctx)
{
	if (!fn)
		return -EINVAL;
	if (find_row(m, protocol, body))
		return -EEXIST;
	if (m->nhandlers >= MESSAGES_MAX_HANDLERS)
		return -ENOSPC;
	struct msg_handler *h = &m->handlers[m->nhandlers++];
	snprintf(h->protocol, sizeof(h->protocol), "%s", protocol);
	h->body = body;
	h->fn = fn;
	h->ctx = ctx;
	return 0;
}

static int remove_row(struct messages *m, const char *protocol,
                      DevmsgPb__DeviceMessage__BodyCase body)
{
	struct msg_handler *h = find_row(m, protocol, body);
	if (!h)
		return -ENOENT;
	*h = m->handlers[--m->nhandlers];
	return 0;
}

int messages_register(struct messages *m, const char *protocol, messages_handler_fn fn, void *ctx)
{
	if (!protocol_name_ok(protocol))
		return -EINVAL;
	int r = add_row(m, protocol, DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM, fn, ctx);
	if (r == 0)
		msg_inbox_kick(m); /* durable messages may wait for it */
	return r;
}

int messages_register_body(struct messages *m, DevmsgPb__DeviceMessage__BodyCase body,
                           messages_handler_fn fn, void *ctx)
{
	if (body == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM ||
	    strcmp(devmsg_body_name(body), "unknown") == 0 ||
	    body == DEVMSG_PB__DEVICE_MESSAGE__BODY__NOT_SET)
		return -EINVAL;
	int r = add_row(m, "", body, fn, ctx);
	if (r == 0)
		msg_inbox_kick(m);
	return r;
}

int messages_unregister(struct messages *m, const char *protocol)
{
	if (!protocol)
		return -ENOENT;
	int r = remove_row(m, protocol, DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM);
	if (r == 0)
		msg_inbox_unshow(m, protocol);
	return r;
}

int messages_unregister_body(struct messages *m, DevmsgPb__DeviceMessage__BodyCase body)
{
	if (body == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM)
		return -ENOENT;
	int r = remove_row(m, "", body);
	if (r == 0) {
		char key[MSG_KEY_MAX];
		snprintf(key, sizeof(key), "#%u", (unsigned)body);
		msg_inbox_unshow(m, key);
	}
	return r;
}

bool messages_has_handler(const struct messages *m, const char *protocol)
{
	return protocol && find_row((struct messages *)m, protocol,
	                            DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM) != NULL;
}

const struct msg_handler *msg_handler_find(const struct messages *m, const devmsg_pb *msg)
{
	const char *protocol = "";
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM)
		protocol = msg->custom->protocol ? msg->custom->protocol : "";
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM && !*protocol)
		return NULL;
	return find_row((struct messages *)m, protocol, msg->body_case);
}

void msg_handler_key(const devmsg_pb *msg, char key[MSG_KEY_MAX])
{
	if (msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM)
		snprintf(key, MSG_KEY_MAX, "%s",
		         msg->custom->protocol ? msg->custom->protocol : "");
	else
		snprintf(key, MSG_KEY_MAX, "#%u", (unsigned)msg->body_case);
}

/* ---- lifecycle --------------------------------------------------------------- */

/* A stored durable message goes back into its device's queue. */
static int load_visit(void *ctx, const char *device_id, uint64_t seq, unsigned prio,
                      const uint8_t id[DEVMSG_ID_LEN], const uint8_t *msg, size_t msg_len)
{
	struct messages *m = ctx;
	struct msg_device *d;
	int r = msg_device_get(m, device_id, &d);
	if (r < 0)
		return r;
	struct buf frame = BUF_INIT;
	r = lpmsg_append(&frame, msg, msg_len, DEVMSG_MAX_SIZE);
	struct msgq_item *it = r == 0 ? msgq_item_new(id, frame.data, frame.len, prio, true) : NULL;
	buf_free(&frame);
	if (!it)
		return r < 0 ? r : -ENOMEM;
	it->seq = seq;
	/* Stored messages were accepted within the bound; a smaller bound
	 * configured since must not lose them. */
	d->q.max_count += 1;
	d->q.max_bytes += it->len;
	r = msgq_push(&d->q, it);
	d->q.max_count -= 1;
	d->q.max_bytes -= it->len;
	if (r < 0) {
		free(it);
		return r;
	}
	d->durable++;
	if (seq >= d->next_seq)
		d->next_seq = seq + 1;
	return 0;
}

static void set_defaults(struct messages_config *c)
{
	if (!c->max_queue)
		c->max_queue = MESSAGES_MAX_QUEUE;
	if (!c->max_queue_bytes)
		c->max_queue_bytes = MESSAGES_MAX_QUEUE_BYTES;
	if (!c->dedup_window)
		c->dedup_window = MESSAGES_DEDUP_WINDOW;
	if (!c->max_outstanding)
		c->max_outstanding = MESSAGES_MAX_OUTSTANDING;
	if (!c->inbox_max)
		c->inbox_max = MESSAGES_INBOX_MAX;
	if (!c->inbox_max_bytes)
		c->inbox_max_bytes = MESSAGES_INBOX_MAX_BYTES;
}

static int start(struct messages *m, struct errmsg *err)
{
	int r = devmsg_corr_init(&m->corr, m->cfg.max_outstanding);
	if (r < 0)
		return errmsg_set(err, r, "message service: bad max_outstanding");
	m->timer = evtimer_new(m->cfg.base, msg_timer_cb, m);
	m->inbox_ev = event_new(m->cfg.base, -1, 0, msg_inbox_kick_cb, m);
	if (!m->timer || !m->inbox_ev || crypto_random(&m->seed, sizeof(m->seed)) < 0)
		return errmsg_set(err, -ENOMEM, "message service: out of memory");
	size_t skipped = 0;
	r = msgstore_load(m->cfg.store, load_visit, m, &skipped, err);
	if (r < 0) {
		errmsg_prefix(err, "cannot load the durable message queues");
		return r;
	}
	r = msg_inbox_load(m, err);
	if (r < 0) {
		errmsg_prefix(err, "cannot load the durable message inboxes");
		return r;
	}
	r = msg_builtin_register(m);
	if (r == 0)
		r = protocols_register(host_protocols(m->cfg.host), msg_protocol_handlers, m);
	m->registered = r == 0;
	if (r < 0)
		return errmsg_set(err, r, "cannot register %s: %s", MESSAGES_PROTOCOL_ID,
		                  strerror(-r));
	size_t total = 0;
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	total += d->q.count;
	if (total || skipped)
		log_info("%zu durable messages waiting for delivery (%zu unreadable records "
		         "skipped)",
		         total, skipped);
	return 0;
}

int messages_new(const struct messages_config *cfg, struct messages **ret, struct errmsg *err)
{
	if (!cfg->base || !cfg->host || !cfg->store || !cfg->links.conn_of || !cfg->links.device_of)
		return errmsg_set(err, -EINVAL, "message service: incomplete configuration");
	struct messages *m = calloc(1, sizeof(*m));
	if (!m)
		return errmsg_set(err, -ENOMEM, "out of memory");
	m->cfg = *cfg;
	set_defaults(&m->cfg);
	TAILQ_INIT(&m->devices);
	int r = start(m, err);
	if (r < 0) {
		messages_free(m);
		return r;
	}
	/* Stored messages go out to devices that are already connected. */
	struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	msg_pump(m, d);
	*ret = m;
	return 0;
}

void messages_free(struct messages *m)
{
	if (!m)
		return;
	if (m->registered)
		protocols_unregister(host_protocols(m->cfg.host), msg_protocol_handlers);
	struct msg_device *d;
	while ((d = TAILQ_FIRST(&m->devices)))
		device_free(m, d);
	if (m->timer)
		event_free(m->timer);
	if (m->inbox_ev)
		event_free(m->inbox_ev);
	devmsg_corr_free(&m->corr);
	free(m);
}

/* ---- observation -------------------------------------------------------------- */

int messages_device_stats(const struct messages *m, const char *device_id,
                          struct messages_device_stats *ret)
{
	const struct msg_device *d = msg_device_find(m, device_id);
	if (!d)
		return -ENOENT;
	*ret = (struct messages_device_stats){
	        .connected = d->conn != NULL,
	        .stream_open = d->out != NULL,
	        .queued = d->q.count,
	        .unsent = d->q.unsent,
	        .queued_bytes = d->q.bytes,
	        .durable = d->durable,
	        .inbox = d->inbox.count,
	        .sent = d->sent,
	        .received = d->received,
	        .acked = d->acked,
	        .refused = d->refused,
	        .duplicates = d->duplicates,
	};
	return 0;
}

size_t messages_device_count(const struct messages *m)
{
	return m->ndevices;
}

const char *messages_device_at(const struct messages *m, size_t i)
{
	const struct msg_device *d;
	TAILQ_FOREACH(d, &m->devices, link)
	if (i-- == 0)
		return d->id;
	return NULL;
}

size_t messages_outstanding(const struct messages *m)
{
	return devmsg_corr_count(&m->corr);
}

/* ---- forgetting a device ------------------------------------------------------- */

int messages_forget_device(struct messages *m, const char *device_id, struct errmsg *err)
{
	struct msg_device *d =
	        msgstore_device_id_ok(device_id) ? msg_device_find(m, device_id) : NULL;
	if (d)
		device_free(m, d);
	return msgstore_purge_device(m->cfg.store, device_id, err);
}
