/* JSON codec of the transfer records (see txrec.h). Decoding trusts
 * nothing: a record on disk may be truncated, edited or left by an older
 * build, and a bad one must be refused with the field named, never half
 * used. */
#include "txrec.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "xfer.h"

void txrec_clear(struct txrec *r)
{
	for (size_t i = 0; r->files && i < r->n_files; i++) {
		free(r->files[i].path);
		free(r->files[i].final);
		free(r->files[i].src);
		free(r->files[i].rel);
	}
	for (size_t i = 0; r->addrs && i < r->n_addrs; i++)
		free(r->addrs[i]);
	free(r->addrs);
	free(r->files);
	free(r->peer_id);
	free(r->device_id);
	free(r->dest);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

bool txrec_safe_relpath(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > XFER_PATH_MAX || p[0] == '/')
		return false;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		if (*p == '/' && *++p == '\0')
			return false;
	}
	return true;
}

static bool hex_id_ok(const char *s)
{
	if (strlen(s) != TXREC_ID_HEX)
		return false;
	for (size_t i = 0; i < TXREC_ID_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ---- encoding ------------------------------------------------------------- */

static json_t *b64_string(const char *bytes)
{
	size_t len = strlen(bytes);
	size_t cap = base64_encoded_len(len, BASE64_PAD) + 1;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	base64_encode((const uint8_t *)bytes, len, BASE64_PAD, s, cap);
	json_t *v = json_string(s);
	free(s);
	return v;
}

static int dump(json_t *o, struct buf *out)
{
	if (!o)
		return -ENOMEM;
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	int r = buf_append(out, text, strlen(text));
	free(text);
	return r;
}

static json_t *file_in_json(const struct txrec_file *f)
{
	if (!f->path || !f->final || !txrec_safe_relpath(f->final) || f->durable > f->size)
		return NULL;
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:b}", "path", f->path, "final",
	                 f->final, "size", (json_int_t)f->size, "mtime_sec",
	                 (json_int_t)f->mtime_sec, "mtime_nsec", (json_int_t)f->mtime_nsec, "mode",
	                 (json_int_t)f->mode, "dir", f->dir, "durable", (json_int_t)f->durable,
	                 "verified", f->verified);
}

static json_t *file_out_json(const struct txrec_file *f)
{
	if (!f->src || !f->rel)
		return NULL;
	json_t *src = b64_string(f->src), *rel = b64_string(f->rel);
	return json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:b}", "src", src, "path", rel, "size",
	                 (json_int_t)f->size, "mtime_sec", (json_int_t)f->mtime_sec, "mtime_nsec",
	                 (json_int_t)f->mtime_nsec, "mode", (json_int_t)f->mode, "dir", f->dir);
}

static json_t *files_json(const struct txrec *r, bool in)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n_files; i++) {
		json_t *f = in ? file_in_json(&r->files[i]) : file_out_json(&r->files[i]);
		if (!f || json_array_append_new(a, f) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *head_json(const struct txrec *r)
{
	if (!hex_id_ok(r->transfer_id) || !r->peer_id)
		return NULL;
	return json_pack("{s:i, s:s, s:s, s:s, s:b, s:I, s:I}", "version", TXREC_VERSION,
	                 "transfer_id", r->transfer_id, "peer_id", r->peer_id, "device_id",
	                 r->device_id ? r->device_id : "", "spacedrop", r->spacedrop, "created_ms",
	                 (json_int_t)r->created_ms, "total_bytes", (json_int_t)r->total_bytes);
}

int txrec_encode_in(const struct txrec *r, struct buf *out)
{
	json_t *o = head_json(r);
	json_t *files = o && r->dest ? files_json(r, true) : NULL;
	if (!files) {
		json_decref(o);
		return -EINVAL;
	}
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "dest", json_string(r->dest));
	return dump(o, out);
}

int txrec_encode_out(const struct txrec *r, struct buf *out)
{
	json_t *o = head_json(r);
	json_t *files = o ? files_json(r, false) : NULL;
	json_t *addrs = json_array();
	for (size_t i = 0; addrs && i < r->n_addrs; i++)
		json_array_append_new(addrs, json_string(r->addrs[i]));
	if (!files || !addrs) {
		json_decref(o);
		json_decref(files);
		json_decref(addrs);
		return -EINVAL;
	}
	json_object_set_new(o, "files", files);
	json_object_set_new(o, "addrs", addrs);
	json_object_set_new(o, "answered", json_boolean(r->answered));
	if (r->message)
		json_object_set_new(o, "message", json_string(r->message));
	return dump(o, out);
}

int txrec_encode_index(const char *dest, struct buf *out)
{
	return dump(json_pack("{s:i, s:s}", "version", TXREC_VERSION, "dest", dest), out);
}

/* ---- decoding ------------------------------------------------------------- */

static int bad(struct errmsg *e, const char *what)
{
	return errmsg_set(e, -EBADMSG, "transfer record: %s", what);
}

static int parse(const uint8_t *data, size_t len, json_t **ret, struct errmsg *e)
{
	if (len > TXREC_MAX_SIZE)
		return errmsg_set(e, -EMSGSIZE, "transfer record: %zu bytes, the cap is %zu", len,
		                  TXREC_MAX_SIZE);
	json_error_t je;
	json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return bad(e, "not a JSON object");
	}
	json_t *v = json_object_get(o, "version");
	if (!json_is_integer(v)) {
		json_decref(o);
		return bad(e, "no version");
	}
	long long version = (long long)json_integer_value(v);
	if (version != TXREC_VERSION) {
		json_decref(o);
		return errmsg_set(e, -EPROTONOSUPPORT, "transfer record: version %lld is not %d",
		                  version, TXREC_VERSION);
	}
	*ret = o;
	return 0;
}

