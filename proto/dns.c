/* DNS message parsing and name helpers; see dns.h for the rules enforced.
 *
 * Everything from the wire goes through a bounded cursor or an explicit
 * bounds check against the packet length. Names are decoded into their
 * uncompressed wire form so the mDNS layer compares them without caring how
 * the sender compressed them. The message builder lives in dns-build.c. */
#include "dns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

/* Smallest encodings: a question is a root name and type and class; a
 * record adds a TTL and an RDLENGTH. Used to refuse lying counts early. */
#define DNS_MIN_QUESTION 5
#define DNS_MIN_RR 11

static int bad(struct errmsg *err, size_t off, const char *what)
{
	return errmsg_set(err, -EBADMSG, "dns: %s at offset %zu", what, off);
}

int dns_read_name(const uint8_t *pkt, size_t pkt_len, size_t *off, struct dns_name *ret,
                  struct errmsg *err)
{
	size_t pos = *off, seg_start = *off, end = 0;
	unsigned jumps = 0;
	uint8_t len = 0;
	for (;;) {
		if (pos >= pkt_len)
			return bad(err, pos, "name runs past the end of the message");
		uint8_t b = pkt[pos];
		if (b == 0) {
			ret->wire[len++] = 0;
			if (!end)
				end = pos + 1;
			break;
		}
		if ((b & 0xc0) == 0xc0) {
			if (pos + 1 >= pkt_len)
				return bad(err, pos, "compression pointer cut short");
			size_t target = ((size_t)(b & 0x3f) << 8) | pkt[pos + 1];
			if (target >= seg_start || target < DNS_HEADER_LEN) {
				char what[80];
				snprintf(what, sizeof(what),
				         "compression pointer to %zu does not point backwards",
				         target);
				return bad(err, pos, what);
			}
			if (++jumps > DNS_MAX_JUMPS)
				return bad(err, pos, "too many compression pointers in one name");
			if (!end)
				end = pos + 2;
			pos = seg_start = target;
			continue;
		}
		if (b & 0xc0)
			return bad(err, pos, "unsupported label type");
		/* Room for this label and the final zero byte. */
		if ((size_t)len + 1 + b + 1 > DNS_NAME_MAX)
			return bad(err, pos, "name longer than 255 octets");
		if (pos + 1 + b > pkt_len)
			return bad(err, pos, "label runs past the end of the message");
		memcpy(ret->wire + len, pkt + pos, (size_t)b + 1);
		len = (uint8_t)(len + b + 1);
		pos += (size_t)b + 1;
	}
	ret->len = len;
	*off = end;
	return 0;
}

static int check_txt(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len)
		i += (size_t)p[i] + 1;
	return i == len ? 0 : -EBADMSG;
}

/* Decode a name that must end exactly at rdata_end; its labels may not
 * run past the rdata either. */
static int read_rdata_name(const uint8_t *pkt, size_t off, size_t rdata_end, struct dns_name *ret,
                           struct errmsg *err)
{
	int r = dns_read_name(pkt, rdata_end, &off, ret, err);
	if (r < 0)
		return r;
	if (off != rdata_end)
		return bad(err, off, "name does not fill its rdata");
	return 0;
}

static int read_rdata(const uint8_t *pkt, size_t off, uint16_t rdlen, struct dns_rr *rr,
                      struct errmsg *err)
{
	size_t end = off + rdlen;
	switch (rr->type) {
	case DNS_TYPE_A:
		if (rdlen != 4)
			return bad(err, off, "A record rdata is not 4 bytes");
		memcpy(rr->a, pkt + off, 4);
		return 0;
	case DNS_TYPE_AAAA:
		if (rdlen != 16)
			return bad(err, off, "AAAA record rdata is not 16 bytes");
		memcpy(rr->aaaa, pkt + off, 16);
		return 0;
	case DNS_TYPE_PTR:
		return read_rdata_name(pkt, off, end, &rr->ptr, err);
	case DNS_TYPE_SRV: {
		struct cursor c;
		cur_init(&c, pkt + off, rdlen);
		if (cur_get_u16be(&c, &rr->srv.priority) < 0 ||
		    cur_get_u16be(&c, &rr->srv.weight) < 0 || cur_get_u16be(&c, &rr->srv.port) < 0)
			return bad(err, off, "SRV rdata too short");
		return read_rdata_name(pkt, off + 6, end, &rr->srv.target, err);
	}
	case DNS_TYPE_TXT:
		if (check_txt(pkt + off, rdlen) < 0)
			return bad(err, off, "TXT string runs past its rdata");
		break;
	default:
		break;
	}
	rr->raw.data = pkt + off;
	rr->raw.len = rdlen;
	return 0;
}

