/* apps/common/walk.h: the directory walk the programs under apps/ share:
 * the page store of minimal_ws and bsd_ws (apps/http/page_store.c) and
 * usn_load's corpus (apps/usn_load/load_corpus.c). Every regular file
 * under a root, handed over open; what to skip, and whether an unreadable
 * entry is skipped or stops the walk, are the caller's choice. Portable
 * POSIX (openat, fdopendir, realpath); no libusnet call inside. */
#ifndef USN_APPS_WALK_H
#define USN_APPS_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Why an entry was skipped. */
enum walk_skip {
	WALK_SKIP_DOT,        /* its name begins with a dot (path: the entry's, or its directory's if too long) */
	WALK_SKIP_LONG,       /* its path is longer than path_max (path: the name alone) */
	WALK_SKIP_DEEP,       /* a directory deeper than max_depth */
	WALK_SKIP_LINK,       /* a symlink not followed: off, dangling, or out of the root */
	WALK_SKIP_UNREADABLE, /* cannot be opened or read (not strict) */
	WALK_SKIP_NOT_FILE,   /* a symlink's target that is not a regular file */
};

struct walk_opts {
	/* Directories this many levels below the root are entered, deeper
	 * ones skipped ("too deep"): 0 visits the root's files only. */
	unsigned max_depth;
	/* The longest path under the root, "/dir/a.html" (without the NUL);
	 * a longer one is skipped ("path too long"), or stops a strict walk.
	 * At most WALK_PATH_MAX. */
	size_t path_max;
	/* Visit names beginning with a dot (.git/, .env); off, they are
	 * skipped, a directory whole. */
	bool dotfiles;
	/* Follow a symlink to a regular file whose target resolves inside
	 * the root; off, every symlink is skipped. A symlink to a directory
	 * is never followed (no cycles). */
	bool symlinks;
	/* A directory or file that cannot be opened or read, or a path too
	 * long, stops the walk with its error; otherwise it is skipped. */
	bool strict;
	/* Each regular file: fd open for reading (closed by the walk after the
	 * call), st its fstat, path its path under the root beginning with
	 * '/'. 0 goes on; -errno stops the walk with that error (a message
	 * written to msg by the callee stays; else the walk names the path). */
	int (*file_fn)(void *arg, int fd, const struct stat *st, const char *path, size_t path_len, char *msg,
		       size_t msg_len);
	/* Each entry skipped, its kind and why in words, for a log; NULL:
	 * skipped silently. */
	void (*skip_fn)(void *arg, const char *path, enum walk_skip kind, const char *why);
	void *arg;
};

#define WALK_PATH_MAX 4095

/* Walks root (a directory; symlinks in its own path are resolved first).
 * Sockets, FIFOs and devices are ignored. 0, or -errno with one line in
 * msg naming the path and the problem ("ROOT/dir: Permission denied").
 * The order of files within a directory is the file system's. */
int walk_tree(const char *root, const struct walk_opts *o, char *msg, size_t msg_len);

#endif
