/* Multiaddrs: self-describing network addresses, binary on the wire
 * (identify, kad, relay, peer records) and text for people and config.
 *
 * The binary form is canonical and is what struct multiaddr holds; it is
 * only ever built by validating every component (multiaddr_from_bytes) or by
 * encoding parsed text, so code holding a struct multiaddr can walk it
 * without re-checking. One table row per protocol says how its value is
 * encoded; the parse and print paths dispatch on the row's value kind. */
#include "multiaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cursor.h"
#include "varint.h"

enum value_kind { V_NONE, V_IP4, V_IP6, V_PORT, V_P2P, V_DNS };

struct proto_info {
	enum ma_proto code;
	const char *name;
	enum value_kind kind;
};

static const struct proto_info protos[] = {
        {MA_IP4, "ip4", V_IP4},
        {MA_TCP, "tcp", V_PORT},
        {MA_UDP, "udp", V_PORT},
        {MA_IP6, "ip6", V_IP6},
        {MA_DNS, "dns", V_DNS},
        {MA_DNS4, "dns4", V_DNS},
        {MA_DNS6, "dns6", V_DNS},
        {MA_DNSADDR, "dnsaddr", V_DNS},
        {MA_QUIC_V1, "quic-v1", V_NONE},
        {MA_P2P, "p2p", V_P2P},
        {MA_P2P_CIRCUIT, "p2p-circuit", V_NONE},
};

/* Real protocols.csv entries we do not handle, so that an error can say
 * "not supported" rather than "unknown". */
static const struct {
	unsigned code;
	const char *name;
} unsupported[] = {
        {33, "dccp"},           {42, "ip6zone"},   {43, "ipcidr"},    {132, "sctp"},
        {280, "webrtc-direct"}, {281, "webrtc"},   {400, "unix"},     {444, "onion"},
        {445, "onion3"},        {446, "garlic64"}, {447, "garlic32"}, {448, "tls"},
        {449, "sni"},           {454, "noise"},    {460, "quic"},     {465, "webtransport"},
        {466, "certhash"},      {477, "ws"},       {478, "wss"},      {480, "http"},
        {443, "https"},         {301, "udt"},      {302, "utp"},      {777, "memory"},
};

#define NPROTOS (sizeof(protos) / sizeof(protos[0]))
#define NUNSUPPORTED (sizeof(unsupported) / sizeof(unsupported[0]))

static const struct proto_info *by_code(uint64_t code)
{
	for (size_t i = 0; i < NPROTOS; i++)
		if (protos[i].code == code)
			return &protos[i];
	return NULL;
}

static const struct proto_info *by_name(const char *name, size_t len)
{
	/* "ipfs" is the legacy name of p2p; we read it and never print it. */
	if (len == 4 && memcmp(name, "ipfs", 4) == 0)
		return by_code(MA_P2P);
	for (size_t i = 0; i < NPROTOS; i++)
		if (strlen(protos[i].name) == len && memcmp(protos[i].name, name, len) == 0)
			return &protos[i];
	return NULL;
}

static size_t fixed_size(enum value_kind k)
{
	switch (k) {
	case V_IP4:
		return 4;
	case V_IP6:
		return 16;
	case V_PORT:
		return 2;
	default:
		return 0;
	}
}

static size_t value_cap(enum value_kind k)
{
	return k == V_P2P ? PEERID_MAX_LEN : MULTIADDR_DNS_MAX;
}

/* Length of the valid UTF-8 name without '/' or control characters at s,
 * i.e. len when all of it is fine, else the offset of the first bad byte. */
static size_t name_valid_prefix(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f || c == '/')
				return i;
			i++;
			continue;
		}
		size_t n = (c & 0xe0) == 0xc0   ? 2
		           : (c & 0xf0) == 0xe0 ? 3
		           : (c & 0xf8) == 0xf0 ? 4
		                                : 0;
		if (n == 0 || i + n > len)
			return i;
		uint32_t cp = c & (0x7f >> n);
		for (size_t j = 1; j < n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF, C1 controls. */
		static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min_cp[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp < 0xa0))
			return i;
		i += n;
	}
	return len;
}