static int read_question(const uint8_t *pkt, size_t len, size_t *off, struct dns_question *q,
                         struct errmsg *err)
{
	int r = dns_read_name(pkt, len, off, &q->name, err);
	if (r < 0)
		return r;
	struct cursor c;
	cur_init(&c, pkt, len);
	c.off = *off;
	uint16_t qclass;
	if (cur_get_u16be(&c, &q->type) < 0 || cur_get_u16be(&c, &qclass) < 0)
		return bad(err, *off, "question cut short");
	q->unicast = (qclass & DNS_CLASS_TOP_BIT) != 0;
	q->qclass = qclass & (uint16_t)~DNS_CLASS_TOP_BIT;
	*off = c.off;
	return 0;
}

static int read_rr(const uint8_t *pkt, size_t len, size_t *off, struct dns_rr *rr,
                   struct errmsg *err)
{
	int r = dns_read_name(pkt, len, off, &rr->name, err);
	if (r < 0)
		return r;
	struct cursor c;
	cur_init(&c, pkt, len);
	c.off = *off;
	uint16_t rclass, rdlen;
	if (cur_get_u16be(&c, &rr->type) < 0 || cur_get_u16be(&c, &rclass) < 0 ||
	    cur_get_u32be(&c, &rr->ttl) < 0 || cur_get_u16be(&c, &rdlen) < 0)
		return bad(err, *off, "record header cut short");
	if (rdlen > cur_remaining(&c))
		return bad(err, c.off, "rdata runs past the end of the message");
	rr->cache_flush = (rclass & DNS_CLASS_TOP_BIT) != 0;
	rr->rclass = rclass & (uint16_t)~DNS_CLASS_TOP_BIT;
	r = read_rdata(pkt, c.off, rdlen, rr, err);
	if (r < 0)
		return r;
	*off = c.off + rdlen;
	return 0;
}

static int check_counts(const uint16_t counts[4], size_t left, struct errmsg *err)
{
	size_t n_rr = (size_t)counts[1] + counts[2] + counts[3];
	if (counts[0] > DNS_MAX_QUESTIONS)
		return errmsg_set(err, -EMSGSIZE, "dns: %u questions exceed the cap of %d",
		                  counts[0], DNS_MAX_QUESTIONS);
	if (n_rr > DNS_MAX_RRS)
		return errmsg_set(err, -EMSGSIZE, "dns: %zu records exceed the cap of %d", n_rr,
		                  DNS_MAX_RRS);
	if ((size_t)counts[0] * DNS_MIN_QUESTION + n_rr * DNS_MIN_RR > left)
		return errmsg_set(err, -EBADMSG,
		                  "dns: header announces %u questions and %zu records but only "
		                  "%zu bytes follow at offset %d",
		                  counts[0], n_rr, left, DNS_HEADER_LEN);
	return 0;
}

