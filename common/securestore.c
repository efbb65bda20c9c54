/* Encrypted storage at rest: one AES-256-GCM sealed file per record under the
 * instance data directory, keyed either by a password (PBKDF2-HMAC-SHA256) or
 * by a random key in storage.key.
 *
 * Policy lives here (which directories, which names, which key for which
 * file, what to tell the user); the byte format is storefile.c and the
 * crash-safe write is atomicfile.c. Nothing here ever deletes or rewrites a
 * file it failed to read: a damaged record is reported by name and left for
 * the user to restore. */
#include "securestore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "crypto.h"
#include "storefile.h"

#define KEY_FILE "storage.key"
#define KDF_FILE "storage.kdf"
#define DIR_MODE 0700
#define FILE_MODE 0600
/* storage.kdf holds a header and a short sealed string. */
#define KDF_FILE_MAX 4096
/* Distinct (salt, iterations) pairs whose keys we keep: one per past
 * iteration raise is plenty; older ones are re-derived when evicted. */
#define KEY_CACHE_SLOTS 8
/* The sealed plaintext of storage.kdf: decrypting it proves the password. */
#define CHECK_TEXT "sdnetd securestore password check v1"

/* queue: durable outbound device messages; dedup: ids of durable messages
 * already received; inbox: received durable messages their handler has not
 * finished yet (daemon/messages). */
static const char *const namespaces[] = {"devices", "connections", "history",
                                         "queue",   "dedup",       "inbox"};

struct key_slot {
	bool used;
	struct storefile_kdf kdf;
	uint8_t key[STOREFILE_KEY_LEN];
};

struct securestore {
	char *root;
	bool password_mode;
	uint8_t *password;
	size_t password_len;
	/* Parameters and key for new writes. */
	struct storefile_kdf write_kdf;
	uint8_t write_key[STOREFILE_KEY_LEN];
	struct key_slot cache[KEY_CACHE_SLOTS];
	unsigned next_slot;
};

/* ---- Names and paths ---- */

static bool valid_ns(const char *ns)
{
	if (!ns)
		return false;
	if (!*ns)
		return true;
	for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
		if (strcmp(ns, namespaces[i]) == 0)
			return true;
	return false;
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Names our own files use in the root, which a record may not shadow. */
static bool reserved_in_root(const char *name)
{
	return strcmp(name, KEY_FILE) == 0 || strcmp(name, KDF_FILE) == 0 || valid_ns(name);
}

static bool valid_name(const char *ns, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > SECURESTORE_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(name[i]))
			return false;
	return *ns || !reserved_in_root(name);
}

static int ns_error(const char *ns, struct errmsg *err)
{
	return errmsg_set(err, -EINVAL,
	                  "unknown securestore namespace '%.40s' (devices, connections, history, "
	                  "queue, dedup, inbox or the root)",
	                  ns ? ns : "(null)");
}

static int check_names(const char *ns, const char *name, struct errmsg *err)
{
	if (!valid_ns(ns))
		return ns_error(ns, err);
	if (!valid_name(ns, name))
		return errmsg_set(
		        err, -EINVAL,
		        "invalid record name '%.60s': use 1-%d characters from A-Z a-z 0-9 . "
		        "_ -, not starting with '.' and not a reserved name",
		        name ? name : "(null)", SECURESTORE_NAME_MAX);
	return 0;
}

/* "<root>/<rel>" malloc'd, or NULL. */
static char *path_join(const char *root, const char *rel)
{
	char *p = NULL;
	return asprintf(&p, "%s/%s", root, rel) < 0 ? NULL : p;
}

