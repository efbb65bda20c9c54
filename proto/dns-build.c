/* DNS message building; see dns.h.
 *
 * Each add writes its entry, then checks the message size; an entry that
 * does not fit is cut off again, so the caller can finish this message and
 * put the entry in the next one (mDNS responses are split to stay under the
 * link MTU). Compression looks up earlier names by decoding them back from
 * the message itself, which keeps the builder small and its table to a list
 * of offsets. */
#include "dns.h"

#include <errno.h>
#include <string.h>

/* Pointers hold 14 bits of offset. */
#define DNS_POINTER_MAX 0x3fff

static uint8_t *msg_bytes(const struct dns_builder *b)
{
	return b->out->data + b->start;
}

size_t dns_builder_len(const struct dns_builder *b)
{
	return b->out->len - b->start;
}

int dns_builder_init(struct dns_builder *b, struct buf *out, size_t max_len, bool compress,
                     uint16_t id, uint16_t flags)
{
	if (max_len < DNS_HEADER_LEN || max_len > DNS_MAX_MESSAGE)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->out = out;
	b->start = out->len;
	b->max_len = max_len;
	b->compress = compress;
	uint8_t *h = buf_extend(out, DNS_HEADER_LEN);
	if (!h)
		return -ENOMEM;
	memset(h, 0, DNS_HEADER_LEN);
	h[0] = (uint8_t)(id >> 8);
	h[1] = (uint8_t)id;
	h[2] = (uint8_t)(flags >> 8);
	h[3] = (uint8_t)flags;
	return 0;
}

/* Offset of an earlier name equal to the suffix of n starting at pos. */
static int find_suffix(const struct dns_builder *b, const struct dns_name *n, size_t pos)
{
	struct dns_name want = {.len = (uint8_t)(n->len - pos)};
	memcpy(want.wire, n->wire + pos, want.len);
	for (size_t i = 0; i < b->n_suffixes; i++) {
		struct dns_name have;
		size_t off = b->suffix_off[i];
		if (dns_read_name(msg_bytes(b), dns_builder_len(b), &off, &have, NULL) == 0 &&
		    dns_name_equal(&have, &want))
			return b->suffix_off[i];
	}
	return -ENOENT;
}

static void remember(struct dns_builder *b, size_t off)
{
	if (off <= DNS_POINTER_MAX && b->n_suffixes < DNS_BUILDER_MAX_SUFFIXES)
		b->suffix_off[b->n_suffixes++] = (uint16_t)off;
}

/* A hand-filled name must still be labels ending in the zero byte. */
static bool name_valid(const struct dns_name *n)
{
	size_t i = 0;
	while (i < n->len && n->wire[i] && n->wire[i] <= DNS_LABEL_MAX)
		i += (size_t)n->wire[i] + 1;
	return i + 1 == n->len && n->wire[i] == 0;
}

static int put_name(struct dns_builder *b, const struct dns_name *n, bool compress)
{
	if (!name_valid(n))
		return -EINVAL;
	size_t pos = 0;
	int at = -ENOENT;
	while (n->wire[pos]) {
		if (compress && (at = find_suffix(b, n, pos)) >= 0)
			break;
		pos += (size_t)n->wire[pos] + 1;
	}
	size_t base = dns_builder_len(b);
	if (buf_append(b->out, n->wire, pos) < 0)
		return -ENOMEM;
	int r = at >= 0 ? buf_append_u16be(b->out, (uint16_t)(0xc000 | at))
	                : buf_append_u8(b->out, 0);
	if (r < 0)
		return -ENOMEM;
	/* Later names may point at any label written here. */
	for (size_t i = 0; i < pos; i += (size_t)n->wire[i] + 1)
		remember(b, base + i);
	return 0;
}

static int check_stage(struct dns_builder *b, int stage)
{
	if (stage < b->stage)
		return -EINVAL;
	if (b->counts[stage] == UINT16_MAX)
		return -EINVAL;
	b->stage = stage;
	return 0;
}

/* Undo a partial entry; -EMSGSIZE if it did not fit. */
static int settle(struct dns_builder *b, size_t len_before, size_t suffixes_before, int stage,
                  int r)
{
	if (r == 0 && dns_builder_len(b) > b->max_len)
		r = -EMSGSIZE;
	if (r < 0) {
		b->out->len = b->start + len_before;
		b->n_suffixes = suffixes_before;
		return r;
	}
	b->counts[stage]++;
	return 0;
}

