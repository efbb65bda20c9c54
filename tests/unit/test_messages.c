/* The DeviceMessage service (daemon/messages/messages.h) between two hosts
 * in one process over loopback TCP, with a stub link provider standing in
 * for the persist service: a device is "up" when the stub says so.
 *
 * Request/reply through registered handlers (immediate and later
 * answers), the built-in Ping, Errors for an unregistered protocol and
 * for bytes that are not a DeviceMessage (never silence), streams refused
 * on connections that are not a paired device's, a full queue refused
 * with a clear error, timeouts, a device going away under a waiting
 * request, cancellation, and durable delivery: queued while the device is
 * down, delivered in priority order once it is up, acknowledged and
 * deleted from disk, and handled exactly once when a sender that lost its
 * Acks restarts and resends to a receiver that restarted too. The
 * receiver's inbox: a durable message a handler finishes later stays on
 * disk until messages_complete(), is handed again (redelivered) after a
 * restart or to the next handler of its protocol, counts as received even
 * when the crash came before its dedup window was written, is bounded
 * (deferred, never lost, when full), and goes with messages_forget_device()
 * together with the device's queue and window. */
#include "nettest.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lpmsg.h"
#include "messages/messages.h"
#include "securestore.h"

#define DEV_A "aaaaaaaa-0000-4000-8000-000000000001"
#define DEV_B "bbbbbbbb-0000-4000-8000-000000000002"
#define MAX_GOT 256

struct got {
	char protocol[64];
	char payload[64];
	uint8_t id[DEVMSG_ID_LEN];
	bool durable, needs_reply, redelivered;
	DevmsgPb__DeviceMessage__BodyCase body;
};

struct side {
	char dir[64];
	const char *self, *peer_dev;
	struct peerid peer;
	struct host *h;
	struct securestore *store;
	struct messages *m;
	bool up;        /* the stub's view: the peer device is connected */
	bool recognise; /* streams from the peer are accepted */
	struct got got[MAX_GOT];
	size_t ngot;
	enum { REPLY_NONE, REPLY_NOW, REPLY_LATER, REPLY_FAIL, REPLY_DENY, KEEP } mode;
	uint8_t later_id[DEVMSG_ID_LEN];
	size_t outcomes_ok, outcomes_failed;
	char last_failure[256];
};

static struct side A, B;

/* ---- stub link provider ---------------------------------------------------- */

static struct conn *stub_conn_of(void *ctx, const char *device_id)
{
	struct side *s = ctx;
	if (!s->up || strcmp(device_id, s->peer_dev) != 0)
		return NULL;
	return host_find_conn(s->h, &s->peer);
}

static const char *stub_device_of(void *ctx, const struct conn *c)
{
	struct side *s = ctx;
	return s->recognise && peerid_equal(conn_peer(c), &s->peer) ? s->peer_dev : NULL;
}

static void on_outcome(void *ctx, const char *device_id, const uint8_t id[DEVMSG_ID_LEN], int err,
                       const char *text)
{
	struct side *s = ctx;
	assert_string_equal(device_id, s->peer_dev);
	if (err) {
		s->outcomes_failed++;
		snprintf(s->last_failure, sizeof(s->last_failure), "%s", text);
	} else {
		s->outcomes_ok++;
	}
}

/* ---- handlers ---------------------------------------------------------------- */

static void copy_text(char *out, size_t size, const ProtobufCBinaryData *b)
{
	size_t n = b->len < size - 1 ? b->len : size - 1;
	memcpy(out, b->data, n);
	out[n] = '\0';
}

static int record(void *ctx, struct messages *m, const struct messages_incoming *in)
{
	struct side *s = ctx;
	assert_true(s->ngot < MAX_GOT);
	assert_string_equal(in->device_id, s->peer_dev);
	struct got *g = &s->got[s->ngot++];
	memset(g, 0, sizeof(*g));
	g->body = in->msg->body_case;
	memcpy(g->id, in->msg->id.data, DEVMSG_ID_LEN);
	g->durable = in->durable;
	g->needs_reply = in->needs_reply;
	g->redelivered = in->redelivered;
	assert_true(in->durable || !in->redelivered);
	if (in->msg->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM) {
		snprintf(g->protocol, sizeof(g->protocol), "%s", in->msg->custom->protocol);
		copy_text(g->payload, sizeof(g->payload), &in->msg->custom->payload);
	}
	if (s->mode == REPLY_FAIL)
		return -ENOENT;
	if (s->mode == REPLY_DENY)
		return -EACCES;
	if (s->mode == KEEP)
		return in->durable ? MESSAGES_LATER : 0;
	if (s->mode == REPLY_LATER)
		memcpy(s->later_id, g->id, DEVMSG_ID_LEN);
	if (s->mode != REPLY_NOW || !in->needs_reply)
		return 0;
	char text[80];
	snprintf(text, sizeof(text), "re: %s", g->payload);
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = (char *)g->protocol;
	c.has_payload = 1;
	c.payload = (ProtobufCBinaryData){strlen(text), (uint8_t *)text};
	devmsg_pb reply = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	reply.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	reply.custom = &c;
	return messages_respond(m, in, &reply);
}

