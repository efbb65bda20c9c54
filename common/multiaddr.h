/* Multiaddr binary <-> text (multiformats/multiaddr, protocols.csv).
 *
 * Supported protocols: ip4, ip6, tcp, udp, quic-v1, p2p, p2p-circuit, dns,
 * dns4, dns6, dnsaddr. Anything else, or a malformed value, is an error whose
 * errmsg names the protocol and the component index ("multiaddr: bad port
 * '70000' for tcp at component 2"). The binary form is the canonical one;
 * struct multiaddr owns a copy of it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"
#include "peerid.h"

enum ma_proto {
	MA_IP4 = 0x04,
	MA_TCP = 0x06,
	MA_DNS = 0x35,
	MA_DNS4 = 0x36,
	MA_DNS6 = 0x37,
	MA_DNSADDR = 0x38,
	MA_IP6 = 0x29,
	MA_UDP = 0x0111,
	MA_P2P_CIRCUIT = 0x0122,
	MA_P2P = 0x01a5,
	MA_QUIC_V1 = 0x01cd, /* 461; 0x01cc (460) is draft-29 "quic" */
};

/* Cap on a whole binary multiaddr we accept from a peer. */
#define MULTIADDR_MAX_LEN 1024
/* Text buffer size (NUL included) that always suffices: parsing and
 * from_bytes refuse addresses whose text form would not fit. */
#define MULTIADDR_TEXT_MAX 2048
/* Longest dns/dns4/dns6/dnsaddr name (a DNS name is at most 253 octets). */
#define MULTIADDR_DNS_MAX 255

struct multiaddr {
	uint8_t *bytes;
	size_t len;
};

/* One decoded component: a view into the multiaddr's bytes. */
struct ma_component {
	enum ma_proto proto;
	const uint8_t *value;
	size_t value_len;
};

/* Errors (each with an errmsg naming the protocol and the 1-based component
 * index where one applies):
 *   -EINVAL          malformed text: no leading '/', empty component, missing
 *                    or bad value (address, port, peer ID, name), empty address
 *   -EPROTONOSUPPORT unknown or unsupported protocol name or code
 *   -EBADMSG         malformed binary: truncated value or varint, bad length,
 *                    bad peer ID bytes, bad name bytes
 *   -EMSGSIZE        over MULTIADDR_MAX_LEN, MULTIADDR_TEXT_MAX or a value cap
 *   -ENOBUFS         (to_string) out too small; -ENOMEM
 * Text values: ip4/ip6 as inet_pton accepts and inet_ntop prints (so ip6 is
 * printed in RFC 5952 form), ports as decimal 0..65535, p2p as base58btc
 * (CID form and the legacy name "ipfs" accepted), dns* names as non-empty
 * UTF-8 without '/' or control characters.
 *
 * Parse text ("/ip4/1.2.3.4/tcp/80"); one trailing '/' is tolerated. */
int multiaddr_parse(const char *text, struct multiaddr *ret, struct errmsg *err);
/* Validate and copy binary bytes (from a peer). */
int multiaddr_from_bytes(const uint8_t *data, size_t len, struct multiaddr *ret,
                         struct errmsg *err);
/* Text form into a caller buffer (MULTIADDR_TEXT_MAX is always enough);
 * returns its length. An empty multiaddr (only multiaddr_strip_p2p makes
 * one) prints as "/". */
int multiaddr_to_string(const struct multiaddr *ma, char *out, size_t out_len);
void multiaddr_free(struct multiaddr *ma);
int multiaddr_copy(const struct multiaddr *src, struct multiaddr *ret);
bool multiaddr_equal(const struct multiaddr *a, const struct multiaddr *b);

/* Iterate components: start with *off = 0; returns 1 and fills *ret while
 * there are more, 0 at the end, negative errno on malformed bytes. */
int multiaddr_next(const struct multiaddr *ma, size_t *off, struct ma_component *ret);
/* Number of components, or negative errno. */
int multiaddr_count(const struct multiaddr *ma);

/* Append a component / a /p2p/<id> suffix (for building dial and listen
 * addresses). */
int multiaddr_append_p2p(struct multiaddr *ma, const struct peerid *id);
/* The trailing /p2p/<id> if present: returns 1 and fills *ret, 0 if absent. */
int multiaddr_get_p2p(const struct multiaddr *ma, struct peerid *ret);
/* Strip a trailing /p2p/<id> (no-op when absent). */
void multiaddr_strip_p2p(struct multiaddr *ma);

/* Convenience for transports: recognise /ip4|ip6/<a>/tcp/<port>[/p2p/..]
 * and /ip4|ip6/<a>/udp/<port>/quic-v1[/p2p/..]. family is AF_INET or
 * AF_INET6; addr points at 4 or 16 bytes inside ma. Returns 0 on match,
 * -EAFNOSUPPORT otherwise. */
int multiaddr_as_tcp(const struct multiaddr *ma, int *family, const uint8_t **addr, uint16_t *port);
int multiaddr_as_quic(const struct multiaddr *ma, int *family, const uint8_t **addr,
                      uint16_t *port);
/* Build /ip4|ip6/<addr>/tcp/<port> (or udp/<port>/quic-v1 when quic). */
int multiaddr_from_ip(int family, const void *addr, uint16_t port, bool quic,
                      struct multiaddr *ret);
