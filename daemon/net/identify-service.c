/* identify on every connection; see identify-service.h. */
#include "identify-service.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "identify-record.h"
#include "identify.h"
#include "log.h"
#include "peerid.h"

/* js gives identify 5 s; a peer that has not answered by then is either
 * gone or not worth waiting for. */
#define IDENTIFY_TIMEOUT_MS 5000

struct reader;

struct identify_service {
	struct host *host;
	char *agent;
	identify_done_cb cb;
	void *cb_ctx;
	struct host_observer observer;
	struct reader *readers; /* attached to a stream, awaiting EOF */
	unsigned opens;         /* host_open_stream() calls not yet called back */
	bool freed;             /* identify_service_free() ran; opens > 0 */
};

/* ---- results ------------------------------------------------------------ */

static void result_free(void *p)
{
	struct identify_result *r = p;
	if (!r)
		return;
	free(r->agent_version);
	free(r->protocol_version);
	for (size_t i = 0; i < r->n_protocols; i++)
		free(r->protocols[i]);
	free(r->protocols);
	for (size_t i = 0; i < r->n_listen_addrs; i++)
		multiaddr_free(&r->listen_addrs[i]);
	free(r->listen_addrs);
	multiaddr_free(&r->observed_addr);
	free(r);
}

const struct identify_result *identify_get(const struct conn *c)
{
	return conn_get_slot(c, CONN_SLOT_IDENTIFY);
}

bool identify_speaks(const struct conn *c, const char *protocol)
{
	const struct identify_result *r = identify_get(c);
	for (size_t i = 0; r && i < r->n_protocols; i++)
		if (strcmp(r->protocols[i], protocol) == 0)
			return true;
	return false;
}

int identify_open_stream(struct host *h, struct conn *c, const char *protocol, host_stream_cb cb,
                         void *ctx)
{
	if (c && protocol && identify_speaks(c, protocol))
		return host_open_stream_lazy(h, c, protocol, cb, ctx);
	return host_open_stream(h, c, protocol, cb, ctx);
}

/* Check what the peer sent and turn it into a result. A public key that is
 * not the connection's peer is a lie: the whole answer is refused. Malformed
 * addresses are dropped one by one. */
static int check_info(struct conn *c, struct identify_info *info,
                      const struct identify_result *prev, struct identify_result **ret)
{
	const struct peerid *peer = conn_peer(c);
	if (info->public_key.len) {
		struct peerid claimed;
		if (peerid_from_pubkey_proto(info->public_key.data, info->public_key.len,
		                             &claimed) < 0 ||
		    !peerid_equal(&claimed, peer))
			return -EPERM;
	}
	struct identify_result *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dropped = info->dropped;
	/* A push carries only what changed: start from what we knew. */
	const char *agent =
	        info->agent_version ? info->agent_version : (prev ? prev->agent_version : NULL);
	const char *pv = info->protocol_version ? info->protocol_version
	                                        : (prev ? prev->protocol_version : NULL);
	if ((agent && !(r->agent_version = strdup(agent))) ||
	    (pv && !(r->protocol_version = strdup(pv))))
		goto nomem;

	bool have_protocols = info->n_protocols || !prev;
	size_t np = have_protocols ? info->n_protocols : prev->n_protocols;
	char **src = have_protocols ? info->protocols : prev->protocols;
	r->protocols = calloc(np + 1, sizeof(char *));
	if (!r->protocols)
		goto nomem;
	for (size_t i = 0; i < np; i++) {
		if (!(r->protocols[i] = strdup(src[i])))
			goto nomem;
		r->n_protocols++;
	}

	if (info->n_listen_addrs || !prev) {
		r->listen_addrs = calloc(info->n_listen_addrs + 1, sizeof(struct multiaddr));
		if (!r->listen_addrs)
			goto nomem;
		for (size_t i = 0; i < info->n_listen_addrs; i++) {
			if (multiaddr_from_bytes(info->listen_addrs[i].data,
			                         info->listen_addrs[i].len,
			                         &r->listen_addrs[r->n_listen_addrs], NULL) < 0)
				r->dropped++;
			else
				r->n_listen_addrs++;
		}
	} else {
		r->listen_addrs = calloc(prev->n_listen_addrs + 1, sizeof(struct multiaddr));
		if (!r->listen_addrs)
			goto nomem;
		for (size_t i = 0; i < prev->n_listen_addrs; i++) {
			if (multiaddr_copy(&prev->listen_addrs[i], &r->listen_addrs[i]) < 0)
				goto nomem;
			r->n_listen_addrs++;
		}
	}

	if (info->observed_addr.len &&
	    multiaddr_from_bytes(info->observed_addr.data, info->observed_addr.len,
	                         &r->observed_addr, NULL) < 0)
		r->dropped++;

	if (info->signed_record.len) {
		uint64_t seq;
		if (identify_record_verify(info->signed_record.data, info->signed_record.len, peer,
		                           &seq) == 0) {
			r->has_record = true;
			r->record_seq = seq;
		} else {
			r->dropped++;
		}
	} else if (prev) {
		r->has_record = prev->has_record;
		r->record_seq = prev->record_seq;
	}
	*ret = r;
	return 0;
nomem:
	result_free(r);
	return -ENOMEM;
}

