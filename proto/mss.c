/* multistream-select 1.0: the line protocol every libp2p connection and stream
 * starts with. Kept sans-I/O so the same code negotiates security on the raw
 * TCP socket, the muxer inside Noise and a protocol on every Yamux stream.
 *
 * Received bytes collect in one buffer; complete messages are taken from its
 * front through a bounded cursor, so before negotiation ends at most one
 * partial message (MSS_MAX_VARINT_BYTES + MSS_MAX_MESSAGE bytes) waits there.
 * Whatever follows the final message stays in the same buffer and becomes the
 * leftover for the next layer, without another copy. */
#include "mss.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cursor.h"
#include "errmsg.h"
#include "varint.h"

/* A position inside a buffer; NULL (not NULL + 0) for an empty one. */
static const uint8_t *buf_at(const struct buf *b, size_t off)
{
	return b->data ? b->data + off : NULL;
}

struct mss {
	bool initiator;
	bool lazy;
	bool got_header;
	enum mss_state state;
	int err_code;
	char **protos;
	size_t n;
	/* Initiator: index of the current proposal. Listener: the selection. */
	size_t cur;
	unsigned rounds;
	struct buf in;
	size_t in_off;
	struct buf out;
	size_t out_off;
	struct errmsg err;
};

static bool text_is(const uint8_t *text, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(text, s, len) == 0;
}

static bool proto_valid(const char *p)
{
	size_t len = p ? strlen(p) : 0;
	if (len == 0 || len + 1 > MSS_MAX_MESSAGE || strchr(p, '\n'))
		return false;
	return strcmp(p, "na") != 0 && strcmp(p, "ls") != 0;
}

static int mss_alloc(const char *const *protocols, size_t n, struct mss **ret)
{
	if (n > MSS_MAX_PROTOCOLS || (n && !protocols))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!proto_valid(protocols[i]))
			return -EINVAL;
	struct mss *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->protos = calloc(n ? n : 1, sizeof(char *));
	if (!m->protos)
		return mss_free(m), -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		m->protos[i] = strdup(protocols[i]);
		if (!m->protos[i])
			return mss_free(m), -ENOMEM;
		m->n++;
	}
	*ret = m;
	return 0;
}

static int queue_message(struct mss *m, const void *text, size_t len)
{
	if (buf_append_varint(&m->out, len + 1) < 0 || buf_append(&m->out, text, len) < 0 ||
	    buf_append_u8(&m->out, '\n') < 0)
		return -ENOMEM;
	return 0;
}

static int queue_str(struct mss *m, const char *s)
{
	return queue_message(m, s, strlen(s));
}

int mss_initiator_new(const char *const *protocols, size_t n, bool lazy, struct mss **ret)
{
	if (n == 0 || (lazy && n != 1))
		return -EINVAL;
	struct mss *m;
	int r = mss_alloc(protocols, n, &m);
	if (r < 0)
		return r;
	m->initiator = true;
	m->lazy = lazy;
	/* Header and first proposal in one write, without waiting for the
	 * listener's header: js listeners only speak after hearing ours. */
	if (queue_str(m, MSS_HEADER) < 0 || queue_str(m, m->protos[0]) < 0)
		return mss_free(m), -ENOMEM;
	*ret = m;
	return 0;
}

