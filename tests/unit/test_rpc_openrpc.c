/* proto/openrpc.json is the single source of truth for the control API.
 * This test holds the daemon to it: every method in every registered table
 * is documented with the same param names, required flags and types, every
 * documented method of an area that has a table exists, the document built
 * into the daemon is the one in the tree, and the error codes agree with
 * common/jsonrpc.h. Methods under a prefix the document lists in
 * x-optional-prefixes (test.*: only with --enable-test-protocols) may be
 * absent from a running daemon: they come from optional tables here. */
#include "testutil.h"

#include <string.h>

#include "rpc-messages.h"
#include "rpc-transfers.h"
#include "rpc-devices.h"
#include "rpc-net.h"
#include "rpc-node.h"
#include "rpc-pairing.h"
#include "rpc.h"

/* Every method table the daemon serves, the optional ones last. Adding an
 * area is one line here. */
static const struct rpc_method *const tables[] = {
        rpc_node_methods,
        rpc_net_methods,
        rpc_pairing_methods,
        rpc_devices_methods,
        rpc_messages_methods,
        rpc_transfers_methods,
        rpc_events_methods,
        rpc_discover_methods,
        /* optional: */
        rpc_test_methods,
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
#define NREQUIRED (NTABLES - 1)

static json_t *doc;

static int setup(void **state)
{
	doc = rpc_discover_document();
	return doc ? 0 : -1;
}

static int teardown(void **state)
{
	json_decref(doc);
	return 0;
}

static json_t *doc_method(const char *name)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(doc, "methods"), i, m)
	{
		if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
			return m;
	}
	return NULL;
}

static json_t *doc_param(json_t *method, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(method, "params"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
			return p;
	}
	return NULL;
}

static const char *schema_type(enum rpc_param_type t)
{
	switch (t) {
	case RPC_PARAM_STRING:
		return "string";
	case RPC_PARAM_INT:
		return "integer";
	case RPC_PARAM_BOOL:
		return "boolean";
	case RPC_PARAM_ARRAY:
		return "array";
	case RPC_PARAM_OBJECT:
		return "object";
	default:
		return NULL;
	}
}

static size_t spec_count(const struct rpc_method *m)
{
	size_t n = 0;
	while (m->params && m->params[n].name)
		n++;
	return n;
}

static void method_matches(const struct rpc_method *m)
{
	json_t *dm = doc_method(m->name);
	if (!dm)
		fail_msg("%s is served but missing from proto/openrpc.json", m->name);
	json_t *dparams = json_object_get(dm, "params");
	assert_true(json_is_array(dparams));
	if (json_array_size(dparams) != spec_count(m))
		fail_msg("%s: %zu params in openrpc.json, %zu in its table", m->name,
		         json_array_size(dparams), spec_count(m));
	for (const struct rpc_param *p = m->params; p && p->name; p++) {
		json_t *dp = doc_param(dm, p->name);
		if (!dp)
			fail_msg("%s: param %s is not documented", m->name, p->name);
		if (json_is_true(json_object_get(dp, "required")) != p->required)
			fail_msg("%s: param %s required flag differs", m->name, p->name);
		const char *want = schema_type(p->type);
		json_t *got = json_object_get(json_object_get(dp, "schema"), "type");
		if (want && (!json_is_string(got) || strcmp(json_string_value(got), want) != 0))
			fail_msg("%s: param %s should have schema type %s", m->name, p->name, want);
	}
}

static void test_tables_documented(void **state)
{
	for (size_t t = 0; t < NTABLES; t++)
		for (const struct rpc_method *m = tables[t]; m->name; m++)
			method_matches(m);
}

static const struct rpc_method *served_in(const char *name, size_t from, size_t to)
{
	for (size_t t = from; t < to; t++)
		for (const struct rpc_method *m = tables[t]; m->name; m++)
			if (strcmp(m->name, name) == 0)
				return m;
	return NULL;
}

/* An area ("node", "events") is covered once one of its methods is in a
 * registered table; then all of its documented methods must be served. */
static bool area_covered(const char *name)
{
	size_t n = strcspn(name, ".");
	for (size_t t = 0; t < NTABLES; t++)
		for (const struct rpc_method *m = tables[t]; m->name; m++)
			if (strncmp(m->name, name, n + 1) == 0)
				return true;
	return false;
}