/* ---- reading an Identify (query answer or push) ------------------------- */

struct reader {
	struct identify_service *svc;
	struct reader *prev, *next; /* svc->readers */
	struct stream *s;
	struct event *timeout;
	struct identify_reader r;
	bool push;
};

static void reader_free(struct reader *rd)
{
	if (rd->prev)
		rd->prev->next = rd->next;
	else if (rd->svc->readers == rd)
		rd->svc->readers = rd->next;
	if (rd->next)
		rd->next->prev = rd->prev;
	if (rd->timeout)
		event_free(rd->timeout);
	identify_reader_free(&rd->r);
	free(rd);
}

static void reader_noop(struct stream *s, void *ctx)
{
}

static void reader_noop_closed(struct stream *s, int err, void *ctx)
{
}

static const struct stream_callbacks detached = {
        .on_data = reader_noop,
        .on_writable = reader_noop,
        .on_eof = reader_noop,
        .on_closed = reader_noop_closed,
};

/* End of the reader: detach from the stream (resetting it on failure). */
static void reader_end(struct reader *rd, bool reset)
{
	if (rd->s) {
		stream_set_callbacks(rd->s, &detached, NULL);
		if (reset)
			stream_reset(rd->s);
	}
	reader_free(rd);
}

/* A peer breaking the protocol is worth a warning; a connection going away
 * mid-answer is ordinary. */
static void reader_fail(struct reader *rd, int err, const char *what)
{
	char id[PEERID_TEXT_MAX] = "?";
	if (rd->s)
		peerid_to_string(stream_peer(rd->s), id, sizeof(id));
	bool ordinary = err == -ECONNABORTED || err == -ECANCELED || err == -ECONNRESET;
	log_emit(ordinary ? LOG_DEBUG : LOG_WARNING, __FILE__, __LINE__, __func__,
	         "identify%s from %s: %s (%s)", rd->push ? " push" : "", id, what, strerror(-err));
	reader_end(rd, true);
}

/* Feed what is buffered; false when the reader failed (and is gone). */
static bool reader_take(struct reader *rd, struct stream *s)
{
	const uint8_t *p;
	size_t len;
	stream_peek(s, &p, &len);
	if (len == 0)
		return true;
	int r = identify_reader_feed(&rd->r, p, len);
	stream_consume(s, len);
	if (r < 0) {
		reader_fail(rd, r, "malformed or oversized message");
		return false;
	}
	return true;
}

static void reader_on_data(struct stream *s, void *ctx)
{
	reader_take(ctx, s);
}

static void reader_on_eof(struct stream *s, void *ctx)
{
	struct reader *rd = ctx;
	if (!reader_take(rd, s))
		return;
	struct identify_info info;
	int r = identify_reader_finish(&rd->r, &info);
	if (r < 0) {
		reader_fail(rd, r, "incomplete message");
		return;
	}
	struct conn *c = stream_conn(s);
	struct identify_result *res = NULL;
	r = check_info(c, &info, rd->push ? identify_get(c) : NULL, &res);
	identify_info_free(&info);
	if (r < 0) {
		reader_fail(rd, r,
		            r == -EPERM ? "public key does not match the peer" : "out of memory");
		return;
	}
	res->from_push = rd->push;
	conn_set_slot(c, CONN_SLOT_IDENTIFY, res, result_free);
	struct identify_service *svc = rd->svc;
	reader_end(rd, false);
	if (svc->cb)
		svc->cb(c, res, svc->cb_ctx);
}

static void reader_on_closed(struct stream *s, int err, void *ctx)
{
	struct reader *rd = ctx;
	rd->s = NULL;
	reader_fail(rd, err ? err : -ECONNRESET, "stream closed before the answer");
}