static int read_sections(const uint8_t *data, size_t len, struct dns_msg *m, struct errmsg *err)
{
	size_t off = DNS_HEADER_LEN;
	size_t n_rr = m->n_an + m->n_ns + m->n_ar;
	for (size_t i = 0; i < m->n_qd; i++) {
		int r = read_question(data, len, &off, &m->qd[i], err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n_rr; i++) {
		int r = read_rr(data, len, &off, &m->rr[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int dns_parse(const uint8_t *data, size_t len, struct dns_msg *ret, struct errmsg *err)
{
	if (len > DNS_MAX_MESSAGE)
		return errmsg_set(err, -EMSGSIZE, "dns: message of %zu bytes exceeds %d", len,
		                  DNS_MAX_MESSAGE);
	struct cursor c;
	cur_init(&c, data, len);
	struct dns_msg m = {0};
	uint16_t counts[4];
	if (cur_get_u16be(&c, &m.id) < 0 || cur_get_u16be(&c, &m.flags) < 0)
		return bad(err, 0, "header cut short");
	for (int i = 0; i < 4; i++)
		if (cur_get_u16be(&c, &counts[i]) < 0)
			return bad(err, c.off, "header cut short");
	int r = check_counts(counts, cur_remaining(&c), err);
	if (r < 0)
		return r;
	m.n_qd = counts[0];
	m.n_an = counts[1];
	m.n_ns = counts[2];
	m.n_ar = counts[3];
	size_t n_rr = m.n_an + m.n_ns + m.n_ar;
	m.qd = m.n_qd ? calloc(m.n_qd, sizeof(*m.qd)) : NULL;
	m.rr = n_rr ? calloc(n_rr, sizeof(*m.rr)) : NULL;
	if ((m.n_qd && !m.qd) || (n_rr && !m.rr)) {
		dns_msg_free(&m);
		return -ENOMEM;
	}
	r = read_sections(data, len, &m, err);
	if (r < 0) {
		dns_msg_free(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void dns_msg_free(struct dns_msg *m)
{
	if (!m)
		return;
	free(m->qd);
	free(m->rr);
	memset(m, 0, sizeof(*m));
}

const struct dns_rr *dns_msg_section(const struct dns_msg *m, enum dns_section s, size_t *ret_n)
{
	switch (s) {
	case DNS_SECTION_ANSWER:
		*ret_n = m->n_an;
		return m->rr;
	case DNS_SECTION_AUTHORITY:
		*ret_n = m->n_ns;
		return m->rr + m->n_an;
	case DNS_SECTION_ADDITIONAL:
		*ret_n = m->n_ar;
		return m->rr + m->n_an + m->n_ns;
	}
	*ret_n = 0;
	return NULL;
}

int dns_txt_next(const struct dns_rr *rr, size_t *off, const uint8_t **ret_s, size_t *ret_len)
{
	if (*off >= rr->raw.len)
		return 0;
	size_t n = rr->raw.data[*off];
	if (n > rr->raw.len - *off - 1)
		return -EBADMSG;
	*ret_s = rr->raw.data + *off + 1;
	*ret_len = n;
	*off += n + 1;
	return 1;
}

int dns_txt_append(struct buf *rdata, const void *s, size_t len)
{
	if (len > 255 || rdata->len + 1 + len > 65535)
		return -EMSGSIZE;
	size_t before = rdata->len;
	if (buf_append_u8(rdata, (uint8_t)len) < 0 || buf_append(rdata, s, len) < 0) {
		rdata->len = before;
		return -ENOMEM;
	}
	return 0;
}

static int put_label(struct dns_name *n, const char *label, size_t len)
{
	if (len == 0 || len > DNS_LABEL_MAX || memchr(label, '.', len))
		return -EINVAL;
	if ((size_t)n->len + 1 + len + 1 > DNS_NAME_MAX)
		return -EMSGSIZE;
	n->wire[n->len] = (uint8_t)len;
	memcpy(n->wire + n->len + 1, label, len);
	n->len = (uint8_t)(n->len + 1 + len);
	return 0;
}

int dns_name_from_text(const char *text, struct dns_name *ret)
{
	struct dns_name n = {0};
	size_t tlen = strlen(text);
	if (tlen && text[tlen - 1] == '.')
		tlen--;
	for (size_t i = 0; i < tlen;) {
		const char *dot = memchr(text + i, '.', tlen - i);
		size_t l = dot ? (size_t)(dot - (text + i)) : tlen - i;
		if (memchr(text + i, '\\', l))
			return -EINVAL;
		int r = put_label(&n, text + i, l);
		if (r < 0)
			return r;
		i += l + 1;
		if (dot && i == tlen)
			return -EINVAL; /* "a..": an empty last label */
	}
	n.wire[n.len++] = 0;
	*ret = n;
	return 0;
}

int dns_name_prepend(const struct dns_name *name, const char *label, size_t label_len,
                     struct dns_name *ret)
{
	struct dns_name n = {0};
	int r = put_label(&n, label, label_len);
	if (r < 0)
		return r;
	if ((size_t)n.len + name->len > DNS_NAME_MAX)
		return -EMSGSIZE;
	memcpy(n.wire + n.len, name->wire, name->len);
	n.len = (uint8_t)(n.len + name->len);
	*ret = n;
	return 0;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Label length bytes are below 64 and so never letters: lowering the
 * whole wire form compares labels and structure at once. */
static bool wire_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool dns_name_equal(const struct dns_name *a, const struct dns_name *b)
{
	return a->len == b->len && wire_equal(a->wire, b->wire, a->len);
}

bool dns_name_is_child(const struct dns_name *name, const struct dns_name *parent,
                       const uint8_t **ret_label, size_t *ret_len)
{
	if (name->len < 2 || name->wire[0] == 0)
		return false;
	size_t first = (size_t)name->wire[0] + 1;
	if (first + parent->len != name->len)
		return false;
	if (!wire_equal(name->wire + first, parent->wire, parent->len))
		return false;
	*ret_label = name->wire + 1;
	*ret_len = name->wire[0];
	return true;
}

static bool plain_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int dns_name_to_text(const struct dns_name *name, char *out, size_t out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < name->len && name->wire[i];) {
		size_t l = name->wire[i++];
		for (size_t j = 0; j < l; j++, i++) {
			uint8_t c = name->wire[i];
			int n = plain_char(c) ? snprintf(out + o, out_len - o, "%c", c)
			                      : snprintf(out + o, out_len - o, "\\%03u", c);
			if (n < 0 || (size_t)n >= out_len - o)
				return -ENOBUFS;
			o += (size_t)n;
		}
		if (o + 2 > out_len)
			return -ENOBUFS;
		out[o++] = '.';
	}
	if (o == 0) {
		if (out_len < 2)
			return -ENOBUFS;
		out[o++] = '.';
	} else {
		o--; /* no trailing dot */
	}
	out[o] = '\0';
	return (int)o;
}