static void test_documented_served(void **state)
{
	size_t i;
	json_t *dm;
	json_array_foreach(json_object_get(doc, "methods"), i, dm)
	{
		const char *name = json_string_value(json_object_get(dm, "name"));
		assert_non_null(name);
		if (!area_covered(name)) {
			print_message("note: %s not checked, no table of its area in this test\n",
			              name);
			continue;
		}
		if (!served_in(name, 0, NTABLES))
			fail_msg("%s is in openrpc.json but no table serves it", name);
	}
}

/* The prefix of name listed in x-optional-prefixes, or NULL. */
static const char *optional_prefix(const char *name)
{
	const char *prefix;
	json_t *why;
	json_object_foreach(json_object_get(doc, "x-optional-prefixes"), prefix, why)
	{
		if (strncmp(name, prefix, strlen(prefix)) == 0)
			return prefix;
	}
	return NULL;
}

/* Optional methods come only from optional tables and always-served ones
 * only from the others, so a daemon started without the option still
 * serves everything the document promises unconditionally. */
static void test_optional_prefixes(void **state)
{
	json_t *opt = json_object_get(doc, "x-optional-prefixes");
	assert_true(json_is_object(opt));
	assert_non_null(json_object_get(opt, "test."));
	for (size_t t = 0; t < NTABLES; t++) {
		for (const struct rpc_method *m = tables[t]; m->name; m++) {
			bool optional = optional_prefix(m->name) != NULL;
			if (optional != (t >= NREQUIRED))
				fail_msg("%s is in %s table but its prefix is %s in "
				         "x-optional-prefixes",
				         m->name,
				         t >= NREQUIRED ? "an optional" : "an always-served",
				         optional ? "listed" : "not listed");
		}
	}
	assert_non_null(served_in("test.echo", NREQUIRED, NTABLES));
	assert_null(served_in("test.echo", 0, NREQUIRED));
}

static void test_embedded_is_source(void **state)
{
	json_error_t e;
	json_t *src = json_load_file(th_source_path("proto/openrpc.json"), 0, &e);
	if (!src)
		fail_msg("proto/openrpc.json: %s at line %d", e.text, e.line);
	assert_true(json_equal(src, doc));
	assert_string_equal(json_string_value(json_object_get(doc, "openrpc")), "1.2.6");
	json_decref(src);
}

static void test_error_codes(void **state)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {
	        {"ParseError", JSONRPC_PARSE_ERROR},
	        {"InvalidRequest", JSONRPC_INVALID_REQUEST},
	        {"MethodNotFound", JSONRPC_METHOD_NOT_FOUND},
	        {"InvalidParams", JSONRPC_INVALID_PARAMS},
	        {"InternalError", JSONRPC_INTERNAL_ERROR},
	        {"NotFound", JSONRPC_NOT_FOUND},
	        {"Busy", JSONRPC_BUSY},
	        {"PermissionDenied", JSONRPC_PERMISSION_DENIED},
	        {"NotReady", JSONRPC_NOT_READY},
	        {"Timeout", JSONRPC_TIMEOUT},
	        {"PeerError", JSONRPC_PEER_ERROR},
	        {"Conflict", JSONRPC_CONFLICT},
	};
	json_t *errors = json_object_get(json_object_get(doc, "components"), "errors");
	assert_int_equal(json_object_size(errors), sizeof(codes) / sizeof(codes[0]));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		json_t *e = json_object_get(errors, codes[i].name);
		if (!e)
			fail_msg("components.errors.%s missing", codes[i].name);
		assert_int_equal(json_integer_value(json_object_get(e, "code")), codes[i].code);
		const char *msg = json_string_value(json_object_get(e, "message"));
		const char *phrase = jsonrpc_code_message(codes[i].code);
		assert_true(strncmp(msg, phrase, strlen(phrase)) == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tables_documented), cmocka_unit_test(test_documented_served),
	        cmocka_unit_test(test_optional_prefixes), cmocka_unit_test(test_embedded_is_source),
	        cmocka_unit_test(test_error_codes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