static const struct stream_callbacks reader_callbacks = {
        .on_data = reader_on_data,
        .on_writable = reader_noop,
        .on_eof = reader_on_eof,
        .on_closed = reader_on_closed,
};

static void reader_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	reader_fail(arg, -ETIMEDOUT, "no answer in time");
}

static int reader_attach(struct identify_service *svc, struct stream *s, bool push)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->svc = svc;
	rd->next = svc->readers;
	if (rd->next)
		rd->next->prev = rd;
	svc->readers = rd;
	rd->s = s;
	rd->push = push;
	identify_reader_init(&rd->r);
	rd->timeout = evtimer_new(host_base(svc->host), reader_on_timeout, rd);
	if (!rd->timeout) {
		reader_free(rd);
		return -ENOMEM;
	}
	struct timeval tv = {IDENTIFY_TIMEOUT_MS / 1000, 0};
	event_add(rd->timeout, &tv);
	/* Bytes and EOF that came with the negotiation follow as callbacks. */
	stream_set_callbacks(s, &reader_callbacks, rd);
	/* We send nothing on a query we make or a push we receive. */
	stream_close_write(s);
	return 0;
}

/* ---- writing ours ------------------------------------------------------- */

struct writer {
	struct stream *s;
	struct buf out;
};

static void writer_pump(struct stream *s, void *ctx)
{
	struct writer *w = ctx;
	const uint8_t *p;
	size_t len;
	/* Whatever the peer sends on an identify stream is ignored. */
	stream_peek(s, &p, &len);
	stream_consume(s, len);
	while (w->out.len) {
		long n = stream_write(s, w->out.data, w->out.len);
		if (n < 0) {
			stream_reset(s);
			return;
		}
		if (n == 0)
			return;
		buf_consume(&w->out, (size_t)n);
	}
	if (w->s) {
		w->s = NULL; /* all written: FIN once */
		stream_close_write(s);
	}
}

static void writer_on_closed(struct stream *s, int err, void *ctx)
{
	struct writer *w = ctx;
	buf_free(&w->out);
	free(w);
}

static const struct stream_callbacks writer_callbacks = {
        .on_data = writer_pump,
        .on_writable = writer_pump,
        .on_eof = writer_pump,
        .on_closed = writer_on_closed,
};

/* Our Identify as seen by the peer of c. */
static int build_ours(struct identify_service *svc, struct conn *c, struct buf *out)
{
	struct identify_info info = {0};
	int r = -ENOMEM;
	info.protocol_version = strdup(IDENTIFY_PROTOCOL_VERSION);
	info.agent_version = strdup(svc->agent);
	if (!info.protocol_version || !info.agent_version)
		goto out;
	if ((r = privkey_encode_public(host_key(svc->host), &info.public_key)) < 0)
		goto out;
	const struct multiaddr *addrs;
	size_t n = host_listen_addrs(svc->host, &addrs);
	for (size_t i = 0; i < n; i++)
		if ((r = identify_info_add_addr(&info, addrs[i].bytes, addrs[i].len)) < 0)
			goto out;
	const char *const *ids;
	size_t np = protocols_ids(host_protocols(svc->host), &ids);
	for (size_t i = 0; i < np; i++)
		if ((r = identify_info_add_protocol(&info, ids[i])) < 0)
			goto out;
	struct conn_info ci;
	conn_get_info(c, &ci);
	struct multiaddr observed;
	if (multiaddr_parse(ci.remote_addr, &observed, NULL) == 0) {
		r = buf_append(&info.observed_addr, observed.bytes, observed.len);
		multiaddr_free(&observed);
		if (r < 0)
			goto out;
	}
	if ((r = identify_record_build(host_key(svc->host), addrs, n, &info.signed_record)) < 0)
		goto out;
	size_t trimmed = 0;
	r = identify_encode(&info, out, &trimmed);
	if (trimmed)
		log_info("identify: %zu listen addresses left out to stay under 4 KiB", trimmed);
out:
	identify_info_free(&info);
	return r;
}

static int send_ours(struct identify_service *svc, struct stream *s)
{
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int r = build_ours(svc, stream_conn(s), &w->out);
	if (r < 0) {
		free(w);
		return r;
	}
	w->s = s;
	stream_set_callbacks(s, &writer_callbacks, w);
	writer_pump(s, w);
	return 0;
}

/* ---- protocol handlers and connection hooks ----------------------------- */

