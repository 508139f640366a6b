/* HTTP page store: loads a directory tree at start (the walk shared with
 * usn_load's corpus, apps/common/walk.h: openat, symlinks checked with
 * realpath against the root), precomputes each response and indexes the
 * pages in an open-addressing hash table (FNV-1a). */
#define _XOPEN_SOURCE 700 /* POSIX 2008 + XSI: realpath */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS */

#include "page_store.h"

#include "../common/walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages above this are skipped: the TCP API takes uint32_t lengths, and a
 * preloading server should not hold gigabytes per page anyway. */
#define PAGE_MAX_BYTES (1u << 30)
/* Depth guard for the walk (paths are bounded by HTTP_PATH_MAX anyway). */
#define WALK_MAX_DEPTH 64

struct slot {
	const char *key; /* NULL: empty */
	uint32_t key_len;
	uint32_t hash;
	uint32_t page;
};

/* Error responses the store owns; order matches err_status[]. */
static const unsigned err_status[] = {400, 404, 405, 411, 413, 414, 431, 505};
#define N_ERR (sizeof(err_status) / sizeof(err_status[0]))

struct http_store {
	struct http_store_opts opts;
	struct http_page *pages;
	uint32_t n_pages, cap_pages;
	char **aliases; /* "dir/" keys owned by the table */
	uint32_t n_aliases;
	struct slot *table;
	uint32_t mask;
	uint64_t bytes;
	uint32_t skipped;
	char root[PATH_MAX]; /* realpath of the root */
	struct http_resp err[N_ERR];
	struct http_resp err_ka[N_ERR]; /* 404 and 405 keep the connection */
	/* Every response's bytes, once loaded: one read-only mapping. */
	uint8_t *arena;
	size_t arena_len;
};

static void set_msg(char *msg, size_t len, const char *fmt, ...)
{
	if (!msg || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

static void log_skip(const struct http_store *s, const char *path, const char *why)
{
	if (s->opts.log)
		fprintf(s->opts.log, "page store: skipping %s: %s\n", path, why);
}

static uint32_t fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 16777619u;
	}
	return h;
}

const char *http_content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {"html", "text/html"},     {"htm", "text/html"},	     {"css", "text/css"},
	    {"js", "text/javascript"}, {"json", "application/json"}, {"png", "image/png"},
	    {"jpg", "image/jpeg"},     {"jpeg", "image/jpeg"},	     {"gif", "image/gif"},
	    {"svg", "image/svg+xml"},  {"txt", "text/plain"},
	};
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	const char *dot = strrchr(base, '.');
	if (dot && dot != base) {
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	}
	return "application/octet-stream";
}

/* Fills r over buf (header + body, already written) and builds its table. */
static int resp_init(struct http_store *s, struct http_resp *r, const uint8_t *buf, uint32_t len,
		     uint32_t hdr_len)
{
	memset(r, 0, sizeof(*r));
	r->data = buf;
	r->len = len;
	r->hdr_len = hdr_len;
	if (s->opts.csum_build) {
		if (s->opts.csum_build(&r->csum, buf, len) != 0)
			return -ENOMEM;
		r->hdr_csum = r->csum;
		r->hdr_csum.len = hdr_len;
	}
	return 0;
}

static void resp_free(struct http_store *s, struct http_resp *r)
{
	if (r->csum.prefix && s->opts.csum_free)
		s->opts.csum_free(&r->csum);
	if (!s->arena)
		free((void *)r->data);
	memset(r, 0, sizeof(*r));
}

static int table_insert(struct http_store *s, const char *key, uint32_t key_len, uint32_t page)
{
	uint32_t h = fnv1a(key, key_len);
	for (uint32_t i = h & s->mask;; i = (i + 1) & s->mask) {
		struct slot *sl = &s->table[i];
		if (!sl->key) {
			sl->key = key;
			sl->key_len = key_len;
			sl->hash = h;
			sl->page = page;
			return 0;
		}
		if (sl->hash == h && sl->key_len == key_len && memcmp(sl->key, key, key_len) == 0)
			return -EEXIST;
	}
}