static bool get_u64(json_t *o, const char *key, uint64_t max, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return false;
	*ret = (uint64_t)json_integer_value(v);
	return true;
}

static char *dup_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strdup(s) : NULL;
}

static char *dup_b64(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	struct buf b = BUF_INIT;
	if (!s || base64_decode(s, strlen(s), BASE64_PAD, &b, NULL) < 0 || b.len == 0 ||
	    memchr(b.data, 0, b.len) || buf_append_u8(&b, 0) < 0) {
		buf_free(&b);
		return NULL;
	}
	return (char *)buf_steal(&b, NULL);
}

static int file_common(json_t *f, struct txrec_file *rf)
{
	uint64_t sec, nsec, mode;
	json_t *sv = json_object_get(f, "mtime_sec");
	if (!json_is_object(f) || !get_u64(f, "size", XFER_MAX_FILE_SIZE, &rf->size) ||
	    !json_is_integer(sv) || !get_u64(f, "mtime_nsec", 999999999, &nsec) ||
	    !get_u64(f, "mode", 07777, &mode) || !json_is_boolean(json_object_get(f, "dir")))
		return -1;
	sec = (uint64_t)json_integer_value(sv);
	rf->mtime_sec = (int64_t)sec;
	rf->mtime_nsec = (uint32_t)nsec;
	rf->mode = (uint32_t)mode;
	rf->dir = json_is_true(json_object_get(f, "dir"));
	return rf->dir && rf->size ? -1 : 0;
}

static int file_in(json_t *f, struct txrec_file *rf)
{
	if (file_common(f, rf) < 0 || !get_u64(f, "durable", rf->size, &rf->durable) ||
	    !json_is_boolean(json_object_get(f, "verified")))
		return -1;
	rf->verified = json_is_true(json_object_get(f, "verified"));
	rf->path = dup_str(f, "path");
	rf->final = dup_str(f, "final");
	if (!rf->path || !rf->final || !txrec_safe_relpath(rf->final) ||
	    !txrec_safe_relpath(rf->path))
		return -1;
	return 0;
}

static int file_out(json_t *f, struct txrec_file *rf)
{
	if (file_common(f, rf) < 0)
		return -1;
	rf->src = dup_b64(f, "src");
	rf->rel = dup_b64(f, "path");
	if (!rf->src || !rf->rel || rf->src[0] != '/' || rf->rel[0] == '/')
		return -1;
	return 0;
}

