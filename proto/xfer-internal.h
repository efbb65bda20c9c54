/* The transfer object and helpers shared by xfer*.c; not for other modules. */
#pragma once

#include "xfer.h"

/* Largest sum of file sizes in one transfer: keeps rate arithmetic
 * (bytes * 1000) inside 64 bits. */
#define XFER_MAX_TOTAL_BYTES ((uint64_t)1 << 52)

#define XFER_BODY(x) DEVMSG_PB__DEVICE_MESSAGE__BODY_FILE_TRANSFER_##x

struct xfer_sample {
	uint64_t t;
	uint64_t bytes;
};

struct xfer {
	enum xfer_role role;
	enum xfer_state state;
	uint8_t id[XFER_ID_LEN];
	struct xfer_config cfg;

	struct xfer_file *files;
	size_t n_files;
	size_t cap_files;
	/* Offer: announced totals (receiver), files offered or received so far
	 * in this attempt, and the kept path bytes. */
	uint32_t total_files;
	uint64_t total_bytes;
	size_t offered;
	size_t name_bytes;
	/* Receiver: the files of the interrupted attempt, for resume. */
	struct xfer_file *prev;
	size_t n_prev;

	/* Data stream: the current segment. */
	size_t cur;
	uint64_t seg_left;
	bool in_seg;

	/* Receiver: files whose data and hash are in, waiting for the caller. */
	uint32_t *ready;
	size_t ready_head;
	size_t ready_n;
	size_t n_verified;
	size_t n_failed;

	/* Progress. */
	uint64_t bytes_total;
	uint64_t bytes_done;
	uint64_t bytes_resumed;
	uint64_t bytes_durable; /* receiver: sum of durable; sender: peer's report */
	struct xfer_sample samples[XFER_RATE_SAMPLES];
	size_t n_samples;
	size_t sample_head;

	/* Outcome. */
	bool has_peer_reason;
	int peer_reason;
	char *peer_text;
	struct errmsg err;
};

bool xfer_terminal(enum xfer_state s);
/* Encode a file-transfer body with a fresh id and append it to out. */
int xfer_emit(struct xfer *x, DevmsgPb__DeviceMessage__BodyCase body, void *msg, uint64_t now_ms,
              struct buf *out);
/* The peer broke the protocol: FAILED, Cancel{PROTOCOL_ERROR} to out (may
 * be NULL), text in x->err and e. Returns -EPROTO. */
int xfer_fail(struct xfer *x, uint64_t now_ms, struct buf *out, struct errmsg *e, const char *fmt,
              ...) __attribute__((format(printf, 5, 6)));
int xfer_unexpected(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                    struct errmsg *e);
ProtobufCBinaryData xfer_pb_id(struct xfer *x);
void xfer_sample(struct xfer *x, uint64_t now_ms);
void xfer_samples_reset(struct xfer *x, uint64_t now_ms);
void xfer_files_free(struct xfer_file *files, size_t n);
void xfer_store_peer_reason(struct xfer *x, int reason, const char *text);

/* xfer-offer.c */
int xfer_on_offer(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                  struct errmsg *e);
int xfer_on_response(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                     struct errmsg *e);

/* xfer-data.c */
int xfer_on_complete(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                     struct errmsg *e);
int xfer_on_verify(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                   struct errmsg *e);
int xfer_on_progress(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                     struct errmsg *e);
void xfer_enqueue_ready(struct xfer *x, size_t i);
/* Receiver: Verify once every file is decided (DONE or FAILED). */
int xfer_maybe_finish(struct xfer *x, uint64_t now_ms, struct buf *out);
/* Sender: VERIFYING once every file is sent and announced. */
void xfer_check_all_sent(struct xfer *x);