const struct http_page *http_store_lookup(const struct http_store *s, const char *path, size_t len)
{
	if (len > HTTP_PATH_MAX)
		return NULL;
	uint32_t h = fnv1a(path, len);
	for (uint32_t i = h & s->mask;; i = (i + 1) & s->mask) {
		const struct slot *sl = &s->table[i];
		if (!sl->key)
			return NULL;
		if (sl->hash == h && sl->key_len == len && memcmp(sl->key, path, len) == 0)
			return &s->pages[sl->page];
	}
}

/* Reads the open regular file fd (st from fstat) as page `url`. */
static int load_file(struct http_store *s, int fd, const struct stat *st, const char *url, size_t url_len)
{
	if (st->st_size > (off_t)PAGE_MAX_BYTES) {
		log_skip(s, url, "larger than 1 GiB");
		s->skipped++;
		return 0;
	}
	if (s->n_pages == s->cap_pages) {
		uint32_t cap = s->cap_pages ? s->cap_pages * 2 : 64;
		struct http_page *p = realloc(s->pages, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->pages = p;
		s->cap_pages = cap;
	}
	uint32_t body_len = (uint32_t)st->st_size;
	const char *type = http_content_type(url);
	char hdr[256], kahdr[256];
	int hl =
	    snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %u\r\nConnection: close\r\n\r\n",
		     type, body_len);
	int kl = snprintf(
	    kahdr, sizeof(kahdr),
	    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %u\r\nConnection: keep-alive\r\n\r\n",
	    type, body_len);
	if (hl <= 0 || kl <= 0 || (size_t)hl >= sizeof(hdr) || (size_t)kl >= sizeof(kahdr))
		return -EINVAL;
	uint8_t *buf = malloc((size_t)hl + body_len + 1);
	uint8_t *kbuf = malloc((size_t)kl);
	char *key = malloc(url_len + 1);
	if (!buf || !kbuf || !key) {
		free(buf);
		free(kbuf);
		free(key);
		return -ENOMEM;
	}
	memcpy(buf, hdr, (size_t)hl);
	memcpy(kbuf, kahdr, (size_t)kl);
	memcpy(key, url, url_len);
	key[url_len] = '\0';
	size_t got = 0;
	while (got < body_len) {
		ssize_t n = read(fd, buf + hl + got, body_len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != body_len) {
		free(buf);
		free(kbuf);
		free(key);
		log_skip(s, url, "short read (file changed while loading?)");
		s->skipped++;
		return 0;
	}
	struct http_page *p = &s->pages[s->n_pages];
	memset(p, 0, sizeof(*p));
	p->path = key;
	p->path_len = (uint32_t)url_len;
	p->type = type;
	p->body = buf + hl;
	p->body_len = body_len;
	if (resp_init(s, &p->full, buf, (uint32_t)hl + body_len, (uint32_t)hl) != 0 ||
	    resp_init(s, &p->ka, kbuf, (uint32_t)kl, (uint32_t)kl) != 0) {
		resp_free(s, &p->full);
		resp_free(s, &p->ka);
		free(key);
		return -ENOMEM;
	}
	s->n_pages++;
	s->bytes += body_len;
	return 0;
}

/* The walk's callback for each regular file (walk.h). */
static int walk_file(void *arg, int fd, const struct stat *st, const char *path, size_t path_len, char *msg,
		     size_t msg_len)
{
	(void)msg;
	(void)msg_len;
	return load_file(arg, fd, st, path, path_len);
}

/* And for each entry skipped: counted, and logged in the store's words. */
static void walk_skip(void *arg, const char *path, enum walk_skip kind, const char *why)
{
	struct http_store *s = arg;
	if (kind == WALK_SKIP_DOT)
		why = "name begins with a dot (--allow-dotfiles serves it)";
	else if (kind == WALK_SKIP_LONG)
		why = "URL path too long";
	log_skip(s, path, why);
	s->skipped++;
}

static int build_errors(struct http_store *s)
{
	static const char *const reason[N_ERR] = {
	    "Bad Request",
	    "Not Found",
	    "Method Not Allowed",
	    "Length Required",
	    "Content Too Large",
	    "URI Too Long",
	    "Request Header Fields Too Large",
	    "HTTP Version Not Supported",
	};
	for (size_t i = 0; i < N_ERR; i++) {
		for (int ka = 0; ka < 2; ka++) {
			/* Only 404 and 405 leave the request stream in sync; the
			 * others end the connection whatever the mode. */
			if (ka && err_status[i] != 404 && err_status[i] != 405)
				continue;
			char body[128], buf[512];
			int bl = snprintf(body, sizeof(body), "%u %s\n", err_status[i], reason[i]);
			int hl = snprintf(
			    buf, sizeof(buf),
			    "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s"
			    "Connection: %s\r\n\r\n",
			    err_status[i], reason[i], bl, err_status[i] == 405 ? "Allow: GET, HEAD\r\n" : "",
			    ka ? "keep-alive" : "close");
			uint8_t *data = malloc((size_t)hl + (size_t)bl);
			if (!data)
				return -ENOMEM;
			memcpy(data, buf, (size_t)hl);
			memcpy(data + hl, body, (size_t)bl);
			struct http_resp *r = ka ? &s->err_ka[i] : &s->err[i];
			if (resp_init(s, r, data, (uint32_t)(hl + bl), (uint32_t)hl) != 0) {
				free(data);
				memset(r, 0, sizeof(*r));
				return -ENOMEM;
			}
		}
	}
	return 0;
}

const struct http_resp *http_store_error(const struct http_store *s, unsigned status, bool keepalive)
{
	for (size_t i = 0; i < N_ERR; i++) {
		if (err_status[i] != status)
			continue;
		if (keepalive && s->err_ka[i].data)
			return &s->err_ka[i];
		return &s->err[i];
	}
	return &s->err[0]; /* unknown status: 400 */
}

/* Calls fn on every response the store holds. */
static void each_resp(struct http_store *s, void (*fn)(struct http_store *s, struct http_resp *r, void *arg),
		      void *arg)
{
	for (uint32_t i = 0; i < s->n_pages; i++) {
		fn(s, &s->pages[i].full, arg);
		fn(s, &s->pages[i].ka, arg);
	}
	for (size_t i = 0; i < N_ERR; i++) {
		fn(s, &s->err[i], arg);
		fn(s, &s->err_ka[i], arg);
	}
}

#define ARENA_ALIGN 64u

static void arena_size(struct http_store *s, struct http_resp *r, void *arg)
{
	(void)s;
	if (r->data)
		*(size_t *)arg += ((size_t)r->len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static void arena_move(struct http_store *s, struct http_resp *r, void *arg)
{
	size_t *off = arg;
	if (!r->data)
		return;
	uint8_t *to = s->arena + *off;
	memcpy(to, r->data, r->len);
	free((void *)r->data);
	r->data = to;
	/* The prefix sums do not depend on where the bytes sit. */
	r->csum.data = to;
	r->hdr_csum.data = to;
	*off += ((size_t)r->len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* Moves every response into one anonymous mapping, then makes it
 * read-only: one region a server can declare for zero-copy transmission
 * (http_store_arena), whose bytes nothing can change while a port reads
 * them. */
static int pack_arena(struct http_store *s)
{
	size_t total = 0, off = 0, page = (size_t)sysconf(_SC_PAGESIZE);
	each_resp(s, arena_size, &total);
	s->arena_len = (total + page - 1) & ~(page - 1);
	void *a = mmap(NULL, s->arena_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		s->arena_len = 0;
		return -errno;
	}
	s->arena = a;
	each_resp(s, arena_move, &off);
	for (uint32_t i = 0; i < s->n_pages; i++)
		s->pages[i].body = s->pages[i].full.data + s->pages[i].full.hdr_len;
	if (mprotect(a, s->arena_len, PROT_READ) != 0)
		return -errno;
	return 0;
}

bool http_store_arena(const struct http_store *s, const void **base, size_t *len)
{
	if (!s->arena)
		return false;
	*base = s->arena;
	*len = s->arena_len;
	return true;
}

static int build_table(struct http_store *s)
{
	/* index.html in directory D also answers "D/" */
	uint32_t n_alias = 0;
	for (uint32_t i = 0; i < s->n_pages; i++) {
		const char *slash = strrchr(s->pages[i].path, '/');
		if (strcmp(slash + 1, "index.html") == 0)
			n_alias++;
	}
	uint32_t need = (s->n_pages + n_alias) * 2;
	uint32_t cap = 16;
	while (cap < need)
		cap *= 2;
	s->table = calloc(cap, sizeof(*s->table));
	s->aliases = calloc(n_alias ? n_alias : 1, sizeof(char *));
	if (!s->table || !s->aliases)
		return -ENOMEM;
	s->mask = cap - 1;
	for (uint32_t i = 0; i < s->n_pages; i++)
		table_insert(s, s->pages[i].path, s->pages[i].path_len, i);
	for (uint32_t i = 0; i < s->n_pages; i++) {
		const char *path = s->pages[i].path;
		const char *slash = strrchr(path, '/');
		if (strcmp(slash + 1, "index.html") != 0)
			continue;
		size_t kl = (size_t)(slash - path) + 1;
		char *k = malloc(kl + 1);
		if (!k)
			return -ENOMEM;
		memcpy(k, path, kl);
		k[kl] = '\0';
		s->aliases[s->n_aliases++] = k;
		table_insert(s, k, (uint32_t)kl, i);
	}
	return 0;
}

struct http_store *http_store_open(const char *root, const struct http_store_opts *opts, char *msg,
				   size_t msg_len)
{
	struct http_store *s = calloc(1, sizeof(*s));
	if (!s) {
		set_msg(msg, msg_len, "out of memory");
		return NULL;
	}
	if (opts)
		s->opts = *opts;
	if (!realpath(root, s->root)) {
		set_msg(msg, msg_len, "cannot open root %s: %s", root, strerror(errno));
		goto fail;
	}
	int dfd = open(s->root, O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		set_msg(msg, msg_len, "cannot open root %s: %s", root, strerror(errno));
		goto fail;
	}
	close(dfd);
	/* Every file under the root but dotfiles (unless asked for), through
	 * symlinks that stay inside it; anything unreadable is skipped and
	 * logged, so one bad file does not keep the server down. */
	const struct walk_opts wo = {.max_depth = WALK_MAX_DEPTH,
				     .path_max = HTTP_PATH_MAX,
				     .dotfiles = s->opts.allow_dotfiles,
				     .symlinks = true,
				     .strict = false,
				     .file_fn = walk_file,
				     .skip_fn = walk_skip,
				     .arg = s};
	char wmsg[256];
	int rc = walk_tree(s->root, &wo, wmsg, sizeof(wmsg));
	if (rc != 0) {
		set_msg(msg, msg_len, "cannot load root %s: %s", root, strerror(-rc));
		goto fail;
	}
	if (s->n_pages == 0) {
		set_msg(msg, msg_len, "no page under root %s (empty or unreadable)", root);
		goto fail;
	}
	if (build_table(s) != 0 || build_errors(s) != 0) {
		set_msg(msg, msg_len, "out of memory loading %s", root);
		goto fail;
	}
	rc = pack_arena(s);
	if (rc != 0) {
		set_msg(msg, msg_len, "cannot map %zu bytes for the pages of %s: %s", s->arena_len, root,
			strerror(-rc));
		goto fail;
	}
	return s;
fail:
	http_store_close(s);
	return NULL;
}

void http_store_close(struct http_store *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_pages; i++) {
		resp_free(s, &s->pages[i].full);
		resp_free(s, &s->pages[i].ka);
		free((void *)s->pages[i].path);
	}
	for (uint32_t i = 0; i < s->n_aliases; i++)
		free(s->aliases[i]);
	for (size_t i = 0; i < N_ERR; i++) {
		resp_free(s, &s->err[i]);
		resp_free(s, &s->err_ka[i]);
	}
	free(s->aliases);
	free(s->table);
	free(s->pages);
	if (s->arena)
		munmap(s->arena, s->arena_len);
	free(s);
}

uint32_t http_store_pages(const struct http_store *s)
{
	return s->n_pages;
}

uint64_t http_store_bytes(const struct http_store *s)
{
	return s->bytes;
}

uint32_t http_store_skipped(const struct http_store *s)
{
	return s->skipped;
}

const struct http_page *http_store_page(const struct http_store *s, uint32_t i)
{
	return i < s->n_pages ? &s->pages[i] : NULL;
}
