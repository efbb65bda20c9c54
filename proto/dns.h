/* DNS messages (RFC 1035 section 4) as multicast DNS uses them (RFC 6762),
 * sans-I/O: parse a datagram into a struct dns_msg, build one with a
 * struct dns_builder.
 *
 * Parsing is strict and bounded, because every host on the link may send us
 * anything:
 *   - the message is at most DNS_MAX_MESSAGE bytes;
 *   - the section counts are checked against DNS_MAX_QUESTIONS / DNS_MAX_RRS
 *     and against the bytes that are left (a question takes at least 5
 *     bytes, a record 11) before anything is allocated, so a header that lies
 *     about its counts costs nothing;
 *   - names: labels of at most 63 octets, at most 255 octets in total, a
 *     compression pointer must point strictly before the place where the
 *     current run of labels started (so every jump goes backwards and loops
 *     are impossible), at most DNS_MAX_JUMPS jumps, and the extended label
 *     types (0x40, 0x80) are refused;
 *   - rdata must be consumed exactly by its RDLENGTH; names inside PTR and SRV
 *     rdata may be compressed (as RFC 6762 section 18.14 allows);
 *   - TXT rdata must be an exact sequence of <length><bytes> strings (each
 *     therefore at most 255 bytes);
 *   - A and AAAA must carry exactly 4 and 16 bytes;
 *   - records of other types are kept uninterpreted (type and a view of the
 *     rdata) so the caller can skip them.
 * Bytes after the last record are ignored, as resolvers do.
 *
 * Errors: -EBADMSG (malformed; the errmsg says what and at which byte offset,
 * e.g. "dns: compression pointer to 40 does not point backwards at offset
 * 40"), -EMSGSIZE (a cap above was exceeded), -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

#define DNS_HEADER_LEN 12
/* RFC 6762 section 17: an mDNS message never exceeds 9000 bytes. */
#define DNS_MAX_MESSAGE 9000
#define DNS_LABEL_MAX 63
/* Wire octets of an uncompressed name, the root's zero byte included. */
#define DNS_NAME_MAX 255
/* Caps on what one message may make us allocate. */
#define DNS_MAX_QUESTIONS 32
#define DNS_MAX_RRS 128
/* Compression jumps per name; honest packets need one or two. */
#define DNS_MAX_JUMPS 16
/* Longest dotted text form of a name we print (labels of letters, digits,
 * '-' and '_' print as themselves; other bytes are escaped as \DDD). */
#define DNS_NAME_TEXT_MAX 1024

/* Header flags. */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags) ((flags)&0xf)

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_ANY = 255,
};

#define DNS_CLASS_IN 1
#define DNS_CLASS_ANY 255
/* The top bit of a question's class is mDNS's "unicast response wanted"
 * (QU) bit, of a record's class the "cache flush" bit (RFC 6762 sections
 * 5.4 and 10.2). The parser splits it off. */
#define DNS_CLASS_TOP_BIT 0x8000

/* A name in uncompressed wire form: labels, then the zero byte. len counts
 * every octet (1 for the root name). */
struct dns_name {
	uint8_t len;
	uint8_t wire[DNS_NAME_MAX];
};

struct dns_question {
	struct dns_name name;
	uint16_t type;
	uint16_t qclass; /* without the QU bit */
	bool unicast;    /* QU bit */
};

enum dns_section {
	DNS_SECTION_ANSWER = 0,
	DNS_SECTION_AUTHORITY = 1,
	DNS_SECTION_ADDITIONAL = 2,
};

struct dns_rr {
	struct dns_name name;
	uint16_t type;
	uint16_t rclass; /* without the cache-flush bit */
	bool cache_flush;
	uint32_t ttl;
	union {
		struct dns_name ptr; /* PTR target */
		struct {
			uint16_t priority, weight, port;
			struct dns_name target;
		} srv;
		uint8_t a[4];
		uint8_t aaaa[16];
		/* TXT (a validated string sequence; walk it with dns_txt_next)
		 * and any other type: a view of the rdata. Parsed messages point
		 * into the packet; records given to the builder point at the
		 * caller's bytes. */
		struct {
			const uint8_t *data;
			uint16_t len;
		} raw;
	};
};

struct dns_msg {
	uint16_t id;
	uint16_t flags;
	struct dns_question *qd;
	size_t n_qd;
	/* All records, answers first, then authority, then additional. */
	struct dns_rr *rr;
	size_t n_an, n_ns, n_ar;
};

/* Parse a whole datagram. TXT and unknown-type records point into data, so
 * data must outlive *ret. *ret is written only on success; free it with
 * dns_msg_free (NULL-safe and idempotent). */
int dns_parse(const uint8_t *data, size_t len, struct dns_msg *ret, struct errmsg *err);
void dns_msg_free(struct dns_msg *m);

