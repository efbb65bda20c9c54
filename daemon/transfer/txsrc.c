/* Scanning what a send offers and reading it back (see txsrc.h). */
#include "txsrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer.h"

static int grow(struct txsrc *s)
{
	if (s->n < s->cap)
		return 0;
	if (s->n >= XFER_MAX_FILES)
		return -EMSGSIZE;
	size_t cap = s->cap ? s->cap * 2 : 16;
	struct txsrc_file *f = realloc(s->files, cap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	s->files = f;
	s->cap = cap;
	return 0;
}

static int add(struct txsrc *s, const char *src, const char *rel, const struct stat *st,
               bool follow)
{
	int r = grow(s);
	if (r < 0)
		return r;
	if (strlen(rel) > XFER_PATH_MAX)
		return -EMSGSIZE;
	struct txsrc_file *f = &s->files[s->n];
	*f = (struct txsrc_file){
	        .src = strdup(src),
	        .rel = strdup(rel),
	        .size = S_ISDIR(st->st_mode) ? 0 : (uint64_t)st->st_size,
	        .mtime_sec = st->st_mtim.tv_sec,
	        .mtime_nsec = (uint32_t)st->st_mtim.tv_nsec,
	        .mode = st->st_mode & 07777,
	        .dir = S_ISDIR(st->st_mode),
	        .follow = follow,
	};
	if (!f->src || !f->rel) {
		free(f->src);
		free(f->rel);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted (caller frees each and the array). */
static int list_dir(const char *path, char ***ret, size_t *ret_n)
{
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name)))
			r = -ENOMEM;
		else
			n++;
	}
	closedir(d);
	if (r == 0 && n > 1)
		qsort(v, n, sizeof(*v), cmp_names);
	*ret = v;
	*ret_n = n;
	return r;
}

static int walk(struct txsrc *s, const char *src, const char *rel, unsigned depth,
                struct errmsg *e);

