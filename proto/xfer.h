/* File transfer (/spacedrive/file-transfer/1.0.0), sans-I/O state machine
 * per transfer, both roles (issue 7; docs/protocols/file-transfer.md).
 *
 * Two streams per transfer attempt, both with this protocol ID:
 *   control: length-prefixed DeviceMessages of the file-transfer family
 *            (Offer = FileTransferRequest, Accept/Reject =
 *            FileTransferResponse, Progress, Complete, Verify, Cancel);
 *   data:    repeated [ length-prefixed DeviceMessage{FileTransferData
 *            {transfer_id, file_index, offset, length}} ][ length raw bytes ].
 * The first frame of a stream tells the daemon which one it is and, with
 * xfer_msg_transfer_id(), which transfer it belongs to.
 *
 * Flow:
 *   sender                                   receiver
 *   xfer_add_file() x N; xfer_offer()  ──Offer batches──►  xfer_handle() → XFER_EV_OFFER
 *                                                          (policy / user decides)
 *                                                          xfer_set_resume() per file, from
 *                                                          the state record; xfer_accept()
 *   xfer_handle() → XFER_EV_ACCEPTED   ◄──Accept────────   or xfer_reject()
 *   loop: xfer_send_span(window) → write
 *     header bytes + span bytes; xfer_sent()  ──data──►    xfer_data_feed() → write chunk to
 *   xfer_set_sha256() per file (hash as you                the .part file; xfer_durable()
 *     read); xfer_send_hashes()  ──Complete──►             after each fsync
 *                                                          xfer_handle() → XFER_EV_HASHES
 *                                                          xfer_next_ready() → hash the .part
 *                                                          → xfer_verified(): 0 rename it,
 *                                                          -EBADMSG delete it
 *   xfer_handle() → XFER_EV_DONE/FAILED ◄──Verify──────    (sent when every file is decided)
 *   Either side: xfer_cancel() (user; or resumable, e.g. a full disk) ──Cancel──►
 *   Connection lost: xfer_interrupt() on both sides; the sender resumes with
 *   xfer_offer() again and the receiver answers with its durable offsets.
 *
 * Resume rule: a file restarts at the receiver's last durable offset (the
 * bytes it fsynced and recorded), never at what it merely received; after
 * xfer_accept() each file's `start` says where data will resume, and the
 * daemon truncates the .part file to it. Files verified before are skipped.
 *
 * Every message and byte from the peer is checked: a lie (data for an
 * unknown file, an offset other than expected, a segment past the file's
 * size, a hash that differs from the offered one, a message out of order)
 * fails the transfer with a precise error (xfer_error(), e) and a Cancel
 * {PROTOCOL_ERROR} for the peer appended to `out`. Functions return 0 or a
 * negative errno:
 *   -EPROTO   the peer broke the protocol (transfer FAILED, Cancel queued)
 *   -EINVAL   bad argument or wrong state for this call
 *   -ERANGE   file index out of range, offset beyond a file's size
 *   -ESTALE   sender: a file's hash differs from the one it offered
 *   -EBADMSG  receiver: a file's content hash does not match (xfer_verified)
 *   -EMSGSIZE an offer over XFER_MAX_FILES / XFER_MAX_NAME_BYTES
 *   -ENOMEM */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "devmsg.h"
#include "errmsg.h"

#define XFER_PROTOCOL_ID "/spacedrive/file-transfer/1.0.0"
#define XFER_ID_LEN 16
#define XFER_SHA256_LEN 32

/* Files and directories in one transfer (the 10,000-file benchmark fits
 * ten times over). */
#define XFER_MAX_FILES 100000
/* Sum of the sanitised paths the receiver keeps for one transfer. */
#define XFER_MAX_NAME_BYTES (32u * 1024 * 1024)
/* Largest file size accepted (keeps every sum far from overflow). */
#define XFER_MAX_FILE_SIZE ((uint64_t)1 << 50)
/* Offer batches: at most this many files (the DeviceMessage list cap) and
 * about this many bytes of paths per message. */
