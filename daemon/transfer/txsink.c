/* Received files on disk (see txsink.h): staging, final names, writes,
 * placing verified files, directory modes and times. */
#include "txsink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "xfer.h"

/* ---- a small string set (names taken by this offer) ------------------------- */

struct strset {
	const char **slot;
	const char **val;
	size_t mask;
	size_t n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static int set_init(struct strset *t, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n + 2)
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->val = calloc(cap, sizeof(*t->val));
	t->mask = cap - 1;
	t->n = 0;
	return t->slot && t->val ? 0 : -ENOMEM;
}

static void set_free(struct strset *t)
{
	free(t->slot);
	free(t->val);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t set_pos(const struct strset *t, const char *key)
{
	size_t i = fnv(key) & t->mask;
	while (t->slot[i] && strcmp(t->slot[i], key) != 0)
		i = (i + 1) & t->mask;
	return i;
}

static const char *set_get(const struct strset *t, const char *key, bool *found)
{
	size_t i = set_pos(t, key);
	*found = t->slot[i] != NULL;
	return t->val[i];
}

/* key and val are borrowed; the table never holds more than it was sized
 * for (one entry per file). */
static void set_put(struct strset *t, const char *key, const char *val)
{
	size_t i = set_pos(t, key);
	if (!t->slot[i])
		t->n++;
	t->slot[i] = key;
	t->val[i] = val;
}

/* ---- opening ------------------------------------------------------------------ */

static int open_dir_at(int dfd, const char *name, bool create, mode_t mode)
{
	if (create && mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int txsink_open(const char *dest, const char *idhex, struct txsink **ret, struct errmsg *e)
{
	struct txsink *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dest_fd = s->stage_fd = -1;
	s->dest = strdup(dest);
	if (!s->dest || asprintf(&s->stage, "%s/%s/%s", dest, TXSINK_STAGE_DIR, idhex) < 0) {
		s->stage = NULL;
		txsink_free(s);
		return -ENOMEM;
	}
	int r = 0;
	s->dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dest_fd < 0)
		r = errmsg_set(e, -errno, "cannot open the receive directory %s: %s", dest,
		               strerror(errno));
	int top = r == 0 ? open_dir_at(s->dest_fd, TXSINK_STAGE_DIR, true, 0700) : -1;
	if (r == 0 && top < 0)
		r = errmsg_set(e, top, "cannot create %s/%s: %s", dest, TXSINK_STAGE_DIR,
		               strerror(-top));
	if (r == 0) {
		s->stage_fd = open_dir_at(top, idhex, true, 0700);
		if (s->stage_fd < 0)
			r = errmsg_set(e, s->stage_fd, "cannot create %s: %s", s->stage,
			               strerror(-s->stage_fd));
	}
	if (top >= 0)
		close(top);
	if (r < 0) {
		txsink_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void txsink_free(struct txsink *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->f && i < s->n; i++) {
		if (s->f[i].fd >= 0)
			close(s->f[i].fd);
		txhash_free(s->f[i].hash);
		free(s->f[i].final);
	}
	free(s->f);
	if (s->hash_held)
		txhash_release();
	if (s->dest_fd >= 0)
		close(s->dest_fd);
	if (s->stage_fd >= 0)
		close(s->stage_fd);
	free(s->dest);
	free(s->stage);
	free(s);
}

int txsink_load_record(struct txsink *s, struct txrec *ret, struct errmsg *e)
{
	int fd = openat(s->stage_fd, TXSINK_RECORD, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	void *data = NULL;
	size_t len = 0;
	int r = atomicfile_read_fd(fd, TXSINK_RECORD, TXREC_MAX_SIZE, &data, &len, e);
	close(fd);
	if (r == 0)
		r = txrec_decode_in(data, len, ret, e);
	free(data);
	return r;
}

/* ---- names ------------------------------------------------------------------- */

static bool exists_at(int dfd, const char *path)
{
	struct stat st;
	return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* A free variant of name: not on disk under dest and not taken. */
static int free_name(struct txsink *s, const struct strset *taken, const char *name, bool reserved,
                     char **ret)
{
	bool found;
	set_get(taken, name, &found);
	if (!reserved && !found && !exists_at(s->dest_fd, name))
		return (*ret = strdup(name)) ? 0 : -ENOMEM;
	for (unsigned n = 1; n <= TXSINK_MAX_COLLISIONS; n++) {
		char *cand = NULL;
		int r = xfer_collision_name(name, n, &cand);
		if (r < 0)
			return r;
		set_get(taken, cand, &found);
		if (!found && !exists_at(s->dest_fd, cand)) {
			*ret = cand;
			return 0;
		}
		free(cand);
	}
	return -EEXIST;
}

/* The final name of one offered path: its top-level component mapped
 * through roots (chosen once per distinct name), then unique among the
 * names this offer already took. */
static int plan_one(struct txsink *s, struct strset *roots, struct strset *taken,
                    char ***root_names, size_t *n_roots, const struct xfer_file *f, char **ret)
{
	size_t tlen = strcspn(f->path, "/");
	char *top = strndup(f->path, tlen);
	if (!top)
		return -ENOMEM;
	bool found;
	const char *chosen = set_get(roots, top, &found);
	int r = 0;
	if (!found) {
		char *c = NULL;
		r = free_name(s, taken, top, strcmp(top, TXSINK_STAGE_DIR) == 0, &c);
		if (r == 0) {
			(*root_names)[(*n_roots)++] = top;
			(*root_names)[(*n_roots)++] = c;
			set_put(roots, top, c);
			chosen = c;
			top = NULL;
		}
	}
	free(top);
	if (r < 0)
		return r;
	char *full = NULL;
	if (asprintf(&full, "%s%s", chosen, f->path + tlen) < 0)
		return -ENOMEM;
	set_get(taken, full, &found);
	if (found && !f->is_dir) {
		/* Two offered names sanitised to the same path. */
		char *c = NULL;
		r = free_name(s, taken, full, true, &c);
		free(full);
		full = c;
	}
	*ret = full;
	return r;
}

static bool prev_matches(const struct txrec *prev, const struct xfer *x)
{
	if (!prev || prev->n_files != xfer_file_count(x))
		return false;
	for (size_t i = 0; i < prev->n_files; i++) {
		const struct xfer_file *f = xfer_file(x, i);
		if (strcmp(prev->files[i].path, f->path) != 0 || prev->files[i].size != f->size ||
		    prev->files[i].dir != f->is_dir)
			return false;
	}
	return true;
}

int txsink_plan(struct txsink *s, const struct xfer *x, const struct txrec *prev, struct errmsg *e)
{
	size_t n = xfer_file_count(x);
	s->f = calloc(n, sizeof(*s->f));
	if (!s->f)
		return -ENOMEM;
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->f[i].fd = -1;
	if (prev_matches(prev, x)) {
		for (size_t i = 0; i < n; i++)
			if (!(s->f[i].final = strdup(prev->files[i].final)))
				return -ENOMEM;
		return 0;
	}
	struct strset roots, taken;
	char **root_names = calloc(2 * n, sizeof(*root_names));
	size_t n_roots = 0;
	int r = set_init(&roots, n);
	int r2 = set_init(&taken, n);
	if (r == 0)
		r = r2;
	if (!root_names)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = plan_one(s, &roots, &taken, &root_names, &n_roots, xfer_file(x, i),
		             &s->f[i].final);
		if (r == 0)
			set_put(&taken, s->f[i].final, NULL);
	}
	if (r == -EEXIST)
		errmsg_set(e, r, "no free name for an offered file in %s", s->dest);
	for (size_t i = 0; i < n_roots; i++)
		free(root_names[i]);
	free(root_names);
	set_free(&roots);
	set_free(&taken);
	return r;
}

/* ---- walking below dest ---------------------------------------------------------- */

/* Open the directory that will hold path's last component (creating the
 * ones missing), one component at a time without following symlinks.
 * *ret_leaf points into path. Returns the directory's fd (the caller closes
 * it unless it is dest_fd) or a negative errno. */
static int open_parent(struct txsink *s, const char *path, const char **ret_leaf)
{
	int fd = s->dest_fd;
	const char *p = path;
	for (;;) {
		size_t len = strcspn(p, "/");
		if (p[len] == '\0') {
			*ret_leaf = p;
			return fd;
		}
		char comp[NAME_MAX + 1];
		if (len > NAME_MAX) {
			if (fd != s->dest_fd)
				close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		int nfd = open_dir_at(fd, comp, true, 0755);
		if (fd != s->dest_fd)
			close(fd);
		if (nfd < 0)
			return nfd;
		fd = nfd;
		p += len + 1;
	}
}

static void close_parent(struct txsink *s, int fd)
{
	if (fd >= 0 && fd != s->dest_fd)
		close(fd);
}

static int make_dir(struct txsink *s, const char *path)
{
	const char *leaf;
	int pfd = open_parent(s, path, &leaf);
	if (pfd < 0)
		return pfd;
	int fd = open_dir_at(pfd, leaf, true, 0755);
	close_parent(s, pfd);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* ---- parts ----------------------------------------------------------------------- */

static void part_name(size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "%zu.part", i);
}

int txsink_part_path(const struct txsink *s, size_t i, char **ret)
{
	return asprintf(ret, "%s/%zu.part", s->stage, i) < 0 ? -ENOMEM : 0;
}

uint64_t txsink_part_size(const struct txsink *s, size_t i)
{
	char name[32];
	part_name(i, name, sizeof(name));
	struct stat st;
	if (fstatat(s->stage_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return (uint64_t)st.st_size;
}

static int open_part(struct txsink *s, size_t i, uint64_t start, uint64_t size, struct errmsg *e)
{
	struct txsink_file *f = &s->f[i];
	if (f->fd < 0) {
		char name[32];
		part_name(i, name, sizeof(name));
		f->fd = openat(s->stage_fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		               0600);
		if (f->fd < 0)
			return errmsg_set(e, -errno, "cannot create %s/%s: %s", s->stage, name,
			                  strerror(errno));
	}
	if (ftruncate(f->fd, (off_t)start) < 0)
		return errmsg_set(e, -errno, "cannot truncate %s/%zu.part: %s", s->stage, i,
		                  strerror(errno));
	f->end = start;
	txhash_free(f->hash);
	if (start == 0 && !s->hash_held)
		s->hash_held = txhash_hold() == 0;
	f->hash = start == 0 ? txhash_new(size) : NULL;
	f->hash_pos = 0;
	return 0;
}

int txsink_begin(struct txsink *s, const struct xfer *x, struct errmsg *e)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct xfer_file *f = xfer_file(x, i);
		if (f->is_dir) {
			int r = s->f[i].placed ? 0 : make_dir(s, s->f[i].final);
			if (r < 0)
				return errmsg_set(e, r, "cannot create the directory %s in %s: %s",
				                  s->f[i].final, s->dest, strerror(-r));
			s->f[i].placed = true;
			continue;
		}
		if (f->verified) {
			s->f[i].placed = true;
			continue;
		}
		int r = open_part(s, i, f->start, f->size, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int txsink_write(struct txsink *s, size_t i, uint64_t off, const uint8_t *p, size_t len,
                 struct errmsg *e)
{
	struct txsink_file *f = &s->f[i];
	if (f->fd < 0)
		return errmsg_set(e, -EBADF, "file %zu is not open for writing", i);
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(f->fd, p + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			if (r == -EDQUOT)
				r = -ENOSPC;
			return errmsg_set(e, r, "cannot write %s: %s", f->final, strerror(errno));
		}
		done += (size_t)n;
	}
	if (f->hash && f->hash_pos == off) {
		if (txhash_update(f->hash, p, len) == 0)
			f->hash_pos += len;
		else
			f->hash = txhash_free(f->hash);
	}
	if (off + len > f->end)
		f->end = off + len;
	return 0;
}

int txsink_digest(struct txsink *s, size_t i, uint64_t size, uint8_t sha[32])
{
	struct txsink_file *f = &s->f[i];
	if (size == 0)
		return crypto_sha256("", 0, sha);
	if (!f->hash || f->hash_pos != size)
		return -EAGAIN;
	int r = txhash_final(f->hash, sha);
	f->hash = txhash_free(f->hash);
	return r;
}

void txsink_discard(struct txsink *s, size_t i)
{
	char name[32];
	part_name(i, name, sizeof(name));
	if (s->f[i].fd >= 0)
		close(s->f[i].fd);
	s->f[i].fd = -1;
	unlinkat(s->stage_fd, name, 0);
}

static int times_of(const struct xfer_file *f, struct timespec ts[2])
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)f->mtime_sec;
	ts[1].tv_nsec = (long)f->mtime_nsec;
	return 0;
}

/* Rename the .part to path, or to the next free collision name; updates
 * the file's final name when it had to change. */
static int rename_into_place(struct txsink *s, size_t i, const char *part)
{
	char *path = s->f[i].final;
	for (unsigned n = 0; n <= TXSINK_MAX_COLLISIONS; n++) {
		char *cand = path;
		if (n > 0 && xfer_collision_name(path, n, &cand) < 0)
			return -ENOMEM;
		const char *leaf;
		int pfd = open_parent(s, cand, &leaf);
		int r = pfd < 0 ? pfd : 0;
		if (r == 0 && renameat2(s->stage_fd, part, pfd, leaf, RENAME_NOREPLACE) < 0) {
			r = -errno;
			/* Filesystems without RENAME_NOREPLACE: link fails on an
			 * existing name just the same, and atomically. */
			if (r == -EINVAL) {
				r = linkat(s->stage_fd, part, pfd, leaf, 0) < 0 ? -errno : 0;
				if (r == 0)
					unlinkat(s->stage_fd, part, 0);
			}
		}
		close_parent(s, pfd);
		if (r == 0 && cand != path) {
			free(s->f[i].final);
			s->f[i].final = cand;
		} else if (cand != path) {
			free(cand);
		}
		if (r != -EEXIST)
			return r;
	}
	return -EEXIST;
}

int txsink_place(struct txsink *s, size_t i, const struct xfer_file *f, struct errmsg *e)
{
	struct txsink_file *sf = &s->f[i];
	char name[32];
	part_name(i, name, sizeof(name));
	if (sf->fd < 0) {
		/* An empty file never written to, or one resumed whole. */
		sf->fd = openat(s->stage_fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		                0600);
		if (sf->fd < 0)
			return errmsg_set(e, -errno, "cannot create %s/%s: %s", s->stage, name,
			                  strerror(errno));
	}
	struct timespec ts[2];
	times_of(f, ts);
	int r = 0;
	if (fchmod(sf->fd, f->mode & 0777) < 0 || futimens(sf->fd, ts) < 0)
		r = -errno;
	close(sf->fd);
	sf->fd = -1;
	s->closed_dirty = true;
	if (r == 0)
		r = rename_into_place(s, i, name);
	if (r < 0)
		return errmsg_set(e, r, "cannot put %s in place in %s: %s", sf->final, s->dest,
		                  strerror(-r));
	sf->placed = true;
	return 0;
}

void txsink_finish_dirs(struct txsink *s, const struct xfer *x)
{
	for (size_t k = s->n; k-- > 0;) {
		const struct xfer_file *f = xfer_file(x, k);
		if (!f->is_dir)
			continue;
		const char *leaf;
		int pfd = open_parent(s, s->f[k].final, &leaf);
		if (pfd < 0)
			continue;
		int fd = open_dir_at(pfd, leaf, false, 0);
		close_parent(s, pfd);
		if (fd < 0)
			continue;
		struct timespec ts[2];
		times_of(f, ts);
		(void)!fchmod(fd, f->mode & 0777);
		(void)!futimens(fd, ts);
		close(fd);
	}
}

bool txsink_final_matches(const struct txsink *s, size_t i, const struct xfer_file *f)
{
	struct stat st;
	return fstatat(s->dest_fd, s->f[i].final, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->size &&
	       st.st_mtim.tv_sec == f->mtime_sec && (uint32_t)st.st_mtim.tv_nsec == f->mtime_nsec;
}

void txsink_remove(struct txsink *s)
{
	for (size_t i = 0; s->f && i < s->n; i++)
		txsink_discard(s, i);
	/* Parts from an attempt with more files than this one, and temp files
	 * of an interrupted record write. */
	int fd = dup(s->stage_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' || atomicfile_is_temp_name(de->d_name))
			unlinkat(s->stage_fd, de->d_name, 0);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	char *top = NULL;
	if (asprintf(&top, "%s/%s", s->dest, TXSINK_STAGE_DIR) >= 0) {
		rmdir(s->stage);
		rmdir(top); /* fails while another transfer stages here */
		free(top);
	}
}
