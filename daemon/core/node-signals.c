/* Signals as loop events (evsignal): SIGTERM and SIGINT stop the node,
 * SIGHUP reloads the configuration. Handling them in the loop rather than
 * in a handler means the work runs with no other callback half-done. */
#include "node.h"

#include <errno.h>
#include <signal.h>

#include "log.h"

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	node_request_stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;
	if (n->state == NODE_RUNNING)
		node_reload(n);
}

int node_signals_add(struct node *n)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < 3; i++) {
		n->signals[i] =
		        evsignal_new(n->base, sigs[i], sigs[i] == SIGHUP ? on_hup : on_stop, n);
		if (!n->signals[i] || evsignal_add(n->signals[i], NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

void node_signals_free(struct node *n)
{
	for (size_t i = 0; i < 3; i++) {
		if (n->signals[i])
			event_free(n->signals[i]);
		n->signals[i] = NULL;
	}
}