static int files_in(json_t *o, struct txrec *r, bool in, struct errmsg *e)
{
	json_t *a = json_object_get(o, "files");
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > XFER_MAX_FILES)
		return bad(e, "files is not a list of 1 to 100000 entries");
	r->files = calloc(json_array_size(a), sizeof(*r->files));
	if (!r->files)
		return -ENOMEM;
	size_t i;
	json_t *f;
	uint64_t sum = 0;
	json_array_foreach(a, i, f)
	{
		r->n_files = i + 1;
		int rr = in ? file_in(f, &r->files[i]) : file_out(f, &r->files[i]);
		if (rr < 0) {
			errmsg_set(e, -EBADMSG, "transfer record: file %zu is malformed", i);
			return -EBADMSG;
		}
		sum += r->files[i].size;
	}
	if (in && sum != r->total_bytes)
		return bad(e, "total_bytes does not match the files");
	return 0;
}

static int head(json_t *o, struct txrec *r, struct errmsg *e)
{
	const char *id = json_string_value(json_object_get(o, "transfer_id"));
	json_t *created = json_object_get(o, "created_ms");
	if (!id || !hex_id_ok(id))
		return bad(e, "transfer_id is not 32 lower-case hex digits");
	memcpy(r->transfer_id, id, TXREC_ID_HEX + 1);
	r->peer_id = dup_str(o, "peer_id");
	r->device_id = dup_str(o, "device_id");
	if (!r->peer_id || !r->device_id)
		return bad(e, "peer_id or device_id missing");
	if (!json_is_boolean(json_object_get(o, "spacedrop")) || !json_is_integer(created))
		return bad(e, "spacedrop or created_ms missing");
	r->spacedrop = json_is_true(json_object_get(o, "spacedrop"));
	r->created_ms = json_integer_value(created);
	if (!get_u64(o, "total_bytes", UINT64_MAX >> 12, &r->total_bytes))
		return bad(e, "total_bytes missing");
	return 0;
}

static int finish(json_t *o, struct txrec *tmp, struct txrec *ret, int r)
{
	json_decref(o);
	if (r < 0)
		txrec_clear(tmp);
	else
		*ret = *tmp;
	return r;
}

int txrec_decode_in(const uint8_t *data, size_t len, struct txrec *ret, struct errmsg *e)
{
	json_t *o = NULL;
	int r = parse(data, len, &o, e);
	if (r < 0)
		return r;
	struct txrec tmp = {0};
	r = head(o, &tmp, e);
	if (r == 0) {
		tmp.dest = dup_str(o, "dest");
		if (!tmp.dest || tmp.dest[0] != '/')
			r = bad(e, "dest is not an absolute path");
	}
	if (r == 0)
		r = files_in(o, &tmp, true, e);
	return finish(o, &tmp, ret, r);
}

static int addrs_in(json_t *o, struct txrec *r, struct errmsg *e)
{
	json_t *a = json_object_get(o, "addrs");
	if (!json_is_array(a) || json_array_size(a) > 64)
		return bad(e, "addrs is not a list of at most 64");
	r->addrs = calloc(json_array_size(a) + 1, sizeof(*r->addrs));
	if (!r->addrs)
		return -ENOMEM;
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || !(r->addrs[i] = strdup(json_string_value(v))))
			return bad(e, "an address is not a string");
		r->n_addrs = i + 1;
	}
	return 0;
}

int txrec_decode_out(const uint8_t *data, size_t len, struct txrec *ret, struct errmsg *e)
{
	json_t *o = NULL;
	int r = parse(data, len, &o, e);
	if (r < 0)
		return r;
	struct txrec tmp = {0};
	r = head(o, &tmp, e);
	if (r == 0 && !json_is_boolean(json_object_get(o, "answered")))
		r = bad(e, "answered missing");
	if (r == 0) {
		tmp.answered = json_is_true(json_object_get(o, "answered"));
		json_t *m = json_object_get(o, "message");
		if (m && !json_is_string(m))
			r = bad(e, "message is not a string");
		else if (m && !(tmp.message = strdup(json_string_value(m))))
			r = -ENOMEM;
	}
	if (r == 0)
		r = addrs_in(o, &tmp, e);
	if (r == 0)
		r = files_in(o, &tmp, false, e);
	return finish(o, &tmp, ret, r);
}

int txrec_decode_index(const uint8_t *data, size_t len, char **ret_dest, struct errmsg *e)
{
	json_t *o = NULL;
	int r = parse(data, len, &o, e);
	if (r < 0)
		return r;
	char *dest = dup_str(o, "dest");
	json_decref(o);
	if (!dest || dest[0] != '/') {
		free(dest);
		return bad(e, "dest is not an absolute path");
	}
	*ret_dest = dest;
	return 0;
}