/* ---- binary -> components ---- */

static int read_value(struct cursor *c, const struct proto_info *p, size_t index,
                      struct ma_component *ret, struct errmsg *err)
{
	uint64_t len = fixed_size(p->kind);
	if (p->kind == V_P2P || p->kind == V_DNS) {
		int r = cur_get_varint(c, 0, &len);
		if (r < 0)
			return errmsg_set(
			        err, -EBADMSG, "multiaddr: %s value length for %s at component %zu",
			        r == -ENODATA ? "truncated" : "malformed", p->name, index);
		if (len == 0)
			return errmsg_set(err, -EBADMSG,
			                  "multiaddr: empty value for %s at component %zu", p->name,
			                  index);
		if (len > value_cap(p->kind))
			return errmsg_set(
			        err, -EMSGSIZE,
			        "multiaddr: %llu-byte value for %s at component %zu is over "
			        "the %zu limit",
			        (unsigned long long)len, p->name, index, value_cap(p->kind));
	}
	if (cur_get_bytes(c, (size_t)len, &ret->value) < 0)
		return errmsg_set(err, -EBADMSG,
		                  "multiaddr: truncated value for %s at component %zu (%llu bytes "
		                  "needed, %zu left)",
		                  p->name, index, (unsigned long long)len, cur_remaining(c));
	ret->value_len = (size_t)len;
	return 0;
}

static int check_value(const struct proto_info *p, const struct ma_component *comp, size_t index,
                       struct errmsg *err)
{
	struct peerid id;
	size_t ok;
	switch (p->kind) {
	case V_P2P:
		if (peerid_from_bytes(comp->value, comp->value_len, &id) < 0)
			return errmsg_set(err, -EBADMSG,
			                  "multiaddr: bad peer ID bytes for p2p at component %zu",
			                  index);
		return 0;
	case V_DNS:
		ok = name_valid_prefix(comp->value, comp->value_len);
		if (ok != comp->value_len)
			return errmsg_set(
			        err, -EBADMSG,
			        "multiaddr: bad name for %s at component %zu ('/', control "
			        "character or invalid UTF-8 at byte %zu)",
			        p->name, index, ok + 1);
		return 0;
	default:
		return 0;
	}
}

/* One component at the cursor, fully checked; index is 1-based. */
static int read_component(struct cursor *c, size_t index, struct ma_component *ret,
                          struct errmsg *err)
{
	struct cursor t = *c;
	uint64_t code;
	int r = cur_get_varint(&t, 0, &code);
	if (r < 0)
		return errmsg_set(err, -EBADMSG, "multiaddr: %s protocol code at component %zu",
		                  r == -ENODATA ? "truncated" : "malformed", index);
	const struct proto_info *p = by_code(code);
	if (!p) {
		for (size_t i = 0; i < NUNSUPPORTED; i++)
			if (unsupported[i].code == code)
				return errmsg_set(
				        err, -EPROTONOSUPPORT,
				        "multiaddr: protocol %s (code %llu) at component %zu "
				        "is not supported",
				        unsupported[i].name, (unsigned long long)code, index);
		return errmsg_set(err, -EPROTONOSUPPORT,
		                  "multiaddr: unknown protocol code %llu at component %zu",
		                  (unsigned long long)code, index);
	}
	struct ma_component comp = {.proto = p->code, .value = NULL, .value_len = 0};
	if ((r = read_value(&t, p, index, &comp, err)) < 0)
		return r;
	if ((r = check_value(p, &comp, index, err)) < 0)
		return r;
	*c = t;
	*ret = comp;
	return 0;
}

/* ---- components -> text ---- */

