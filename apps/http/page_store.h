/* HTTP page store, shared by minimal_ws and bsd_ws: every regular file under
 * a root directory, preloaded at start with its complete response header in
 * front, so a response is one reference (Rusty preloaded too: faster than
 * sendfile). Portable C11 + POSIX; no socket or libusnet call inside. */
#ifndef HTTP_PAGE_STORE_H
#define HTTP_PAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "usnet/csum.h"

/* Longest URL path the store holds (decoded, with the leading '/', without
 * the terminating NUL). Files deeper than that are skipped at load, so the
 * request parser needs no more than this per connection. */
#define HTTP_PATH_MAX 1023

/* One precomputed response: header then body in one contiguous buffer. */
struct http_resp {
	const uint8_t *data;
	uint32_t len;	  /* header + body */
	uint32_t hdr_len; /* the header, up to and including the empty line */
	/* Prefix sums over data[0..len) for send-by-reference; prefix == NULL
	 * when the store was opened without a csum_build hook. */
	struct usn_csum_table csum;
	/* The same table viewed over data[0..hdr_len) only (HEAD). A prefix
	 * table of n bytes is also the table of any first m <= n bytes. */
	struct usn_csum_table hdr_csum;
};

struct http_page {
	const char *path; /* URL path, decoded: "/dir/a.html" */
	uint32_t path_len;
	const char *type;      /* Content-Type value */
	struct http_resp full; /* "Connection: close" header + body */
	struct http_resp ka;   /* "Connection: keep-alive" header only; the body
				* is full.data + full.hdr_len (a second reference) */
	const uint8_t *body;
	uint32_t body_len;
};

struct http_store;

struct http_store_opts {
	/* Builds and frees each response's checksum table. minimal_ws passes
	 * usn_csum_table_build/usn_csum_table_free; bsd_ws passes NULL (the
	 * kernel sums for it), so it neither links libusnet nor spends the
	 * memory (a table is as large as its page). */
	int (*csum_build)(struct usn_csum_table *t, const void *data, size_t len);
	void (*csum_free)(struct usn_csum_table *t);
	/* Where to say which entries were skipped and why; NULL: silent. */
	FILE *log;
	/* Serve files and directories whose name begins with a dot (.git/,
	 * .env, .well-known/). Off: they are skipped at load, so no URL
	 * reaches them. */
	bool allow_dotfiles;
};

/* Loads every regular file under root, except (unless allow_dotfiles)
 * those with a path component beginning with a dot. Symlinks to regular files are
 * followed only when their target resolves inside root; symlinks to
 * directories are never followed (no cycles). "/" and "dir/" map to
 * index.html where one exists. Returns NULL with a one-line message in msg
 * when root cannot be read, holds no file, or memory is short. */
struct http_store *http_store_open(const char *root, const struct http_store_opts *opts, char *msg,
				   size_t msg_len);
void http_store_close(struct http_store *s);

/* The one block holding every response's bytes (headers and bodies, the
 * error answers too), read-only once the store is open: what a server
 * declares for zero-copy transmission (usn_stack_tx_region). It stays
 * mapped until http_store_close. */
bool http_store_arena(const struct http_store *s, const void **base, size_t *len);

/* The page at a decoded URL path (no query), NULL if none. */
const struct http_page *http_store_lookup(const struct http_store *s, const char *path, size_t len);

uint32_t http_store_pages(const struct http_store *s);
/* Sum of the bodies' sizes. */
uint64_t http_store_bytes(const struct http_store *s);
/* Entries skipped at load (symlinks out of root, unreadable, too deep...). */
uint32_t http_store_skipped(const struct http_store *s);
const struct http_page *http_store_page(const struct http_store *s, uint32_t i);

/* The Content-Type for a file name, by extension (case-insensitive). */
const char *http_content_type(const char *name);

/* Error responses precomputed by the store (see http_resp.h). */
struct http_resp;
const struct http_resp *http_store_error(const struct http_store *s, unsigned status, bool keepalive);

#endif