/* ---- fixture ------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The receiver's inbox bound for the next start_service() (0: default). */
static size_t inbox_max;

static void start_service(struct side *s, size_t max_queue)
{
	struct messages_config cfg = {
	        .inbox_max = inbox_max,
	        .base = nt_base,
	        .host = s->h,
	        .store = s->store,
	        .links = {stub_conn_of, stub_device_of, NULL, NULL, s},
	        .on_outcome = on_outcome,
	        .ctx = s,
	        .max_queue = max_queue,
	};
	struct errmsg err;
	if (messages_new(&cfg, &s->m, &err) < 0)
		fail_msg("messages_new: %s", err.text);
	assert_int_equal(messages_register(s->m, "test/echo", record, s), 0);
}

/* A "restart" of one side's service: everything in memory is gone, the
 * store (its directory) stays. The host and connection stay up. */
static void restart(struct side *s)
{
	messages_free(s->m);
	securestore_close(s->store);
	struct errmsg err;
	static const struct securestore_opts opts = {0};
	assert_int_equal(securestore_open(s->dir, &opts, &s->store, &err), 0);
	start_service(s, 0);
}

static void side_init(struct side *s, const char *self, const char *peer_dev, size_t max_queue)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/sdnetd-messages-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	s->self = self;
	s->peer_dev = peer_dev;
	s->recognise = true;
	s->mode = REPLY_NOW;
	s->h = nt_host_new("test");
	struct errmsg err;
	static const struct securestore_opts opts = {0};
	assert_int_equal(securestore_open(s->dir, &opts, &s->store, &err), 0);
	start_service(s, max_queue);
}

static int setup(void **state)
{
	inbox_max = 0;
	nt_base = event_base_new();
	side_init(&A, DEV_A, DEV_B, 0);
	side_init(&B, DEV_B, DEV_A, 0);
	A.peer = *host_peer_id(B.h);
	B.peer = *host_peer_id(A.h);
	nt_connect(A.h, B.h);
	return 0;
}

static void side_free(struct side *s)
{
	messages_free(s->m);
	host_free(s->h);
	securestore_close(s->store);
	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int teardown(void **state)
{
	side_free(&A);
	side_free(&B);
	event_base_free(nt_base);
	return 0;
}

static void both_up(void)
{
	A.up = B.up = true;
	messages_device_up(A.m, DEV_B, host_find_conn(A.h, &A.peer));
	messages_device_up(B.m, DEV_A, host_find_conn(B.h, &B.peer));
}

/* ---- sending helpers ------------------------------------------------------------ */

struct answer {
	bool done;
	int err;
	DevmsgPb__DeviceMessage__BodyCase body;
	DevmsgPb__Error__Code code;
	char payload[128];
	char text[256];
};

static void on_answer(void *ctx, int err, const devmsg_pb *reply, const char *text)
{
	struct answer *a = ctx;
	assert_false(a->done);
	a->done = true;
	a->err = err;
	snprintf(a->text, sizeof(a->text), "%s", text ? text : "");
	if (!reply)
		return;
	a->body = reply->body_case;
	if (reply->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM)
		copy_text(a->payload, sizeof(a->payload), &reply->custom->payload);
	if (reply->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_PONG)
		copy_text(a->payload, sizeof(a->payload), &reply->pong->payload);
	if (reply->body_case == DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR)
		a->code = reply->error->code;
}

static bool answered(void *arg)
{
	return ((struct answer *)arg)->done;
}

static int send_custom(struct side *s, const char *proto, const char *payload,
                       struct messages_send_opts o, struct answer *a, uint8_t id[DEVMSG_ID_LEN],
                       struct errmsg *err)
{
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = (char *)proto;
	c.has_payload = 1;
	c.payload = (ProtobufCBinaryData){strlen(payload), (uint8_t *)payload};
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	m.custom = &c;
	if (a)
		memset(a, 0, sizeof(*a));
	return messages_send(s->m, s->peer_dev, &m, &o, a ? on_answer : NULL, a, id, err);
}

static void request(struct side *s, const char *proto, const char *payload, uint32_t timeout,
                    struct answer *a)
{
	struct messages_send_opts o = {
	        .prio = MSGQ_NORMAL, .expect_reply = true, .timeout_ms = timeout};
	struct errmsg err;
	if (send_custom(s, proto, payload, o, a, NULL, &err) < 0)
		fail_msg("send: %s", err.text);
	assert_false(a->done); /* never from inside messages_send */
	assert_true(nt_run_until(answered, a));
}

static size_t ns_files(const struct side *s, const char *ns)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", s->dir, ns);
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static size_t queue_files(const struct side *s)
{
	return ns_files(s, "queue");
}

static bool b_got(void *arg)
{
	return B.ngot >= *(size_t *)arg;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_request_reply(void **state)
{
	both_up();
	struct answer a;
	request(&A, "test/echo", "hello", 0, &a);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.body, DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM);
	assert_string_equal(a.payload, "re: hello");
	assert_int_equal(B.ngot, 1);
	assert_string_equal(B.got[0].payload, "hello");
	assert_true(B.got[0].needs_reply);
	assert_false(B.got[0].durable);
	/* And the other way, on B's own outbound stream. */
	request(&B, "test/echo", "back", 0, &a);
	assert_string_equal(a.payload, "re: back");

	/* A later answer, through the queue (messages_reply). */
	B.mode = REPLY_LATER;
	struct messages_send_opts o = {.prio = MSGQ_LOW, .expect_reply = true};
	struct errmsg err;
	assert_int_equal(send_custom(&A, "test/echo", "later", o, &a, NULL, &err), 0);
	size_t n = 2;
	assert_true(nt_run_until(b_got, &n));
	assert_false(a.done);
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	c.protocol = "test/echo";
	c.has_payload = 1;
	c.payload = (ProtobufCBinaryData){5, (uint8_t *)"fine!"};
	devmsg_pb r = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	r.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	r.custom = &c;
	assert_int_equal(messages_reply(B.m, DEV_A, B.later_id, &r, &err), 0);
	assert_true(nt_run_until(answered, &a));
	assert_int_equal(a.err, 0);
	assert_string_equal(a.payload, "fine!");
	assert_int_equal(messages_outstanding(A.m), 0);

	/* The built-in Ping. */
	DevmsgPb__Ping ping = DEVMSG_PB__PING__INIT;
	ping.has_timestamp_ms = 1;
	ping.timestamp_ms = 12345;
	ping.has_payload = 1;
	ping.payload = (ProtobufCBinaryData){4, (uint8_t *)"ping"};
	devmsg_pb pm = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	pm.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_PING;
	pm.ping = &ping;
	memset(&a, 0, sizeof(a));
	o = (struct messages_send_opts){.prio = MSGQ_HIGH, .expect_reply = true};
	assert_int_equal(messages_send(A.m, DEV_B, &pm, &o, on_answer, &a, NULL, &err), 0);
	assert_true(nt_run_until(answered, &a));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.body, DEVMSG_PB__DEVICE_MESSAGE__BODY_PONG);
	assert_string_equal(a.payload, "ping");
}