static int append_value_text(const struct proto_info *p, const struct ma_component *comp,
                             struct buf *out)
{
	char tmp[PEERID_TEXT_MAX > INET6_ADDRSTRLEN ? PEERID_TEXT_MAX : INET6_ADDRSTRLEN];
	struct peerid id;
	int r;
	switch (p->kind) {
	case V_IP4:
	case V_IP6:
		if (!inet_ntop(p->kind == V_IP4 ? AF_INET : AF_INET6, comp->value, tmp,
		               sizeof(tmp)))
			return -EINVAL;
		return buf_append_str(out, tmp);
	case V_PORT:
		snprintf(tmp, sizeof(tmp), "%u", (unsigned)comp->value[0] << 8 | comp->value[1]);
		return buf_append_str(out, tmp);
	case V_P2P:
		if ((r = peerid_from_bytes(comp->value, comp->value_len, &id)) < 0 ||
		    (r = peerid_to_string(&id, tmp, sizeof(tmp))) < 0)
			return r;
		return buf_append_str(out, tmp);
	case V_DNS:
		return buf_append(out, comp->value, comp->value_len);
	case V_NONE:
		break;
	}
	return 0;
}

/* Validates bytes and renders the text (NUL-terminated) into text. */
static int render(const uint8_t *data, size_t len, struct buf *text, struct errmsg *err)
{
	if (len > MULTIADDR_MAX_LEN)
		return errmsg_set(err, -EMSGSIZE, "multiaddr: %zu bytes is over the %d-byte limit",
		                  len, MULTIADDR_MAX_LEN);
	struct cursor c;
	cur_init(&c, data, len);
	int r = 0;
	for (size_t index = 1; !cur_eof(&c) && r >= 0; index++) {
		struct ma_component comp;
		if ((r = read_component(&c, index, &comp, err)) < 0)
			return r;
		const struct proto_info *p = by_code(comp.proto);
		r = buf_append_u8(text, '/');
		if (r >= 0)
			r = buf_append_str(text, p->name);
		if (r >= 0 && p->kind != V_NONE) {
			r = buf_append_u8(text, '/');
			if (r >= 0)
				r = append_value_text(p, &comp, text);
		}
	}
	if (r >= 0 && len == 0)
		r = buf_append_u8(text, '/');
	if (r >= 0)
		r = buf_append_u8(text, '\0');
	if (r < 0)
		return errmsg_set(err, r, "multiaddr: cannot print (%s)", strerror(-r));
	if (text->len > MULTIADDR_TEXT_MAX)
		return errmsg_set(err, -EMSGSIZE, "multiaddr: text form is over %d characters",
		                  MULTIADDR_TEXT_MAX - 1);
	return 0;
}

static int validate(const uint8_t *data, size_t len, struct errmsg *err)
{
	if (len == 0)
		return errmsg_set(err, -EINVAL, "multiaddr: empty address");
	_cleanup_buf_ struct buf text = BUF_INIT;
	return render(data, len, &text, err);
}

int multiaddr_from_bytes(const uint8_t *data, size_t len, struct multiaddr *ret, struct errmsg *err)
{
	int r = validate(data, len, err);
	if (r < 0)
		return r;
	uint8_t *copy = malloc(len);
	if (!copy)
		return errmsg_set(err, -ENOMEM, "multiaddr: out of memory");
	memcpy(copy, data, len);
	*ret = (struct multiaddr){copy, len};
	return 0;
}

int multiaddr_to_string(const struct multiaddr *ma, char *out, size_t out_len)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	int r = render(ma->bytes, ma->len, &text, NULL);
	if (r < 0)
		return r;
	if (text.len > out_len)
		return -ENOBUFS;
	memcpy(out, text.data, text.len);
	return (int)(text.len - 1);
}

/* ---- text -> binary ---- */

/* A text segment: [s, s + len) of the input. */
struct seg {
	const char *s;
	size_t len;
};

static int bad_value(const char *what, const struct proto_info *p, struct seg v, size_t index,
                     struct errmsg *err)
{
	return errmsg_set(err, -EINVAL, "multiaddr: bad %s '%.*s' for %s at component %zu", what,
	                  (int)(v.len > 64 ? 64 : v.len), v.s, p->name, index);
}

