/* apps/common/walk.c: the directory walk shared by the page store and
 * usn_load's corpus (walk.h): openat from directory to directory, so a
 * name is looked up once and a directory renamed under the walk cannot
 * send it elsewhere; symlinks resolved with realpath and held to the root. */
#define _XOPEN_SOURCE 700 /* POSIX 2008 + XSI: realpath */

#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct walk {
	const struct walk_opts *o;
	const char *root;     /* as the caller named it, for messages */
	char real[PATH_MAX];  /* its realpath, for symlink targets */
	size_t real_len;
	char path[WALK_PATH_MAX + 2];
	char *msg;
	size_t msg_len;
};

static void skip(struct walk *w, const char *path, enum walk_skip kind, const char *why)
{
	if (w->o->skip_fn)
		w->o->skip_fn(w->o->arg, path, kind, why);
}

/* An error that stops the walk, named by the entry's path. */
static int fail(struct walk *w, const char *path, int err)
{
	if (w->msg_len && !w->msg[0])
		snprintf(w->msg, w->msg_len, "%s%s: %s", w->root, path, strerror(err));
	return -err;
}

/* An entry that cannot be read: skipped, or the end of a strict walk. */
static int unreadable(struct walk *w, const char *path, int err)
{
	if (w->o->strict)
		return fail(w, path, err);
	skip(w, path, WALK_SKIP_UNREADABLE, strerror(err));
	return 0;
}

/* Is the resolved path inside the root (or the root itself)? */
static bool inside_root(const struct walk *w, const char *resolved)
{
	if (strncmp(resolved, w->real, w->real_len) != 0)
		return false;
	/* root "/" has real_len 1 and every absolute path is inside it */
	return resolved[w->real_len] == '\0' || resolved[w->real_len] == '/' || w->real[w->real_len - 1] == '/';
}

/* A symlink at w->path: its target's descriptor if it is inside the root,
 * else -1 with the entry skipped (0 in *rc) or the walk stopped. */
static int open_link(struct walk *w, int *rc)
{
	char lpath[PATH_MAX], real[PATH_MAX];
	*rc = 0;
	if (!w->o->symlinks) {
		skip(w, w->path, WALK_SKIP_LINK, "symlink (not followed)");
		return -1;
	}
	int n = snprintf(lpath, sizeof(lpath), "%s%s", w->real, w->path);
	if (n < 0 || (size_t)n >= sizeof(lpath) || !realpath(lpath, real)) {
		skip(w, w->path, WALK_SKIP_LINK, "dangling or unresolvable symlink");
		return -1;
	}
	if (!inside_root(w, real)) {
		skip(w, w->path, WALK_SKIP_LINK, "symlink leads out of the root");
		return -1;
	}
	int fd = open(real, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		*rc = unreadable(w, w->path, errno);
	return fd;
}

static int file(struct walk *w, int fd, size_t path_len)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		/* a symlink's target that is a directory or a device */
		skip(w, w->path, WALK_SKIP_NOT_FILE, "not a regular file");
		return 0;
	}
	int rc = w->o->file_fn(w->o->arg, fd, &st, w->path, path_len, w->msg, w->msg_len);
	if (rc < 0)
		return fail(w, w->path, -rc);
	return 0;
}

/* Walks the directory open as dfd, whose path is w->path[0..len) (ending
 * in '/'). Takes ownership of dfd. */
static int walk_dir(struct walk *w, int dfd, size_t len, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		int err = errno;
		close(dfd);
		w->path[len] = '\0';
		return unreadable(w, w->path, err);
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		size_t nl = strlen(name);
		bool fits = len + nl + 1 <= w->o->path_max;
		if (fits) {
			memcpy(w->path + len, name, nl);
			w->path[len + nl] = '\0';
		} else {
			w->path[len] = '\0';
		}
		if (name[0] == '.' && !w->o->dotfiles) {
			skip(w, w->path, WALK_SKIP_DOT, "name begins with a dot");
			continue;
		}
		if (!fits) {
			if (w->o->strict) {
				rc = fail(w, w->path, ENAMETOOLONG);
				break;
			}
			skip(w, name, WALK_SKIP_LONG, "path too long");
			continue;
		}
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			skip(w, w->path, WALK_SKIP_UNREADABLE, strerror(errno)); /* gone since readdir */
			continue;
		}
		int fd = -1;
		if (S_ISDIR(st.st_mode)) {
			if (depth >= w->o->max_depth) {
				skip(w, w->path, WALK_SKIP_DEEP, "too deep");
				continue;
			}
			int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			if (sub < 0) {
				rc = unreadable(w, w->path, errno);
				continue;
			}
			w->path[len + nl] = '/';
			w->path[len + nl + 1] = '\0';
			rc = walk_dir(w, sub, len + nl + 1, depth + 1);
			continue;
		} else if (S_ISREG(st.st_mode)) {
			fd = openat(dirfd(d), name, O_RDONLY | O_NOFOLLOW);
			if (fd < 0) {
				rc = unreadable(w, w->path, errno);
				continue;
			}
		} else if (S_ISLNK(st.st_mode)) {
			fd = open_link(w, &rc);
			if (fd < 0)
				continue;
		} else {
			continue; /* sockets, FIFOs, devices: not files to read */
		}
		rc = file(w, fd, len + nl);
		close(fd);
	}
	if (rc == 0 && errno != 0) {
		w->path[len] = '\0';
		rc = fail(w, w->path, errno);
	}
	closedir(d);
	return rc;
}

int walk_tree(const char *root, const struct walk_opts *o, char *msg, size_t msg_len)
{
	struct walk w = {.o = o, .root = root, .msg = msg, .msg_len = msg_len};
	if (msg_len)
		msg[0] = '\0';
	if (!o || !o->file_fn || o->path_max > WALK_PATH_MAX) {
		if (msg_len)
			snprintf(msg, msg_len, "%s: walk options invalid", root);
		return -EINVAL;
	}
	if (!realpath(root, w.real)) {
		int err = errno;
		if (msg_len)
			snprintf(msg, msg_len, "%s: %s", root, strerror(err));
		return -err;
	}
	w.real_len = strlen(w.real);
	int dfd = open(w.real, O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		int err = errno;
		if (msg_len)
			snprintf(msg, msg_len, "%s: %s", root, strerror(err));
		return -err;
	}
	w.path[0] = '/';
	w.path[1] = '\0';
	return walk_dir(&w, dfd, 1, 0);
}