static void test_unknown_protocol_gets_error(void **state)
{
	both_up();
	struct answer a;
	request(&A, "nobody/home", "anyone?", 0, &a);
	assert_int_equal(a.err, -EREMOTEIO);
	assert_int_equal(a.body, DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR);
	assert_int_equal(a.code, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER);
	assert_non_null(strstr(a.text, "nobody/home"));
	/* A handler that gives up is an Error too. */
	B.mode = REPLY_FAIL;
	request(&A, "test/echo", "x", 0, &a);
	assert_int_equal(a.err, -EREMOTEIO);
	assert_int_equal(a.code, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER);
	/* Unregistered: the same protocol is now unknown. */
	assert_int_equal(messages_unregister(B.m, "test/echo"), 0);
	assert_int_equal(messages_unregister(B.m, "test/echo"), -ENOENT);
	assert_false(messages_has_handler(B.m, "test/echo"));
	B.mode = REPLY_NOW;
	request(&A, "test/echo", "x", 0, &a);
	assert_int_equal(a.code, DEVMSG_PB__ERROR__CODE__ERROR_NO_HANDLER);
	assert_int_equal(B.ngot, 1);
	/* Registry rules. */
	assert_int_equal(messages_register(B.m, "test/echo", record, &B), 0);
	assert_int_equal(messages_register(B.m, "test/echo", record, &B), -EEXIST);
	assert_int_equal(messages_register(B.m, "", record, &B), -EINVAL);
	assert_int_equal(messages_register(B.m, "has space", record, &B), -EINVAL);
	assert_int_equal(
	        messages_register_body(B.m, DEVMSG_PB__DEVICE_MESSAGE__BODY_PING, record, &B),
	        -EEXIST);
}

/* Read framed DeviceMessages from a raw stream's received bytes. */
static devmsg_pb *next_msg(struct buf *got)
{
	const uint8_t *msg;
	size_t len;
	long n = lpmsg_next(got->data, got->len, DEVMSG_MAX_SIZE, &msg, &len);
	if (n <= 0)
		return NULL;
	devmsg_pb *m = NULL;
	assert_int_equal(devmsg_decode(msg, len, &m, NULL, NULL), 0);
	buf_consume(got, (size_t)n);
	return m;
}

static bool has_frame(void *arg)
{
	struct nt_stream *x = arg;
	const uint8_t *msg;
	size_t len;
	return x->closed || lpmsg_next(x->got.data, x->got.len, DEVMSG_MAX_SIZE, &msg, &len) > 0;
}

