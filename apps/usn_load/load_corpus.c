/* usn_load's corpus (load.h): the pages to request and what must come
 * back, from a directory walked recursively (the walk shared with the page
 * store, apps/common/walk.h), a list of paths, or memory. */
#define _POSIX_C_SOURCE 200809L

#include "load.h"

#include "../common/walk.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct corpus_build {
	struct load_corpus *c;
	uint32_t cap;
	char *msg;
	size_t msg_len;
};

static int corpus_add(struct corpus_build *b, const char *url, uint64_t len, const void *body, bool have)
{
	struct load_corpus *c = b->c;
	if (c->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 64;
		struct load_page *p = realloc(c->pages, sizeof(*p) * cap);
		if (!p)
			return -ENOMEM;
		c->pages = p;
		b->cap = cap;
	}
	struct load_page *pg = &c->pages[c->n];
	memset(pg, 0, sizeof(*pg));
	size_t ul = strlen(url);
	pg->path = malloc(ul + 1);
	pg->req = malloc(ul + 32);
	if (!pg->path || !pg->req) {
		free(pg->path);
		free(pg->req);
		return -ENOMEM;
	}
	memcpy(pg->path, url, ul + 1);
	int n = snprintf(pg->req, ul + 32, "GET %s HTTP/1.0\r\n\r\n", url);
	pg->req_len = (uint32_t)n;
	pg->body_len = len;
	pg->have_hash = have;
	if (have)
		pg->body_hash = load_hash_of(body, (size_t)len);
	c->n++;
	c->total_bytes += len;
	return 0;
}

/* Reads a whole file; *out NULL for an empty one. */
static int read_file(const char *path, uint8_t **out, uint64_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return -EINVAL;
	}
	uint8_t *buf = NULL;
	if (st.st_size > 0) {
		buf = malloc((size_t)st.st_size);
		if (!buf) {
			fclose(f);
			return -ENOMEM;
		}
		if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			free(buf);
			fclose(f);
			return -EIO;
		}
	}
	fclose(f);
	*out = buf;
	*len = (uint64_t)st.st_size;
	return 0;
}

/* The walk's callback for each regular file (walk.h): read whole, hashed. */
static int walk_file(void *arg, int fd, const struct stat *st, const char *path, size_t path_len, char *msg,
		     size_t msg_len)
{
	(void)path_len;
	(void)msg;
	(void)msg_len;
	uint64_t len = (uint64_t)st->st_size;
	uint8_t *body = NULL;
	if (len > 0) {
		body = malloc((size_t)len);
		if (!body)
			return -ENOMEM;
		uint64_t got = 0;
		while (got < len) {
			ssize_t n = read(fd, body + got, (size_t)(len - got));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				int err = n < 0 ? errno : EIO; /* shorter than its size: changed under us */
				free(body);
				return -err;
			}
			got += (uint64_t)n;
		}
	}
	int rc = corpus_add(arg, path, len, body, true);
	free(body);
	return rc;
}

/* Every regular file under root, as the pages "/dir/name": dotfiles and
 * symlinks skipped, 16 levels deep at most, and anything unreadable stops
 * the load with a message naming it (a corpus that silently lost a page
 * would measure something else). */
static int walk_corpus(struct corpus_build *b, const char *root)
{
	const struct walk_opts wo = {.max_depth = 16,
				     .path_max = WALK_PATH_MAX,
				     .dotfiles = false,
				     .symlinks = false,
				     .strict = true,
				     .file_fn = walk_file,
				     .arg = b};
	return walk_tree(root, &wo, b->msg, b->msg_len);
}

static int page_cmp(const void *a, const void *b)
{
	return strcmp(((const struct load_page *)a)->path, ((const struct load_page *)b)->path);
}

static int read_list(struct corpus_build *b, const char *list)
{
	FILE *f = fopen(list, "r");
	if (!f) {
		snprintf(b->msg, b->msg_len, "%s: %s", list, strerror(errno));
		return -errno;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", list);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	char line[PATH_MAX + 64];
	int rc = 0;
	unsigned lineno = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		char url[PATH_MAX];
		unsigned long long listed = 0;
		int k = sscanf(line, "%4095s %llu", url, &listed);
		if (k < 1 || url[0] == '#')
			continue;
		if (url[0] != '/') {
			snprintf(b->msg, b->msg_len, "%s:%u: path must start with /", list, lineno);
			rc = -EINVAL;
			break;
		}
		char full[PATH_MAX * 2 + 8];
		uint8_t *body = NULL;
		uint64_t len = 0;
		int r = -ENAMETOOLONG;
		if (strlen(dir) + strlen(url) + 5 < sizeof(full)) {
			snprintf(full, sizeof(full), "%s/www%s", dir, url);
			r = read_file(full, &body, &len);
			if (r != 0) {
				snprintf(full, sizeof(full), "%s%s", dir, url);
				r = read_file(full, &body, &len);
			}
		}
		if (r == 0) {
			if (k == 2 && listed != len) {
				snprintf(b->msg, b->msg_len,
					 "%s:%u: %s has %" PRIu64 " bytes, the list says %llu", list, lineno,
					 full, len, listed);
				free(body);
				rc = -EINVAL;
				break;
			}
			rc = corpus_add(b, url, len, body, true);
		} else if (k == 2) {
			rc = corpus_add(b, url, listed, NULL, false);
		} else {
			snprintf(b->msg, b->msg_len, "%s:%u: no length and %s unreadable", list, lineno, url);
			rc = -EINVAL;
		}
		free(body);
	}
	fclose(f);
	return rc;
}

struct load_corpus *load_corpus_open(const char *path, char *msg, size_t msg_len)
{
	struct corpus_build b = {.c = calloc(1, sizeof(struct load_corpus)), .msg = msg, .msg_len = msg_len};
	if (!b.c) {
		snprintf(msg, msg_len, "out of memory");
		return NULL;
	}
	if (msg_len)
		msg[0] = '\0';
	struct stat st;
	int rc;
	if (stat(path, &st) != 0) {
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		rc = -ENOENT;
	} else if (S_ISDIR(st.st_mode)) {
		char www[PATH_MAX], list[PATH_MAX];
		struct stat s2;
		snprintf(www, sizeof(www), "%s/www", path);
		snprintf(list, sizeof(list), "%s/pages.txt", path);
		const char *root = path;
		if (stat(www, &s2) == 0 && S_ISDIR(s2.st_mode) && stat(list, &s2) == 0)
			root = www;
		rc = walk_corpus(&b, root);
		if (rc == 0)
			qsort(b.c->pages, b.c->n, sizeof(*b.c->pages), page_cmp);
	} else {
		rc = read_list(&b, path);
	}
	if (rc == 0 && b.c->n == 0) {
		snprintf(msg, msg_len, "%s: no pages", path);
		rc = -ENOENT;
	}
	if (rc != 0) {
		load_corpus_close(b.c);
		return NULL;
	}
	return b.c;
}

struct load_corpus *load_corpus_of(const char *const *paths, const void *const *bodies, const uint64_t *lens,
				   uint32_t n)
{
	char msg[8];
	struct corpus_build b = {
	    .c = calloc(1, sizeof(struct load_corpus)), .msg = msg, .msg_len = sizeof(msg)};
	if (!b.c)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		if (corpus_add(&b, paths[i], lens[i], bodies[i], true) != 0) {
			load_corpus_close(b.c);
			return NULL;
		}
	return b.c;
}

void load_corpus_close(struct load_corpus *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		free(c->pages[i].path);
		free(c->pages[i].req);
	}
	free(c->pages);
	free(c);
}
