/* Completed incoming transfers, remembered across restarts (issue 7).
 *
 * A finished transfer stays in memory only TX_FINISHED_TTL_MS (and not at
 * all after a restart), but a sender that lost the Verify (it was killed or
 * cut off after the receiver finished) offers the same transfer id again,
 * maybe much later. Without a record the receiver would take it for a new
 * transfer and write every file a second time as "name (1)". So the
 * receiver keeps the ids of the last TXDONE_MAX completed transfers, with
 * the sender's peer ID, in <data dir>/completed-transfers.txt (beside, not
 * in, transfers/: that directory holds only unfinished work), and answers
 * a re-offer of one of them "already complete".
 *
 * The file is one line per transfer, oldest first:
 *   <32 lower-case hex digits> <peer ID text>\n
 * rewritten atomically (temp file, fsync, rename) at each addition. Lines
 * that do not parse are skipped (and dropped at the next write): losing an
 * entry only costs a duplicate, never data. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"

#define TXDONE_MAX 1024
#define TXDONE_FILE "completed-transfers.txt"

struct txdone;

/* Load path (missing: created empty). max: entries kept (0: TXDONE_MAX). A file
 * that cannot be read is logged by the caller via err and treated as
 * empty: the struct is still returned. -ENOMEM only. */
int txdone_open(const char *path, size_t max, struct txdone **ret, struct errmsg *err);
void txdone_free(struct txdone *d);
/* Whether transfer idhex from peer completed here. */
bool txdone_has(const struct txdone *d, const char *idhex, const char *peer);
/* Remember it (the oldest goes beyond max) and rewrite the file. An
 * existing entry moves to the newest place. Errors: -EINVAL (not 32 hex
 * digits, or a peer with spaces), write errors with err. */
int txdone_add(struct txdone *d, const char *idhex, const char *peer, struct errmsg *err);
size_t txdone_count(const struct txdone *d);