static void test_wire_errors_never_silence(void **state)
{
	both_up();
	struct nt_stream x;
	nt_stream_open(A.h, host_find_conn(A.h, &A.peer), MESSAGES_PROTOCOL_ID, &x);
	assert_true(x.opened);
	/* Not a protobuf. */
	assert_int_equal(stream_write(x.s, "\x03\xff\xff\xff", 4), 4);
	assert_true(nt_run_until(has_frame, &x));
	devmsg_pb *m = next_msg(&x.got);
	assert_non_null(m);
	assert_int_equal(m->body_case, DEVMSG_PB__DEVICE_MESSAGE__BODY_ERROR);
	assert_int_equal(m->error->code, DEVMSG_PB__ERROR__CODE__ERROR_MALFORMED);
	devmsg_free(m);
	/* A body a newer peer might send (field 200), with an id: the Error
	 * names the field and answers that id. */
	uint8_t wire[] = {22, 0x0a, 0x10, 1,  2,  3,  4,    5,    6,    7,    8,    9,   10,
	                  11, 12,   13,   14, 15, 16, 0xc2, 0x0c, 0x01, 0x00, 0x20, 0x01};
	wire[0] = sizeof(wire) - 1;
	assert_int_equal(stream_write(x.s, wire, sizeof(wire)), sizeof(wire));
	assert_true(nt_run_until(has_frame, &x));
	m = next_msg(&x.got);
	assert_non_null(m);
	assert_int_equal(m->error->code, DEVMSG_PB__ERROR__CODE__ERROR_UNKNOWN_BODY);
	assert_int_equal(m->error->body_field, 200);
	assert_true(m->has_in_reply_to);
	assert_memory_equal(m->in_reply_to.data, wire + 3, DEVMSG_ID_LEN);
	devmsg_free(m);
	/* A frame announcing more than 1 MiB: TOO_LARGE, then the stream ends. */
	assert_int_equal(stream_write(x.s, "\x81\x80\x80\x01", 4), 4);
	assert_true(nt_run_until(has_frame, &x));
	m = next_msg(&x.got);
	assert_non_null(m);
	assert_int_equal(m->error->code, DEVMSG_PB__ERROR__CODE__ERROR_TOO_LARGE);
	devmsg_free(m);
	stream_reset(x.s);
	assert_true(nt_run_until(nt_stream_ended, &x));
	buf_free(&x.got);
}

static void test_unrecognised_connection_refused(void **state)
{
	B.recognise = false;
	struct nt_stream x;
	nt_stream_open(A.h, host_find_conn(A.h, &A.peer), MESSAGES_PROTOCOL_ID, &x);
	if (x.opened) {
		assert_int_equal(stream_write(x.s, "\x00", 1), 1);
		assert_true(nt_run_until(nt_stream_ended, &x));
		assert_int_equal(x.close_err, -ECONNRESET);
	}
	assert_int_equal(x.got.len, 0);
	buf_free(&x.got);
	/* The service itself cannot get a request through either. */
	A.up = true;
	struct answer a;
	struct messages_send_opts o = {.expect_reply = true, .timeout_ms = 300};
	struct errmsg err;
	assert_int_equal(send_custom(&A, "test/echo", "hi", o, &a, NULL, &err), 0);
	assert_true(nt_run_until(answered, &a));
	assert_int_equal(a.err, -ETIMEDOUT);
	assert_int_equal(B.ngot, 0);
}

static void test_queue_full(void **state)
{
	messages_free(A.m);
	start_service(&A, 5); /* device B is down: everything queues */
	struct messages_send_opts o = {.prio = MSGQ_LOW, .durable = true};
	struct errmsg err;
	for (int i = 0; i < 5; i++)
		assert_int_equal(send_custom(&A, "test/echo", "x", o, NULL, NULL, &err), 0);
	assert_int_equal(send_custom(&A, "test/echo", "x", o, NULL, NULL, &err), -ENOBUFS);
	assert_non_null(strstr(err.text, "queue for device " DEV_B " is full"));
	assert_non_null(strstr(err.text, "5 messages"));
	o.durable = false;
	assert_int_equal(send_custom(&A, "test/echo", "x", o, NULL, NULL, &err), -ENOBUFS);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), 0);
	assert_int_equal(st.queued, 5);
	assert_int_equal(st.durable, 5);
	assert_false(st.connected);
	assert_int_equal(queue_files(&A), 5); /* the refused ones were not stored */
	/* Bad requests are refused before anything is queued. */
	o = (struct messages_send_opts){.durable = true, .expect_reply = true};
	struct answer a;
	assert_int_equal(send_custom(&A, "test/echo", "x", o, &a, NULL, &err), -EINVAL);
	o = (struct messages_send_opts){.timeout_ms = MESSAGES_MAX_TIMEOUT_MS + 1};
	assert_int_equal(send_custom(&A, "test/echo", "x", o, NULL, NULL, &err), -EINVAL);
	DevmsgPb__Custom c = DEVMSG_PB__CUSTOM__INIT;
	devmsg_pb m = DEVMSG_PB__DEVICE_MESSAGE__INIT;
	m.body_case = DEVMSG_PB__DEVICE_MESSAGE__BODY_CUSTOM;
	m.custom = &c;
	o = (struct messages_send_opts){0};
	assert_int_equal(messages_send(A.m, "no/such", &m, &o, NULL, NULL, NULL, &err), -EINVAL);
}