/* The records of one section: *ret_n of them from the returned pointer. */
const struct dns_rr *dns_msg_section(const struct dns_msg *m, enum dns_section s, size_t *ret_n);

/* Decode the (possibly compressed) name at *off in a message of len bytes,
 * with the rules above. On success *off moves just past the name as it is
 * written there (past the first pointer, if any). */
int dns_read_name(const uint8_t *msg, size_t len, size_t *off, struct dns_name *ret,
                  struct errmsg *err);

/* Iterate the character-strings of a TXT record: start with *off = 0;
 * returns 1 and fills *ret_s / *ret_len while there are more, 0 at the end,
 * -EBADMSG if the rdata is not a string sequence (only possible for a record
 * the caller filled in by hand). An empty rdata has no strings. */
int dns_txt_next(const struct dns_rr *rr, size_t *off, const uint8_t **ret_s, size_t *ret_len);
/* Append one character-string (length byte + bytes) to TXT rdata being
 * built. -EMSGSIZE if len > 255 (RFC 6763 section 6.1) or the rdata would
 * pass 65535 bytes; -ENOMEM. */
int dns_txt_append(struct buf *rdata, const void *s, size_t len);

/* Names. dns_name_from_text takes dotted text ("_p2p._udp.local", one
 * trailing dot allowed, "" or "." is the root) whose labels hold no dots and
 * no backslashes; -EINVAL for an empty label or a label over 63 octets,
 * -EMSGSIZE for a name over 255 octets. */
int dns_name_from_text(const char *text, struct dns_name *ret);
/* Prefix a name with one label (e.g. a peer name before the service name).
 * -EINVAL for an empty label or one over 63 octets or holding a dot,
 * -EMSGSIZE if the result would exceed 255 octets. */
int dns_name_prepend(const struct dns_name *name, const char *label, size_t label_len,
                     struct dns_name *ret);
/* Case-insensitive (ASCII) comparison, as DNS names compare. */
bool dns_name_equal(const struct dns_name *a, const struct dns_name *b);
/* Whether name is <one label>.<parent>; then *ret_label / *ret_len view the
 * label inside name. */
bool dns_name_is_child(const struct dns_name *name, const struct dns_name *parent,
                       const uint8_t **ret_label, size_t *ret_len);
/* Dotted text for logs and tests; returns the length or -ENOBUFS.
 * DNS_NAME_TEXT_MAX always suffices. The root prints as ".". */
int dns_name_to_text(const struct dns_name *name, char *out, size_t out_len);

/* Building: append a message to a buf, section by section in order
 * (questions, answers, authority, additional). Each add either appends the
 * whole entry or, when it would take the message past max_len, leaves the
 * buffer and counts as they were and returns -EMSGSIZE, so a caller can
 * close this message and continue in the next one. With compress, names
 * reuse earlier names' suffixes through pointers (RFC 1035 section 4.1.4).
 * Errors: -EMSGSIZE (does not fit), -EINVAL (section out of order, a count
 * over 65535, rdata over 65535 bytes or a TXT view that is not a string
 * sequence), -ENOMEM. */
#define DNS_BUILDER_MAX_SUFFIXES 64

struct dns_builder {
	struct buf *out;
	size_t start;
	size_t max_len;
	bool compress;
	int stage; /* 0 questions, 1 + enum dns_section */
	uint16_t counts[4];
	/* Offsets (from start) of names written so far, for compression. */
	uint16_t suffix_off[DNS_BUILDER_MAX_SUFFIXES];
	size_t n_suffixes;
};

/* Starts the message at out->len with a header (counts filled in later).
 * max_len bounds the whole message (at most DNS_MAX_MESSAGE). */
int dns_builder_init(struct dns_builder *b, struct buf *out, size_t max_len, bool compress,
                     uint16_t id, uint16_t flags);
int dns_builder_add_question(struct dns_builder *b, const struct dns_question *q);
int dns_builder_add_rr(struct dns_builder *b, enum dns_section s, const struct dns_rr *rr);
/* Bytes the message holds so far. */
size_t dns_builder_len(const struct dns_builder *b);
/* Remember the message as it is now, to cut it back there later (to add a
 * group of records all or nothing). */
struct dns_builder_mark {
	size_t len, n_suffixes;
	uint16_t counts[4];
	int stage;
};
void dns_builder_mark(const struct dns_builder *b, struct dns_builder_mark *ret);
void dns_builder_rollback(struct dns_builder *b, const struct dns_builder_mark *m);
/* Write the counts into the header. The message stays in out. */
void dns_builder_finish(struct dns_builder *b);
/* Drop the message from out (out->len back to where init found it). */
void dns_builder_abort(struct dns_builder *b);