static void on_query(struct stream *s, void *ctx)
{
	if (send_ours(ctx, s) < 0)
		stream_reset(s);
}

static void on_push(struct stream *s, void *ctx)
{
	if (reader_attach(ctx, s, true) < 0)
		stream_reset(s);
}

/* js allows one inbound identify stream per connection; the registry
 * counts per peer, and a peer may hold two connections for a moment (a
 * duplicate being drained), so two at once. More is a bug or abuse. */
static const struct protocol_handler identify_handlers[] = {
        {IDENTIFY_PROTOCOL_ID, on_query, .max_inbound_per_peer = 2},
        {IDENTIFY_PUSH_PROTOCOL_ID, on_push, .max_inbound_per_peer = 2},
        {0},
};

static void service_release(struct identify_service *svc)
{
	free(svc->agent);
	free(svc);
}

/* Every open completion goes through here first: false when the service
 * is gone (the stream, if any, is reset and the last one frees it). */
static bool open_done(struct identify_service *svc, struct stream *s)
{
	svc->opens--;
	if (!svc->freed)
		return true;
	if (s)
		stream_reset(s);
	if (svc->opens == 0)
		service_release(svc);
	return false;
}

static void on_query_opened(struct stream *s, int err, void *ctx)
{
	if (!open_done(ctx, s))
		return;
	if (!s) {
		log_debug("identify: could not open a stream (%s)", strerror(-err));
		return;
	}
	if (reader_attach(ctx, s, false) < 0)
		stream_reset(s);
}

static void open_stream(struct identify_service *svc, struct conn *c, const char *id,
                        host_stream_cb cb)
{
	/* The query goes out before identify is known (full negotiation);
	 * a push to a peer that listed push rides behind its proposal. */
	int r = identify_open_stream(svc->host, c, id, cb, svc);
	if (r < 0)
		log_debug("identify: cannot open %s (%s)", id, strerror(-r));
	else
		svc->opens++;
}

static void on_connected(struct host *h, struct conn *c, void *ctx)
{
	open_stream(ctx, c, IDENTIFY_PROTOCOL_ID, on_query_opened);
}

static void on_push_opened(struct stream *s, int err, void *ctx)
{
	if (!open_done(ctx, s) || !s)
		return;
	if (send_ours(ctx, s) < 0)
		stream_reset(s);
}

static bool speaks_push(const struct conn *c)
{
	const struct identify_result *r = identify_get(c);
	if (!r)
		return true; /* not known yet: try; "na" costs one round trip */
	for (size_t i = 0; i < r->n_protocols; i++)
		if (strcmp(r->protocols[i], IDENTIFY_PUSH_PROTOCOL_ID) == 0)
			return true;
	return false;
}

void identify_service_push_all(struct identify_service *svc)
{
	struct conn_info *conns;
	size_t n;
	if (host_list_conns(svc->host, &conns, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		/* A peer with two connections is listed twice: push once. */
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = peerid_equal(&conns[j].peer, &conns[i].peer);
		struct conn *c = seen ? NULL : host_find_conn(svc->host, &conns[i].peer);
		if (c && speaks_push(c))
			open_stream(svc, c, IDENTIFY_PUSH_PROTOCOL_ID, on_push_opened);
	}
	free(conns);
}

int identify_service_new(struct host *h, const char *agent_version, struct identify_service **ret)
{
	struct identify_service *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	svc->host = h;
	svc->agent = strdup(agent_version);
	if (!svc->agent) {
		free(svc);
		return -ENOMEM;
	}
	svc->observer.on_connected = on_connected;
	svc->observer.ctx = svc;
	int r = host_add_observer(h, &svc->observer);
	if (r == 0) {
		r = protocols_register(host_protocols(h), identify_handlers, svc);
		if (r < 0)
			host_remove_observer(h, &svc->observer);
	}
	if (r < 0) {
		service_release(svc);
		return r;
	}
	*ret = svc;
	return 0;
}

void identify_service_set_callback(struct identify_service *svc, identify_done_cb cb, void *ctx)
{
	svc->cb = cb;
	svc->cb_ctx = ctx;
}

void identify_service_free(struct identify_service *svc)
{
	if (!svc)
		return;
	host_remove_observer(svc->host, &svc->observer);
	while (svc->readers)
		reader_end(svc->readers, true);
	if (svc->opens > 0)
		svc->freed = true; /* the last open completion frees it */
	else
		service_release(svc);
}