static int parse_ip(const struct proto_info *p, struct seg v, size_t index, struct buf *out,
                    struct errmsg *err)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	uint8_t addr[16];
	const char *what = p->kind == V_IP4 ? "IPv4 address" : "IPv6 address";
	if (v.len >= sizeof(tmp))
		return bad_value(what, p, v, index, err);
	memcpy(tmp, v.s, v.len);
	tmp[v.len] = '\0';
	if (inet_pton(p->kind == V_IP4 ? AF_INET : AF_INET6, tmp, addr) != 1)
		return bad_value(what, p, v, index, err);
	return buf_append(out, addr, fixed_size(p->kind));
}

static int parse_port(const struct proto_info *p, struct seg v, size_t index, struct buf *out,
                      struct errmsg *err)
{
	unsigned port = 0;
	if (v.len > 5)
		return bad_value("port", p, v, index, err);
	for (size_t i = 0; i < v.len; i++) {
		if (v.s[i] < '0' || v.s[i] > '9')
			return bad_value("port", p, v, index, err);
		port = port * 10 + (unsigned)(v.s[i] - '0');
	}
	if (port > 65535)
		return bad_value("port", p, v, index, err);
	return buf_append_u16be(out, (uint16_t)port);
}

static int parse_p2p(const struct proto_info *p, struct seg v, size_t index, struct buf *out,
                     struct errmsg *err)
{
	char tmp[PEERID_TEXT_MAX];
	struct peerid id;
	if (v.len >= sizeof(tmp))
		return errmsg_set(err, -EINVAL,
		                  "multiaddr: bad peer ID for %s at component %zu: longer than %d "
		                  "characters",
		                  p->name, index, PEERID_TEXT_MAX - 1);
	memcpy(tmp, v.s, v.len);
	tmp[v.len] = '\0';
	struct errmsg perr = {{0}};
	int r = peerid_parse(tmp, &id, &perr);
	if (r < 0)
		return errmsg_set(err, r, "multiaddr: bad peer ID for %s at component %zu: %s",
		                  p->name, index, perr.text);
	if ((r = buf_append_varint(out, id.len)) < 0)
		return r;
	return buf_append(out, id.bytes, id.len);
}

static int parse_dns(const struct proto_info *p, struct seg v, size_t index, struct buf *out,
                     struct errmsg *err)
{
	if (v.len > MULTIADDR_DNS_MAX)
		return errmsg_set(err, -EMSGSIZE,
		                  "multiaddr: %zu-byte name for %s at component %zu is over the %d "
		                  "limit",
		                  v.len, p->name, index, MULTIADDR_DNS_MAX);
	size_t ok = name_valid_prefix((const uint8_t *)v.s, v.len);
	if (ok != v.len)
		return errmsg_set(err, -EINVAL,
		                  "multiaddr: bad name for %s at component %zu (control character "
		                  "or invalid UTF-8 at byte %zu)",
		                  p->name, index, ok + 1);
	int r = buf_append_varint(out, v.len);
	if (r < 0)
		return r;
	return buf_append(out, v.s, v.len);
}

static int parse_value(const struct proto_info *p, struct seg v, size_t index, struct buf *out,
                       struct errmsg *err)
{
	switch (p->kind) {
	case V_IP4:
	case V_IP6:
		return parse_ip(p, v, index, out, err);
	case V_PORT:
		return parse_port(p, v, index, out, err);
	case V_P2P:
		return parse_p2p(p, v, index, out, err);
	case V_DNS:
		return parse_dns(p, v, index, out, err);
	case V_NONE:
		break;
	}
	return 0;
}

static struct seg next_seg(const char *s)
{
	const char *slash = strchr(s, '/');
	return (struct seg){s, slash ? (size_t)(slash - s) : strlen(s)};
}

static int unknown_name(struct seg name, size_t index, struct errmsg *err)
{
	for (size_t i = 0; i < NUNSUPPORTED; i++)
		if (strlen(unsupported[i].name) == name.len &&
		    memcmp(unsupported[i].name, name.s, name.len) == 0)
			return errmsg_set(
			        err, -EPROTONOSUPPORT,
			        "multiaddr: protocol '%s' at component %zu is not supported",
			        unsupported[i].name, index);
	return errmsg_set(err, -EPROTONOSUPPORT,
	                  "multiaddr: unknown protocol '%.*s' at component %zu",
	                  (int)(name.len > 64 ? 64 : name.len), name.s, index);
}