static void test_timeout_and_down(void **state)
{
	both_up();
	B.mode = REPLY_NONE;
	struct answer a;
	request(&A, "test/echo", "silence", 200, &a);
	assert_int_equal(a.err, -ETIMEDOUT);
	assert_non_null(strstr(a.text, "no reply"));
	assert_int_equal(B.ngot, 1);
	/* Sent, then the device goes away: the sender hears at once. */
	struct messages_send_opts o = {.expect_reply = true, .timeout_ms = 20000};
	struct errmsg err;
	assert_int_equal(send_custom(&A, "test/echo", "lost", o, &a, NULL, &err), 0);
	size_t n = 2;
	assert_true(nt_run_until(b_got, &n));
	A.up = false;
	messages_device_down(A.m, DEV_B, -ECONNRESET);
	assert_true(a.done);
	assert_int_equal(a.err, -ECONNABORTED);
	/* Not connected: the request waits unsent, then times out saying so. */
	assert_int_equal(
	        send_custom(&A, "test/echo", "unsent",
	                    (struct messages_send_opts){.expect_reply = true, .timeout_ms = 200},
	                    &a, NULL, &err),
	        0);
	assert_true(nt_run_until(answered, &a));
	assert_int_equal(a.err, -ETIMEDOUT);
	assert_non_null(strstr(a.text, "not sent"));
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), 0);
	assert_int_equal(st.queued, 0); /* it left the queue with its waiter */
	/* Cancelled: never called back. */
	uint8_t id[DEVMSG_ID_LEN];
	assert_int_equal(send_custom(&A, "test/echo", "never mind",
	                             (struct messages_send_opts){.expect_reply = true}, &a, id,
	                             &err),
	                 0);
	assert_int_equal(messages_cancel(A.m, id), 0);
	assert_int_equal(messages_cancel(A.m, id), -ENOENT);
	assert_int_equal(messages_outstanding(A.m), 0);
	nt_run_for(50);
	assert_false(a.done);
}

static bool all_delivered(void *arg)
{
	size_t n = *(size_t *)arg;
	struct messages_device_stats st;
	return B.ngot >= n && messages_device_stats(A.m, DEV_B, &st) == 0 && st.queued == 0;
}

static const enum msgq_prio prio_of[] = {MSGQ_LOW, MSGQ_HIGH, MSGQ_NORMAL};

static void test_durable_in_priority_order(void **state)
{
	/* B is down (from A's point of view): 60 durable messages queue on
	 * disk, priorities mixed. */
	char payload[16];
	struct errmsg err;
	for (int i = 0; i < 60; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		struct messages_send_opts o = {.prio = prio_of[i % 3], .durable = true};
		assert_int_equal(send_custom(&A, "test/echo", payload, o, NULL, NULL, &err), 0);
	}
	assert_int_equal(queue_files(&A), 60);
	nt_run_for(50);
	assert_int_equal(B.ngot, 0);
	/* Up: all of them, High first, then Normal, then Low, each in order. */
	both_up();
	size_t want = 60;
	assert_true(nt_run_until(all_delivered, &want));
	assert_int_equal(B.ngot, 60);
	for (size_t k = 0; k < 60; k++) {
		size_t band = k / 20, j = k % 20;
		/* i % 3: 1 is High, 2 Normal, 0 Low. */
		int i = (int)(j * 3 + (band == 0 ? 1 : band == 1 ? 2 : 0));
		snprintf(payload, sizeof(payload), "%d", i);
		if (strcmp(B.got[k].payload, payload) != 0)
			fail_msg("message %zu is '%s', expected '%s'", k, B.got[k].payload,
			         payload);
		assert_true(B.got[k].durable);
		assert_false(B.got[k].needs_reply);
	}
	assert_int_equal(A.outcomes_ok, 60);
	assert_int_equal(queue_files(&A), 0);
}

/* Durable messages for a protocol nobody handles yet are deferred, not
 * lost: the receiver refuses them (and, for order, every later one of the
 * same protocol on that stream); the sender resends them all once the
 * handler is there, in their original order. */
static void test_durable_deferred_until_handler(void **state)
{
	both_up();
	assert_int_equal(messages_unregister(B.m, "test/echo"), 0);
	char payload[16];
	struct errmsg err;
	for (int i = 0; i < 12; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		struct messages_send_opts o = {.prio = prio_of[i % 3], .durable = true};
		assert_int_equal(send_custom(&A, "test/echo", payload, o, NULL, NULL, &err), 0);
	}
	/* A little later the handler appears (the app started). */
	nt_run_for(300);
	assert_int_equal(B.ngot, 0);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), 0);
	assert_int_equal(st.durable, 12);
	assert_int_equal(A.outcomes_failed, 0);
	assert_int_equal(messages_register(B.m, "test/echo", record, &B), 0);
	size_t want = 12;
	assert_true(nt_run_until(all_delivered, &want));
	assert_int_equal(B.ngot, 12);
	for (size_t k = 0; k < 12; k++) {
		size_t band = k / 4, j = k % 4;
		int i = (int)(j * 3 + (band == 0 ? 1 : band == 1 ? 2 : 0));
		snprintf(payload, sizeof(payload), "%d", i);
		assert_string_equal(B.got[k].payload, payload);
	}
	assert_int_equal(A.outcomes_ok, 12);
	assert_int_equal(queue_files(&A), 0);
}