static int walk_children(struct txsrc *s, const char *src, const char *rel, unsigned depth,
                         struct errmsg *e)
{
	char **names = NULL;
	size_t n = 0;
	int r = list_dir(src, &names, &n);
	if (r < 0 && r != -ENOMEM)
		errmsg_set(e, r, "cannot list %s: %s", src, strerror(-r));
	for (size_t i = 0; r == 0 && i < n; i++) {
		char *csrc = NULL, *crel = NULL;
		if (asprintf(&csrc, "%s/%s", src, names[i]) < 0)
			csrc = NULL;
		if (asprintf(&crel, "%s/%s", rel, names[i]) < 0)
			crel = NULL;
		r = csrc && crel ? walk(s, csrc, crel, depth + 1, e) : -ENOMEM;
		free(csrc);
		free(crel);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int walk(struct txsrc *s, const char *src, const char *rel, unsigned depth, struct errmsg *e)
{
	struct stat st;
	if (lstat(src, &st) < 0)
		return errmsg_set(e, -errno, "cannot read %s: %s", src, strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		s->skipped++; /* links and special files inside a tree */
		return 0;
	}
	if (depth > TXSRC_MAX_DEPTH)
		return errmsg_set(e, -EMSGSIZE, "%s is nested more than %d directories deep", src,
		                  TXSRC_MAX_DEPTH);
	int r = add(s, src, rel, &st, false);
	if (r == -EMSGSIZE)
		return errmsg_set(e, r, "too many files (the limit is %d) or %s's path is too long",
		                  XFER_MAX_FILES, src);
	if (r < 0)
		return r;
	return S_ISDIR(st.st_mode) ? walk_children(s, src, rel, depth, e) : 0;
}

/* The base name a top-level path is offered under ("/" has none). */
static const char *base_name(const char *path, char *buf, size_t size)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	snprintf(buf, size, "%.*s", (int)(len - start), path + start);
	return buf[0] && strcmp(buf, "/") != 0 ? buf : "root";
}

static int scan_one(struct txsrc *s, const char *path, struct errmsg *e)
{
	if (path[0] != '/')
		return errmsg_set(e, -EINVAL, "%s is not an absolute path", path);
	struct stat st;
	if (stat(path, &st) < 0)
		return errmsg_set(e, -errno, "cannot read %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return errmsg_set(e, -EINVAL, "%s is not a file or a directory", path);
	if (access(path, R_OK) < 0)
		return errmsg_set(e, -errno, "cannot read %s: %s", path, strerror(errno));
	char base[NAME_MAX + 2];
	base_name(path, base, sizeof(base));
	int r = add(s, path, base, &st, true);
	if (r < 0)
		return r == -EMSGSIZE ? errmsg_set(e, r, "too many files") : r;
	return S_ISDIR(st.st_mode) ? walk_children(s, path, base, 0, e) : 0;
}

int txsrc_scan(const char *const *paths, size_t n, struct txsrc **ret, struct errmsg *e)
{
	if (n == 0)
		return errmsg_set(e, -EINVAL, "nothing to send");
	struct txsrc *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = scan_one(s, paths[i], e);
	if (r < 0) {
		txsrc_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int txsrc_from_record(const struct txrec *r, struct txsrc **ret)
{
	struct txsrc *s = calloc(1, sizeof(*s));
	if (!s || !(s->files = calloc(r->n_files, sizeof(*s->files)))) {
		free(s);
		return -ENOMEM;
	}
	s->fd = -1;
	s->cap = r->n_files;
	for (size_t i = 0; i < r->n_files; i++) {
		const struct txrec_file *rf = &r->files[i];
		struct txsrc_file *f = &s->files[i];
		*f = (struct txsrc_file){.src = strdup(rf->src),
		                         .rel = strdup(rf->rel),
		                         .size = rf->size,
		                         .mtime_sec = rf->mtime_sec,
		                         .mtime_nsec = rf->mtime_nsec,
		                         .mode = rf->mode,
		                         .dir = rf->dir,
		                         .follow = strchr(rf->rel, '/') == NULL};
		s->n = i + 1;
		if (!f->src || !f->rel) {
			txsrc_free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

int txsrc_to_record(const struct txsrc *s, struct txrec *r)
{
	r->files = calloc(s->n, sizeof(*r->files));
	if (!r->files)
		return -ENOMEM;
	r->n_files = s->n;
	for (size_t i = 0; i < s->n; i++) {
		const struct txsrc_file *f = &s->files[i];
		r->files[i] = (struct txrec_file){.src = strdup(f->src),
		                                  .rel = strdup(f->rel),
		                                  .size = f->size,
		                                  .mtime_sec = f->mtime_sec,
		                                  .mtime_nsec = f->mtime_nsec,
		                                  .mode = f->mode,
		                                  .dir = f->dir};
		if (!r->files[i].src || !r->files[i].rel)
			return -ENOMEM;
	}
	return 0;
}

uint64_t txsrc_total_bytes(const struct txsrc *s)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->files[i].size;
	return sum;
}

/* Split rel into components for xfer_add_file. */
static size_t split(char *rel, struct xfer_part *parts, size_t max)
{
	size_t n = 0;
	for (char *p = rel; *p && n < max;) {
		size_t len = strcspn(p, "/");
		if (len)
			parts[n++] = (struct xfer_part){(const uint8_t *)p, len};
		p += len;
		p += *p == '/';
	}
	return n;
}

/* The test override of file i's components, if any. */
static size_t override(const json_t *names, size_t i, struct xfer_part *parts, size_t max)
{
	const json_t *a = json_array_get(names, i);
	size_t n = 0;
	for (size_t k = 0; k < json_array_size(a) && n < max; k++) {
		const json_t *v = json_array_get(a, k);
		if (json_is_string(v))
			parts[n++] = (struct xfer_part){(const uint8_t *)json_string_value(v),
			                                json_string_length(v)};
	}
	return n;
}

int txsrc_add_to(const struct txsrc *s, struct xfer *x, const json_t *names, struct errmsg *e)
{
	uint8_t empty[32];
	crypto_sha256("", 0, empty);
	struct xfer_part *parts = calloc(TXSRC_MAX_DEPTH + 2, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		const struct txsrc_file *f = &s->files[i];
		size_t np = override(names, i, parts, TXSRC_MAX_DEPTH + 2);
		if (!np)
			np = split(f->rel, parts, TXSRC_MAX_DEPTH + 2);
		struct xfer_file_info info = {
		        .size = f->size,
		        .mtime_sec = f->mtime_sec,
		        .mtime_nsec = f->mtime_nsec,
		        .mode = f->mode,
		        .is_dir = f->dir,
		        .sha256 = !f->dir && f->size == 0 ? empty : NULL,
		};
		r = xfer_add_file(x, parts, np, &info);
		if (r < 0)
			errmsg_set(e, r, "cannot offer %s: %s", f->src,
			           r == -EINVAL ? "a name in its path is too long" : strerror(-r));
	}
	free(parts);
	return r;
}

/* ---- reading ---------------------------------------------------------------- */

void txsrc_reset(struct txsrc *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->hash = txhash_free(s->hash);
}

void txsrc_free(struct txsrc *s)
{
	if (!s)
		return;
	txsrc_reset(s);
	if (s->hash_held)
		txhash_release();
	for (size_t i = 0; i < s->n; i++) {
		free(s->files[i].src);
		free(s->files[i].rel);
	}
	free(s->files);
	free(s);
}

static int open_file(const char *path, bool follow, uint64_t size, struct errmsg *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return errmsg_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return errmsg_set(e, -EINVAL, "%s is no longer a regular file", path);
	}
	if ((uint64_t)st.st_size < size) {
		close(fd);
		return errmsg_set(e, -ESTALE, "%s shrank since the transfer began", path);
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

static int select_file(struct txsrc *s, size_t i, struct errmsg *e)
{
	if (s->fd >= 0 && s->fd_idx == i)
		return 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = open_file(s->files[i].src, s->files[i].follow, s->files[i].size, e);
	if (s->fd < 0) {
		int r = s->fd;
		s->fd = -1;
		return r;
	}
	s->fd_idx = i;
	return 0;
}

/* Keep the running hash in step with what is read: it starts at offset 0
 * and follows only contiguous reads. */
static void hash_bytes(struct txsrc *s, size_t i, uint64_t off, const uint8_t *p, size_t len)
{
	if (off == 0) {
		txhash_free(s->hash);
		if (!s->hash_held)
			s->hash_held = txhash_hold() == 0;
		s->hash = txhash_new(s->files[i].size);
		s->hash_idx = i;
		s->hash_pos = 0;
	}
	if (!s->hash || s->hash_idx != i || s->hash_pos != off)
		return;
	if (txhash_update(s->hash, p, len) < 0) {
		s->hash = txhash_free(s->hash);
		return;
	}
	s->hash_pos += len;
}

int txsrc_read(struct txsrc *s, size_t i, uint64_t off, size_t len, struct buf *out,
               uint8_t sha[32], bool *ret_hashed, struct errmsg *e)
{
	*ret_hashed = false;
	int r = select_file(s, i, e);
	if (r < 0)
		return r;
	size_t before = out->len;
	uint8_t *p = buf_extend(out, len);
	if (!p)
		return -ENOMEM;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(s->fd, p + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			out->len = before;
			if (n == 0)
				return errmsg_set(e, -ESTALE, "%s shrank while it was being sent",
				                  s->files[i].src);
			return errmsg_set(e, -errno, "cannot read %s: %s", s->files[i].src,
			                  strerror(errno));
		}
		got += (size_t)n;
	}
	hash_bytes(s, i, off, p, len);
	if (s->hash && s->hash_idx == i && s->hash_pos == s->files[i].size) {
		r = txhash_final(s->hash, sha);
		s->hash = txhash_free(s->hash);
		*ret_hashed = r == 0;
	}
	if (off + len == s->files[i].size) {
		close(s->fd);
		s->fd = -1;
	}
	return 0;
}

int txsrc_hash_file(const char *path, bool follow, uint64_t size, uint8_t sha[32], struct errmsg *e)
{
	int fd = open_file(path, follow, size, e);
	if (fd < 0)
		return fd;
	struct sha256_ctx *h = sha256_new();
	uint8_t *b = malloc(1 << 20);
	int r = h && b ? 0 : -ENOMEM;
	for (uint64_t off = 0; r == 0 && off < size;) {
		size_t want = size - off < (1u << 20) ? (size_t)(size - off) : (1u << 20);
		ssize_t n = pread(fd, b, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = n == 0 ? errmsg_set(e, -ESTALE, "%s shrank since the transfer began",
			                        path)
			           : errmsg_set(e, -errno, "cannot read %s: %s", path,
			                        strerror(errno));
		else if (sha256_update(h, b, (size_t)n) < 0)
			r = -ENOMEM;
		else
			off += (uint64_t)n;
	}
	if (r == 0)
		r = sha256_final(h, sha);
	sha256_free(h);
	free(b);
	close(fd);
	return r;
}