/* The record's path relative to the root, which is also its AAD label. */
static int record_label(const char *ns, const char *name, char *out, size_t size)
{
	int n = *ns ? snprintf(out, size, "%s/%s", ns, name) : snprintf(out, size, "%s", name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- Keys ---- */

static int derive(const struct securestore *s, const struct storefile_kdf *kdf,
                  uint8_t key[STOREFILE_KEY_LEN])
{
	return crypto_pbkdf2_sha256(s->password, s->password_len, kdf->salt, kdf->salt_len,
	                            kdf->iterations, key, STOREFILE_KEY_LEN);
}

static bool same_kdf(const struct storefile_kdf *a, const struct storefile_kdf *b)
{
	return a->id == b->id && a->iterations == b->iterations && a->salt_len == b->salt_len &&
	       memcmp(a->salt, b->salt, a->salt_len) == 0;
}

static const uint8_t *cache_put(struct securestore *s, const struct storefile_kdf *kdf,
                                const uint8_t key[STOREFILE_KEY_LEN])
{
	struct key_slot *slot = &s->cache[s->next_slot];
	s->next_slot = (s->next_slot + 1) % KEY_CACHE_SLOTS;
	slot->used = true;
	slot->kdf = *kdf;
	memcpy(slot->key, key, STOREFILE_KEY_LEN);
	return slot->key;
}

/* The key that opens a file written with kdf. Each distinct salt costs one
 * PBKDF2 run per open store. */
static int key_for(struct securestore *s, const struct storefile_kdf *kdf, const char *path,
                   const uint8_t **ret, struct errmsg *err)
{
	if (kdf->id == STOREFILE_KDF_NONE && s->password_mode)
		return errmsg_set(err, -EACCES,
		                  "%s was written with a key file (storage.key), but the store is "
		                  "opened with a password",
		                  path);
	if (kdf->id != STOREFILE_KDF_NONE && !s->password_mode)
		return errmsg_set(
		        err, -EACCES,
		        "%s is password protected; pass the password with --password-file", path);
	if (!s->password_mode || same_kdf(kdf, &s->write_kdf)) {
		*ret = s->write_key;
		return 0;
	}
	for (size_t i = 0; i < KEY_CACHE_SLOTS; i++) {
		if (s->cache[i].used && same_kdf(kdf, &s->cache[i].kdf)) {
			*ret = s->cache[i].key;
			return 0;
		}
	}
	uint8_t key[STOREFILE_KEY_LEN];
	int r = derive(s, kdf, key);
	if (r < 0)
		return errmsg_set(err, r, "key derivation failed for %s", path);
	*ret = cache_put(s, kdf, key);
	crypto_wipe(key, sizeof(key));
	return 0;
}

/* ---- Key-file mode ---- */

static int check_key_file(int fd, const char *path, struct errmsg *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errmsg_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errmsg_set(err, -EPERM, "%s is not a regular file", path);
	if (st.st_uid != geteuid())
		return errmsg_set(err, -EPERM,
		                  "%s is owned by uid %u, not by us (uid %u): chown it", path,
		                  (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return errmsg_set(
		        err, -EPERM,
		        "%s has mode %04o; it must be 0600 so only its owner can read the "
		        "key: chmod 600 %s",
		        path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

static int load_key_file(struct securestore *s, const char *path, struct errmsg *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT
		                       : errmsg_set(err, -errno, "cannot open %s: %s", path,
		                                    strerror(errno));
	void *data = NULL;
	size_t len = 0;
	int r = check_key_file(fd, path, err);
	if (r == 0)
		r = atomicfile_read_fd(fd, path, STOREFILE_KEY_LEN + 1, &data, &len, err);
	close(fd);
	if (r == -EFBIG || (r == 0 && len != STOREFILE_KEY_LEN))
		r = errmsg_set(
		        err, -EBADMSG,
		        "%s is damaged (a key file holds exactly %d bytes); restore it from a "
		        "backup, records cannot be read without it",
		        path, STOREFILE_KEY_LEN);
	if (r == 0)
		memcpy(s->write_key, data, STOREFILE_KEY_LEN);
	if (data)
		crypto_wipe(data, len);
	free(data);
	return r;
}

static int create_key_file(struct securestore *s, const char *path, struct errmsg *err)
{
	uint8_t key[STOREFILE_KEY_LEN];
	int r = crypto_random(key, sizeof(key));
	if (r < 0)
		r = errmsg_set(err, r, "cannot create %s: no random bytes", path);
	else
		r = atomicfile_create(path, key, sizeof(key), FILE_MODE, err);
	if (r == 0)
		memcpy(s->write_key, key, sizeof(key));
	crypto_wipe(key, sizeof(key));
	return r;
}

static int open_key_file_mode(struct securestore *s, struct errmsg *err)
{
	char *kdf_path = path_join(s->root, KDF_FILE), *path = path_join(s->root, KEY_FILE);
	int r = kdf_path && path ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
	if (r == 0 && access(kdf_path, F_OK) == 0)
		r = errmsg_set(
		        err, -EACCES,
		        "the store at %s is password protected (%s exists); pass the password "
		        "with --password-file",
		        s->root, KDF_FILE);
	/* If another process creates the key between our read and our
	 * create, the create fails with -EEXIST and the next read gets its
	 * key. */
	for (int tries = 0; r == 0; tries++) {
		r = load_key_file(s, path, err);
		if (r != -ENOENT)
			break;
		if (tries == 2) {
			r = errmsg_set(err, -EAGAIN,
			               "%s appears and disappears; is another "
			               "process deleting it?",
			               path);
			break;
		}
		r = create_key_file(s, path, err);
		if (r == -EEXIST)
			r = 0;
		else
			break;
	}
	s->write_kdf = (struct storefile_kdf){.id = STOREFILE_KDF_NONE};
	free(kdf_path);
	free(path);
	return r;
}

/* ---- Password mode ---- */

static int new_kdf(uint32_t iterations, struct storefile_kdf *kdf)
{
	*kdf = (struct storefile_kdf){.id = STOREFILE_KDF_PBKDF2_SHA256,
	                              .iterations = iterations,
	                              .salt_len = STOREFILE_SALT_LEN};
	return crypto_random(kdf->salt, STOREFILE_SALT_LEN);
}

/* Derive the key for kdf and seal the check text under it. */
static int make_kdf_file(struct securestore *s, const struct storefile_kdf *kdf,
                         uint8_t key[STOREFILE_KEY_LEN], struct buf *out)
{
	int r = derive(s, kdf, key);
	if (r == 0)
		r = storefile_seal(kdf, key, KDF_FILE, CHECK_TEXT, strlen(CHECK_TEXT), out);
	return r;
}

static int create_kdf_file(struct securestore *s, const char *path, uint32_t iterations,
                           struct errmsg *err)
{
	struct buf file = BUF_INIT;
	int r = new_kdf(iterations, &s->write_kdf);
	if (r == 0)
		r = make_kdf_file(s, &s->write_kdf, s->write_key, &file);
	if (r < 0)
		r = errmsg_set(err, r, "cannot create %s: key derivation failed", path);
	else
		r = atomicfile_create(path, file.data, file.len, FILE_MODE, err);
	buf_free(&file);
	return r;
}

/* Check the password against storage.kdf's bytes; on success the store's
 * write key and parameters are the file's. */
static int verify_kdf_file(struct securestore *s, const char *path, const uint8_t *data, size_t len,
                           struct errmsg *err)
{
	struct storefile f;
	int r = storefile_parse(data, len, &f, err);
	if (r < 0) {
		errmsg_prefix(err, path);
		return r;
	}
	if (f.kdf.id != STOREFILE_KDF_PBKDF2_SHA256)
		return errmsg_set(err, -EBADMSG, "%s: not a password check file (KDF id %u)", path,
		                  f.kdf.id);
	/* The sealed text has a known length, so truncation is told apart from
	 * a wrong password before any key is derived. */
	if (f.ct_len != strlen(CHECK_TEXT) + STOREFILE_TAG_LEN)
		return errmsg_set(
		        err, -EBADMSG,
		        "%s is damaged (%zu bytes of check data, expected %zu); restore it "
		        "from a backup",
		        path, f.ct_len, strlen(CHECK_TEXT) + STOREFILE_TAG_LEN);
	r = derive(s, &f.kdf, s->write_key);
	if (r < 0)
		return errmsg_set(err, r, "%s: key derivation failed", path);
	struct buf pt = BUF_INIT;
	r = storefile_open(&f, s->write_key, KDF_FILE, &pt);
	if (r == -EBADMSG)
		r = errmsg_set(err, -EACCES,
		               "the store at %s was written with a different password; pass the "
		               "right one with --password-file",
		               s->root);
	else if (r < 0)
		r = errmsg_set(err, r, "%s: decryption failed", path);
	else if (pt.len != strlen(CHECK_TEXT) || memcmp(pt.data, CHECK_TEXT, pt.len) != 0)
		r = errmsg_set(err, -EBADMSG, "%s: unexpected check text", path);
	buf_wipe_free(&pt);
	if (r == 0)
		s->write_kdf = f.kdf;
	return r;
}

/* Replace storage.kdf with a new salt and more iterations. Records written
 * under the old parameters stay readable: they carry their own, and the old
 * key is cached. */
static int raise_iterations(struct securestore *s, const char *path, uint32_t iterations,
                            struct errmsg *err)
{
	struct storefile_kdf kdf;
	uint8_t key[STOREFILE_KEY_LEN];
	struct buf file = BUF_INIT;
	int r = new_kdf(iterations, &kdf);
	if (r == 0)
		r = make_kdf_file(s, &kdf, key, &file);
	if (r < 0)
		r = errmsg_set(err, r, "cannot raise the iterations of %s: key derivation failed",
		               path);
	else
		r = atomicfile_write(path, file.data, file.len, FILE_MODE, err);
	if (r == 0) {
		cache_put(s, &s->write_kdf, s->write_key);
		s->write_kdf = kdf;
		memcpy(s->write_key, key, sizeof(key));
	}
	crypto_wipe(key, sizeof(key));
	buf_free(&file);
	return r;
}

static int load_kdf_file(struct securestore *s, const char *path, uint32_t iterations,
                         struct errmsg *err)
{
	void *data = NULL;
	size_t len = 0;
	int r = atomicfile_read(path, KDF_FILE_MAX, &data, &len, err);
	if (r == -EFBIG)
		r = errmsg_set(err, -EBADMSG, "%s is too large to be a password check file", path);
	if (r == 0)
		r = verify_kdf_file(s, path, data, len, err);
	free(data);
	if (r == 0 && s->write_kdf.iterations < iterations)
		r = raise_iterations(s, path, iterations, err);
	return r;
}

static int open_password_mode(struct securestore *s, uint32_t iterations, struct errmsg *err)
{
	char *key_path = path_join(s->root, KEY_FILE), *path = path_join(s->root, KDF_FILE);
	int r = key_path && path ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
	s->password_mode = true;
	for (int tries = 0; r == 0; tries++) {
		r = load_kdf_file(s, path, iterations, err);
		if (r != -ENOENT)
			break;
		if (access(key_path, F_OK) == 0) {
			r = errmsg_set(err, -EACCES,
			               "the store at %s uses a key file (%s), not a password; open "
			               "it without --password-file",
			               s->root, KEY_FILE);
			break;
		}
		if (tries == 2) {
			r = errmsg_set(err, -EAGAIN,
			               "%s appears and disappears; is another "
			               "process deleting it?",
			               path);
			break;
		}
		/* -EEXIST: another process created it first; check against it. */
		r = create_kdf_file(s, path, iterations, err);
		if (r == -EEXIST)
			r = 0;
		else
			break;
	}
	free(key_path);
	free(path);
	return r;
}

/* ---- Open and close ---- */

static int make_dirs(const char *root, struct errmsg *err)
{
	int r = mkdir_p(root, DIR_MODE);
	if (r < 0)
		return errmsg_set(err, r, "cannot create %s: %s", root, strerror(-r));
	for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
		char *p = path_join(root, namespaces[i]);
		if (!p)
			return errmsg_set(err, -ENOMEM, "out of memory");
		r = mkdir_p(p, DIR_MODE);
		if (r < 0)
			errmsg_set(err, r, "cannot create %s: %s", p, strerror(-r));
		free(p);
		if (r < 0)
			return r;
	}
	return 0;
}

static int copy_opts(struct securestore *s, const struct securestore_opts *opts,
                     uint32_t *ret_iterations, struct errmsg *err)
{
	uint32_t it = opts && opts->iterations ? opts->iterations : SECURESTORE_PBKDF2_ITERATIONS;
	if (it > STOREFILE_MAX_ITERATIONS)
		return errmsg_set(err, -EINVAL, "PBKDF2 iterations %u over the limit of %u", it,
		                  STOREFILE_MAX_ITERATIONS);
	*ret_iterations = it;
	if (!opts || !opts->password)
		return 0;
	if (opts->password_len == 0)
		return errmsg_set(err, -EINVAL,
		                  "the password is empty; give a real one or use the key file");
	s->password = malloc(opts->password_len);
	if (!s->password)
		return errmsg_set(err, -ENOMEM, "out of memory");
	memcpy(s->password, opts->password, opts->password_len);
	s->password_len = opts->password_len;
	return 0;
}

int securestore_open(const char *root, const struct securestore_opts *opts,
                     struct securestore **ret, struct errmsg *err)
{
	if (!root || !*root)
		return errmsg_set(err, -EINVAL, "securestore: no data directory given");
	struct securestore *s = calloc(1, sizeof(*s));
	if (!s)
		return errmsg_set(err, -ENOMEM, "out of memory");
	uint32_t iterations = 0;
	int r = copy_opts(s, opts, &iterations, err);
	if (r == 0 && !(s->root = strdup(root)))
		r = errmsg_set(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = make_dirs(root, err);
	if (r == 0)
		r = s->password ? open_password_mode(s, iterations, err)
		                : open_key_file_mode(s, err);
	if (r < 0) {
		securestore_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void securestore_close(struct securestore *s)
{
	if (!s)
		return;
	if (s->password)
		crypto_wipe(s->password, s->password_len);
	free(s->password);
	free(s->root);
	crypto_wipe(s, sizeof(*s));
	free(s);
}

/* ---- Records ---- */

int securestore_put(struct securestore *s, const char *ns, const char *name, const void *data,
                    size_t len, struct errmsg *err)
{
	char label[SECURESTORE_NAME_MAX + 32];
	int r = check_names(ns, name, err);
	if (r < 0)
		return r;
	if (len > SECURESTORE_MAX_RECORD)
		return errmsg_set(err, -EFBIG, "record %s is %zu bytes, over the %zu-byte limit",
		                  name, len, SECURESTORE_MAX_RECORD);
	if (record_label(ns, name, label, sizeof(label)) < 0)
		return errmsg_set(err, -ENAMETOOLONG, "record name too long");
	char *path = path_join(s->root, label);
	if (!path)
		return errmsg_set(err, -ENOMEM, "out of memory");
	struct buf file = BUF_INIT;
	r = storefile_seal(&s->write_kdf, s->write_key, label, data, len, &file);
	if (r < 0)
		r = errmsg_set(err, r, "cannot encrypt %s", path);
	else
		r = atomicfile_write(path, file.data, file.len, FILE_MODE, err);
	buf_free(&file);
	free(path);
	return r;
}

static int read_record(struct securestore *s, const char *path, const char *label,
                       const uint8_t *data, size_t len, struct buf *out, struct errmsg *err)
{
	struct storefile f;
	int r = storefile_parse(data, len, &f, err);
	if (r < 0) {
		errmsg_prefix(err, path);
		return r;
	}
	const uint8_t *key = NULL;
	r = key_for(s, &f.kdf, path, &key, err);
	if (r < 0)
		return r;
	r = storefile_open(&f, key, label, out);
	if (r == -EBADMSG)
		return errmsg_set(
		        err, r,
		        "%s: authentication failed (corrupt, or not written under this name "
		        "by this store); left in place: restore it from a backup or delete "
		        "the record",
		        path);
	if (r < 0)
		return errmsg_set(err, r, "%s: decryption failed", path);
	return 0;
}

int securestore_get(struct securestore *s, const char *ns, const char *name, struct buf *out,
                    struct errmsg *err)
{
	char label[SECURESTORE_NAME_MAX + 32];
	int r = check_names(ns, name, err);
	if (r < 0)
		return r;
	if (record_label(ns, name, label, sizeof(label)) < 0)
		return errmsg_set(err, -ENAMETOOLONG, "record name too long");
	char *path = path_join(s->root, label);
	if (!path)
		return errmsg_set(err, -ENOMEM, "out of memory");
	void *data = NULL;
	size_t len = 0;
	r = atomicfile_read(path, SECURESTORE_MAX_RECORD + STOREFILE_HEADER_MAX + STOREFILE_TAG_LEN,
	                    &data, &len, err);
	if (r == -ENOENT)
		r = errmsg_set(err, -ENOENT, "no record %s in %s", label, s->root);
	else if (r == -EFBIG)
		r = errmsg_set(err, -EBADMSG,
		               "%s is larger than any record we write; left in place", path);
	else if (r == 0)
		r = read_record(s, path, label, data, len, out, err);
	free(data);
	free(path);
	return r;
}

int securestore_unlink(struct securestore *s, const char *ns, const char *name, struct errmsg *err)
{
	char label[SECURESTORE_NAME_MAX + 32];
	int r = check_names(ns, name, err);
	if (r < 0)
		return r;
	if (record_label(ns, name, label, sizeof(label)) < 0)
		return errmsg_set(err, -ENAMETOOLONG, "record name too long");
	char *path = path_join(s->root, label);
	if (!path)
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (unlink(path) < 0)
		r = errno == ENOENT ? errmsg_set(err, -ENOENT, "no record %s in %s", label, s->root)
		                    : errmsg_set(err, -errno, "cannot delete %s: %s", path,
		                                 strerror(errno));
	free(path);
	return r;
}

int securestore_sync(struct securestore *s, const char *ns, struct errmsg *err)
{
	if (!valid_ns(ns))
		return ns_error(ns, err);
	char *dir = *ns ? path_join(s->root, ns) : strdup(s->root);
	if (!dir)
		return errmsg_set(err, -ENOMEM, "out of memory");
	int r = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = errmsg_set(err, -errno, "cannot sync %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

int securestore_delete(struct securestore *s, const char *ns, const char *name, struct errmsg *err)
{
	int r = securestore_unlink(s, ns, name, err);
	/* Make the removal durable, like a write. */
	return r < 0 ? r : securestore_sync(s, ns, err);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a copy of name to the growing NULL-terminated array. */
static int names_add(char ***names, size_t *n, const char *name)
{
	char **nn = realloc(*names, (*n + 2) * sizeof(char *));
	if (!nn)
		return -ENOMEM;
	*names = nn;
	if (!(nn[*n] = strdup(name)))
		return -ENOMEM;
	nn[++*n] = NULL;
	return 0;
}

int securestore_list(struct securestore *s, const char *ns, char ***names, struct errmsg *err)
{
	if (!valid_ns(ns))
		return ns_error(ns, err);
	char *dir = *ns ? path_join(s->root, ns) : strdup(s->root);
	if (!dir)
		return errmsg_set(err, -ENOMEM, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		int r = errmsg_set(err, -errno, "cannot list %s: %s", dir, strerror(errno));
		free(dir);
		return r;
	}
	char **out = calloc(1, sizeof(char *));
	size_t n = 0;
	int r = out ? 0 : -ENOMEM;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		/* Temp files and anything else that is not a valid record name
		 * (dot files, our key files) are not records. */
		struct stat st;
		if (!valid_name(ns, e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		r = names_add(&out, &n, e->d_name);
	}
	closedir(d);
	free(dir);
	if (r < 0) {
		securestore_names_free(out);
		return errmsg_set(err, r, "out of memory listing records");
	}
	qsort(out, n, sizeof(char *), cmp_names);
	*names = out;
	return 0;
}

void securestore_names_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}