static bool one_failure(void *arg)
{
	return A.outcomes_failed == 1;
}

/* A handler that refuses for good (DENIED) ends the delivery. */
static void test_durable_refused(void **state)
{
	both_up();
	B.mode = REPLY_DENY;
	struct messages_send_opts o = {.durable = true};
	struct errmsg err;
	assert_int_equal(send_custom(&A, "test/echo", "?", o, NULL, NULL, &err), 0);
	assert_true(nt_run_until(one_failure, NULL));
	assert_non_null(strstr(A.last_failure, "handler failed"));
	assert_int_equal(queue_files(&A), 0);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), 0);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.durable, 0);
	assert_int_equal(A.outcomes_ok, 0);
}

/* Copy every file of dir/queue to dir/saved (or back). */
static void copy_queue(const struct side *s, const char *from, const char *to)
{
	char src[128], dst[128];
	snprintf(src, sizeof(src), "%s/%s", s->dir, from);
	snprintf(dst, sizeof(dst), "%s/%s", s->dir, to);
	mkdir(dst, 0700);
	DIR *d = opendir(src);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char a[512], b[512];
		snprintf(a, sizeof(a), "%s/%s", src, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", dst, e->d_name);
		struct buf data = th_read_file(a);
		FILE *f = fopen(b, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(data.data, 1, data.len, f), data.len);
		fclose(f);
		chmod(b, 0600);
		buf_free(&data);
	}
	closedir(d);
}

static void test_durable_exactly_once_across_restarts(void **state)
{
	char payload[16];
	struct errmsg err;
	for (int i = 0; i < 40; i++) {
		snprintf(payload, sizeof(payload), "m%d", i);
		struct messages_send_opts o = {.prio = MSGQ_NORMAL, .durable = true};
		assert_int_equal(send_custom(&A, "test/echo", payload, o, NULL, NULL, &err), 0);
	}
	/* What a sender killed before it processed any Ack would find. */
	copy_queue(&A, "queue", "saved");
	both_up();
	size_t want = 40;
	assert_true(nt_run_until(all_delivered, &want));
	assert_int_equal(queue_files(&A), 0);
	/* Both sides restart; the sender has its unacknowledged messages back. */
	copy_queue(&A, "saved", "queue");
	assert_int_equal(queue_files(&A), 40);
	size_t handled = B.ngot;
	restart(&B);
	B.ngot = 0;
	restart(&A);
	both_up();
	want = 0;
	assert_true(nt_run_until(all_delivered, &want));
	/* Acknowledged again, handled never again. */
	assert_int_equal(handled, 40);
	assert_int_equal(B.ngot, 0);
	assert_int_equal(queue_files(&A), 0);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(B.m, DEV_A, &st), 0);
	assert_int_equal(st.duplicates, 40);
	assert_int_equal(A.outcomes_ok, 80);
	/* New messages after the restart are handled normally. */
	struct messages_send_opts o = {.durable = true};
	assert_int_equal(send_custom(&A, "test/echo", "fresh", o, NULL, NULL, &err), 0);
	want = 1;
	assert_true(nt_run_until(all_delivered, &want));
	assert_string_equal(B.got[0].payload, "fresh");
}

/* ---- the receiver's inbox ------------------------------------------------------------ */

static size_t b_inbox(void)
{
	struct messages_device_stats st;
	return messages_device_stats(B.m, DEV_A, &st) == 0 ? st.inbox : 0;
}

static void send_durable(int from, int to)
{
	char payload[16];
	struct errmsg err;
	for (int i = from; i < to; i++) {
		snprintf(payload, sizeof(payload), "%d", i);
		struct messages_send_opts o = {.prio = MSGQ_NORMAL, .durable = true};
		if (send_custom(&A, "test/echo", payload, o, NULL, NULL, &err) < 0)
			fail_msg("send: %s", err.text);
	}
}

static void assert_got(size_t from, size_t n, int first, bool redelivered)
{
	char payload[16];
	for (size_t k = 0; k < n; k++) {
		snprintf(payload, sizeof(payload), "%d", first + (int)k);
		assert_string_equal(B.got[from + k].payload, payload);
		assert_true(B.got[from + k].durable);
		assert_int_equal(B.got[from + k].redelivered, redelivered);
	}
}

/* A handler that finishes later: acknowledged to the sender at once, kept
 * on disk until messages_complete(), handed again after a restart. */
