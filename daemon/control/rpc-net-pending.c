/* Asynchronous net calls (net.connect, net.ping, test.echo): a list on the
 * node so shutdown can answer them, and a close hook on the client so a
 * caller that hangs up stops the work it asked for. See rpc-net-internal.h
 * for the life of one. */
#include "rpc-net-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "rpc-net.h"

static void client_gone(void *userdata, struct rpc_client *c);

static void unlink_pending(struct net_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else if (p->n->net_calls == p)
		p->n->net_calls = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	if (p->client)
		rpc_client_off_close(p->client, client_gone, p);
	p->client = NULL;
	p->call = NULL;
}

/* The caller hung up: answer the dead call (which frees it) and stop. */
static void client_gone(void *userdata, struct rpc_client *c)
{
	struct net_pending *p = userdata;
	p->client = NULL; /* the hook is spent */
	rpc_call_error(p->call, JSONRPC_INTERNAL_ERROR, "client gone", NULL);
	unlink_pending(p);
	p->stop(p);
}

int net_pending_add(struct node *n, struct net_pending *p, struct rpc_call *call,
                    void (*stop)(struct net_pending *p))
{
	p->n = n;
	p->call = call;
	p->stop = stop;
	p->client = rpc_call_client(call);
	if (p->client) {
		int r = rpc_client_on_close(p->client, client_gone, p);
		if (r < 0) {
			p->client = NULL;
			return r;
		}
	}
	p->prev = NULL;
	p->next = n->net_calls;
	if (p->next)
		p->next->prev = p;
	n->net_calls = p;
	return 0;
}

void net_pending_reply(struct net_pending *p, json_t *result)
{
	struct rpc_call *call = p->call;
	unlink_pending(p);
	rpc_call_reply(call, result);
}

void net_pending_error(struct net_pending *p, int code, json_t *data, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct rpc_call *call = p->call;
	unlink_pending(p);
	rpc_call_error(call, code, text, data);
}

void rpc_net_cancel_all(struct node *n)
{
	while (n->net_calls) {
		struct net_pending *p = n->net_calls;
		net_pending_error(p, JSONRPC_NOT_READY, NULL,
		                  "%s: the daemon is stopping; the call was cancelled",
		                  jsonrpc_code_message(JSONRPC_NOT_READY));
		p->stop(p);
	}
}