int dns_builder_add_question(struct dns_builder *b, const struct dns_question *q)
{
	int r = check_stage(b, 0);
	if (r < 0)
		return r;
	size_t len0 = dns_builder_len(b), suf0 = b->n_suffixes;
	uint16_t qclass = (uint16_t)(q->qclass | (q->unicast ? DNS_CLASS_TOP_BIT : 0));
	r = put_name(b, &q->name, b->compress);
	if (r == 0 &&
	    (buf_append_u16be(b->out, q->type) < 0 || buf_append_u16be(b->out, qclass) < 0))
		r = -ENOMEM;
	return settle(b, len0, suf0, 0, r);
}

static bool txt_valid(const struct dns_rr *rr)
{
	size_t off = 0, n;
	const uint8_t *str;
	int r;
	while ((r = dns_txt_next(rr, &off, &str, &n)) > 0)
		;
	return r == 0;
}

static int put_rdata(struct dns_builder *b, const struct dns_rr *rr)
{
	switch (rr->type) {
	case DNS_TYPE_A:
		return buf_append(b->out, rr->a, 4);
	case DNS_TYPE_AAAA:
		return buf_append(b->out, rr->aaaa, 16);
	case DNS_TYPE_PTR:
		return put_name(b, &rr->ptr, b->compress);
	case DNS_TYPE_SRV:
		if (buf_append_u16be(b->out, rr->srv.priority) < 0 ||
		    buf_append_u16be(b->out, rr->srv.weight) < 0 ||
		    buf_append_u16be(b->out, rr->srv.port) < 0)
			return -ENOMEM;
		/* RFC 2782 forbids compressing the SRV target for unicast
		 * DNS; old parsers follow it, so we never do. */
		return put_name(b, &rr->srv.target, false);
	case DNS_TYPE_TXT:
		if (!txt_valid(rr))
			return -EINVAL;
		return buf_append(b->out, rr->raw.data, rr->raw.len);
	default:
		return buf_append(b->out, rr->raw.data, rr->raw.len);
	}
}

static int put_rr(struct dns_builder *b, const struct dns_rr *rr)
{
	uint16_t rclass = (uint16_t)(rr->rclass | (rr->cache_flush ? DNS_CLASS_TOP_BIT : 0));
	int r = put_name(b, &rr->name, b->compress);
	if (r < 0)
		return r;
	if (buf_append_u16be(b->out, rr->type) < 0 || buf_append_u16be(b->out, rclass) < 0 ||
	    buf_append_u32be(b->out, rr->ttl) < 0 || buf_append_u16be(b->out, 0) < 0)
		return -ENOMEM;
	size_t rdstart = b->out->len;
	r = put_rdata(b, rr);
	if (r < 0)
		return r;
	size_t rdlen = b->out->len - rdstart;
	if (rdlen > UINT16_MAX)
		return -EINVAL;
	b->out->data[rdstart - 2] = (uint8_t)(rdlen >> 8);
	b->out->data[rdstart - 1] = (uint8_t)rdlen;
	return 0;
}

int dns_builder_add_rr(struct dns_builder *b, enum dns_section s, const struct dns_rr *rr)
{
	int stage = 1 + (int)s;
	if (s > DNS_SECTION_ADDITIONAL)
		return -EINVAL;
	int r = check_stage(b, stage);
	if (r < 0)
		return r;
	size_t len0 = dns_builder_len(b), suf0 = b->n_suffixes;
	r = put_rr(b, rr);
	return settle(b, len0, suf0, stage, r);
}

void dns_builder_mark(const struct dns_builder *b, struct dns_builder_mark *ret)
{
	ret->len = dns_builder_len(b);
	ret->n_suffixes = b->n_suffixes;
	memcpy(ret->counts, b->counts, sizeof(ret->counts));
	ret->stage = b->stage;
}

void dns_builder_rollback(struct dns_builder *b, const struct dns_builder_mark *m)
{
	b->out->len = b->start + m->len;
	b->n_suffixes = m->n_suffixes;
	memcpy(b->counts, m->counts, sizeof(b->counts));
	b->stage = m->stage;
}

void dns_builder_finish(struct dns_builder *b)
{
	uint8_t *h = msg_bytes(b);
	for (int i = 0; i < 4; i++) {
		h[4 + 2 * i] = (uint8_t)(b->counts[i] >> 8);
		h[5 + 2 * i] = (uint8_t)b->counts[i];
	}
}

void dns_builder_abort(struct dns_builder *b)
{
	b->out->len = b->start;
	b->n_suffixes = 0;
}