/* Parses one "name[/value]" at *pos (just after a '/'), appends its binary
 * form and moves *pos past it and its trailing '/'. */
static int parse_component(const char **pos, size_t index, struct buf *out, struct errmsg *err)
{
	struct seg name = next_seg(*pos);
	if (name.len == 0)
		return errmsg_set(err, -EINVAL, "multiaddr: empty protocol name at component %zu",
		                  index);
	const struct proto_info *p = by_name(name.s, name.len);
	if (!p)
		return unknown_name(name, index, err);
	int r = buf_append_varint(out, p->code);
	if (r < 0)
		return r;
	const char *end = name.s + name.len;
	if (p->kind != V_NONE) {
		struct seg v = *end == '/' ? next_seg(end + 1) : (struct seg){end, 0};
		if (v.len == 0)
			return errmsg_set(err, -EINVAL,
			                  "multiaddr: missing value for %s at component %zu",
			                  p->name, index);
		if ((r = parse_value(p, v, index, out, err)) < 0)
			return r;
		end = v.s + v.len;
	}
	if (out->len > MULTIADDR_MAX_LEN)
		return errmsg_set(err, -EMSGSIZE, "multiaddr: over %d bytes at component %zu (%s)",
		                  MULTIADDR_MAX_LEN, index, p->name);
	*pos = *end == '/' ? end + 1 : end;
	return 0;
}

int multiaddr_parse(const char *text, struct multiaddr *ret, struct errmsg *err)
{
	if (!text || text[0] != '/')
		return errmsg_set(err, -EINVAL, "multiaddr: must start with '/'");
	if (strnlen(text, MULTIADDR_TEXT_MAX) >= MULTIADDR_TEXT_MAX)
		return errmsg_set(err, -EMSGSIZE, "multiaddr: text is over %d characters",
		                  MULTIADDR_TEXT_MAX - 1);
	_cleanup_buf_ struct buf b = BUF_INIT;
	const char *pos = text + 1;
	int r;
	for (size_t index = 1; *pos; index++)
		if ((r = parse_component(&pos, index, &b, err)) < 0)
			return r == -ENOMEM ? errmsg_set(err, r, "multiaddr: out of memory") : r;
	if ((r = validate(b.data, b.len, err)) < 0)
		return r;
	size_t len;
	uint8_t *bytes = buf_steal(&b, &len);
	*ret = (struct multiaddr){bytes, len};
	return 0;
}

/* ---- struct multiaddr helpers ---- */

void multiaddr_free(struct multiaddr *ma)
{
	if (!ma)
		return;
	free(ma->bytes);
	ma->bytes = NULL;
	ma->len = 0;
}

int multiaddr_copy(const struct multiaddr *src, struct multiaddr *ret)
{
	uint8_t *copy = malloc(src->len ? src->len : 1);
	if (!copy)
		return -ENOMEM;
	if (src->len)
		memcpy(copy, src->bytes, src->len);
	*ret = (struct multiaddr){copy, src->len};
	return 0;
}

bool multiaddr_equal(const struct multiaddr *a, const struct multiaddr *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
}

int multiaddr_next(const struct multiaddr *ma, size_t *off, struct ma_component *ret)
{
	if (*off >= ma->len)
		return 0;
	struct cursor c;
	cur_init(&c, ma->bytes, ma->len);
	c.off = *off;
	/* The index only feeds error text, which nobody reads here. */
	int r = read_component(&c, 1, ret, NULL);
	if (r < 0)
		return r;
	*off = c.off;
	return 1;
}

int multiaddr_count(const struct multiaddr *ma)
{
	size_t off = 0;
	struct ma_component comp;
	int n = 0, r;
	while ((r = multiaddr_next(ma, &off, &comp)) > 0)
		n++;
	return r < 0 ? r : n;
}