static void test_inbox_keeps_until_complete(void **state)
{
	B.mode = KEEP;
	both_up();
	send_durable(0, 5);
	size_t want = 5;
	assert_true(nt_run_until(all_delivered, &want));
	assert_int_equal(B.ngot, 5);
	assert_got(0, 5, 0, false);
	assert_int_equal(A.outcomes_ok, 5); /* the sender is done */
	assert_int_equal(b_inbox(), 5);
	assert_true(ns_files(&B, "inbox") >= 1);
	uint8_t ids[5][DEVMSG_ID_LEN];
	for (int i = 0; i < 5; i++)
		memcpy(ids[i], B.got[i].id, DEVMSG_ID_LEN);
	struct errmsg err;
	assert_int_equal(messages_complete(B.m, DEV_A, ids[0], &err), 0);
	assert_int_equal(messages_complete(B.m, DEV_A, ids[0], &err), -ENOENT);
	assert_int_equal(messages_complete(B.m, DEV_B, ids[1], &err), -ENOENT); /* not its */
	assert_int_equal(b_inbox(), 4);
	const char *dev, *key;
	assert_int_equal(messages_inbox_find(B.m, ids[1], &dev, &key), 0);
	assert_string_equal(dev, DEV_A);
	assert_string_equal(key, "test/echo");
	assert_int_equal(messages_inbox_find(B.m, ids[0], &dev, &key), -ENOENT);

	/* Restart: the four unfinished come back, in order, redelivered. */
	restart(&B);
	B.ngot = 0;
	want = 4;
	assert_true(nt_run_until(b_got, &want));
	assert_int_equal(B.ngot, 4);
	assert_got(0, 4, 1, true);
	for (int i = 1; i < 5; i++)
		assert_memory_equal(B.got[i - 1].id, ids[i], DEVMSG_ID_LEN);
	for (int i = 1; i < 5; i++)
		assert_int_equal(messages_complete(B.m, DEV_A, ids[i], &err), 0);
	assert_int_equal(ns_files(&B, "inbox"), 0);
	assert_true(ns_files(&B, "dedup") >= 1);
	/* Finished means never again. */
	restart(&B);
	B.ngot = 0;
	nt_run_for(200);
	assert_int_equal(B.ngot, 0);
	assert_int_equal(b_inbox(), 0);
}

/* The handler goes away without finishing: the next handler of the
 * protocol gets the messages, in order, marked redelivered. */
static void test_inbox_next_handler(void **state)
{
	B.mode = KEEP;
	both_up();
	send_durable(0, 3);
	size_t want = 3;
	assert_true(nt_run_until(all_delivered, &want));
	struct errmsg err;
	assert_int_equal(messages_complete(B.m, DEV_A, B.got[1].id, &err), 0);
	assert_int_equal(messages_unregister(B.m, "test/echo"), 0);
	B.ngot = 0;
	nt_run_for(100);
	assert_int_equal(B.ngot, 0); /* nobody to hand them to */
	assert_int_equal(messages_register(B.m, "test/echo", record, &B), 0);
	assert_int_equal(B.ngot, 0); /* never from inside the call */
	want = 2;
	assert_true(nt_run_until(b_got, &want));
	assert_int_equal(B.ngot, 2);
	assert_string_equal(B.got[0].payload, "0");
	assert_string_equal(B.got[1].payload, "2");
	assert_true(B.got[0].redelivered && B.got[1].redelivered);
	/* A handler that finishes at once empties the inbox. */
	assert_int_equal(messages_unregister(B.m, "test/echo"), 0);
	B.mode = REPLY_NOW;
	B.ngot = 0;
	assert_int_equal(messages_register(B.m, "test/echo", record, &B), 0);
	assert_true(nt_run_until(b_got, &want));
	assert_int_equal(b_inbox(), 0);
	assert_int_equal(ns_files(&B, "inbox"), 0);
}

/* Many finished, one write: nothing is final before the flush. */
static void test_inbox_complete_later(void **state)
{
	B.mode = KEEP;
	both_up();
	send_durable(0, 3);
	size_t want = 3;
	assert_true(nt_run_until(all_delivered, &want));
	struct errmsg err;
	for (int i = 0; i < 3; i++)
		assert_int_equal(messages_complete_later(B.m, DEV_A, B.got[i].id, &err), 0);
	assert_int_equal(messages_complete_later(B.m, DEV_A, B.got[0].id, &err), -ENOENT);
	assert_int_equal(b_inbox(), 0);
	assert_true(ns_files(&B, "inbox") >= 1); /* not written yet */
	/* A restart before the flush: they were not finished after all. */
	restart(&B);
	B.ngot = 0;
	assert_true(nt_run_until(b_got, &want));
	assert_got(0, 3, 0, true);
	for (int i = 0; i < 3; i++)
		assert_int_equal(messages_complete_later(B.m, DEV_A, B.got[i].id, &err), 0);
	assert_int_equal(messages_inbox_flush(B.m, &err), 0);
	assert_int_equal(ns_files(&B, "inbox"), 0);
	restart(&B);
	B.ngot = 0;
	nt_run_for(100);
	assert_int_equal(B.ngot, 0);
}

/* Handlers that finish at once leave nothing in the inbox, and a batch of
 * messages read together is one inbox record (written, then deleted). */
