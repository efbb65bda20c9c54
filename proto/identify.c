/* identify message framing, splitting and merging; see identify.h. */
#include "identify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identify.pb-c.h"
#include "lpmsg.h"

void identify_info_free(struct identify_info *info)
{
	free(info->protocol_version);
	free(info->agent_version);
	buf_free(&info->public_key);
	for (size_t i = 0; i < info->n_listen_addrs; i++)
		buf_free(&info->listen_addrs[i]);
	free(info->listen_addrs);
	for (size_t i = 0; i < info->n_protocols; i++)
		free(info->protocols[i]);
	free(info->protocols);
	buf_free(&info->observed_addr);
	buf_free(&info->signed_record);
	memset(info, 0, sizeof(*info));
}

int identify_info_add_addr(struct identify_info *info, const uint8_t *ma, size_t len)
{
	struct buf *a = realloc(info->listen_addrs, (info->n_listen_addrs + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	info->listen_addrs = a;
	a[info->n_listen_addrs] = BUF_INIT;
	if (buf_append(&a[info->n_listen_addrs], ma, len) < 0)
		return -ENOMEM;
	info->n_listen_addrs++;
	return 0;
}

int identify_info_add_protocol(struct identify_info *info, const char *id)
{
	char **p = realloc(info->protocols, (info->n_protocols + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	info->protocols = p;
	p[info->n_protocols] = strdup(id);
	if (!p[info->n_protocols])
		return -ENOMEM;
	info->n_protocols++;
	return 0;
}

/* Fill a protobuf view of info (no copies) with the first n_addrs addresses,
 * with or without the record. */
static void fill_pb(const struct identify_info *info, size_t n_addrs, bool with_record,
                    ProtobufCBinaryData *addrs, IdentifyPb__Identify *m)
{
	m->protocolversion = info->protocol_version;
	m->agentversion = info->agent_version;
	if (info->public_key.len) {
		m->has_publickey = 1;
		m->publickey.data = info->public_key.data;
		m->publickey.len = info->public_key.len;
	}
	for (size_t i = 0; i < n_addrs; i++) {
		addrs[i].data = info->listen_addrs[i].data;
		addrs[i].len = info->listen_addrs[i].len;
	}
	m->n_listenaddrs = n_addrs;
	m->listenaddrs = addrs;
	m->n_protocols = info->n_protocols;
	m->protocols = info->protocols;
	if (info->observed_addr.len) {
		m->has_observedaddr = 1;
		m->observedaddr.data = info->observed_addr.data;
		m->observedaddr.len = info->observed_addr.len;
	}
	if (with_record && info->signed_record.len) {
		m->has_signedpeerrecord = 1;
		m->signedpeerrecord.data = info->signed_record.data;
		m->signedpeerrecord.len = info->signed_record.len;
	}
}

static int append_pb(struct buf *out, const IdentifyPb__Identify *m)
{
	size_t n = identify_pb__identify__get_packed_size(m);
	if (n > IDENTIFY_WRITE_MAX)
		return -EMSGSIZE;
	uint8_t *tmp = malloc(n ? n : 1);
	if (!tmp)
		return -ENOMEM;
	identify_pb__identify__pack(m, tmp);
	int r = lpmsg_append(out, tmp, n, IDENTIFY_WRITE_MAX);
	free(tmp);
	return r;
}

int identify_encode(const struct identify_info *info, struct buf *out, size_t *ret_trimmed)
{
	ProtobufCBinaryData *addrs = calloc(info->n_listen_addrs + 1, sizeof(*addrs));
	if (!addrs)
		return -ENOMEM;
	size_t before = out->len;
	int r = -EMSGSIZE;

	/* Everything in one message when it is small enough. */
	IdentifyPb__Identify whole = IDENTIFY_PB__IDENTIFY__INIT;
	fill_pb(info, info->n_listen_addrs, true, addrs, &whole);
	size_t whole_len = identify_pb__identify__get_packed_size(&whole);
	bool split = info->signed_record.len &&
	             (whole_len > IDENTIFY_RECORD_SPLIT || whole_len > IDENTIFY_WRITE_MAX);
	if (!split && whole_len <= IDENTIFY_WRITE_MAX) {
		r = append_pb(out, &whole);
		if (ret_trimmed)
			*ret_trimmed = 0;
		goto out;
	}

	/* Otherwise the main message without the record, trimming addresses
	 * from the end until it fits, then the record alone. */
	size_t n = info->n_listen_addrs;
	for (;;) {
		IdentifyPb__Identify m = IDENTIFY_PB__IDENTIFY__INIT;
		fill_pb(info, n, false, addrs, &m);
		if (identify_pb__identify__get_packed_size(&m) <= IDENTIFY_WRITE_MAX) {
			r = append_pb(out, &m);
			break;
		}
		if (n == 0)
			goto out; /* -EMSGSIZE: protocols alone are too many */
		n--;
	}
	if (r == 0 && info->signed_record.len) {
		IdentifyPb__Identify rec = IDENTIFY_PB__IDENTIFY__INIT;
		rec.has_signedpeerrecord = 1;
		rec.signedpeerrecord.data = info->signed_record.data;
		rec.signedpeerrecord.len = info->signed_record.len;
		r = append_pb(out, &rec);
	}
	if (ret_trimmed)
		*ret_trimmed = info->n_listen_addrs - n;
out:
	if (r < 0)
		out->len = before;
	free(addrs);
	return r;
}

void identify_reader_init(struct identify_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void identify_reader_free(struct identify_reader *r)
{
	buf_free(&r->pending);
	identify_info_free(&r->info);
	memset(r, 0, sizeof(*r));
}

static int set_string(char **dst, const char *src, size_t *dropped)
{
	if (!src)
		return 0;
	if (strlen(src) > IDENTIFY_MAX_STRING) {
		(*dropped)++;
		return 0;
	}
	char *s = strdup(src);
	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int set_bytes(struct buf *dst, const ProtobufCBinaryData *src)
{
	buf_reset(dst);
	return buf_append(dst, src->data, src->len);
}

static int merge(struct identify_info *info, const IdentifyPb__Identify *m)
{
	int r = set_string(&info->protocol_version, m->protocolversion, &info->dropped);
	if (r == 0)
		r = set_string(&info->agent_version, m->agentversion, &info->dropped);
	if (r == 0 && m->has_publickey)
		r = set_bytes(&info->public_key, &m->publickey);
	if (r == 0 && m->has_observedaddr)
		r = set_bytes(&info->observed_addr, &m->observedaddr);
	if (r == 0 && m->has_signedpeerrecord)
		r = set_bytes(&info->signed_record, &m->signedpeerrecord);
	for (size_t i = 0; r == 0 && i < m->n_listenaddrs; i++) {
		if (info->n_listen_addrs >= IDENTIFY_MAX_ADDRS)
			info->dropped++;
		else
			r = identify_info_add_addr(info, m->listenaddrs[i].data,
			                           m->listenaddrs[i].len);
	}
	for (size_t i = 0; r == 0 && i < m->n_protocols; i++) {
		if (info->n_protocols >= IDENTIFY_MAX_PROTOCOLS ||
		    strlen(m->protocols[i]) > IDENTIFY_MAX_STRING)
			info->dropped++;
		else
			r = identify_info_add_protocol(info, m->protocols[i]);
	}
	return r;
}

int identify_reader_feed(struct identify_reader *r, const uint8_t *data, size_t len)
{
	if (buf_append(&r->pending, data, len) < 0)
		return -ENOMEM;
	for (;;) {
		const uint8_t *msg;
		size_t msg_len;
		long n = lpmsg_next(r->pending.data, r->pending.len, IDENTIFY_READ_MAX, &msg,
		                    &msg_len);
		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		if (r->messages >= IDENTIFY_READ_MAX_MSGS)
			return -EMSGSIZE;
		IdentifyPb__Identify *m = identify_pb__identify__unpack(NULL, msg_len, msg);
		if (!m)
			return -EBADMSG;
		int e = merge(&r->info, m);
		identify_pb__identify__free_unpacked(m, NULL);
		if (e < 0)
			return e;
		r->messages++;
		buf_consume(&r->pending, (size_t)n);
	}
}

int identify_reader_finish(struct identify_reader *r, struct identify_info *ret)
{
	if (r->pending.len || r->messages == 0)
		return -EBADMSG;
	*ret = r->info;
	memset(&r->info, 0, sizeof(r->info));
	r->messages = 0;
	return 0;
}