#define XFER_OFFER_BATCH_FILES DEVMSG_MAX_LIST
#define XFER_OFFER_BATCH_BYTES (256u * 1024)
/* A data-stream header frame is small; anything longer is not one. */
#define XFER_DATA_HEADER_MAX 256

/* Names (xfer_sanitize_name): bytes per component, bytes per relative path
 * (PATH_MAX 4096 with its NUL), and the longest extension kept when a name
 * is shortened. */
#define XFER_NAME_MAX 255
#define XFER_PATH_MAX 4095
#define XFER_EXT_MAX 16

/* Rate: one sample per XFER_RATE_INTERVAL_MS of activity, averaged over
 * the last XFER_RATE_WINDOW_MS. */
#define XFER_RATE_SAMPLES 32
#define XFER_RATE_INTERVAL_MS 250
#define XFER_RATE_WINDOW_MS 5000

enum xfer_role { XFER_SENDER, XFER_RECEIVER };

enum xfer_state {
	XFER_ST_NEW,          /* sender: not offered; receiver: collecting the offer */
	XFER_ST_OFFERED,      /* sender: waiting for the answer; receiver: for the user */
	XFER_ST_TRANSFERRING, /* accepted: data, hashes and verification */
	XFER_ST_VERIFYING,    /* sender: everything sent, waiting for Verify */
	XFER_ST_INTERRUPTED,  /* resumable: connection lost or paused (disk full) */
	XFER_ST_DONE,         /* terminal: every file verified */
	XFER_ST_FAILED,       /* terminal: verification failed or protocol error */
	XFER_ST_REJECTED,     /* terminal */
	XFER_ST_CANCELLED,    /* terminal: clean up partial files */
};

enum xfer_event {
	XFER_EV_NONE = 0,  /* handled, nothing to do */
	XFER_EV_OFFER,     /* receiver: the whole offer is in: accept or reject */
	XFER_EV_ACCEPTED,  /* sender: send data */
	XFER_EV_REJECTED,  /* sender: terminal, see xfer_reject_reason() */
	XFER_EV_HASHES,    /* receiver: files became ready: drain xfer_next_ready() */
	XFER_EV_PROGRESS,  /* sender: the receiver reported its durable bytes */
	XFER_EV_DONE,      /* sender: the receiver verified every file */
	XFER_EV_FAILED,    /* sender: some files failed verification */
	XFER_EV_CANCELLED, /* the peer cancelled: terminal, clean up */
	XFER_EV_PAUSED,    /* the peer paused (resumable): keep partial files */
};

struct xfer_config {
	/* Fills out with len random bytes (message ids). Required. */
	void (*rand)(uint8_t *out, size_t len, void *ctx);
	void *ctx;
};

/* One path component as bytes (may hold anything, NUL included). */
struct xfer_part {
	const uint8_t *data;
	size_t len;
};

struct xfer_file_info {
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode;
	bool is_dir;
	const uint8_t *sha256; /* NULL: sent later in Complete */
};

struct xfer_file {
	char *path; /* receiver: sanitised relative path; sender: NULL */
	bool is_dir;
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode; /* receiver: permission bits only (& 0777) */
	bool has_offer_sha;
	uint8_t offer_sha[XFER_SHA256_LEN];
	bool has_sha; /* sender: set by xfer_set_sha256; receiver: from Complete */
	uint8_t sha[XFER_SHA256_LEN];
	uint64_t start;   /* where this attempt began (the resume offset) */
	uint64_t pos;     /* sender: bytes sent; receiver: bytes received */
	uint64_t durable; /* receiver: bytes stored durably (xfer_durable) */
	bool verified;    /* hash checked (or a directory, created at accept) */
	bool failed;      /* hash mismatch */
	/* Private. */
	bool hash_sent;
	bool queued;
	uint8_t *parts; /* sender: the path components, concatenated */
	uint32_t *part_len;
	size_t n_parts;
};