/* Offset and content of the last component; -ENOENT when empty. */
static int last_component(const struct multiaddr *ma, size_t *ret_off, struct ma_component *ret)
{
	size_t off = 0;
	int r, n = 0;
	for (;;) {
		size_t start = off;
		struct ma_component comp;
		if ((r = multiaddr_next(ma, &off, &comp)) <= 0)
			break;
		*ret = comp;
		*ret_off = start;
		n++;
	}
	if (r < 0)
		return r;
	return n ? 0 : -ENOENT;
}

int multiaddr_append_p2p(struct multiaddr *ma, const struct peerid *id)
{
	if (id->len == 0 || id->len > PEERID_MAX_LEN)
		return -EINVAL;
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r = buf_append(&b, ma->bytes, ma->len);
	if (r >= 0)
		r = buf_append_varint(&b, MA_P2P);
	if (r >= 0)
		r = buf_append_varint(&b, id->len);
	if (r >= 0)
		r = buf_append(&b, id->bytes, id->len);
	if (r >= 0)
		r = validate(b.data, b.len, NULL);
	if (r < 0)
		return r;
	free(ma->bytes);
	ma->bytes = buf_steal(&b, &ma->len);
	return 0;
}

int multiaddr_get_p2p(const struct multiaddr *ma, struct peerid *ret)
{
	size_t off;
	struct ma_component comp;
	int r = last_component(ma, &off, &comp);
	if (r == -ENOENT || (r == 0 && comp.proto != MA_P2P))
		return 0;
	if (r < 0)
		return r;
	if ((r = peerid_from_bytes(comp.value, comp.value_len, ret)) < 0)
		return r;
	return 1;
}

void multiaddr_strip_p2p(struct multiaddr *ma)
{
	size_t off;
	struct ma_component comp;
	if (last_component(ma, &off, &comp) == 0 && comp.proto == MA_P2P)
		ma->len = off;
}

/* ---- transport shapes ---- */

/* Matches ip/port/<kinds...>[/p2p]: fills family, addr and port. */
static int match_ip_port(const struct multiaddr *ma, enum ma_proto port_proto, bool quic,
                         int *family, const uint8_t **addr, uint16_t *port)
{
	struct ma_component c[4];
	size_t off = 0, n = 0;
	while (n < 4 && multiaddr_next(ma, &off, &c[n]) > 0)
		n++;
	if (off != ma->len)
		return -EAFNOSUPPORT;
	size_t want = quic ? 3 : 2;
	if (n == want + 1 && c[want].proto == MA_P2P)
		n--;
	if (n != want || (c[0].proto != MA_IP4 && c[0].proto != MA_IP6) ||
	    c[1].proto != port_proto || (quic && c[2].proto != MA_QUIC_V1))
		return -EAFNOSUPPORT;
	*family = c[0].proto == MA_IP4 ? AF_INET : AF_INET6;
	*addr = c[0].value;
	*port = (uint16_t)(c[1].value[0] << 8 | c[1].value[1]);
	return 0;
}

int multiaddr_as_tcp(const struct multiaddr *ma, int *family, const uint8_t **addr, uint16_t *port)
{
	return match_ip_port(ma, MA_TCP, false, family, addr, port);
}

int multiaddr_as_quic(const struct multiaddr *ma, int *family, const uint8_t **addr, uint16_t *port)
{
	return match_ip_port(ma, MA_UDP, true, family, addr, port);
}

int multiaddr_from_ip(int family, const void *addr, uint16_t port, bool quic, struct multiaddr *ret)
{
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	_cleanup_buf_ struct buf b = BUF_INIT;
	int r = buf_append_varint(&b, family == AF_INET ? MA_IP4 : MA_IP6);
	if (r >= 0)
		r = buf_append(&b, addr, family == AF_INET ? 4 : 16);
	if (r >= 0)
		r = buf_append_varint(&b, quic ? MA_UDP : MA_TCP);
	if (r >= 0)
		r = buf_append_u16be(&b, port);
	if (r >= 0 && quic)
		r = buf_append_varint(&b, MA_QUIC_V1);
	if (r < 0)
		return r;
	*ret = (struct multiaddr){NULL, 0};
	ret->bytes = buf_steal(&b, &ret->len);
	return 0;
}