static void test_inbox_builtin_and_batches(void **state)
{
	send_durable(0, 200);
	B.mode = KEEP;
	both_up();
	size_t want = 200;
	assert_true(nt_run_until(all_delivered, &want));
	assert_got(0, 200, 0, false);
	/* 200 messages pipelined on one stream: a handful of batches. */
	size_t records = ns_files(&B, "inbox");
	assert_true(records >= 1 && records <= 20);
	for (size_t i = 0; i < 200; i++) {
		struct errmsg err;
		assert_int_equal(messages_complete(B.m, DEV_A, B.got[i].id, &err), 0);
	}
	assert_int_equal(ns_files(&B, "inbox"), 0);
	B.mode = REPLY_NOW;
	send_durable(200, 220);
	want = 220;
	assert_true(nt_run_until(all_delivered, &want));
	assert_int_equal(ns_files(&B, "inbox"), 0);
	assert_int_equal(b_inbox(), 0);
}

/* Killed after the inbox record was written but before the dedup window:
 * the resent messages are not new (their ids are in the inbox). */
static void test_inbox_ids_count_as_received(void **state)
{
	send_durable(0, 10);
	copy_queue(&A, "queue", "saved");
	B.mode = KEEP;
	both_up();
	size_t want = 10;
	assert_true(nt_run_until(all_delivered, &want));
	assert_int_equal(B.ngot, 10);
	/* The crash: no window on disk, the inbox is; the sender lost its Acks. */
	messages_free(B.m);
	B.m = NULL;
	char path[256];
	snprintf(path, sizeof(path), "%s/dedup", B.dir);
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(path, 0700);
	assert_int_equal(ns_files(&B, "dedup"), 0);
	copy_queue(&A, "saved", "queue");
	restart(&B);
	B.ngot = 0;
	restart(&A);
	both_up();
	want = 10;
	assert_true(nt_run_until(all_delivered, &want));
	nt_run_for(100);
	assert_int_equal(B.ngot, 10); /* from the inbox, not 20 */
	assert_got(0, 10, 0, true);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(B.m, DEV_A, &st), 0);
	assert_int_equal(st.duplicates, 10);
	assert_int_equal(st.inbox, 10);
}

static bool a_drained(void *arg)
{
	struct messages_device_stats st;
	return B.ngot >= *(size_t *)arg && messages_device_stats(A.m, DEV_B, &st) == 0 &&
	       st.durable == 0;
}

/* A full inbox defers new durable messages: the sender keeps them and
 * sends them again; nothing is lost or reordered. */
static void test_inbox_full_defers(void **state)
{
	inbox_max = 4;
	restart(&B);
	B.mode = KEEP;
	both_up();
	send_durable(0, 7);
	size_t want = 4;
	assert_true(nt_run_until(b_got, &want));
	nt_run_for(300);
	assert_int_equal(B.ngot, 4);
	assert_int_equal(b_inbox(), 4);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), 0);
	assert_int_equal(st.durable, 3);
	assert_int_equal(A.outcomes_failed, 0);
	struct errmsg err;
	for (int i = 0; i < 4; i++)
		assert_int_equal(messages_complete(B.m, DEV_A, B.got[i].id, &err), 0);
	want = 7;
	assert_true(nt_run_until(a_drained, &want));
	assert_int_equal(B.ngot, 7);
	assert_got(0, 7, 0, false);
	assert_int_equal(A.outcomes_ok, 7);
	assert_int_equal(A.outcomes_failed, 0);
}

/* Forgetting a device deletes its queue, dedup window and inbox. */
static void test_forget_device(void **state)
{
	B.mode = KEEP;
	both_up();
	send_durable(0, 2);
	size_t want = 2;
	assert_true(nt_run_until(all_delivered, &want));
	A.up = false;
	messages_device_down(A.m, DEV_B, 0);
	send_durable(2, 5);
	assert_int_equal(queue_files(&A), 3);
	assert_true(ns_files(&B, "inbox") >= 1);
	assert_true(ns_files(&B, "dedup") >= 1);
	struct errmsg err;
	assert_int_equal(messages_forget_device(A.m, DEV_B, &err), 0);
	assert_int_equal(queue_files(&A), 0);
	struct messages_device_stats st;
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), -ENOENT);
	uint8_t id[DEVMSG_ID_LEN];
	memcpy(id, B.got[0].id, DEVMSG_ID_LEN);
	assert_int_equal(messages_forget_device(B.m, DEV_A, &err), 0);
	assert_int_equal(ns_files(&B, "inbox"), 0);
	assert_int_equal(ns_files(&B, "dedup"), 0);
	assert_int_equal(messages_complete(B.m, DEV_A, id, &err), -ENOENT);
	/* Gone after a restart too. */
	restart(&A);
	assert_int_equal(messages_device_stats(A.m, DEV_B, &st), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_request_reply, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_protocol_gets_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wire_errors_never_silence, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unrecognised_connection_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timeout_and_down, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_durable_in_priority_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_durable_deferred_until_handler, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_durable_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_durable_exactly_once_across_restarts, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_inbox_keeps_until_complete, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inbox_next_handler, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inbox_complete_later, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inbox_builtin_and_batches, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inbox_ids_count_as_received, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inbox_full_defers, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_forget_device, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
