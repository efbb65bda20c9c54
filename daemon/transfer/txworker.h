/* One worker thread for the file-transfer service's blocking disk work:
 * fsync of partial files and the state record at checkpoints, and SHA-256
 * of whole files (a sender hashing ahead before a re-offer, a receiver
 * checking a resumed file). The event loop never waits for a disk flush.
 *
 * A job is two functions: run() on the worker thread (it must touch only
 * what the job owns: dup'd descriptors, copied paths and bytes) and done()
 * back on the loop with the job, in submission order. Jobs never block the
 * loop and never run concurrently with each other. */
#pragma once

#include <event2/event.h>

struct txworker;

typedef void (*txworker_run_fn)(void *job);
typedef void (*txworker_done_fn)(void *job, void *ctx);

/* Starts the thread. -ENOMEM, -EMFILE, or pthread's error (negated). */
int txworker_new(struct event_base *base, struct txworker **ret);
/* Lets queued jobs finish, joins the thread, then runs the done() of every
 * finished job (on the caller's thread) before returning. NULL-safe. */
void txworker_free(struct txworker *w);
/* Queue a job. 0, or -ENOMEM (nothing queued, done never runs). */
int txworker_submit(struct txworker *w, txworker_run_fn run, txworker_done_fn done, void *job,
                    void *ctx);
/* Jobs queued or running. */
unsigned txworker_busy(const struct txworker *w);