/* Where the caller's next bytes go (sender: read from; receiver: write to). */
struct xfer_span {
	size_t file;
	uint64_t offset;
	uint64_t len;
	const uint8_t *data; /* receiver: inside the fed bytes; sender: NULL */
	bool done;           /* sender: no data left to send */
};

struct xfer_progress {
	enum xfer_state state;
	uint64_t bytes_total;   /* sum of file sizes */
	uint64_t bytes_done;    /* sent / received, including resumed bytes */
	uint64_t bytes_resumed; /* not resent thanks to resume */
	uint64_t bytes_durable; /* receiver: fsynced; sender: last Progress */
	uint64_t rate_bps;      /* over the last XFER_RATE_WINDOW_MS; 0: unknown */
	uint64_t eta_ms;        /* UINT64_MAX: unknown */
	size_t files_total;
	size_t files_done; /* verified */
	size_t files_failed;
};

struct xfer;

/* ---- both roles ------------------------------------------------------------ */

int xfer_new(struct xfer **ret, enum xfer_role role, const uint8_t id[XFER_ID_LEN],
             const struct xfer_config *cfg);
/* NULL-safe; returns NULL. */
struct xfer *xfer_free(struct xfer *x);

/* A decoded control message for this transfer (the caller decodes with
 * devmsg_decode and routes by transfer id). Returns an enum xfer_event (>= 0)
 * or a negative errno; replies and Cancels are appended to out. */
int xfer_handle(struct xfer *x, const devmsg_pb *m, uint64_t now_ms, struct buf *out,
                struct errmsg *e);
/* Cancel (resumable false: terminal, clean up) or pause (resumable true:
 * e.g. a full disk; keep partial files for a later re-offer). Appends the
 * Cancel to out. -EALREADY in a terminal state. */
int xfer_cancel(struct xfer *x, DevmsgPb__FileTransferCancel__Reason reason, const char *text,
                bool resumable, uint64_t now_ms, struct buf *out);
/* The connection or a stream went away: INTERRUPTED unless terminal. */
void xfer_interrupt(struct xfer *x);

enum xfer_state xfer_state(const struct xfer *x);
const char *xfer_state_name(enum xfer_state s);
enum xfer_role xfer_role(const struct xfer *x);
const uint8_t *xfer_id(const struct xfer *x);
size_t xfer_file_count(const struct xfer *x);
/* NULL when i is out of range. */
const struct xfer_file *xfer_file(const struct xfer *x, size_t i);
void xfer_progress(const struct xfer *x, uint64_t now_ms, struct xfer_progress *ret);
/* Text of the last failure ("" when none). */
const char *xfer_error(const struct xfer *x);
/* Reject or Cancel reason received from the peer, with its text. */
int xfer_reject_reason(const struct xfer *x, const char **ret_text);
/* The transfer id of a file-transfer family message; -ENOENT for other
 * bodies, -EINVAL when the id is missing or not 16 bytes. */
int xfer_msg_transfer_id(const devmsg_pb *m, uint8_t ret_id[XFER_ID_LEN]);

/* ---- sender ---------------------------------------------------------------- */

/* Add a file (or directory) in state NEW. path: 1..DEVMSG_MAX_LIST
 * components of 1..XFER_NAME_MAX * 4 bytes each (the receiver sanitises
 * them; we only keep them sendable). */
int xfer_add_file(struct xfer *x, const struct xfer_part *path, size_t n_parts,
                  const struct xfer_file_info *info);
/* NEW or INTERRUPTED → OFFERED: append the Offer batches. On a re-offer,
 * files whose hash is known carry it. */
int xfer_offer(struct xfer *x, uint64_t now_ms, struct buf *out);
/* In TRANSFERRING: what to send next, at most `window` bytes. When a new
 * segment starts, its header frame is appended to hdr_out: write those
 * bytes first, then ret->len bytes of file ret->file from ret->offset.
 * ret->len == 0 with ret->done: all data is sent. */
