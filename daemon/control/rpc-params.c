/* Parameter checks against a method's spec, so run() functions only ever
 * see an object whose names and types are right. Parameters are by name;
 * missing params or an empty array mean "none", a non-empty array is
 * refused with a message showing the named form. Unknown names are refused
 * too: a typo should fail loudly, not be silently ignored. */
#include "rpc-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *type_name(enum rpc_param_type t)
{
	switch (t) {
	case RPC_PARAM_STRING:
		return "a string";
	case RPC_PARAM_INT:
		return "an integer";
	case RPC_PARAM_BOOL:
		return "a boolean";
	case RPC_PARAM_ARRAY:
		return "an array";
	case RPC_PARAM_OBJECT:
		return "an object";
	case RPC_PARAM_ANY:
	default:
		return "any value";
	}
}

static bool type_ok(enum rpc_param_type t, const json_t *v)
{
	switch (t) {
	case RPC_PARAM_STRING:
		return json_is_string(v);
	case RPC_PARAM_INT:
		return json_is_integer(v);
	case RPC_PARAM_BOOL:
		return json_is_boolean(v);
	case RPC_PARAM_ARRAY:
		return json_is_array(v);
	case RPC_PARAM_OBJECT:
		return json_is_object(v);
	case RPC_PARAM_ANY:
	default:
		return true;
	}
}

static const struct rpc_param *spec_find(const struct rpc_method *m, const char *name)
{
	for (const struct rpc_param *p = m->params; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static bool has_params(const struct rpc_method *m)
{
	return m->params && m->params[0].name;
}

/* "name (a string), kinds (an array, optional)" for error messages. */
static void spec_describe(const struct rpc_method *m, char *out, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (const struct rpc_param *p = m->params; p && p->name && used < n; p++) {
		int w = snprintf(out + used, n - used, "%s%s (%s%s)", used ? ", " : "", p->name,
		                 type_name(p->type), p->required ? "" : ", optional");
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int refuse_array(const struct rpc_method *m, struct errmsg *why)
{
	char spec[160];
	if (!has_params(m))
		return errmsg_set(why, -EINVAL, "%s takes no parameters", m->name);
	spec_describe(m, spec, sizeof(spec));
	return errmsg_set(why, -EINVAL,
	                  "%s takes parameters by name: pass an object with %s, not an array",
	                  m->name, spec);
}

static int check_names(const struct rpc_method *m, json_t *obj, struct errmsg *why)
{
	const char *key;
	json_t *v;
	char spec[160];
	json_object_foreach(obj, key, v)
	{
		if (spec_find(m, key))
			continue;
		if (!has_params(m))
			return errmsg_set(why, -EINVAL, "%s takes no parameters (got \"%.64s\")",
			                  m->name, key);
		spec_describe(m, spec, sizeof(spec));
		return errmsg_set(why, -EINVAL, "unknown parameter \"%.64s\" for %s; it takes %s",
		                  key, m->name, spec);
	}
	return 0;
}

static int check_values(const struct rpc_method *m, json_t *obj, struct errmsg *why)
{
	for (const struct rpc_param *p = m->params; p && p->name; p++) {
		json_t *v = json_object_get(obj, p->name);
		if (!v && p->required)
			return errmsg_set(why, -EINVAL, "%s needs parameter \"%s\" (%s)", m->name,
			                  p->name, type_name(p->type));
		if (v && !type_ok(p->type, v))
			return errmsg_set(why, -EINVAL, "parameter \"%s\" of %s must be %s",
			                  p->name, m->name, type_name(p->type));
	}
	return 0;
}

int rpc_params_check(const struct rpc_method *m, json_t *params, json_t **ret_params,
                     struct errmsg *why)
{
	if (json_is_array(params) && json_array_size(params) > 0)
		return refuse_array(m, why);
	json_t *obj = json_is_object(params) ? json_incref(params) : json_object();
	if (!obj)
		return errmsg_set(why, -ENOMEM, "out of memory");
	int r = check_names(m, obj, why);
	if (r == 0)
		r = check_values(m, obj, why);
	if (r < 0) {
		json_decref(obj);
		return r;
	}
	*ret_params = obj;
	return 0;
}