int mss_listener_new(const char *const *protocols, size_t n, struct mss **ret)
{
	struct mss *m;
	int r = mss_alloc(protocols, n, &m);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

struct mss *mss_free(struct mss *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		free(m->protos[i]);
	free(m->protos);
	buf_free(&m->in);
	buf_free(&m->out);
	free(m);
	return NULL;
}

/* Peer text goes into error strings: keep it short and printable. */
static const char *printable(const uint8_t *text, size_t len, char out[static 68])
{
	size_t n = len > 64 ? 64 : len;
	for (size_t i = 0; i < n; i++)
		out[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? (char)text[i] : '?';
	strcpy(out + n, len > n ? "..." : "");
	return out;
}

static int mss_fail(struct mss *m, int code)
{
	m->state = MSS_FAILED;
	m->err_code = code;
	return code;
}

/* Take one complete message from the input: 1 and its text (newline
 * stripped), 0 when more bytes are needed, or a negative error. */
static int next_message(struct mss *m, const uint8_t **ret_text, size_t *ret_len)
{
	if (m->in_off == m->in.len)
		return 0;
	struct cursor c;
	cur_init(&c, m->in.data + m->in_off, m->in.len - m->in_off);
	uint64_t len;
	int r = cur_get_varint(&c, MSS_MAX_VARINT_BYTES, &len);
	if (r == -ENODATA)
		return 0;
	if (r == -EBADMSG)
		return errmsg_set(&m->err, -EPROTO, "mss: non-minimal length prefix");
	if (r < 0)
		return errmsg_set(&m->err, -EPROTO, "mss: length prefix over %d bytes",
		                  MSS_MAX_VARINT_BYTES);
	if (len > MSS_MAX_MESSAGE)
		return errmsg_set(&m->err, -EPROTO, "mss: message of %llu bytes exceeds %d",
		                  (unsigned long long)len, MSS_MAX_MESSAGE);
	if (len == 0)
		return errmsg_set(&m->err, -EPROTO, "mss: empty message without newline");
	const uint8_t *p;
	if (cur_get_bytes(&c, (size_t)len, &p) < 0)
		return 0;
	if (p[len - 1] != '\n')
		return errmsg_set(&m->err, -EPROTO, "mss: message lacks trailing newline");
	if (memchr(p, 0, (size_t)len - 1))
		return errmsg_set(&m->err, -EPROTO, "mss: NUL byte in message");
	m->in_off += c.off;
	*ret_text = p;
	*ret_len = (size_t)len - 1;
	return 1;
}

static int check_header(struct mss *m, const uint8_t *text, size_t len)
{
	char show[68];
	if (!text_is(text, len, MSS_HEADER))
		return errmsg_set(&m->err, -EPROTO, "mss: expected header %s, got '%s'", MSS_HEADER,
		                  printable(text, len, show));
	m->got_header = true;
	return 0;
}

static int queue_ls_reply(struct mss *m)
{
	_cleanup_buf_ struct buf list = BUF_INIT;
	for (size_t i = 0; i < m->n; i++) {
		size_t len = strlen(m->protos[i]);
		if (buf_append_varint(&list, len + 1) < 0 ||
		    buf_append(&list, m->protos[i], len) < 0 || buf_append_u8(&list, '\n') < 0)
			return -ENOMEM;
	}
	/* The list is one message whose own newline ends it; a list too long
	 * for one message is answered as if "ls" were unknown. */
	if (list.len + 1 > MSS_MAX_MESSAGE)
		return queue_str(m, "na");
	return queue_message(m, list.data, list.len);
}

static int listener_on_message(struct mss *m, const uint8_t *text, size_t len)
{
	if (!m->got_header) {
		int r = check_header(m, text, len);
		return r < 0 ? r : queue_str(m, MSS_HEADER);
	}
	if (++m->rounds > MSS_MAX_ROUNDS)
		return errmsg_set(&m->err, -EPROTO, "mss: more than %d proposals", MSS_MAX_ROUNDS);
	if (text_is(text, len, "ls"))
		return queue_ls_reply(m);
	for (size_t i = 0; i < m->n; i++) {
		if (text_is(text, len, m->protos[i])) {
			m->cur = i;
			m->state = MSS_DONE;
			return queue_message(m, text, len);
		}
	}
	return queue_str(m, "na");
}

static int initiator_on_na(struct mss *m)
{
	if (m->lazy)
		return errmsg_set(&m->err, -ENOPROTOOPT, "mss: optimistic proposal %s refused",
		                  m->protos[0]);
	if (++m->cur == m->n)
		return errmsg_set(&m->err, -ENOPROTOOPT,
		                  "mss: peer refused all %zu proposed protocols (last %s)", m->n,
		                  m->protos[m->n - 1]);
	return queue_str(m, m->protos[m->cur]);
}

static int initiator_on_message(struct mss *m, const uint8_t *text, size_t len)
{
	char show[68];
	if (!m->got_header)
		return check_header(m, text, len);
	if (text_is(text, len, m->protos[m->cur])) {
		m->state = MSS_DONE;
		return 0;
	}
	if (text_is(text, len, "na"))
		return initiator_on_na(m);
	return errmsg_set(&m->err, -EPROTO, "mss: unexpected answer '%s' to proposal %s",
	                  printable(text, len, show), m->protos[m->cur]);
}

static void compact_input(struct mss *m)
{
	buf_consume(&m->in, m->in_off);
	m->in_off = 0;
}

int mss_feed(struct mss *m, const uint8_t *data, size_t len)
{
	if (m->state == MSS_DONE)
		return -EALREADY;
	if (m->state == MSS_FAILED)
		return m->err_code;
	if (buf_append(&m->in, data, len) < 0)
		return mss_fail(m, errmsg_set(&m->err, -ENOMEM, "mss: out of memory"));
	while (m->state == MSS_NEGOTIATING) {
		const uint8_t *text = NULL;
		size_t tlen = 0;
		int r = next_message(m, &text, &tlen);
		if (r == 0)
			break;
		if (r > 0)
			r = m->initiator ? initiator_on_message(m, text, tlen)
			                 : listener_on_message(m, text, tlen);
		if (r == -ENOMEM)
			errmsg_set(&m->err, r, "mss: out of memory");
		if (r < 0)
			return mss_fail(m, r);
	}
	if (m->state == MSS_NEGOTIATING)
		compact_input(m);
	return 0;
}

enum mss_state mss_state(const struct mss *m)
{
	return m->state;
}

void mss_pending_output(const struct mss *m, const uint8_t **ret_ptr, size_t *ret_len)
{
	*ret_ptr = buf_at(&m->out, m->out_off);
	*ret_len = m->out.len - m->out_off;
}

void mss_output_consumed(struct mss *m, size_t n)
{
	size_t pending = m->out.len - m->out_off;
	m->out_off += n < pending ? n : pending;
	if (m->out_off == m->out.len) {
		buf_reset(&m->out);
		m->out_off = 0;
	}
}

const char *mss_selected(const struct mss *m)
{
	return m->state == MSS_DONE ? m->protos[m->cur] : NULL;
}

void mss_leftover(const struct mss *m, const uint8_t **ret_ptr, size_t *ret_len)
{
	bool done = m->state == MSS_DONE;
	*ret_ptr = done ? buf_at(&m->in, m->in_off) : NULL;
	*ret_len = done ? m->in.len - m->in_off : 0;
}

const char *mss_error(const struct mss *m)
{
	return m->err.text;
}