int xfer_send_span(struct xfer *x, uint64_t window, struct buf *hdr_out, struct xfer_span *ret);
/* n bytes of the current span were written. -EINVAL beyond the span. */
int xfer_sent(struct xfer *x, uint64_t n, uint64_t now_ms);
/* The whole-file SHA-256 of file i (computed while reading, or ahead when
 * resuming). -ESTALE if it differs from the one offered: the file changed;
 * cancel the transfer. */
int xfer_set_sha256(struct xfer *x, size_t i, const uint8_t sha[XFER_SHA256_LEN], struct errmsg *e);
/* Append Complete messages for files fully sent whose hash is known; once
 * every file is announced, the state becomes VERIFYING. */
int xfer_send_hashes(struct xfer *x, uint64_t now_ms, struct buf *out);

/* ---- receiver -------------------------------------------------------------- */

/* In OFFERED: resume file i at offset (its durable offset from the state
 * record); verified: it was completed and checked before (offset == size). */
int xfer_set_resume(struct xfer *x, size_t i, uint64_t offset, bool verified);
/* OFFERED → TRANSFERRING: append the Accept. Directories count as done
 * (create them now). Files resumed beyond the first DEVMSG_MAX_LIST
 * out-of-prefix entries restart at 0: read each file's `start` after this. */
int xfer_accept(struct xfer *x, uint64_t now_ms, struct buf *out);
/* OFFERED → REJECTED: append the Reject. */
int xfer_reject(struct xfer *x, DevmsgPb__FileTransferResponse__RejectReason reason,
                const char *text, uint64_t now_ms, struct buf *out);
/* Data-stream bytes. Returns how many bytes were consumed (0: a header is
 * incomplete, feed again with more) or a negative errno (ctl_out gets the
 * Cancel). When ret->len > 0, ret->data holds ret->len bytes for file
 * ret->file at ret->offset: write them before feeding on. */
long xfer_data_feed(struct xfer *x, const uint8_t *data, size_t len, uint64_t now_ms,
                    struct xfer_span *ret, struct buf *ctl_out, struct errmsg *e);
/* File i is stored durably up to offset (<= bytes received). */
int xfer_durable(struct xfer *x, size_t i, uint64_t offset);
/* Next file whose data and sender hash are both in: hash its .part and
 * call xfer_verified(). -ENOENT when none is waiting. Drain it after
 * xfer_accept(), after a chunk that ends a file, and on XFER_EV_HASHES. */
int xfer_next_ready(struct xfer *x, size_t *ret_index);
/* The caller's SHA-256 of file i's received content. 0: it matches, rename
 * the .part into place; -EBADMSG: mismatch, delete it (reported to the
 * sender). When every file is decided, Verify is appended to out. */
int xfer_verified(struct xfer *x, size_t i, const uint8_t sha[XFER_SHA256_LEN], uint64_t now_ms,
                  struct buf *out, struct errmsg *e);
/* Append a Progress message with the durable byte count. */
int xfer_send_progress(struct xfer *x, uint64_t now_ms, struct buf *out);

/* ---- names ----------------------------------------------------------------- */

/* Sender-supplied components → a safe relative path inside the receive
 * directory (malloc'd, NUL-terminated, '/'-separated). Rules: "", "." and
 * ".." components are dropped (so no absolute path, no climbing out); in
 * each component control characters (C0, DEL, C1, bidi overrides), invalid
 * UTF-8, '/' and the Windows-hostile < > : " \ | ? * become '_'; trailing
 * dots and spaces go; Windows device names (CON, NUL, COM1...) get a '_'
 * prefix; a component longer than XFER_NAME_MAX bytes is cut at a UTF-8
 * boundary keeping its extension (up to XFER_EXT_MAX bytes). Nothing left →
 * "unnamed". -ENAMETOOLONG if the result exceeds XFER_PATH_MAX bytes. */
int xfer_sanitize_name(const struct xfer_part *parts, size_t n_parts, char **ret_path,
                       struct errmsg *e);
/* "dir/name.ext", n → "dir/name (n).ext" (n >= 1), shortening the stem so
 * the last component stays within XFER_NAME_MAX. malloc'd. */
int xfer_collision_name(const char *path, unsigned n, char **ret_path);
